# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Background work with visible progress: one persistent record per run (a retrieval, a
mandating), with its counters, its messages, and a live page the web client follows through
the bus. Runs stay listed.

How a run is executed, riding on Odoo's cron:

* a button ("Lancer la vérification", "Mandater" on a large selection) queues a run and
  triggers the job cron (*Chorus Pro: background jobs*) at once; the job cron executes the
  queued runs one per call and tells Odoo how many remain (``ir.cron._notify_progress``): Odoo
  calls it again, each call in a transaction of its own, until none remains. Odoo's cron lock
  keeps one job cron at work, so a queued run is picked once (no claim of our own);
* a scheduled retrieval (hourly cron) and a small "Mandater" (in the user's request) execute the
  run they create themselves, before it is ever committed as queued;
* one lock per run: the PostgreSQL session lock of its kind and account (two retrievals, or two
  mandatings, of one account never run at once: the second one is skipped). It is held while the
  run is executed, across the batches it commits, and dies with the connection of the process;
* a run left "running" whose lock nobody holds was interrupted (worker killed, time limit,
  restart): the next pass (job cron, hourly cron, a button) marks it so; a retrieval resumes
  from where it stopped at the next run (the watermark had not moved), a mandating skips what
  was mandated.

The work itself: ``services/retrieval.py`` (``InvoiceSynchronizer``) and
``services/mandating.py`` (``MandateRunner``).
"""

import logging
import time
from contextlib import contextmanager

from odoo import _, api, fields, models

from odoo.addons.chorus_pro_liaison.models.chorus_pro_account_token import CONTEXT_RUN_KEY
from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.languages import in_writer_lang, selection_labels
from odoo.addons.chorus_pro_liaison.services.mandating import MandateRunner
from odoo.addons.chorus_pro_liaison.services.retrieval import InvoiceSynchronizer
from odoo.addons.chorus_pro_liaison.services.transactions import can_commit, commit, rollback

_logger = logging.getLogger(__name__)

RUN_STATES = [
    ("queued", "Queued"), ("running", "Running"), ("done", "Done"),
    ("warning", "Done with problems"), ("failed", "Failed"), ("skipped", "Skipped"),
]
FINISHED_STATES = ("done", "warning", "failed", "skipped")
# What executes each kind of run.
ENGINES = {"sync": InvoiceSynchronizer, "mandate": MandateRunner}
# The lock of each kind of run: (namespace, account id) of a PostgreSQL advisory session lock.
LOCK_NAMESPACES = {
    "sync": 0x43505253 - (1 << 31),  # "CPRS"
    "mandate": 0x4350524D - (1 << 31),  # "CPRM"
}
JOBS_CRON = "chorus_pro_liaison.ir_cron_chorus_pro_jobs"


class ChorusProRun(models.Model):
    _name = "chorus.pro.run"
    _description = "Chorus Pro background run"
    _inherit = ["mail.thread"]
    _order = "id desc"

    # Computed when read, in the reader's language (not stored in the launcher's).
    name = fields.Char(compute="_compute_name")
    company_id = fields.Many2one("res.company", required=True, index=True)
    account_id = fields.Many2one("chorus.pro.account", required=True, index=True, ondelete="cascade")
    run_type = fields.Selection(
        [("sync", "Retrieval from Chorus Pro"), ("mandate", "Mandating")],
        required=True, default="sync",
    )
    trigger = fields.Selection(
        [("manual", "Launched by a user"), ("cron", "Scheduled")], required=True, default="manual"
    )
    user_id = fields.Many2one("res.users", string="Launched by", default=lambda self: self.env.user)
    # Not tracked: the chatter would keep the states in the language of the process that ran
    # it (the statusbar and the start and end times say it in the reader's language).
    state = fields.Selection(RUN_STATES, default="queued", required=True, index=True)
    started_at = fields.Datetime(readonly=True)
    ended_at = fields.Datetime(readonly=True)
    duration = fields.Float(compute="_compute_duration", string="Duration (s)")
    total = fields.Integer(string="To examine", readonly=True)
    done = fields.Integer(string="Examined", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    count_failed = fields.Integer(string="Failed", readonly=True)
    count_calls = fields.Integer(string="Chorus Pro calls", readonly=True)
    # The outcome is stored as facts (counters, numbers) and written out in the reader's
    # language; only free texts (an error's own message) are stored as text.
    summary = fields.Text(compute="_compute_summary", inverse="_inverse_summary")
    summary_facts = fields.Json(string="Summary facts", readonly=True, copy=False)
    summary_message = fields.Text(string="Summary text", readonly=True, copy=False)
    line_ids = fields.One2many("chorus.pro.run.line", "run_id", string="Run messages", readonly=True)

    # ------------------------------------------------------------------ retrieval runs
    window_from = fields.Datetime(string="Status changes from", readonly=True)
    window_to = fields.Datetime(string="Status changes until", readonly=True)
    count_new = fields.Integer(string="New", readonly=True)
    count_updated = fields.Integer(string="Updated", readonly=True)
    count_unchanged = fields.Integer(string="Unchanged", readonly=True)
    count_downloads = fields.Integer(string="Downloads", readonly=True)
    invoice_ids = fields.Many2many(
        "chorus.pro.invoice", "chorus_pro_run_invoice_rel", "run_id", "invoice_id",
        string="Invoices created or updated", readonly=True,
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count", string="Invoices")
    key_absent = fields.Boolean(
        string="RGS** key absent",
        readonly=True,
        copy=False,
        help="\"Clé RGS** requise\" is on and the key was not usable during this scheduled "
        "retrieval; the retrieval went on without it.",
    )

    # ------------------------------------------------------------------ mandating runs
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
    mandate_move_count = fields.Integer(string="Number of mandates",
                                        compute="_compute_mandate_move_ids")

    # ------------------------------------------------------------------ computes
    @api.depends("run_type", "create_date")
    @api.depends_context("lang", "tz")
    def _compute_name(self):
        labels = selection_labels(self, "run_type")
        for run in self:
            when = fields.Datetime.context_timestamp(run, run.create_date or fields.Datetime.now())
            run.name = f"{labels.get(run.run_type, run.run_type)} {when:%d/%m/%Y %H:%M}"

    @api.model_create_multi
    def create(self, vals_list):
        # No "created" line in the chatter: it would stay in the creator's language (a
        # scheduled run's is the server's); the run's form says when and by whom.
        return super(ChorusProRun, self.with_context(mail_create_nolog=True)).create(vals_list)

    @api.depends("summary_facts", "summary_message")
    @api.depends_context("lang")
    def _compute_summary(self):
        for run in self:
            facts = run.summary_facts
            run.summary = run._render_summary(facts) if facts else (run.summary_message or False)

    def _inverse_summary(self):
        for run in self:
            run.write({"summary_message": run.summary or False, "summary_facts": False})

    def _render_summary(self, facts):
        """The run's outcome in words, in the language of whoever reads it."""
        self.ensure_one()
        kind = facts.get("kind")
        if kind == "sync":
            return self._render_sync_summary(facts)
        if kind == "mandate":
            return self._render_mandate_summary(facts)
        if kind == "skipped":
            return self._skipped_summary()
        if kind == "interrupted":
            return self._interrupted_summary()
        if kind == "no_structure":
            return self._no_structure_summary()
        if kind == "unexpected":
            # The error's own message is a free text; the sentence around it is the reader's.
            return _("Unexpected error: %(error)s", error=facts.get("error") or "?")
        return self.summary_message or False

    def _no_structure_summary(self):
        return _("Choose the recipient structure on the Chorus Pro account first (Load my "
                 "structures): the retrieval brings the invoices of that structure.")

    def _render_sync_summary(self, facts):
        text = _(
            "%(new)s new, %(updated)s updated, %(unchanged)s unchanged, %(failed)s failed.",
            new=self.count_new,
            updated=self.count_updated,
            unchanged=self.count_unchanged,
            failed=self.count_failed,
        )
        if facts.get("notices"):
            text += " " + _("%(count)s notice(s): see the messages below.", count=facts["notices"])
        if self.count_failed:
            text += " " + _(
                "The failed invoices are listed below with the reason; they are tried again at "
                "the next retrieval."
            )
        return text

    def _render_mandate_summary(self, facts):
        numbers = facts.get("numbers") or []
        text = _("%(count)s mandate(s) created", count=self.count_mandates)
        if numbers:
            text += _(" (n° %(first)s to %(last)s)", first=numbers[0], last=numbers[-1]) if len(
                numbers) > 1 else _(" (n° %(first)s)", first=numbers[0])
        text += _(", %(pushed)s sent to Chorus Pro as Mandatée.", pushed=self.count_pushed)
        if facts.get("credit_notes"):
            text += " " + _("%(count)s credit note(s) applied.", count=facts["credit_notes"])
        if facts.get("skipped"):
            text += " " + _("%(count)s already mandated (nothing done again).",
                            count=facts["skipped"])
        if facts.get("blocked"):
            text += " " + _("%(count)s stopped: the reasons are listed below.",
                            count=facts["blocked"])
        if self.count_failed:
            text += " " + _(
                "%(count)s not accepted by Chorus Pro yet (see below): those Chorus Pro could "
                "not receive are sent again automatically.", count=self.count_failed)
        return text

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

    def _compute_mandate_move_ids(self):
        for run in self:
            moves = run.mandate_request_ids.move_id
            run.mandate_move_ids = moves
            run.mandate_move_count = len(moves)

    # ------------------------------------------------------------------ what engines use
    def _commit(self):
        # Work is committed in batches so that a crash loses at most the current batch.
        commit(self.env.cr)

    def _rollback(self):
        rollback(self.env.cr)

    @contextmanager
    def _rollback_on_error(self):
        """On an error, the work in progress is rolled back before the error goes on: the
        transaction is usable again, so that the lock is released and the failure recorded,
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
                    "title": self.with_context(lang=self.user_id.lang).name,
                    "message": self.with_context(lang=self.user_id.lang).summary or "",
                    "sticky": self.state not in ("done",),
                },
            )

    # ------------------------------------------------------------------ the run's lock
    def _lock_key(self):
        """(namespace, account id) of the advisory session lock of this run's kind."""
        self.ensure_one()
        return (LOCK_NAMESPACES[self.run_type], self.account_id.id)

    def _try_lock(self):
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", self._lock_key())
        return self.env.cr.fetchone()[0]

    def _unlock(self, quiet=False):
        """Release the lock. ``quiet``: on an error path, where a failure to release must not
        replace the error being raised (it is logged)."""
        try:
            self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", self._lock_key())
        except Exception:
            if not quiet:
                raise
            _logger.warning("Chorus Pro: lock of run %s not released", self.id, exc_info=True)

    # ------------------------------------------------------------------ execution
    def _execute(self):
        """Execute these queued runs to their end, each under its lock (see the module
        docstring); a run that is not queued (executed, or being executed) is left alone."""
        for run in self:
            if run.state != "queued":
                continue
            if not run._try_lock():
                run._end_skipped()
                continue
            # What the run writes as it goes (its messages, the invoices' chatter) is in the
            # launcher's language (a scheduled run: the company's); its summary is rendered for
            # each reader.
            run = in_writer_lang(run, run.user_id, run.company_id)
            try:
                run._execute_locked()
            except BaseException:
                run._rollback()
                run._unlock(quiet=True)
                raise
            run._unlock()
        return True

    def _execute_locked(self):
        run = self
        run.write({"state": "running", "started_at": fields.Datetime.now()})
        run._commit()
        started = time.monotonic()
        engine = ENGINES[run.run_type](run.with_context(**{CONTEXT_RUN_KEY: run.id}))
        try:
            # An error (an SQL one aborts the transaction) is rolled back before the outcome is
            # written and the lock released.
            with run._rollback_on_error():
                engine.execute()
        except Exception as error:  # noqa: BLE001 - a run must end recorded, never hang
            _logger.exception("Chorus Pro run %s failed", run.id)
            run.write({"state": "failed", "summary_message": False,
                       "summary_facts": {"kind": "unexpected", "error": str(error)}})
        run.write({"ended_at": fields.Datetime.now()})
        _logger.info(
            "Chorus Pro run %s (%s) ended %s in %.1f s",
            run.id, run.run_type, run.state, time.monotonic() - started,
        )
        run._notify(final=True)
        run._commit()

    def _end_skipped(self):
        """Another run of the same kind and account is being executed: this one does not start."""
        self.ensure_one()
        self.write({"state": "skipped", "summary_facts": {"kind": "skipped"},
                    "summary_message": False, "ended_at": fields.Datetime.now()})
        self._notify(final=True)
        self._commit()

    def _skipped_summary(self):
        self.ensure_one()
        if self.run_type == "mandate":
            summary = _(
                "Another mandating run is in progress for %(company)s: this one did not start. "
                "Try again when it has ended.", company=self.company_id.name,
            )
        else:
            summary = _(
                "A retrieval is already running for %(company)s; this one was not started. Its "
                "results will appear when it ends.", company=self.company_id.name,
            )
        return summary

    # ------------------------------------------------------------------ interrupted runs
    def _interrupted_summary(self):
        self.ensure_one()
        if self.run_type == "mandate":
            return _(
                "Interrupted: the server process stopped during the run (stopped, restarted, or "
                "over its time or memory limit). The mandates created before are kept; the "
                "invoices not handled yet can be mandated again (those already mandated are "
                "skipped)."
            )
        return _(
            "Interrupted: the server process stopped during the run (stopped, restarted, or over "
            "its time or memory limit). What was done before is kept; the next run resumes from "
            "where this one stopped."
        )

    def _reap_interrupted(self):
        """Runs left "running" whose lock nobody holds are marked failed (their process died:
        the lock died with its connection), so that they neither block the next runs nor show
        as running forever. Returns the runs marked."""
        dead = self.browse()
        for run in self.filtered(lambda r: r.state == "running"):
            if not run._try_lock():
                continue  # its process is alive
            try:
                # Said by the summary, in each reader's language (no line repeating it in
                # the launcher's).
                run.write({"state": "failed", "summary_facts": {"kind": "interrupted"},
                           "summary_message": False, "ended_at": fields.Datetime.now()})
                _logger.warning("Chorus Pro run %s (%s) was interrupted: marked failed",
                                run.id, run.run_type)
            finally:
                run._unlock()
            dead |= run
        return dead

    # ------------------------------------------------------------------ the job cron
    @api.model
    def _cron_process_queue(self):
        """Job cron (triggered by the buttons): runs left "running" by a dead process are
        marked interrupted, then the oldest queued run is executed. Odoo calls again while runs
        remain (see the module docstring)."""
        Run = self.sudo()
        Run.search([("state", "=", "running")])._reap_interrupted()
        self._commit()
        queued = Run.search([("state", "=", "queued")], order="id")
        if queued:
            queued[0].with_company(queued[0].company_id)._execute()
        self.env["ir.cron"]._notify_progress(
            done=1 if queued else 0, remaining=max(len(queued) - 1, 0)
        )
        return True

    @api.model
    def _trigger_jobs(self):
        """Start the job cron at once (a button queued a run)."""
        self.env.ref(JOBS_CRON).sudo()._trigger()

    @api.model
    def _launch_mandate(self, account, budget, article, exercice, accounting_date, items,
                        user=None):
        """Create the mandating run of ``items`` (``[(invoice, article or None)]``) and run it
        now, or queue it for the job cron when the selection is large. Returns the run."""
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
            self._trigger_jobs()
        else:
            run.with_company(account.company_id)._execute()
        return run

    # ------------------------------------------------------------------ actions
    def _action_open(self):
        self.ensure_one()
        return self._get_records_action(name=self.name)

    def action_open_invoices(self):
        check_action_access(self, "read")
        self.ensure_one()
        invoices = self.invoice_ids | self.line_ids.invoice_id
        return self.env["chorus.pro.invoice"]._get_records_action(
            name=_("Invoices of %(run)s", run=self.name),
            views=[(False, "list"), (False, "form")], domain=[("id", "in", invoices.ids)],
        )

    def action_open_mandates(self):
        check_action_access(self, "read")
        self.ensure_one()
        moves = self.mandate_request_ids.move_id
        action = moves._get_records_action(
            name=_("Mandates of %(run)s", run=self.name), context={"create": False}
        )
        if len(moves) != 1:
            mandate_list = self.env.ref("chorus_pro_liaison.chorus_pro_mandate_view_list")
            # No mandate (a run stopped early) shows an empty list, never every move.
            action.update(views=[(mandate_list.id, "list"), (False, "form")],
                          domain=[("id", "in", moves.ids)])
        return action


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
