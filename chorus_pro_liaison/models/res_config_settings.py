# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.chorus_pro_liaison.services.access import check_action_access


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    chorus_pro_enabled = fields.Boolean(
        string="Automatic Chorus Pro link",
        compute="_compute_chorus_pro_enabled",
        inverse="_inverse_chorus_pro_enabled",
        help="Liaison automatique Chorus Portail Pro for this company.",
    )
    chorus_pro_share_partners = fields.Boolean(
        related="company_id.chorus_pro_share_partners", readonly=False,
    )
    chorus_pro_account_id = fields.Many2one(
        "chorus.pro.account", compute="_compute_chorus_pro_enabled"
    )

    @api.depends("company_id")
    def _compute_chorus_pro_enabled(self):
        for settings in self:
            account = self.env["chorus.pro.account"].sudo()._for_company(settings.company_id)
            settings.chorus_pro_account_id = account
            settings.chorus_pro_enabled = account.enabled

    def _inverse_chorus_pro_enabled(self):
        for settings in self:
            account = self.env["chorus.pro.account"].sudo()._for_company(
                settings.company_id, create=settings.chorus_pro_enabled
            )
            if account and account.enabled != settings.chorus_pro_enabled:
                account.enabled = settings.chorus_pro_enabled

    def action_open_chorus_pro_account(self):
        check_action_access(self, "read")
        account = self.env["chorus.pro.account"]._for_company(self.company_id, create=True)
        return account._action_open_form()
