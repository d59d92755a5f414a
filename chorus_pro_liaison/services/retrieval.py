# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 1 — bring every received invoice into Odoo once, with its files, and keep its status.

Data flows one way: Chorus → client (typed records) → neutral values → Odoo records.

How it behaves:
- incremental on the status-change date (with an overlap window), all pages;
- one record per (company, Chorus id), enforced by a unique constraint; upserts only;
- files (PIVOT, which embeds the PDF and the attachments) downloaded only for new invoices or
  when they changed (completion, size change), in bundles under a size cap, a few calls in flight;
- history (``consulter/historique``) only when the status changed or is not the first
  mise à disposition; consult only for factored invoices (the factor's identity);
- Chorus's PDF of an invoice deposited as XML asked after its PIVOT, several per call; the
  invoice is flagged (``rendering_pending``) from its PIVOT's storing until the PDF is stored, so
  that a run that could not have it asks the next run for the PDF only, not the PIVOT again;
- committed in batches (never in tests); one bad invoice is recorded and retried next run: the
  writes of each invoice run in a savepoint of their own, and the watermark does not move past
  an invoice that could not be recorded;
- the checks made on arrival (duplicates...) are driven by a stored flag: a run interrupted
  between a batch's commit and those checks leaves them to the next run;
- Chorus down: the run ends with a clear message and the watermark does not move;
- the run that executes it holds the account's retrieval lock and records an unexpected error
  (``models/chorus_pro_run.py``).

The path of an invoice: :meth:`InvoiceSynchronizer.execute` → searches (``_search_specs``) →
``_process_chunk`` per batch: what is new or changed → HTTP (histories, PIVOT downloads) with
nothing pending in the transaction → ``_write_batch`` (values from ``chorus_pro.mapping``,
``chorus.pro.invoice._apply_history``) → ``_store_downloads`` (files) → ``_complete_factored``
(consult) → ``_complete_pdf_renderings`` (Chorus's PDF of an invoice deposited as XML) →
``_after_sync`` (``chorus.pro.invoice._chorus_after_retrieval``: what each step does
with new or changed invoices) → the batch is committed (``_end_batch``).
"""

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import psycopg2

from odoo import Command, _, fields
from odoo.tools import split_every

from odoo.addons.chorus_pro_liaison.services.errors import (
    ChorusGuardError,
    chorus_error_message,
    pivot_error_message,
)

from chorus_pro import errors as chorus_errors
from chorus_pro import retrieval as chorus_retrieval
from chorus_pro import statuses as chorus_statuses
from chorus_pro.pivot import (
    CODE_DAMAGED_ARCHIVE as PIVOT_DAMAGED_ARCHIVE,
    CODE_UNSAFE_NAME as PIVOT_UNSAFE_NAME,
    CODE_ZIP_BOMB as PIVOT_ZIP_BOMB,
    PivotError,
    iter_pivot_invoices,
)
from chorus_pro.timeutil import PARIS, paris_date, to_utc_naive

_logger = logging.getLogger(__name__)

# A listing that moved while it was paged is listed again, at most this many times in all.
MAX_LISTINGS = 3
UNAVAILABLE_RETRY_HOURS = 24


class SyncInterrupted(Exception):
    """Chorus stopped answering: end the run, keep what was committed, resume next time."""


class InvoiceSynchronizer:
    """One retrieval run for one Chorus Pro account (see the module docstring)."""

    def __init__(self, run):
        self.run = run
        self.env = run.env
        self.account = run.account_id.sudo()
        self.company = self.account.company_id
        self.Invoice = (
            self.env["chorus.pro.invoice"].sudo().with_company(self.company).with_context(
                tracking_disable=True, mail_notrack=True, mail_create_nolog=True
            )
        )
        # Invoices per committed batch: a crash loses at most one batch.
        params = self.env["ir.config_parameter"].sudo()
        self.batch_size = max(1, int(
            params.get_param("chorus_pro_liaison.sync_batch_size", chorus_retrieval.BATCH_SIZE)
        ))
        self.page_size = max(1, int(
            params.get_param("chorus_pro_liaison.sync_page_size", chorus_retrieval.PAGE_SIZE)
        ))
        # Read once: the HTTP phase runs in worker threads, which never touch the ORM. The
        # client holds the run's one limit on calls in flight (see execute).
        self.workers = max(1, min(self.account.sync_parallel_calls or 3, 8))
        self.bundle_cap = max(1, self.account.sync_bundle_mb or 15) * 1024 * 1024
        self.seen = set()
        # Invoices this run created: no VAT lines nor lines to replace yet (see _store_pivot).
        self.fresh_ids = set()
        self.failed_ids = set()
        # Chorus ids whose PDF rendering this run asked (asked once per run, see _retry_unfinished).
        self.renderings_asked = set()
        # Invoices that could not be recorded keep the watermark back (see _record_failure):
        # None, or the earliest status change (UTC naive) to examine again; False when unknown.
        self.hold_watermark = None
        self.client = None
        self.services = {
            service.chorus_id: service
            for service in self.account.service_ids.with_context(active_test=False)
        }

    # ------------------------------------------------------------------ entry point
    def execute(self):
        """The retrieval (the run holds its lock and records an unexpected error)."""
        run = self.run
        account = self.account
        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        first_sync = not account.last_sync_at
        window_from = None
        if not first_sync:
            window_from = account.last_sync_at - timedelta(hours=account.sync_overlap_hours or 0)
        run.write({"window_from": window_from, "window_to": now})
        if not account.structure_chorus_id:
            # Without a structure, Chorus lists the invoices of every structure the technical
            # account is attached to: another company's among them.
            # Said by the summary, in each reader's language.
            run.write({"state": "failed", "summary_facts": {"kind": "no_structure"}})
            return
        self._after_sync_leftovers()
        try:
            with account._chorus_client(
                "sync",
                manual=run.trigger == "manual",
                max_retries=3,
                # Whichever thread calls (the next chunk's calls made ahead, this chunk's
                # renderings and consults, the searches), no more than this in flight at once.
                max_in_flight=self.workers,
            ) as client:
                self.client = client
                self._examine_everything(first_sync, window_from, now)
                self._retry_unfinished()
                run.count_calls = sum(client.call_counts.values())
        except ChorusGuardError as error:
            run.write({"state": "failed", "summary": error.args[0]})
            run._log(error.args[0], level="error")
            return
        except (chorus_errors.ChorusProError, SyncInterrupted) as error:
            message = chorus_error_message(error, self.env) if isinstance(
                error, chorus_errors.ChorusProError
            ) else str(error)
            if self.client:
                run.count_calls = sum(self.client.call_counts.values())
            run.write(
                {
                    "state": "failed",
                    "summary": _(
                        "The retrieval stopped: %(reason)s What was retrieved is kept; the next "
                        "run continues from where this one stopped.",
                        reason=message,
                    ),
                }
            )
            run._log(message, level="error")
            return
        # Everything was examined: the watermark moves; invoices whose files failed are retried
        # next run through their own state, not through the window. An invoice that could not be
        # recorded at all keeps the watermark back, so that the next run examines it again.
        watermark = now
        if self.hold_watermark is not None:
            # A first retrieval stays a first one (its cutoff rules apply to those invoices).
            watermark = (
                min(now, self.hold_watermark)
                if self.hold_watermark and not first_sync
                else account.last_sync_at
            )
        account.write({"last_sync_at": watermark, "last_sync_run_id": run.id})
        state = "warning" if run.count_failed or run.line_ids.filtered(
            lambda line: line.level != "info"
        ) else "done"
        run.write({"state": state, "summary_facts": self._summary_facts(),
                   "summary_message": False})

    def _summary_facts(self):
        """The facts the run's summary is written from, in each reader's language."""
        notices = len(self.run.line_ids.filtered(lambda line: line.level == "warning"))
        return {"kind": "sync", "notices": notices}

    # ------------------------------------------------------------------ searching
    def _search_specs(self, first_sync, window_from, now):
        """(label, kwargs, works?) of each search to run. Every search is made for ordinary
        invoices and for works invoices alike (their own API): a works invoice waiting for a
        decision has its payment delay running just the same."""
        account = self.account
        structure = account.structure_chorus_id
        to = now.replace(tzinfo=timezone.utc)
        searches = []
        if first_sync:
            # Invoices still waiting for our decision come in whatever their date: their
            # payment delay is already running. Later runs see them change in their window.
            for status in sorted(chorus_statuses.AWAITING_DECISION):
                searches.append(("pending", {"recipient_id": structure, "statuses": [status]}))
            cutoff = account.sync_cutoff_date
            since = None
            if cutoff and account.sync_cutoff_mode == "skip":
                # The cutoff is a Paris date (like the status dates compared with it).
                since = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=PARIS)
        else:
            since = window_from.replace(tzinfo=timezone.utc)
        searches.append(("window", {"recipient_id": structure, "status_changed_from": since,
                                    "status_changed_to": to}))
        return [(label, kwargs, works) for label, kwargs in searches for works in (False, True)]

    def _examine_everything(self, first_sync, window_from, now):
        for label, kwargs, works in self._search_specs(first_sync, window_from, now):
            self._examine_search(label, kwargs, works, first_sync)

    def _examine_search(self, label, kwargs, works, first_sync):
        """Page through one search. Chorus keeps receiving invoices meanwhile: one arriving or
        leaving before the page being read shifts the others, and one may be skipped at a page
        boundary. The ids collected are checked against the totals announced, and the search is
        listed again when they differ (what was already examined is not examined twice)."""
        search_for = (self.client.search_works_invoices if works
                      else self.client.search_received_invoices)
        for listing in range(MAX_LISTINGS):
            search = search_for(page_size=self.page_size, **kwargs)
            collected = set()
            items = self._listed(search, collected, count_total=listing == 0)
            self._process_chunks(chorus_retrieval.chunked(items, self.batch_size), first_sync)
            if search.complete(len(collected)):
                return
            _logger.info("Chorus Pro retrieval, run %s: the %s search moved while it was "
                         "paged (%s listed, totals %s); listed again", self.run.id, label,
                         len(collected), search.totals)
        # Still moving: this run cannot vouch for the listing; the next one looks again.
        self.hold_watermark = False
        self.run._log(
            _("Chorus Pro's list of invoices kept changing while it was read: the next "
              "retrieval reads it again, so that no invoice is left behind."),
            level="warning",
        )

    def _listed(self, search, collected, count_total=True):
        """The items of a search not examined yet by this run, the ids collected; the total is
        added to the run's "to examine" counter (the first listing only)."""
        structure = self.account.structure_chorus_id
        items = self._with_total(search) if count_total else search
        for summary in items:
            collected.add(summary.chorus_id)
            if summary.recipient_id and summary.recipient_id != structure:
                # Another structure's invoice (a portal ignoring the filter): not ours.
                if count_total and self.run.total:
                    self.run.total -= 1
                continue
            if not count_total and summary.chorus_id in self.seen:
                continue
            if not count_total:
                self.run.total += 1
            yield summary

    def _with_total(self, search):
        """Iterate a search, adding its total to the run's "to examine" counter once known."""
        counted = False
        for summary in search:
            if not counted:
                total = getattr(search, "total", None)
                if total:
                    self.run.total += total
                counted = True
            yield summary

    def _end_batch(self):
        run = self.run
        if self.client:
            run.count_calls = sum(self.client.call_counts.values())
        if run.done > run.total:
            run.total = run.done
        run._commit()
        run._notify()

    # ------------------------------------------------------------------ one chunk
    def _process_chunks(self, chunks, first_sync):
        """Each chunk: planned (what is new or changed), its Chorus calls made (histories, PIVOT
        downloads), then written and committed. The calls of the next chunk run in a worker
        thread while this one is written: Odoo's work and Chorus's latency overlap; the calls of
        both share the client's one limit ("Calls in flight")."""
        ahead = None  # (todo, future of its calls)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chorus-fetch") as fetcher:
            try:
                for chunk in chunks:
                    todo = self._plan_chunk(chunk, first_sync)
                    previous = ahead
                    ahead = (todo, fetcher.submit(self._fetch, todo) if todo else None)
                    if previous is not None:
                        self._write_fetched(*previous)
                        self._end_batch()
                if ahead is not None:
                    current, ahead = ahead, None
                    self._write_fetched(*current)
                    self._end_batch()
            finally:
                if ahead is not None and ahead[1] is not None:
                    # Interrupted: the files fetched ahead are not kept.
                    try:
                        self._cleanup(ahead[1].result()[1])
                    except Exception:  # noqa: BLE001 - already failing
                        pass

    def _process_chunk(self, summaries, first_sync=False):
        """One chunk, its calls made here (no overlap)."""
        todo = self._plan_chunk(summaries, first_sync)
        if todo:
            self._write_fetched(todo, None)

    def _fetch(self, todo):
        """The Chorus calls of a planned chunk: HTTP only (a worker thread, no ORM)."""
        histories = self._fetch_histories([
            summary.chorus_id for summary, _invoice, _new, _history, _files, read_history in todo
            if read_history])
        downloads = self._fetch_downloads(
            [summary for summary, _invoice, _new, _history, files, _read in todo if files])
        return histories, downloads

    def _plan_chunk(self, summaries, first_sync=False):
        """What is new or changed in ``summaries``: the todo list ``(summary, invoice or None,
        is_new, as_history, needs_files, read_history)``, empty when nothing is to be done. The
        history is read for a new invoice when the library says so, for a known one when its
        status changed: an invoice whose files only are asked again needs no history call."""
        run = self.run
        fresh = []
        for summary in summaries:
            if summary.chorus_id in self.seen:
                # Already examined by another search of this run (pending + window overlap).
                run.done += 1
                continue
            self.seen.add(summary.chorus_id)
            fresh.append(summary)
        if not fresh:
            return []
        existing = {
            invoice.chorus_id: invoice
            for invoice in self.Invoice.search(
                [("company_id", "=", self.company.id),
                 ("chorus_id", "in", [s.chorus_id for s in fresh])]
            )
        }
        # Statuses Odoo recorded itself from Chorus's answer to a push: Chorus's own history
        # entry replaces them (chorus.pro.invoice._apply_history), so the history is read.
        awaiting_history = set(self.env["chorus.pro.invoice.status"].sudo().search([
            ("invoice_id", "in", [invoice.id for invoice in existing.values()]),
            ("is_local", "=", True),
        ]).invoice_id.ids) if existing else set()
        cutoff = self.account.sync_cutoff_date
        todo = []  # (summary, invoice or None, is_new, as_history, needs_files, read_history)
        for summary in fresh:
            run.done += 1
            invoice = existing.get(summary.chorus_id)
            status_at = to_utc_naive(summary.status_datetime)
            if invoice is None:
                as_history = False
                if first_sync and cutoff and summary.status not in chorus_statuses.AWAITING_DECISION:
                    old = (paris_date(summary.status_datetime) or cutoff) < cutoff
                    if old and self.account.sync_cutoff_mode == "skip":
                        run.done -= 1
                        run.total -= 1 if run.total else 0
                        continue
                    as_history = old
                todo.append((summary, None, True, as_history, True,
                             chorus_retrieval.history_needed(summary)))
                continue
            changed = (
                invoice.chorus_status_code != summary.status
                or (status_at and invoice.status_datetime != status_at)
                or invoice.id in awaiting_history
                or invoice.history_pending
            )
            needs_files = invoice.files_state in ("pending", "error") or (
                changed and invoice.files_state == "unavailable"
            ) or (
                changed and summary.status == chorus_statuses.COMPLETEE
            ) or (
                summary.size and invoice.files_size and summary.size != invoice.files_size
            )
            if changed or needs_files:
                todo.append((summary, invoice, False, False, bool(needs_files), bool(changed)))
            else:
                run.count_unchanged += 1
        return todo

    def _write_fetched(self, todo, future):
        """Write a planned chunk once its calls are made (``future``: made ahead in a worker
        thread; None: made now)."""
        if not todo:
            return
        # Nothing pending in this transaction while Chorus is waited for (no row is locked),
        # then all the writes of the batch, committed together.
        self.run._commit()
        raw_histories, raw_downloads = future.result() if future else self._fetch(todo)
        try:
            histories = self._histories_outcome(raw_histories)
        except BaseException:
            self._cleanup(raw_downloads)
            raise
        downloads = self._downloads_outcome(raw_downloads)
        file_items = [summary for summary, _invoice, _new, _history, files, _read in todo if files]
        try:
            records = self._write_batch(todo, histories)
            items = {summary.chorus_id: (summary, records[summary.chorus_id][1])
                     for summary in file_items if summary.chorus_id in records}
            retry_singly = self._store_downloads(downloads, items)
        finally:
            self._cleanup(downloads)
        self._download_singly(retry_singly, items)
        # A new invoice whose PIVOT says it was completed (or recycled) went through a
        # suspension before this first look: its history tells the payment delay's interruption.
        self._read_histories(self.Invoice.browse([
            invoice.id for chorus_id, (_s, invoice, is_new) in records.items()
            if is_new and chorus_id not in histories
            and chorus_retrieval.redelivered(invoice.redelivery)
        ]))
        self._complete_factored([invoice for _s, invoice, _n in records.values()])
        self._complete_pdf_renderings([invoice for _s, invoice, _n in records.values()])
        touched = self.Invoice.browse([invoice.id for _s, invoice, _n in records.values()])
        self.run.invoice_ids = [(4, invoice_id) for invoice_id in touched.ids]
        self._after_sync(touched)

    def _write_batch(self, todo, histories):
        """The batch's invoices and histories, written together in one savepoint (one flush:
        the fast path). When anything fails, that is rolled back and the invoices are written
        again one by one, each in a savepoint of its own: the bad invoice is recorded as failed
        and the others of the batch go on. Returns ``{chorus_id: (summary, invoice, is_new)}``."""
        return self._together_or_one_by_one(
            "a batch could not be written at once",
            lambda: self._write_batch_together(todo, histories),
            lambda: self._write_batch_one_by_one(todo, histories),
        )

    def _write_batch_together(self, todo, histories):
        written = {}
        new_vals, new_summaries = [], []
        for summary, invoice, is_new, as_history, _files, _read in todo:
            if is_new:
                # Created together below: one INSERT for the batch.
                new_vals.append(self._new_invoice_values(summary, as_history))
                new_summaries.append(summary)
                continue
            written[summary.chorus_id] = self._write_invoice(summary, invoice, False, False)
        if new_vals:
            created = self.Invoice.create(new_vals)
            written.update(zip([summary.chorus_id for summary in new_summaries], created))
            self.fresh_ids.update(created.ids)
        records = {
            summary.chorus_id: (summary, written[summary.chorus_id], is_new)
            for summary, _invoice, is_new, _history, _files, _read in todo
        }
        for chorus_id, (history, error) in histories.items():
            if chorus_id not in records:
                continue
            invoice = records[chorus_id][1]
            if error is not None:
                self._history_unavailable(invoice, error)
                continue
            self._apply_history(invoice, history)
        return records

    def _write_batch_one_by_one(self, todo, histories):
        records = {}
        for summary, invoice, is_new, as_history, _files, _read in todo:
            written, error = self._isolated(
                self._write_invoice, summary, invoice, is_new, as_history
            )
            if error is not None:
                self._record_failure(summary, invoice, error)
                continue
            records[summary.chorus_id] = (summary, written, is_new)
        for chorus_id, (history, error) in histories.items():
            if chorus_id not in records:
                continue
            summary, invoice = records[chorus_id][:2]
            if error is not None:
                self._isolated(self._history_unavailable, invoice, error)
                continue
            _done, error = self._isolated(self._apply_history, invoice, history)
            if error is not None:
                self._record_failure(summary, invoice, error)
        return records

    # ------------------------------------------------------------------ histories
    @staticmethod
    def _apply_history(invoice, history):
        invoice._apply_history(history)
        if invoice.history_pending:
            invoice.history_pending = False

    def _history_unavailable(self, invoice, error):
        """The history could not be read: the invoice is kept, flagged, and its history read
        again by the next retrieval (see _retry_unfinished)."""
        invoice.history_pending = True
        self.run._log(
            _("Status history unavailable: %(reason)s It is read again at the next retrieval.",
              reason=chorus_error_message(error, self.env)),
            level="warning", chorus_id=invoice.chorus_id, number=invoice.number,
            invoice=invoice,
        )

    def _read_histories(self, invoices):
        """Read and store the history of ``invoices`` (flagged first: a run interrupted on the
        way leaves them to the next one)."""
        if not invoices:
            return
        invoices.write({"history_pending": True})
        self.run._commit()
        histories = self._http_histories(invoices.mapped("chorus_id"))
        for invoice in invoices:
            history, error = histories[invoice.chorus_id]
            if error is not None:
                self._isolated(self._history_unavailable, invoice, error)
                continue
            _done, error = self._isolated(self._apply_history, invoice, history)
            if error is not None:
                self.run._log(
                    _("Status history unavailable: %(reason)s It is read again at the next "
                      "retrieval.", reason=self._error_text(error)),
                    level="warning", chorus_id=invoice.chorus_id, number=invoice.number,
                    invoice=invoice,
                )

    # ------------------------------------------------------------------ checks on arrival
    def _after_sync(self, invoices):
        """What each step does with the invoices of the batch
        (``chorus.pro.invoice._chorus_after_retrieval``: remembered matches, duplicates,
        payment delay). Its arrival flag is stored: the batch was committed before (HTTP calls),
        and a run interrupted before this point leaves the checks to the next run (see
        _after_sync_leftovers). Together first; one by one when that fails, so that one invoice
        does not stop the others."""
        if not invoices:
            return
        _done, error = self._isolated(invoices._chorus_after_retrieval)
        if error is None or len(invoices) == 1:
            if error is not None:
                self._after_sync_failed(invoices, error)
            return
        for invoice in invoices:
            _done, error = self._isolated(invoice._chorus_after_retrieval)
            if error is not None:
                self._after_sync_failed(invoice, error)

    def _after_sync_failed(self, invoice, error):
        self.run._log(
            _("The checks made on arrival (supplier, duplicates) failed for this invoice: "
              "%(reason)s",
              reason=self._error_text(error)),
            level="warning", chorus_id=invoice.chorus_id, number=invoice.number, invoice=invoice,
        )

    def _after_sync_leftovers(self):
        """Invoices created by an earlier run that stopped before their checks on arrival."""
        leftovers = self.Invoice.search(
            [("account_id", "=", self.account.id), ("duplicate_check_pending", "=", True)],
            order="id",
        )
        for ids in split_every(self.batch_size, leftovers.ids):
            self._after_sync(self.Invoice.browse(ids))
            self.run._commit()

    # ------------------------------------------------------------------ failures
    def _together_or_one_by_one(self, problem, together, one_by_one):
        """``together()`` in one savepoint (one flush: the fast path); when anything fails, that
        is rolled back (what this run remembers of it too) and ``one_by_one()`` does the same
        work invoice by invoice, so that the bad invoice is recorded and the others go on."""
        services, failed_ids = dict(self.services), set(self.failed_ids)
        try:
            with self.env.cr.savepoint():
                return together()
        except SyncInterrupted:
            raise
        except Exception as error:  # noqa: BLE001 - isolated below
            _logger.warning("Chorus Pro retrieval, run %s: %s (%s); one invoice at a time now",
                            self.run.id, problem, type(error).__name__)
            # What the rolled-back savepoint did is gone, here too.
            self.services, self.failed_ids = services, failed_ids
        return one_by_one()

    def _isolated(self, call, *args):
        """``call(*args)`` in a savepoint of its own: ``(result, None)``, or ``(None, error)``
        with its writes rolled back (an SQL error included) and the transaction usable."""
        services = dict(self.services)
        try:
            with self.env.cr.savepoint():
                return call(*args), None
        except SyncInterrupted:
            raise
        except Exception as error:  # noqa: BLE001 - recorded on its invoice
            _logger.warning("Chorus Pro retrieval, run %s: %s failed", self.run.id,
                            getattr(call, "__name__", call), exc_info=True)
            # Services created in the rolled-back savepoint are gone.
            self.services = services
            return None, error

    def _error_text(self, error):
        # The library's errors are written out in the user's words, never quoted in English.
        if isinstance(error, chorus_errors.ChorusProError):
            return chorus_error_message(error, self.env)
        if isinstance(error, PivotError):
            return pivot_error_message(error, self.env)
        if isinstance(error, psycopg2.Error):
            return (error.pgerror or str(error)).strip()
        return str(error.args[0]) if getattr(error, "args", None) else str(error)

    def _record_failure(self, summary, invoice, error):
        """An invoice that could not be recorded: listed with the reason, counted as failed, and
        examined again next run (the watermark stays at or before its status change)."""
        reason = _("This invoice could not be recorded in Odoo: %(reason)s",
                   reason=self._error_text(error))
        status_at = to_utc_naive(getattr(summary, "status_datetime", None))
        if not status_at:
            self.hold_watermark = False  # unknown: the watermark does not move at all
        elif self.hold_watermark is None:
            self.hold_watermark = status_at
        elif self.hold_watermark:
            self.hold_watermark = min(self.hold_watermark, status_at)
        if invoice:
            _done, fail_error = self._isolated(self._fail, invoice, reason)
            if fail_error is None:
                return
            self.failed_ids.discard(summary.chorus_id)  # its count was rolled back too
        if summary.chorus_id not in self.failed_ids:
            self.failed_ids.add(summary.chorus_id)
            self.run.count_failed += 1
        self.run._log(reason, level="error", chorus_id=summary.chorus_id,
                      number=getattr(summary, "number", False) or False)

    def _write_invoice(self, summary, invoice, is_new, as_history):
        """Create or update one invoice from its search summary (metadata)."""
        run = self.run
        if is_new:
            created = self.Invoice.create(self._new_invoice_values(summary, as_history))
            self.fresh_ids.add(created.id)
            return created
        vals = self._values_from_summary(summary)
        previous = invoice.chorus_status_code
        invoice.write(vals)
        if previous != summary.status:
            invoice._post_status_change(previous, summary.status, summary.status_comment)
        run.count_updated += 1
        return invoice

    def _new_invoice_values(self, summary, as_history):
        """The values of an invoice seen for the first time (counted as new)."""
        vals = self._values_from_summary(summary)
        vals.update(
            company_id=self.company.id,
            account_id=self.account.id,
            # Keyed by its structure too: one Chorus invoice is one record, whatever the
            # company (chorus.pro.invoice's unique index).
            recipient_chorus_id=vals.get("recipient_chorus_id") or self.account.structure_chorus_id,
            chorus_id=summary.chorus_id,
            imported_as_history=as_history,
            files_state="pending",
            duplicate_check_pending=True,
        )
        if summary.status == chorus_statuses.MISE_A_DISPOSITION and summary.status_datetime:
            # Its first mise à disposition is its current status: no history call needed.
            vals.update(
                mise_a_disposition_at=to_utc_naive(summary.status_datetime),
                mise_a_disposition_date=paris_date(summary.status_datetime),
            )
        self.run.count_new += 1
        return vals

    def _service_for(self, chorus_id, code, name):
        """The account's service ``chorus_id``; a service Chorus names that we do not know yet
        is added (the structure's services change over time)."""
        service = self.services.get(chorus_id)
        if service is None and code:
            service = self.env["chorus.pro.service"].sudo().create({
                "account_id": self.account.id,
                "chorus_id": chorus_id,
                "code": code,
                "name": name or False,
            })
            self.services[chorus_id] = service
        return service

    def _values_from_summary(self, summary):
        """The invoice's values from its search item (``chorus.pro.invoice._chorus_record_values``)."""
        vals = self.Invoice._chorus_record_values(summary, service_for=self._service_for)
        vals["last_sync_at"] = fields.Datetime.now()
        return vals

    # ------------------------------------------------------------------ HTTP phase
    def _http_histories(self, chorus_ids):
        """{chorus_id: (StatusHistory, None) or (None, error)}; Chorus unreachable interrupts."""
        return self._histories_outcome(self._fetch_histories(chorus_ids))

    def _fetch_histories(self, chorus_ids):
        """HTTP only (may run in a worker thread): [(chorus_id, history, error)]."""
        return self._parallel(
            [(chorus_id, chorus_id) for chorus_id in chorus_ids],
            lambda chorus_id: self.client.get_history(chorus_id),
        )

    def _histories_outcome(self, results):
        outcome = {}
        for chorus_id, history, error in results:
            if isinstance(error, chorus_errors.ChorusTransportError):
                raise SyncInterrupted(chorus_error_message(error, self.env))
            outcome[chorus_id] = (history, error)
        return outcome

    def _http_downloads(self, summaries, single=False):
        """Download PIVOT bundles under the size cap, a few in flight; returns a list of
        (chorus ids, DownloadedFile or error). A bundle refused as a whole is split in halves
        until the bad invoice is isolated. The files are temporary: see :meth:`_cleanup`."""
        return self._downloads_outcome(self._fetch_downloads(summaries, single=single))

    def _fetch_downloads(self, summaries, single=False):
        """HTTP only (may run in a worker thread): [(chorus ids, DownloadedFile or error)]."""
        if not summaries:
            return []
        if single:
            bundles = [[summary.chorus_id] for summary in summaries]
        else:
            bundles = chorus_retrieval.download_bundles(summaries, self.bundle_cap)
        outcomes = []
        workers = self.workers
        try:
            if workers == 1 or len(bundles) == 1:
                for bundle in bundles:
                    outcomes.extend(self._download_bundle(bundle))
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for result in pool.map(self._download_bundle, bundles):
                        outcomes.extend(result)
        except BaseException:
            self._cleanup(outcomes)
            raise
        return outcomes

    def _downloads_outcome(self, outcomes):
        """Chorus unreachable interrupts (the files are removed); the downloads are counted."""
        interrupted = next(
            (error for _ids, error in outcomes if isinstance(error, chorus_errors.ChorusTransportError)),
            None,
        )
        if interrupted is not None:
            self._cleanup(outcomes)
            raise SyncInterrupted(chorus_error_message(interrupted, self.env))
        self.run.count_downloads += sum(
            1 for _ids, outcome in outcomes if not isinstance(outcome, Exception)
        )
        return outcomes

    def _download_bundle(self, ids):
        """HTTP only: runs in worker threads, never touches the cursor."""
        outcomes = []
        stack = [list(ids)]
        while stack:
            part = stack.pop()
            try:
                outcomes.append((part, self.client.download_invoices(part, fmt="PIVOT")))
            except chorus_errors.ChorusTransportError as error:
                outcomes.append((part, error))
                break
            except chorus_errors.ChorusProError as error:
                if len(part) > 1:
                    middle = len(part) // 2
                    stack.extend([part[middle:], part[:middle]])
                else:
                    outcomes.append((part, error))
        return outcomes

    @staticmethod
    def _cleanup(outcomes):
        for _ids, outcome in outcomes:
            if hasattr(outcome, "cleanup"):
                outcome.cleanup()

    # ------------------------------------------------------------------ write phase: files
    def _store_downloads(self, outcomes, items, split=True):
        """Store downloaded PIVOT files; returns the chorus ids to fetch again one by one
        (a broken bundle). ``items``: {chorus_id: (summary, invoice)}; a downloaded invoice
        missing from ``items`` could not be recorded (see _record_failure): its files are left."""
        retry_singly = []
        now = fields.Datetime.now()
        for ids, outcome in outcomes:
            known = [i for i in ids if i in items]
            if not known:
                continue
            self.Invoice.browse([items[i][1].id for i in known]).write({"files_attempted_at": now})
            if isinstance(outcome, chorus_errors.ChorusProError):
                self._files_unavailable(items[known[0]][1], outcome)
                continue
            retry_singly.extend(self._store_pivot_together(ids, outcome, items, split=split))
        return retry_singly

    def _download_singly(self, chorus_ids, items):
        """A broken bundle: its invoices are fetched again one by one to isolate the bad one."""
        if not chorus_ids:
            return
        self.run._commit()
        singles = self._http_downloads([items[chorus_id][0] for chorus_id in chorus_ids],
                                       single=True)
        try:
            self._store_downloads(singles, items, split=False)
        finally:
            self._cleanup(singles)

    def _store_pivot_together(self, ids, downloaded, items, split=True):
        """A bundle's files stored together in one savepoint (one flush: the fast path); when
        that fails, rolled back and stored again invoice by invoice (the file is on disk)."""
        return self._together_or_one_by_one(
            "the files of a bundle could not be stored at once",
            lambda: self._store_pivot(ids, downloaded, items, split=split, isolate=False),
            lambda: self._store_pivot(ids, downloaded, items, split=split, isolate=True),
        )

    def _store_pivot(self, ids, downloaded, items, split=True, isolate=True):
        remaining = [chorus_id for chorus_id in ids if chorus_id in items]
        if downloaded.kind != "xml":
            for chorus_id in remaining:
                self._fail(items[chorus_id][1], _(
                    "Chorus Pro sent a %(kind)s file where the PIVOT XML was expected.",
                    kind=downloaded.kind))
            return []
        by_number = {}
        for chorus_id in remaining:
            by_number.setdefault(items[chorus_id][1].number, []).append(chorus_id)
        # Together, the VAT lines and lines of the bundle's new invoices are created at once,
        # and the files of all its invoices.
        children = None if isolate else {}
        files = None if isolate else []
        unreadable = []  # invoices of the bundle refused alone (zip bomb, bad data...)
        try:
            for index, pivot in enumerate(
                    iter_pivot_invoices(downloaded.path, on_error="skip", errors=unreadable)):
                position = index + len(unreadable)  # its rank in the file, skipped ones included
                chorus_id = pivot.chorus_id
                if chorus_id not in remaining:
                    # PIVOT before V2_02 has no IdCPRO: fall back on the invoice number, then order.
                    candidates = [c for c in by_number.get(pivot.number, []) if c in remaining]
                    chorus_id = candidates[0] if candidates else (
                        ids[position] if position < len(ids) and ids[position] in remaining else None
                    )
                if chorus_id is None:
                    continue
                remaining.remove(chorus_id)
                summary, invoice = items[chorus_id]
                if not isolate:
                    self._store_invoice_files(invoice, summary, pivot, children, files)
                    continue
                _done, error = self._isolated(self._store_invoice_files, invoice, summary, pivot)
                if error is not None:
                    self._fail(invoice, _("The files of this invoice could not be recorded: "
                                          "%(reason)s", reason=self._error_text(error)))
        except PivotError as error:
            # The invoices read before the damaged spot are kept, with their lines and files.
            self._create_collected(children, files)
            self._fail_unreadable(unreadable, ids, remaining, by_number, items)
            if split and len(remaining) > 1:
                return remaining
            # The parser's own (English) detail, for whoever reads the log.
            _logger.warning("Chorus Pro retrieval, run %s: PIVOT file refused: %s",
                            self.run.id, error.reason)
            for chorus_id in remaining:
                self._fail(items[chorus_id][1], _(
                    "The PIVOT file sent by Chorus Pro is malformed: %(error)s",
                    error=pivot_error_message(error, self.env)))
            return []
        self._create_collected(children, files)
        self._fail_unreadable(unreadable, ids, remaining, by_number, items)
        for chorus_id in remaining:
            self._fail(items[chorus_id][1], _(
                "Chorus Pro did not include this invoice in the downloaded file."))
        return []

    def _create_collected(self, children, files):
        """The lines and files of a bundle's invoices, collected by _store_invoice_files."""
        for model, values in (children or {}).items():
            self.env[model].sudo().create(values)
        self.Invoice._chorus_store_pivot_files(files or [])

    def _fail_unreadable(self, unreadable, ids, remaining, by_number, items):
        """Invoices the PIVOT parser refused one by one (the rest of their bundle is read):
        each is recorded in error with the reason, and tried again at the next run."""
        for error in unreadable:
            candidates = [error.chorus_id] if error.chorus_id else []
            candidates += by_number.get(error.invoice_number, [])
            if error.position and error.position <= len(ids):
                candidates.append(ids[error.position - 1])
            chorus_id = next((c for c in candidates if c in remaining), None)
            if chorus_id is None:
                continue
            remaining.remove(chorus_id)
            self._fail(items[chorus_id][1], unreadable_pivot_message(error, self.env))

    CHILDREN = {"tax_ids": "chorus.pro.invoice.tax", "line_ids": "chorus.pro.invoice.line"}

    def _store_invoice_files(self, invoice, summary, pivot, children=None, files=None):
        """The PIVOT's data and files of one invoice; with ``children`` and ``files`` (a whole
        bundle stored together), its new lines and its files are collected there, created
        for the bundle at once."""
        vals = invoice._chorus_record_values(pivot)
        if children is not None and invoice.id in self.fresh_ids:
            # A new invoice has no VAT lines nor lines to replace: theirs are created with the
            # bundle's (one INSERT per model instead of one per invoice and a search each).
            for field, model in self.CHILDREN.items():
                commands = vals.get(field) or []
                if all(command[0] in (Command.CLEAR, Command.CREATE) for command in commands):
                    vals.pop(field, None)
                    children.setdefault(model, []).extend(
                        dict(command[2], invoice_id=invoice.id)
                        for command in commands if command[0] == Command.CREATE
                    )
        vals.update(
            files_state="done",
            files_size=summary.size or 0,
            files_status_code=summary.status,
            sync_error=False,
            # Stored with the PIVOT: a run stopped before the rendering leaves it to the next.
            rendering_pending=chorus_retrieval.pdf_rendering_needed(pivot),
        )
        invoice.write(vals)
        if files is not None:
            files.append((invoice, pivot))
        else:
            invoice._store_pivot_attachments(pivot)

    def _complete_factored(self, invoices):
        """The factor's identity is only in the consult answer (not in the search nor the
        PIVOT): one consult per factored invoice, with nothing pending in the transaction."""
        factored = [invoice for invoice in invoices
                    if invoice.is_factored and not invoice.factor_identifier]
        if not factored:
            return
        self.run._commit()
        results = self._parallel(
            [(invoice.chorus_id, invoice) for invoice in factored],
            lambda chorus_id: self.client.get_invoice(chorus_id),
        )
        for invoice, detail, error in results:
            if isinstance(error, chorus_errors.ChorusTransportError):
                raise SyncInterrupted(chorus_error_message(error, self.env))
            if error is not None:
                self.run._log(
                    _("Factor details unavailable: %(reason)s",
                      reason=chorus_error_message(error, self.env)),
                    level="warning", chorus_id=invoice.chorus_id, number=invoice.number,
                    invoice=invoice,
                )
                continue
            _done, error = self._isolated(
                lambda inv, det: inv.write(inv._chorus_record_values(det)), invoice, detail
            )
            if error is not None:
                self.run._log(
                    _("Factor details unavailable: %(reason)s", reason=self._error_text(error)),
                    level="warning", chorus_id=invoice.chorus_id, number=invoice.number,
                    invoice=invoice,
                )

    def _complete_pdf_renderings(self, invoices):
        """An invoice deposited as structured data (UBL, CII, PIVOT) has the supplier's XML as
        its main document: Chorus's PDF rendering of it (download format PDF), a few invoices
        per call, becomes the document shown and mandated; the XML stays among its files. A
        rendering that cannot be had leaves the invoice's PIVOT as it is, flagged: the next run
        asks for the PDF only (see _retry_unfinished)."""
        missing = [invoice for invoice in invoices
                   if invoice.files_state == "done"
                   and (invoice.rendering_pending or not invoice.main_attachment_pdf_id)]
        if not missing:
            return
        self.renderings_asked.update(invoice.chorus_id for invoice in missing)
        self.run._commit()
        renderings, errors = {}, {}
        bundles = chorus_retrieval.pdf_rendering_bundles([invoice.chorus_id for invoice in missing])
        for bundle, found, error in self._parallel(
                [(tuple(bundle), bundle) for bundle in bundles],
                lambda bundle: self.client.download_invoice_pdfs(bundle)):
            if isinstance(error, chorus_errors.ChorusTransportError):
                raise SyncInterrupted(chorus_error_message(error, self.env))
            if error is not None and len(bundle) == 1:
                # A bundle of one was already the invoice asked alone (the client's
                # download_invoice_pdfs): its refusal is the invoice's, not asked twice.
                errors[bundle[0]] = chorus_error_message(error, self.env)
            renderings.update(found or {})
        alone = [invoice.chorus_id for invoice in missing
                 if invoice.chorus_id not in renderings and invoice.chorus_id not in errors]
        for chorus_id, content, error in self._parallel(
                [(chorus_id, chorus_id) for chorus_id in alone],
                lambda chorus_id: self.client.download_invoice_pdf(chorus_id)):
            if isinstance(error, chorus_errors.ChorusTransportError):
                raise SyncInterrupted(chorus_error_message(error, self.env))
            if error is not None:
                errors[chorus_id] = chorus_error_message(error, self.env)
            else:
                renderings[chorus_id] = content
        received = [invoice for invoice in missing if invoice.chorus_id in renderings]

        def store_together():
            for invoice in received:
                invoice._store_pdf_rendering(renderings[invoice.chorus_id])

        def store_one_by_one():
            for invoice in received:
                _done, error = self._isolated(invoice._store_pdf_rendering,
                                              renderings[invoice.chorus_id])
                if error is not None:
                    errors[invoice.chorus_id] = self._error_text(error)

        self._together_or_one_by_one("the PDF renderings of a batch could not be stored at once",
                                     store_together, store_one_by_one)
        for invoice in missing:
            if invoice.chorus_id in renderings and invoice.chorus_id not in errors:
                continue
            self._rendering_unavailable(invoice, errors.get(invoice.chorus_id) or "?")

    def _rendering_unavailable(self, invoice, reason):
        """Its PIVOT is in (data, lines, the supplier's XML), Chorus's PDF of it is not: the
        invoice stays flagged and says so; the next run asks for the PDF only."""
        message = _(
            "The supplier deposited this invoice as structured data (XML); Chorus Pro's PDF of "
            "it could not be downloaded: %(reason)s Its data and the supplier's file are kept; "
            "only the PDF is asked again at the next retrieval.", reason=reason)
        invoice.write({"rendering_pending": True, "sync_error": message,
                       "sync_attempts": invoice.sync_attempts + 1})
        self.run._log(message, level="warning", chorus_id=invoice.chorus_id,
                      number=invoice.number, invoice=invoice)

    def _files_unavailable(self, invoice, error):
        if invoice.is_works or isinstance(error, chorus_errors.ChorusFunctionalError):
            # Chorus refuses to send them (e.g. "GDP_MSG_11.017 ... n'est pas disponible au
            # téléchargement"): listed with a notice, asked again later (see _retry_unfinished).
            if type(error) is chorus_errors.ChorusFunctionalError:
                reason = _("Chorus Pro does not make them available (it answered: %(said)s).",
                           said=error.label or error.code or "?")
            else:
                reason = chorus_error_message(error, self.env)
            message = _(
                "The files of this invoice cannot be downloaded from Chorus Pro for now: "
                "%(reason)s Its data (supplier, amounts, status) is in Odoo; only its files are "
                "missing. The download is asked again once a day and whenever its status "
                "changes.", reason=reason)
            invoice.write({"files_state": "unavailable", "sync_error": message,
                           "sync_attempts": invoice.sync_attempts + 1})
            self.run._log(message, level="warning", chorus_id=invoice.chorus_id,
                          number=invoice.number, invoice=invoice)
            return
        self._fail(invoice, chorus_error_message(error, self.env))

    def _fail(self, invoice, reason):
        invoice.write({"files_state": "error", "sync_error": reason,
                       "sync_attempts": invoice.sync_attempts + 1})
        if invoice.chorus_id not in self.failed_ids:
            self.failed_ids.add(invoice.chorus_id)
            self.run.count_failed += 1
        self.run._log(reason, level="error", chorus_id=invoice.chorus_id,
                      number=invoice.number, invoice=invoice)

    # ------------------------------------------------------------------ retries
    def _retry_unfinished(self):
        """Invoices whose files are still missing are tried again: errors at every run, files
        Chorus refused to send ("unavailable") once a day, so that an hourly retrieval does not
        ask again and again for the same refusal; histories and PDF renderings still missing at
        every run, alone."""
        retry_unavailable_before = fields.Datetime.now() - timedelta(hours=UNAVAILABLE_RETRY_HOURS)
        leftovers = self.Invoice.search(
            [("account_id", "=", self.account.id),
             ("chorus_id", "not in", list(self.seen)),
             "|", ("files_state", "in", ("pending", "error")),
             "&", ("files_state", "=", "unavailable"),
             "|", ("files_attempted_at", "=", False),
             ("files_attempted_at", "<", retry_unavailable_before)]
        )
        pending_histories = self.Invoice.search(
            [("account_id", "=", self.account.id), ("history_pending", "=", True),
             ("chorus_id", "not in", list(self.seen))]
        )
        for ids in split_every(self.batch_size, pending_histories.ids):
            self._read_histories(self.Invoice.browse(ids))
            self._end_batch()
        for chunk in chorus_retrieval.chunked(leftovers, self.batch_size):
            items = {}
            for invoice in chunk:
                self.seen.add(invoice.chorus_id)
                items[invoice.chorus_id] = (_Known(invoice), invoice)
            self.run._commit()
            downloads = self._http_downloads([summary for summary, _invoice in items.values()])
            try:
                retry_singly = self._store_downloads(downloads, items)
            finally:
                self._cleanup(downloads)
            self._download_singly(retry_singly, items)
            self._complete_factored([invoice for _summary, invoice in items.values()])
            self._complete_pdf_renderings([invoice for _summary, invoice in items.values()])
            self._end_batch()
        # Chorus's PDF of an invoice whose PIVOT is in: asked alone, the PIVOT is not asked again.
        pending_renderings = self.Invoice.search(
            [("account_id", "=", self.account.id), ("rendering_pending", "=", True),
             ("files_state", "=", "done"), ("chorus_id", "not in", list(self.renderings_asked))]
        )
        for ids in split_every(self.batch_size, pending_renderings.ids):
            self._complete_pdf_renderings(self.Invoice.browse(ids))
            self._end_batch()

    # ------------------------------------------------------------------ helpers
    def _parallel(self, items, call):
        """Run ``call(key)`` for each (key, payload) with a few calls in flight; results in the
        input order as (payload, result, error)."""
        workers = self.workers

        def guarded(key):
            try:
                return call(key), None
            except chorus_errors.ChorusProError as error:
                return None, error

        if workers == 1 or len(items) == 1:
            return [(payload, *guarded(key)) for key, payload in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda item: guarded(item[0]), items))
        return [(payload, result, error) for (key, payload), (result, error) in zip(items, results)]


class _Known:
    """A search-summary stand-in for an invoice already known (retries)."""

    def __init__(self, invoice):
        self.chorus_id = invoice.chorus_id
        self.size = invoice.files_size or None
        self.status = invoice.chorus_status_code


def unreadable_pivot_message(error, env):
    """What the accountant reads for an invoice refused alone in a PIVOT file."""
    _ = env._
    label = error.params.get("label") or "?"
    if error.code == PIVOT_ZIP_BOMB:
        return _(
            "The file %(name)s of this invoice was refused: once unpacked it would be far larger "
            "than a real document (a \"zip bomb\" or a damaged file). The other invoices are not "
            "affected. It is tried again at the next retrieval; if it stays refused, ask the "
            "supplier to deposit it again.", name=label)
    if error.code == PIVOT_UNSAFE_NAME:
        return _(
            "The file %(name)s of this invoice was refused: its archive holds a file named "
            "%(member)s, a path pointing outside the archive (a malicious or broken file). The "
            "other invoices are not affected. It is tried again at the next retrieval; if it "
            "stays refused, ask the supplier to deposit it again.",
            name=label, member=error.params.get("member") or "?")
    if error.code == PIVOT_DAMAGED_ARCHIVE:
        return _(
            "The file %(name)s of this invoice could not be unpacked: its archive is damaged, "
            "empty or password-protected. The other invoices are not affected. It is tried "
            "again at the next retrieval.", name=label)
    return _("The PIVOT file sent by Chorus Pro is malformed: %(error)s",
             error=pivot_error_message(error, env))


def attachment_checksum(content):
    return hashlib.sha1(content).hexdigest()
