# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Retrieval runs remember whether the RGS** key was absent (scheduled runs are never blocked)."""

from odoo import fields, models

from odoo.addons.chorus_pro_liaison.models.chorus_pro_account_token import CONTEXT_RUN_KEY


class ChorusProRun(models.Model):
    _inherit = "chorus.pro.run"

    key_absent = fields.Boolean(
        string="RGS** key absent",
        readonly=True,
        copy=False,
        help="\"Clé RGS** requise\" is on and the key was not usable during this scheduled "
        "retrieval; the retrieval went on without it.",
    )

    def _execute_sync(self):
        # The guard (reached through account._chorus_client in the retrieval engine) records
        # the key's absence on the run it finds in the context.
        return super(ChorusProRun, self.with_context(**{CONTEXT_RUN_KEY: self.id}))._execute_sync()
