# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Company settings of step 2 (processing): motif rules, internal validation, four-eyes."""

from odoo import fields, models


class ChorusProAccount(models.Model):
    _inherit = "chorus.pro.account"

    require_service_fait_motif = fields.Boolean(
        string="Motif required for Service fait",
        default=True,
        tracking=True,
        help="Chorus Pro requires a motif only for Rejetée and Suspendue; many bodies' "
        "procedures also ask for one when certifying the service. Untick to make it optional.",
    )
    require_internal_validation = fields.Boolean(
        string="Internal validation required before mandating",
        default=False,
        tracking=True,
        help="An internal validator must tick \"Validation interne\" on an invoice before it "
        "can be mandated.",
    )
    four_eyes = fields.Boolean(
        string="Four-eyes rule",
        default=False,
        tracking=True,
        help="The person who gave the internal validation of an invoice cannot also mandate it.",
    )
