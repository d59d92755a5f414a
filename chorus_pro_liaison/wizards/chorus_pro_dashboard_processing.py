# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 2 on the Chorus Pro screen: the processing screen and what needs attention."""

from odoo import api, fields, models

from chorus_pro import statuses as chorus_statuses


class ChorusProDashboard(models.TransientModel):
    _inherit = "chorus.pro.dashboard"

    count_push_pending = fields.Integer(
        string="Waiting to be sent", compute="_compute_processing_counts"
    )
    count_push_refused = fields.Integer(
        string="Refused by Chorus Pro", compute="_compute_processing_counts"
    )
    count_duplicates = fields.Integer(
        string="Suspected duplicates", compute="_compute_processing_counts"
    )

    @api.depends("company_id")
    def _compute_processing_counts(self):
        Invoice = self.env["chorus.pro.invoice"]
        for dashboard in self:
            domain = [("company_id", "=", dashboard.company_id.id)]
            dashboard.count_push_pending = Invoice.search_count(
                domain + [("push_state", "=", "pending")]
            )
            dashboard.count_push_refused = Invoice.search_count(
                domain + [("push_state", "=", "refused"),
                          ("chorus_status", "in", sorted(chorus_statuses.AWAITING_DECISION))]
            )
            dashboard.count_duplicates = Invoice.search_count(
                domain + [("is_duplicate_suspect", "=", True),
                          ("chorus_status", "in", sorted(chorus_statuses.AWAITING_DECISION))]
            )

    def _processing_action(self, filters):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_processing_action"
        )
        action["context"] = {f"search_default_{name}": 1 for name in filters}
        return action

    def action_open_processing(self):
        return self._processing_action(["worklist"])

    def action_open_push_pending(self):
        return self._processing_action(["push_pending"])

    def action_open_push_refused(self):
        return self._processing_action(["worklist", "push_refused"])

    def action_open_duplicates(self):
        return self._processing_action(["worklist", "duplicates"])
