# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Background work with visible progress: one persistent record per run.

A run is created by a button ("Lancer la vérification", "Mandater" on a large selection) or by a
scheduled cron, executed by the job cron (triggered at once for buttons), and shows its counters,
its messages and its progress; the web client follows it through the bus. Runs stay listed.
"""

import logging
import time

from odoo import _, api, fields, models, modules, tools

_logger = logging.getLogger(__name__)

RUN_STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("warning", "Done with problems"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
]
FINISHED_STATES = ("done", "warning", "failed", "skipped")


class ChorusProRun(models.Model):
    _name = "chorus.pro.run"
    _description = "Chorus Pro background run"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    account_id = fields.Many2one("chorus.pro.account", required=True, index=True, ondelete="cascade")
    run_type = fields.Selection(
        [("sync", "Retrieval from Chorus Pro")], required=True, default="sync"
    )
    trigger = fields.Selection(
        [("manual", "Launched by a user"), ("cron", "Scheduled")], required=True, default="manual"
    )
    user_id = fields.Many2one("res.users", string="Launched by", default=lambda self: self.env.user)
    state = fields.Selection(RUN_STATES, default="queued", required=True, index=True, tracking=True)
    started_at = fields.Datetime(readonly=True)
    ended_at = fields.Datetime(readonly=True)
    duration = fields.Float(compute="_compute_duration", string="Duration (s)")
    window_from = fields.Datetime(string="Status changes from", readonly=True)
    window_to = fields.Datetime(string="Status changes until", readonly=True)
    total = fields.Integer(string="To examine", readonly=True)
    done = fields.Integer(string="Examined", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    count_new = fields.Integer(string="New", readonly=True)
    count_updated = fields.Integer(string="Updated", readonly=True)
    count_unchanged = fields.Integer(string="Unchanged", readonly=True)
    count_failed = fields.Integer(string="Failed", readonly=True)
    count_downloads = fields.Integer(string="Downloads", readonly=True)
    count_calls = fields.Integer(string="Chorus Pro calls", readonly=True)
    summary = fields.Text(readonly=True)
    line_ids = fields.One2many("chorus.pro.run.line", "run_id", string="Run messages", readonly=True)
    invoice_ids = fields.Many2many(
        "chorus.pro.invoice", "chorus_pro_run_invoice_rel", "run_id", "invoice_id",
        string="Invoices created or updated", readonly=True,
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count", string="Invoices")
    failed_line_count = fields.Integer(compute="_compute_failed_line_count")

    @api.depends("run_type", "create_date")
    def _compute_name(self):
        labels = dict(self._fields["run_type"]._description_selection(self.env))
        for run in self:
            when = fields.Datetime.context_timestamp(run, run.create_date or fields.Datetime.now())
            run.name = f"{labels.get(run.run_type, run.run_type)} {when:%d/%m/%Y %H:%M}"

    def _compute_duration(self):
        for run in self:
            end = run.ended_at or (fields.Datetime.now() if run.started_at else False)
            run.duration = (end - run.started_at).total_seconds() if run.started_at and end else 0.0

    @api.depends("total", "done", "state")
    def _compute_progress(self):
        for run in self:
            if run.state in FINISHED_STATES:
                run.progress = 100.0
            elif run.total:
                run.progress = min(100.0, 100.0 * run.done / run.total)
            else:
                run.progress = 0.0

    def _compute_invoice_count(self):
        for run in self:
            run.invoice_count = len(run.invoice_ids)

    def _compute_failed_line_count(self):
        for run in self:
            run.failed_line_count = len(run.line_ids.filtered(lambda line: line.level == "error"))

    # ------------------------------------------------------------------ execution
    @staticmethod
    def _can_commit():
        """Odoo's pattern (account): never commit inside tests, which keep their transaction."""
        return not tools.config["test_enable"] and not modules.module.current_test

    def _commit(self):
        if self._can_commit():
            # Work is committed in batches so that a crash loses at most the current batch.
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _log(self, message, level="info", chorus_id=False, number=False, invoice=False):
        self.ensure_one()
        self.env["chorus.pro.run.line"].sudo().create(
            {
                "run_id": self.id,
                "level": level,
                "chorus_id": chorus_id or 0,
                "number": number or False,
                "invoice_id": invoice.id if invoice else False,
                "message": message,
            }
        )

    def _notify(self, final=False):
        """Push the run's counters to the user who launched it (shown live on the run form)."""
        self.ensure_one()
        if not self.user_id:
            return
        payload = {
            "run_id": self.id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "new": self.count_new,
            "updated": self.count_updated,
            "unchanged": self.count_unchanged,
            "failed": self.count_failed,
            "final": final,
        }
        self.user_id._bus_send("chorus_pro_run_progress", payload)
        if final:
            self.user_id._bus_send(
                "simple_notification",
                {
                    "type": {"done": "success", "warning": "warning"}.get(self.state, "danger"),
                    "title": self.name,
                    "message": self.summary or "",
                    "sticky": self.state not in ("done",),
                },
            )

    def _execute(self):
        """Run a queued run to its end (called by the job cron, or directly in tests)."""
        for run in self:
            if run.state not in ("queued", "running"):
                continue
            run.write({"state": "running", "started_at": fields.Datetime.now()})
            run._commit()
            started = time.monotonic()
            try:
                handler = getattr(run, f"_execute_{run.run_type}")
                handler()
            except Exception as error:  # noqa: BLE001 - a run must end recorded, never hang
                _logger.exception("Chorus Pro run %s failed", run.id)
                if run._can_commit():
                    run.env.cr.rollback()
                run.write(
                    {
                        "state": "failed",
                        "summary": _("Unexpected error: %(error)s", error=str(error)),
                    }
                )
            run.write({"ended_at": fields.Datetime.now()})
            _logger.info(
                "Chorus Pro run %s (%s) ended %s in %.1f s",
                run.id, run.run_type, run.state, time.monotonic() - started,
            )
            run._notify(final=True)
            run._commit()
        return True

    @api.model
    def _cron_process_queue(self):
        """Job cron: execute the queued runs, oldest first (triggered by the buttons)."""
        runs = self.sudo().search([("state", "=", "queued")], order="id")
        for index, run in enumerate(runs):
            run.with_company(run.company_id)._execute()
            self.env["ir.cron"]._notify_progress(done=index + 1, remaining=len(runs) - index - 1)
        return True

    def action_open_invoices(self):
        self.ensure_one()
        invoices = self.invoice_ids | self.line_ids.invoice_id
        return {
            "type": "ir.actions.act_window",
            "name": _("Invoices of %(run)s", run=self.name),
            "res_model": "chorus.pro.invoice",
            "view_mode": "list,form",
            "domain": [("id", "in", invoices.ids)],
        }


class ChorusProRunLine(models.Model):
    _name = "chorus.pro.run.line"
    _description = "Chorus Pro run message"
    _order = "id"

    run_id = fields.Many2one("chorus.pro.run", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True, index=True)
    level = fields.Selection(
        [("info", "Information"), ("warning", "Notice"), ("error", "Failure")],
        required=True, default="info",
    )
    chorus_id = fields.Integer(string="Chorus ID")
    number = fields.Char(string="Invoice number")
    invoice_id = fields.Many2one("chorus.pro.invoice", ondelete="set null")
    message = fields.Text(required=True)


class ChorusProRunSync(models.Model):
    _inherit = "chorus.pro.run"

    def _execute_sync(self):
        from odoo.addons.chorus_pro_liaison.models.chorus_pro_sync import InvoiceSynchronizer

        self.ensure_one()
        InvoiceSynchronizer(self).execute()

    def _action_open(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": "chorus.pro.run",
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }
