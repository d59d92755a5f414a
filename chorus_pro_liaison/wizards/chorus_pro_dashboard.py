# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Chorus Pro screen: the four steps of the daily work, with what waits at each step."""

from odoo import _, api, fields, models

from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro import statuses as chorus_statuses

AWAITING_DECISION = sorted(chorus_statuses.AWAITING_DECISION)


class ChorusProDashboard(models.TransientModel):
    _name = "chorus.pro.dashboard"
    _inherit = ["chorus.pro.screen.mixin"]
    _description = "Chorus Pro screen"

    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, readonly=True)
    # Step 1: retrieval.
    account_id = fields.Many2one("chorus.pro.account", compute="_compute_state")
    enabled = fields.Boolean(compute="_compute_state")
    last_sync_at = fields.Datetime(string="Last successful retrieval", compute="_compute_state")
    next_sync_at = fields.Datetime(string="Next scheduled retrieval", compute="_compute_state")
    last_run_id = fields.Many2one("chorus.pro.run", string="Last run", compute="_compute_state")
    last_run_state = fields.Selection(related="last_run_id.state", string="Last run state")
    last_run_summary = fields.Text(related="last_run_id.summary", string="Last run summary")
    count_to_process = fields.Integer(string="To process", compute="_compute_state")
    count_files_problem = fields.Integer(string="Files missing", compute="_compute_state")
    # Step 2: processing.
    count_push_pending = fields.Integer(
        string="Waiting to be sent", compute="_compute_processing_counts"
    )
    count_push_refused = fields.Integer(
        string="Refused by Chorus Pro", compute="_compute_processing_counts"
    )
    count_duplicates = fields.Integer(
        string="Suspected duplicates", compute="_compute_processing_counts"
    )
    # Step 3: suppliers.
    count_to_match = fields.Integer(string="Suppliers to match", compute="_compute_matching")
    count_bank_to_confirm = fields.Integer(
        string="Bank details to confirm", compute="_compute_matching"
    )
    # Step 4: mandates.
    count_to_mandate = fields.Integer(string="Ready to mandate", compute="_compute_mandate_counts")
    count_mandate_blocked = fields.Integer(string="Service fait, blocked",
                                           compute="_compute_mandate_counts")
    count_dgp_late = fields.Integer(string="Mandate date passed", compute="_compute_mandate_counts")
    count_dgp_soon = fields.Integer(string="To mandate soon", compute="_compute_mandate_counts")
    count_open_bordereaux = fields.Integer(string="Bordereaux to validate",
                                           compute="_compute_mandate_counts")

    def _compute_display_name(self):
        for dashboard in self:
            dashboard.display_name = _("Chorus Pro screen")

    # ------------------------------------------------------------------ counters
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
                domain + [("chorus_status", "in", AWAITING_DECISION),
                          ("imported_as_history", "=", False)]
            )
            dashboard.count_files_problem = Invoice.search_count(
                domain + Invoice._files_missing_domain()
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
                domain + [("push_state", "=", "refused"), ("chorus_status", "in", AWAITING_DECISION)]
            )
            dashboard.count_duplicates = Invoice.search_count(
                domain + [("is_duplicate_suspect", "=", True),
                          ("chorus_status", "in", AWAITING_DECISION)]
            )

    @api.depends("company_id")
    def _compute_matching(self):
        Invoice = self.env["chorus.pro.invoice"]
        for dashboard in self:
            domain = [("company_id", "=", dashboard.company_id.id)]
            # Suppliers, not invoices: one "Valider les tiers" matches all a supplier's invoices.
            dashboard.count_to_match = len(Invoice._read_group(
                domain + Invoice._to_match_domain(), ["supplier_identifier_key"],
            ))
            dashboard.count_bank_to_confirm = Invoice.search_count(
                domain + Invoice._bank_to_confirm_domain()
            )

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

    # ------------------------------------------------------------------ opening the screen
    @api.model
    def action_open(self):
        check_action_access(self, "read")
        dashboard = self.create({})
        return dashboard._get_records_action(
            name=_("Chorus Pro"), context={"form_view_initial_mode": "edit"}
        )

    def _list_action(self, action_xmlid, *filters):
        """An invoice list (or other action) of the addon, with these search filters on."""
        action = self.env["ir.actions.act_window"]._for_xml_id(f"chorus_pro_liaison.{action_xmlid}")
        if filters:
            action["context"] = {f"search_default_{name}": 1 for name in filters}
        return action

    # ------------------------------------------------------------------ step 1
    def action_launch_sync(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.env["chorus.pro.account"].action_launch_sync_current_company()

    def action_open_last_run(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.last_run_id._action_open() if self.last_run_id else False

    def action_open_to_process(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_invoice_action", "to_process")

    def action_open_files_problem(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_invoice_action", "files_problem")

    # ------------------------------------------------------------------ step 2
    def action_open_processing(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_processing_action", "worklist")

    def action_open_push_pending(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_processing_action", "push_pending")

    def action_open_push_refused(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_processing_action", "worklist", "push_refused")

    def action_open_duplicates(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_processing_action", "worklist", "duplicates")

    # ------------------------------------------------------------------ step 3
    def action_open_to_match(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_invoice_action_to_match")

    def action_open_bank_to_confirm(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_invoice_action", "bank_to_confirm")

    # ------------------------------------------------------------------ step 4
    def action_open_mandate_screen(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.env["chorus.pro.mandate.wizard"]._open()

    def action_open_to_mandate(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_invoice_to_mandate_action")

    def action_open_dgp_late(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_invoice_action", "dgp_late")

    def action_open_bordereaux(self):
        check_action_access(self, "read")
        return self._list_action("chorus_pro_bordereau_action", "open")
