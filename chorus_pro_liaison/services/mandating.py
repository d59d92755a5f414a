# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The "Mandater" job: the same persistent run, with progress, as the retrieval.

A run holds the selection (one request per invoice, with its budget article) and its
parameters (budget, exercice, accounting date). Small selections run at once in the user's
request, large ones in the background through the job cron; both go through
:class:`MandateRunner`:

* by chunks of 50 invoices: the chunk's invoices are locked together, then each invoice is
  checked in its own savepoint (its status, supplier, validation and amounts checked again,
  the lines built), then the chunk's
  mandates are created together, checked to the cent one by one, given the invoice's files and
  validated together (numbered, put in the open bordereau, their MANDATEE recorded as pending
  step 2 pushes) — when a batch step fails it is done again one invoice at a time, so that a
  problem stops only its invoice, with the reason;
* every chunk is committed, then each new mandate's MANDATEE push is sent through step 2's path
  (``chorus.pro.status.push``): one Chorus call per mandate on a first attempt (no history read;
  the history is read only if Chorus refuses, to tell "already Mandatée" from a real refusal);
  each answer is committed; a push Chorus could not receive stays pending for step 2's retry
  cron;
* an invoice already mandated (double click, retry, another user) is skipped: the database
  accepts one live mandate per Chorus invoice, and its MANDATEE push is found again, never
  duplicated.
"""

import contextlib
import contextvars
import logging
import time

from odoo import _
from odoo.exceptions import UserError
from odoo.tools import split_every

from odoo.addons.chorus_pro_liaison.services.errors import ChorusGuardError, MandateBlocked
from odoo.addons.chorus_pro_liaison.services.languages import selection_label

_logger = logging.getLogger(__name__)

CHUNK_SIZE = 50

# Only server code may write a mandate's Chorus bookkeeping (its Chorus invoice, budget, number,
# bordereau, push...) or skip the checks it has just made: a ContextVar, unlike the context of a
# call, cannot be set by a client over RPC.
_BOOKKEEPING_ALLOWED = contextvars.ContextVar("chorus_pro_mandate_bookkeeping", default=False)
_CHECKED_MANDATE_IDS = contextvars.ContextVar("chorus_pro_checked_mandates", default=frozenset())


@contextlib.contextmanager
def mandate_runner(checked=None):
    """Within this block, server code may create mandates with their Chorus bookkeeping, and the
    mandates in ``checked`` (just checked by the caller) are validated without checking their
    invoice a second time."""
    tokens = [(_BOOKKEEPING_ALLOWED, _BOOKKEEPING_ALLOWED.set(True))]
    if checked is not None:
        tokens.append((_CHECKED_MANDATE_IDS, _CHECKED_MANDATE_IDS.set(frozenset(checked.ids))))
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def bookkeeping_allowed():
    """Whether server code (``mandate_runner``) is writing a mandate's Chorus bookkeeping."""
    return _BOOKKEEPING_ALLOWED.get()


def checked_mandate_ids():
    """The mandates just checked by the runner (validated without a second check)."""
    return _CHECKED_MANDATE_IDS.get()


def _error_text(error):
    if isinstance(error, (MandateBlocked,)):
        return str(error)
    if isinstance(error, UserError):
        return error.args[0]
    return _("Unexpected error: %(error)s", error=str(error))


class MandateRunner:
    """Executes one mandating run (see the module docstring)."""

    def __init__(self, run):
        # No field tracking messages on the records made here: each mandate gets its own notes.
        self.run = run.sudo().with_context(tracking_disable=True, mail_notrack=True)
        self.env = self.run.env
        self.account = self.run.account_id.sudo()
        self.company = self.account.company_id
        self.user = self.run.user_id or self.env.ref("base.user_root")
        self.budget = self.run.mandate_budget_id
        self.exercice = self.run.mandate_exercice
        self.accounting_date = self.run.mandate_accounting_date
        self.journal = None
        self.client = None
        self.client_context = None
        self.blocked = 0
        self.skipped = 0

    # ------------------------------------------------------------------ entry point
    def execute(self):
        """The mandating (the run holds its lock and records an unexpected error)."""
        run = self.run
        started = time.monotonic()
        try:
            self._execute_chunks()
        except BaseException:
            self._close_client(quiet=True)
            raise
        self._close_client()
        state = "warning" if self.blocked or run.count_failed else "done"
        run.write({"state": state, "summary_facts": self._summary_facts(),
                   "summary_message": False})
        _logger.info("Chorus Pro mandating run %s: %s mandates in %.1f s", run.id,
                     run.count_mandates, time.monotonic() - started)

    def _execute_chunks(self):
        run = self.run
        pending = run.mandate_request_ids.filtered(lambda r: r.state == "pending")
        run.total = len(run.mandate_request_ids)
        for chunk in split_every(CHUNK_SIZE, pending, list):
            moves = self._process_chunk(chunk)
            run._commit()
            self._push(moves)
            run.done = len(run.mandate_request_ids.filtered(lambda r: r.state != "pending"))
            if self.client:
                run.count_calls = sum(self.client.call_counts.values())
            run._commit()
            run._notify()

    def _summary_facts(self):
        """The facts the run's summary is written from, in each reader's language."""
        run = self.run
        requests = run.mandate_request_ids
        numbers = sorted(n for n in requests.move_id.mapped("chorus_pro_mandate_number") if n)
        credit_notes = requests.filtered(
            lambda r: r.state == "done" and r.invoice_id.credit_note_outcome)
        return {
            "kind": "mandate",
            "numbers": [numbers[0], numbers[-1]] if len(numbers) > 1 else numbers,
            "credit_notes": len(credit_notes),
            "skipped": self.skipped,
            "blocked": self.blocked,
        }

    # ------------------------------------------------------------------ mandates
    def _user_env_model(self, model):
        return self.env[model].with_user(self.user).with_company(self.company)

    def _process_chunk(self, requests):
        """Mandates of a chunk: checked one by one, created and validated together (much
        faster), with a fallback one by one so that a problem stops only its invoice."""
        outcomes = {}
        to_create = []
        # Two runs, two users, a double click: they wait for each other here (the chunk's
        # invoices locked together, in a fixed order), and the second one finds the mandates of
        # the first.
        invoice_ids = sorted({request.invoice_id.id for request in requests})
        self.env.cr.execute(
            "SELECT id FROM chorus_pro_invoice WHERE id IN %s ORDER BY id FOR UPDATE",
            (tuple(invoice_ids),))
        self.env["chorus.pro.invoice"].browse(invoice_ids).invalidate_recordset(
            ["mandate_move_id", "credit_note_outcome"])
        for request in requests:
            try:
                with self.env.cr.savepoint():
                    outcome = self._prepare_one(request)
            except (MandateBlocked, UserError) as error:
                outcome = (None, "blocked", _error_text(error))
            if outcome[1] == "create":
                to_create.append((request, outcome[2]))
            else:
                outcomes[request] = outcome
        created = self._create_moves(to_create, outcomes)
        completed = self.env["account.move"]
        for request, move in created:
            try:
                with self.env.cr.savepoint():
                    self._complete_one(request.invoice_id.sudo(), move)
                completed |= move
                outcomes[request] = (move, "done", False)
            except (MandateBlocked, UserError) as error:
                move.with_context(force_delete=True).sudo().unlink()
                outcomes[request] = (None, "blocked", _error_text(error))
        completed = self._attach_files(
            [(request, move) for request, move in created if move in completed], outcomes)
        if completed and self.account.mandate_auto_post:
            failed = self._post_all(completed)
            for request, move in created:
                if move in failed:
                    outcomes[request] = (move, "blocked", _(
                        "The mandate was created as a draft but could not be validated: %(reason)s",
                        reason=failed[move]))
        self.env["chorus.pro.invoice"].sudo()._mandate_post_notes_many([
            (request.invoice_id.sudo(), move) for request, move in created
            if outcomes[request][1] == "done"
        ])
        moves = self.env["account.move"]
        for request in requests:
            move, state, message = outcomes[request]
            invoice = request.invoice_id
            vals = {"state": state, "message": message or False}
            if move:
                vals["move_id"] = move.id
            request.write(vals)
            if state == "blocked":
                self.blocked += 1
                self.run._log(message, level="error", chorus_id=invoice.chorus_id,
                              number=invoice.number, invoice=invoice)
            elif state == "skipped":
                self.skipped += 1
                self.run._log(message, level="warning", chorus_id=invoice.chorus_id,
                              number=invoice.number, invoice=invoice)
            elif move and move.move_type == "in_invoice":
                self.run.count_mandates += 1
                moves |= move
        return moves

    def _prepare_one(self, request):
        """Check one invoice: ``(None, "create", vals)`` for a new mandate, else the outcome
        ``(move, state, message)``. Raises MandateBlocked to stop it."""
        invoice = request.invoice_id.sudo()  # locked with its chunk (_process_chunk)
        if invoice.invoice_type == "credit_note":
            return self._apply_credit_note(request, invoice)
        mandate = invoice._active_mandate()
        if mandate:
            if mandate.state == "draft" and self.account.mandate_auto_post:
                # A draft left by an earlier attempt: validate it rather than make another.
                reasons = invoice._mandate_blocking_reasons(acting_user=self.user,
                                                            ignore_move=mandate)
                if reasons:
                    raise MandateBlocked(" ".join(reasons))
                self._post(mandate)
                return mandate, "done", _("Draft mandate validated.")
            return mandate, "skipped", _("Already mandated (%(name)s).", name=mandate.display_name)
        reasons = invoice._mandate_blocking_reasons(acting_user=self.user)
        if reasons:
            raise MandateBlocked(" ".join(reasons))
        article = request.article_id or self.run.mandate_article_id
        if article.budget_id != self.budget:
            raise MandateBlocked(_("Article %(article)s is not an article of budget %(budget)s.",
                                   article=article.display_name, budget=self.budget.display_name))
        if self.journal is None:
            self.journal = self.budget._mandate_journal()  # once for the run
        vals = invoice._mandate_move_values(self.budget, article, self.exercice,
                                            self.accounting_date, self.user,
                                            journal=self.journal)
        return None, "create", vals

    def _create_moves(self, to_create, outcomes):
        """[(request, move)]: created together; one by one if that fails."""
        if not to_create:
            return []
        try:
            with self.env.cr.savepoint():
                moves = self._create_move([vals for _request, vals in to_create])
            return list(zip([request for request, _vals in to_create], moves))
        except Exception:  # noqa: BLE001 - find the culprit one by one
            _logger.info("Chorus Pro mandating: batch creation failed, one by one now",
                         exc_info=True)
        created = []
        for request, vals in to_create:
            try:
                with self.env.cr.savepoint():
                    created.append((request, self._create_move([vals])))
            except Exception as error:  # noqa: BLE001 - recorded on its invoice
                outcomes[request] = (None, "blocked", _error_text(error))
        return created

    def _complete_one(self, invoice, move):
        """Checks to the cent and link of a new mandate (before its validation; its files are
        attached with the chunk's, see ``_attach_files``)."""
        if self.budget.vat_recovering:
            invoice._mandate_align_vat(move, self.budget)
        problem = invoice._mandate_check_totals(move)
        if problem:
            raise MandateBlocked(problem)
        invoice.mandate_move_id = move

    def _attach_files(self, pairs, outcomes):
        """The invoices' files copied onto their new mandates, together; one by one when that
        fails (a mandate whose files cannot be attached is stopped). Returns the mandates
        that have their files."""
        Invoice = self.env["chorus.pro.invoice"].sudo()
        try:
            with self.env.cr.savepoint():
                Invoice._mandate_attach_files_many(
                    [(request.invoice_id.sudo(), move) for request, move in pairs])
            return self.env["account.move"].union(*(move for _request, move in pairs))
        except Exception:  # noqa: BLE001 - find the culprit one by one
            _logger.info("Chorus Pro mandating: files not attached together, one by one now",
                         exc_info=True)
        attached = self.env["account.move"]
        for request, move in pairs:
            try:
                with self.env.cr.savepoint():
                    request.invoice_id.sudo()._mandate_attach_files(move)
                attached |= move
            except Exception as error:  # noqa: BLE001 - recorded on its invoice
                with self.env.cr.savepoint():
                    request.invoice_id.sudo().mandate_move_id = False
                    move.with_context(force_delete=True).sudo().unlink()
                outcomes[request] = (None, "blocked", _error_text(error))
        return attached

    def _post_all(self, moves):
        """Validate together; one by one when that fails. Returns {move: reason} of failures."""
        try:
            with self.env.cr.savepoint():
                self._post(moves)
            return {}
        except Exception:  # noqa: BLE001 - find the culprit one by one
            _logger.info("Chorus Pro mandating: batch validation failed, one by one now",
                         exc_info=True)
        failed = {}
        for move in moves:
            try:
                with self.env.cr.savepoint():
                    self._post(move)
            except Exception as error:  # noqa: BLE001 - recorded on its invoice
                failed[move] = _error_text(error)
        return failed

    def _create_move(self, vals_list):
        Move = self._user_env_model("account.move").with_context(
            chorus_pro_no_push=True, mail_create_nolog=True, mail_create_nosubscribe=True,
            tracking_disable=True,
        )
        with mandate_runner():
            return Move.create(vals_list)

    def _post(self, move):
        # Checked just before (_prepare_one): the validation does not check the invoice again.
        with mandate_runner(checked=move):
            move.with_user(self.user).with_context(chorus_pro_no_push=True)._post(soft=False)

    def _apply_credit_note(self, request, invoice):
        reasons = invoice._credit_note_blocking_reasons()
        if reasons:
            if invoice.credit_note_outcome:
                return invoice.mandate_move_id, "skipped", " ".join(reasons)
            raise MandateBlocked(" ".join(reasons))
        _origin, mandate = invoice._credit_note_target()
        outcome = invoice._credit_note_outcome_for(self.exercice)
        if outcome == "titre_recette":
            invoice.write({"credit_note_outcome": outcome, "credit_note_mandate_id": mandate.id})
            message = _(
                "Credit note %(number)s corrects mandate n° %(mandate)s, which is already paid "
                "or belongs to a closed exercice: the amount (%(amount)s) must be recovered with "
                "a titre de recette.",
                number=invoice.number, mandate=mandate.chorus_pro_mandate_number,
                amount="%.2f" % invoice.amount_total,
            )
            invoice.message_post(body=message)
            mandate.message_post(body=message)
            invoice.activity_schedule(
                "mail.mail_activity_data_todo", user_id=self.user.id,
                summary=_("Issue a titre de recette"), note=message,
            )
            return None, "done", message
        budget, article = mandate.chorus_pro_budget_id, mandate.chorus_pro_article_id
        vals = invoice._mandate_move_values(
            budget, article, mandate.chorus_pro_exercice, self.accounting_date, self.user,
            move_type="in_refund", reversed_move=mandate,
        )
        refund = self._create_move([vals])
        if budget.vat_recovering:
            invoice._mandate_align_vat(refund, budget)
        problem = mandate.chorus_pro_invoice_id._mandate_check_totals(refund, credit_note=invoice)
        if problem:
            raise MandateBlocked(problem)
        invoice.write({
            "mandate_move_id": refund.id,
            "credit_note_outcome": outcome,
            "credit_note_mandate_id": mandate.id,
        })
        invoice._mandate_attach_files(refund)
        self._post(refund)
        label = selection_label(invoice, "credit_note_outcome", outcome)
        mandate.message_post(body=_("%(outcome)s by credit note %(number)s (%(refund)s).",
                                    outcome=label, number=invoice.number,
                                    refund=refund.display_name))
        invoice._mandate_post_notes(refund)
        return refund, "done", label

    # ------------------------------------------------------------------ Chorus
    def _open_client(self, manual):
        """One guarded client for the pushes of the run (the guard is checked here); when the
        guard refuses, each push is sent on its own and records why it waits."""
        if self.client is None and self.client_context is None:
            Push = self.env["chorus.pro.status.push"]
            context = self.account._chorus_client("status", manual=manual,
                                                  **Push._client_options(manual))
            try:
                self.client = context.__enter__()
                self.client_context = context
            except ChorusGuardError:
                self.client_context = False
        return self.client

    def _close_client(self, quiet=False):
        try:
            if self.client_context:
                self.client_context.__exit__(None, None, None)
        except Exception:
            if not quiet:
                raise
            _logger.warning("Chorus Pro mandating: client not closed", exc_info=True)
        finally:
            self.client = self.client_context = None

    def _push(self, moves):
        """Send the MANDATEE push of each new mandate (recorded at validation), one by one."""
        moves = moves.filtered(lambda m: m.state == "posted" and m.chorus_pro_push_state in (
            "pending", "failed"))
        if not moves:
            return
        manual = self.run.trigger == "manual"
        client = self._open_client(manual)
        pushed = failed = 0
        for move_id in moves.ids:
            # Each answer is committed, which empties Odoo's cache: a mandate read on its own
            # (not with the chunk as prefetch) reloads its own rows only, not the chunk's.
            move = moves.browse(move_id).with_prefetch()
            try:
                push = move.with_user(self.user).with_context(
                    chorus_pro_log_accepted=True,
                )._chorus_pro_push_mandated(manual=manual, client=client)
            except UserError as error:
                # E.g. a withdrawn push whose invoice changed since: the mandate stays, told why.
                self.run._log(
                    _("Mandate n° %(number)s created, but Chorus Pro was not told: %(reason)s",
                      number=move.chorus_pro_mandate_number, reason=error.args[0]),
                    level="warning", chorus_id=move.chorus_pro_invoice_id.chorus_id,
                    number=move.ref, invoice=move.chorus_pro_invoice_id,
                )
                failed += 1
                continue
            # The push's answer, as committed (the mandate itself need not be read again).
            if push[:1].state in ("sent", "already"):
                pushed += 1
            else:
                failed += 1
                self.run._log(
                    _("Mandate n° %(number)s created, but Chorus Pro was not told yet: %(reason)s",
                      number=move.chorus_pro_mandate_number,
                      reason=move.chorus_pro_push_message or ""),
                    level="warning", chorus_id=move.chorus_pro_invoice_id.chorus_id,
                    number=move.ref, invoice=move.chorus_pro_invoice_id,
                )
        # Counted once for the chunk (committed with its progress), not written at every push.
        self.run.count_pushed += pushed
        self.run.count_failed += failed
