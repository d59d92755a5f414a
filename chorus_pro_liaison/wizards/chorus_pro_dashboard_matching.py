# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 3 on the Chorus Pro screen: suppliers to match, bank details to confirm."""

from odoo import api, fields, models


class ChorusProDashboard(models.TransientModel):
    _inherit = "chorus.pro.dashboard"

    count_to_match = fields.Integer(string="Suppliers to match", compute="_compute_matching")
    count_bank_to_confirm = fields.Integer(
        string="Bank details to confirm", compute="_compute_matching"
    )

    @api.depends("company_id")
    def _compute_matching(self):
        Invoice = self.env["chorus.pro.invoice"]
        for dashboard in self:
            domain = [("company_id", "=", dashboard.company_id.id)]
            dashboard.count_to_match = Invoice.search_count(domain + Invoice._to_match_domain())
            dashboard.count_bank_to_confirm = Invoice.search_count(
                domain + Invoice._bank_to_confirm_domain()
            )

    def action_open_to_match(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_action_to_match"
        )

    def action_open_bank_to_confirm(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_action"
        )
        action["context"] = {"search_default_bank_to_confirm": 1}
        return action
