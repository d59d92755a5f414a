# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Refused PINs of the RGS** key, kept in the database so that no worker retries them.

A real token locks itself for good after a few wrong PINs (often 3). Once the key refused a PIN,
:class:`DatabasePinGuardStore` remembers the fingerprint of that configuration (module path +
token label + key label + salted hash of the PIN - never the PIN) and every later attempt with
the same configuration stops before touching the key, in every Odoo worker and cron, until the
PIN or the labels change (or a manager forgets the refusal).
"""

from odoo import fields, models


class ChorusProTokenPinBlock(models.Model):
    _name = "chorus.pro.token.pin.block"
    _description = "Chorus Pro RGS** key: refused PIN (fingerprint only)"
    _order = "blocked_at desc"

    account_id = fields.Many2one(
        "chorus.pro.account", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    fingerprint = fields.Char(required=True, index=True, help="Opaque: never reveals the PIN.")
    blocked_at = fields.Datetime(string="Refused on", required=True)

    _sql_constraints = [
        (
            "fingerprint_unique",
            "unique(account_id, fingerprint)",
            "This PIN refusal is already recorded.",
        ),
    ]
