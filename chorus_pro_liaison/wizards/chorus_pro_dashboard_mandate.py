# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 4 on the Chorus Pro screen: what is ready to mandate, what is late, the bordereaux."""

from odoo import api, fields, models


class ChorusProDashboard(models.TransientModel):
    _inherit = "chorus.pro.dashboard"

    count_to_mandate = fields.Integer(string="Ready to mandate", compute="_compute_mandate_counts")
    count_mandate_blocked = fields.Integer(string="Service fait, blocked",
                                           compute="_compute_mandate_counts")
    count_dgp_late = fields.Integer(string="Mandate date passed", compute="_compute_mandate_counts")
    count_dgp_soon = fields.Integer(string="To mandate soon", compute="_compute_mandate_counts")
    count_open_bordereaux = fields.Integer(string="Bordereaux to validate",
                                           compute="_compute_mandate_counts")

    @api.depends("company_id")
    def _compute_mandate_counts(self):
        Invoice = self.env["chorus.pro.invoice"]
        Bordereau = self.env["chorus.pro.bordereau"]
        for dashboard in self:
            company = [("company_id", "=", dashboard.company_id.id)]
            to_mandate = Invoice.search(Invoice._to_mandate_domain() + company)
            ready = to_mandate.filtered("mandate_ready")
            dashboard.count_to_mandate = len(ready)
            dashboard.count_mandate_blocked = len(to_mandate) - len(ready)
            dashboard.count_dgp_late = Invoice.search_count(company + [("dgp_state", "=", "late")])
            dashboard.count_dgp_soon = Invoice.search_count(company + [("dgp_state", "=", "soon")])
            dashboard.count_open_bordereaux = Bordereau.search_count(
                company + [("state", "=", "draft"), ("mandate_count", ">", 0)]
            )

    def action_open_mandate_screen(self):
        self.ensure_one()
        return self.env["chorus.pro.mandate.wizard"]._open()

    def action_open_to_mandate(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_to_mandate_action"
        )

    def action_open_dgp_late(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_action"
        )
        action["context"] = {"search_default_dgp_late": 1}
        return action

    def action_open_bordereaux(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_bordereau_action"
        )
        action["context"] = {"search_default_open": 1}
        return action
