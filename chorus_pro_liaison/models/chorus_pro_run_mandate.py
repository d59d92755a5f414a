# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The "Mandater" job on the run: the selection (one request per invoice, with its budget
article), the parameters, the counters. The work itself: ``services/mandating.py``."""

from odoo import _, api, fields, models

from odoo.addons.chorus_pro_liaison.services.mandating import LOCK_NAMESPACE, MandateRunner

REQUEST_STATES = [
    ("pending", "To do"),
    ("done", "Done"),
    ("skipped", "Already done"),
    ("blocked", "Stopped"),
]


class ChorusProMandateRequest(models.Model):
    """One invoice of a mandating run, with the article chosen for it and what became of it."""

    _name = "chorus.pro.mandate.request"
    _description = "Chorus Pro invoice to mandate"
    _order = "run_id, sequence, id"

    run_id = fields.Many2one("chorus.pro.run", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True, index=True)
    sequence = fields.Integer()
    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, ondelete="cascade", index=True)
    article_id = fields.Many2one("chorus.pro.budget.article", ondelete="restrict")
    state = fields.Selection(REQUEST_STATES, default="pending", required=True, index=True)
    move_id = fields.Many2one("account.move", string="Mandate", ondelete="set null")
    message = fields.Text()


class ChorusProRun(models.Model):
    _inherit = "chorus.pro.run"

    run_type = fields.Selection(
        selection_add=[("mandate", "Mandating")], ondelete={"mandate": "cascade"}
    )
    mandate_request_ids = fields.One2many("chorus.pro.mandate.request", "run_id",
                                          string="Invoices to mandate", readonly=True)
    mandate_budget_id = fields.Many2one("chorus.pro.budget", string="Budget", readonly=True)
    mandate_article_id = fields.Many2one("chorus.pro.budget.article", string="Article",
                                         readonly=True)
    mandate_exercice = fields.Integer(string="Exercice", readonly=True)
    mandate_accounting_date = fields.Date(string="Accounting date", readonly=True)
    count_mandates = fields.Integer(string="Mandates created", readonly=True)
    count_pushed = fields.Integer(string="Sent to Chorus Pro", readonly=True)
    mandate_move_ids = fields.Many2many("account.move", compute="_compute_mandate_move_ids",
                                        string="Mandates")
    mandate_move_count = fields.Integer(string="Number of mandates", compute="_compute_mandate_move_ids")

    def _compute_mandate_move_ids(self):
        for run in self:
            moves = run.mandate_request_ids.move_id
            run.mandate_move_ids = moves
            run.mandate_move_count = len(moves)

    def _execute_mandate(self):
        self.ensure_one()
        MandateRunner(self).execute()

    def _run_lock_key(self):
        if self.run_type == "mandate":
            return (LOCK_NAMESPACE, self.account_id.id)
        return super()._run_lock_key()

    def _interrupted_summary(self):
        if self.run_type == "mandate":
            return _(
                "Interrupted: the server process stopped during the run (stopped, restarted, or "
                "over its time or memory limit). The mandates created before are kept; the "
                "invoices not handled yet can be mandated again (those already mandated are "
                "skipped)."
            )
        return super()._interrupted_summary()

    def action_open_mandates(self):
        self.ensure_one()
        moves = self.mandate_request_ids.move_id
        action = {
            "type": "ir.actions.act_window",
            "name": _("Mandates of %(run)s", run=self.name),
            "res_model": "account.move",
            "context": {"create": False},
        }
        if len(moves) == 1:
            action.update(view_mode="form", res_id=moves.id)
        else:
            action.update(
                view_mode="list,form",
                views=[(self.env.ref("chorus_pro_liaison.chorus_pro_mandate_view_list").id, "list"),
                       (False, "form")],
                domain=[("id", "in", moves.ids)],
            )
        return action

    @api.model
    def _launch_mandate(self, account, budget, article, exercice, accounting_date, items,
                        user=None):
        """Create the mandating run of ``items`` (``[(invoice, article or None)]``) and run it
        now, or queue it for the background when the selection is large. Returns the run."""
        user = user or self.env.user
        run = self.sudo().create({
            "company_id": account.company_id.id,
            "account_id": account.id,
            "run_type": "mandate",
            "trigger": "manual",
            "user_id": user.id,
            "mandate_budget_id": budget.id,
            "mandate_article_id": article.id,
            "mandate_exercice": exercice,
            "mandate_accounting_date": accounting_date,
            "total": len(items),
            "mandate_request_ids": [
                (0, 0, {"sequence": index, "invoice_id": invoice.id,
                        "article_id": (line_article or article).id})
                for index, (invoice, line_article) in enumerate(items)
            ],
        })
        if len(items) > account.mandate_background_threshold:
            self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_jobs").sudo()._trigger()
        else:
            run.with_company(account.company_id)._execute()
        return run
