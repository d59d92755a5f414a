# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Background work with visible progress: one persistent record per run.

A run is created by a button ("Lancer la vérification", "Mandater" on a large selection) or by a
scheduled cron, executed by the job cron (triggered at once for buttons), and shows its counters,
its messages and its progress; the web client follows it through the bus. Runs stay listed.
"""

import logging
import time
from contextlib import contextmanager

import psycopg2

from odoo import _, api, fields, models

from odoo.addons.chorus_pro_liaison.services.retrieval import LOCK_NAMESPACE, InvoiceSynchronizer
from odoo.addons.chorus_pro_liaison.services.transactions import can_commit, commit, rollback

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
    def _commit(self):
        # Work is committed in batches so that a crash loses at most the current batch.
        commit(self.env.cr)

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

    # ------------------------------------------------------------------ locks and transactions
    def _run_lock_key(self):
        """(namespace, key) of the PostgreSQL advisory lock (session level) a live execution of
        this run holds, or None when its run type has none. The lock dies with the server process:
        a run "running" whose lock nobody holds was interrupted (see _reap_interrupted)."""
        self.ensure_one()
        return None

    def _advisory_try_lock(self, key):
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        return self.env.cr.fetchone()[0]

    def _advisory_unlock(self, key, quiet=False):
        """Release one hold of the lock. ``quiet``: on an error path, where a failure to release
        must not replace the error being raised (it is logged)."""
        try:
            self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except Exception:
            if not quiet:
                raise
            _logger.warning("Chorus Pro: advisory lock %s not released", key, exc_info=True)

    def _advisory_lock_held(self, key):
        """Whether a server process (this one included) holds the lock ``key`` in this database."""
        namespace, number = key
        # pg_locks shows the two int4 keys of an advisory lock as oids (unsigned).
        self.env.cr.execute(
            """SELECT 1 FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND objsubid = 2
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND classid = %s::oid AND objid = %s::oid
                LIMIT 1""",
            (namespace & 0xFFFFFFFF, number & 0xFFFFFFFF),
        )
        return bool(self.env.cr.fetchone())

    def _rollback(self):
        rollback(self.env.cr)

    @contextmanager
    def _rollback_on_error(self):
        """On an error, the work in progress is rolled back before the error goes on: the
        transaction is usable again, so that the locks are released and the failure recorded,
        and no cleanup error hides the original one. Tests cannot roll back their transaction:
        a savepoint stands in for it."""
        if can_commit():
            try:
                yield
            except BaseException:
                self._rollback()
                raise
        else:
            with self.env.cr.savepoint():
                yield

    # ------------------------------------------------------------------ interrupted runs
    def _interrupted_summary(self):
        return _(
            "Interrupted: the server process stopped during the run (stopped, restarted, or over "
            "its time or memory limit). What was done before is kept; the next run resumes from "
            "where this one stopped."
        )

    def _reap_interrupted(self):
        """Runs left "running" by a server process that is gone (killed, time limit, restart)
        are marked failed, so that they neither block the next runs nor show as running forever.
        A run is alive as long as a process holds its advisory lock. Returns the runs marked."""
        dead = self.browse()
        for run in self.filtered(lambda r: r.state == "running"):
            key = run._run_lock_key()
            if key is None or run._advisory_lock_held(key):
                continue
            summary = run._interrupted_summary()
            run.write({"state": "failed", "summary": summary,
                       "ended_at": fields.Datetime.now()})
            run._log(summary, level="error")
            _logger.warning("Chorus Pro run %s (%s) was interrupted: marked failed",
                            run.id, run.run_type)
            dead |= run
        return dead

    # ------------------------------------------------------------------ execution
    def _claim(self):
        """Queued → running, once: two job crons (or a cron and a button) never execute the same
        run. Returns whether this process got it."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    "SELECT id FROM chorus_pro_run WHERE id = %s AND state = 'queued' "
                    "FOR UPDATE SKIP LOCKED",
                    (self.id,),
                    log_exceptions=False,
                )
                claimed = bool(self.env.cr.fetchone())
        except psycopg2.errors.SerializationFailure:
            # Claimed and committed by another process since this transaction began.
            claimed = False
        self.invalidate_recordset(["state"])
        if claimed:
            self.write({"state": "running", "started_at": fields.Datetime.now()})
        return claimed

    def _execute(self):
        """Run a queued run to its end (called by the job cron, or directly in tests).

        The run's advisory lock (when its type has one) is taken before the run is marked
        running and released after its outcome is committed: a run seen "running" without its
        lock held was interrupted (see _reap_interrupted)."""
        for run in self:
            key = run._run_lock_key()
            locked = bool(key) and run._advisory_try_lock(key)
            try:
                run._execute_one()
            except BaseException:
                if locked:
                    run._rollback()
                    run._advisory_unlock(key, quiet=True)
                raise
            if locked:
                run._advisory_unlock(key)
        return True

    def _execute_one(self):
        run = self
        if not run._claim():
            return
        run._commit()
        started = time.monotonic()
        try:
            handler = getattr(run, f"_execute_{run.run_type}")
            handler()
        except Exception as error:  # noqa: BLE001 - a run must end recorded, never hang
            _logger.exception("Chorus Pro run %s failed", run.id)
            run._rollback()
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

    @api.model
    def _cron_process_queue(self):
        """Job cron: execute the queued runs, oldest first (triggered by the buttons). Runs left
        "running" by a process that is gone are marked failed first."""
        self.sudo().search([("state", "=", "running")])._reap_interrupted()
        self._commit()
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
        self.ensure_one()
        InvoiceSynchronizer(self).execute()

    def _run_lock_key(self):
        if self.run_type == "sync":
            return (LOCK_NAMESPACE, self.account_id.id)
        return super()._run_lock_key()

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
