# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Chorus Pro screen: the four steps of the daily work, with what waits at each step."""

from odoo import _, api, fields, models

from chorus_pro import statuses as chorus_statuses


class ChorusProDashboard(models.TransientModel):
    _name = "chorus.pro.dashboard"
    _description = "Chorus Pro screen"

    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, readonly=True)
    account_id = fields.Many2one("chorus.pro.account", compute="_compute_state")
    enabled = fields.Boolean(compute="_compute_state")
    last_sync_at = fields.Datetime(string="Last successful retrieval", compute="_compute_state")
    next_sync_at = fields.Datetime(string="Next scheduled retrieval", compute="_compute_state")
    last_run_id = fields.Many2one("chorus.pro.run", string="Last run", compute="_compute_state")
    last_run_state = fields.Selection(related="last_run_id.state", string="Last run state")
    last_run_summary = fields.Text(related="last_run_id.summary", string="Last run summary")
    count_to_process = fields.Integer(string="To process", compute="_compute_state")
    count_files_problem = fields.Integer(string="Files missing", compute="_compute_state")

    def _compute_display_name(self):
        for dashboard in self:
            dashboard.display_name = _("Chorus Pro screen")

    @api.depends("company_id")
    def _compute_state(self):
        Invoice = self.env["chorus.pro.invoice"]
        Run = self.env["chorus.pro.run"]
        for dashboard in self:
            account = self.env["chorus.pro.account"].sudo()._for_company(dashboard.company_id)
            dashboard.account_id = account
            dashboard.enabled = account.enabled
            dashboard.last_sync_at = account.last_sync_at
            dashboard.next_sync_at = account.next_sync_at
            dashboard.last_run_id = Run.search(
                [("company_id", "=", dashboard.company_id.id), ("run_type", "=", "sync")], limit=1
            )
            domain = [("company_id", "=", dashboard.company_id.id)]
            dashboard.count_to_process = Invoice.search_count(
                domain + [("chorus_status", "in", sorted(chorus_statuses.AWAITING_DECISION)),
                          ("imported_as_history", "=", False)]
            )
            dashboard.count_files_problem = Invoice.search_count(
                domain + [("files_state", "in", ("error", "unavailable"))]
            )

    @api.model
    def action_open(self):
        dashboard = self.create({})
        return {
            "type": "ir.actions.act_window",
            "name": _("Chorus Pro"),
            "res_model": self._name,
            "res_id": dashboard.id,
            "view_mode": "form",
            "target": "current",
            "context": {"form_view_initial_mode": "edit"},
        }

    def action_launch_sync(self):
        self.ensure_one()
        return self.env["chorus.pro.account"].action_launch_sync_current_company()

    def action_open_last_run(self):
        self.ensure_one()
        return self.last_run_id._action_open() if self.last_run_id else False

    def action_open_to_process(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_action"
        )
        action["context"] = {"search_default_to_process": 1}
        return action

    def action_open_files_problem(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_action"
        )
        action["context"] = {"search_default_files_problem": 1}
        return action
