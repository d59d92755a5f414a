# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A decision sent (or to send) to Chorus Pro: one record per status push.

The decision is recorded and committed first (state ``pending``), then sent in its own
transaction (:meth:`_send`): Chorus's history is read first, so that a replayed or retried push
never sets a status twice (``already``); then ``traiter/recue``; the answer is recorded with its
exact bytes and the evidence, and committed. A push Chorus could not receive stays ``pending``
and the retry cron sends it; nothing is ever dropped silently.

MANDATEE (one Chorus call per mandate at most): a mandate is new and its invoice's status was
just retrieved, so on its first attempt — no earlier attempt whose outcome is unknown — the
history is not read before sending; a refusal (20002) is then checked against the history
(``already`` when Chorus shows it Mandatée, with the same mandate number when Chorus gave one,
else ``refused``). A retry after an unknown outcome (transport error, lost answer) reads the
history first, like every other status. Once Chorus accepts MANDATEE, the invoice takes the
status from Chorus's answer and a local history entry that the next retrieval replaces with
Chorus's own (see ``chorus.pro.invoice._apply_history``), instead of re-reading the history.
"""

import base64
import logging
from datetime import datetime, time, timedelta, timezone

import psycopg2
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_invoice import STATUS_SELECTION
from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.errors import (
    ChorusGuardError,
    chorus_error_message,
)
from odoo.addons.chorus_pro_liaison.services.languages import in_writer_lang, selection_labels
from odoo.addons.chorus_pro_liaison.services.transactions import commit, rollback

from chorus_pro import errors as chorus_errors
from chorus_pro import statuses as chorus_statuses
from chorus_pro.client import OP_PROCESS
from chorus_pro.evidence import unsigned_evidence
from chorus_pro.timeutil import PARIS, from_utc_naive, paris_date, to_utc_naive

_logger = logging.getLogger(__name__)

PUSH_STATES = [
    ("pending", "Waiting to be sent"), ("sent", "Accepted by Chorus Pro"),
    ("already", "Already in Chorus Pro"), ("refused", "Refused by Chorus Pro"),
    ("failed", "Not sent"),
]
# A user waits for the answer: one quick retry at most, then the retry cron takes over.
INTERACTIVE_CLIENT_OPTIONS = {"max_retries": 1, "backoff_base": 0.5, "backoff_max": 2.0, "timeout": 20}
BACKGROUND_CLIENT_OPTIONS = {"max_retries": 2, "backoff_base": 1.0, "backoff_max": 5.0}
RETRY_CRON = "chorus_pro_liaison.ir_cron_chorus_pro_push_retry"


def _utc_now():
    return datetime.now(timezone.utc)


class ChorusProStatusPush(models.Model):
    _name = "chorus.pro.status.push"
    _inherit = ["chorus.pro.evidence.mixin"]
    _description = "Chorus Pro status push"
    _order = "id desc"
    _rec_names_search = ["invoice_number"]

    # Not stored: the status in it is read in the reader's language.
    name = fields.Char(compute="_compute_name")
    invoice_id = fields.Many2one(
        "chorus.pro.invoice", required=True, index=True, ondelete="restrict", readonly=True
    )
    company_id = fields.Many2one(
        related="invoice_id.company_id", store=True, index=True, readonly=True
    )
    account_id = fields.Many2one("chorus.pro.account", index=True, readonly=True)
    chorus_id = fields.Integer(related="invoice_id.chorus_id", string="Chorus ID")
    invoice_number = fields.Char(related="invoice_id.number", string="Invoice number")
    target_status = fields.Selection(
        STATUS_SELECTION, string="Status sent", required=True, readonly=True
    )
    motif = fields.Char(size=chorus_statuses.MOTIF_MAX_LENGTH, readonly=True)
    service_date = fields.Date(
        string="Service done on", readonly=True,
        help="Date the service was actually done (Service fait); used for the payment delay.",
    )
    mandate_number = fields.Char(string="Mandate number", readonly=True)
    user_id = fields.Many2one("res.users", string="Decided by", readonly=True, index=True)
    requested_at = fields.Datetime(
        string="Decided at", readonly=True, default=fields.Datetime.now, required=True
    )
    state = fields.Selection(
        PUSH_STATES, default="pending", required=True, index=True, readonly=True
    )
    attempts = fields.Integer(readonly=True)
    outcome_unknown = fields.Boolean(
        string="Outcome unknown", readonly=True,
        help="An attempt may have reached Chorus Pro without its answer coming back (transport "
        "error, lost answer): the next attempt reads the invoice's Chorus history first.",
    )
    last_attempt_at = fields.Datetime(readonly=True)
    sent_at = fields.Datetime(
        string="Answered at", readonly=True,
        help="When Chorus Pro accepted (or refused) the status.",
    )
    chorus_code = fields.Char(string="Chorus return code", readonly=True)
    chorus_label = fields.Char(string="Chorus label", readonly=True)
    answer_message = fields.Text(string="Outcome", readonly=True)
    request_body = fields.Binary(
        string="Request sent", attachment=False, readonly=True,
        help="The exact JSON bytes sent to Chorus Pro (traiter/recue).",
    )
    response_body = fields.Binary(
        string="Chorus Pro answer", attachment=False, readonly=True,
        help="The exact bytes Chorus Pro answered.",
    )
    request_text = fields.Text(string="Request (JSON)", compute="_compute_texts")
    response_text = fields.Text(string="Answer (JSON)", compute="_compute_texts")
    evidence = fields.Text(
        readonly=True,
        help="Evidence of the exchange (chorus_pro.evidence JSON): digests of the exact request "
        "and answer, the time, and who decided; signed when an RGS** key is configured.",
    )
    evidence_signed = fields.Boolean(readonly=True)

    # ------------------------------------------------------------------ compute
    @api.depends("invoice_id.number", "target_status")
    @api.depends_context("lang")
    def _compute_name(self):
        labels = selection_labels(self, "target_status")
        for push in self:
            push.name = "%s → %s" % (
                push.invoice_id.number or push.invoice_id.chorus_id or "?",
                labels.get(push.target_status, push.target_status or "?"),
            )

    def _compute_texts(self):
        for push in self:
            push.request_text = push._request_bytes().decode("utf-8", "replace") or False
            push.response_text = push._response_bytes().decode("utf-8", "replace") or False

    # ------------------------------------------------------------------ bytes
    def _request_bytes(self):
        """The exact bytes sent to Chorus Pro (``b""`` when nothing was sent)."""
        self.ensure_one()
        raw = self.with_context(bin_size=False).request_body
        return base64.b64decode(raw) if raw else b""

    def _response_bytes(self):
        """The exact bytes Chorus Pro answered (``b""`` when none)."""
        self.ensure_one()
        raw = self.with_context(bin_size=False).response_body
        return base64.b64decode(raw) if raw else b""

    def _chorus_evidence_bodies(self):
        # The exact bytes are kept base64-encoded in Binary fields (see _request_bytes).
        self.ensure_one()
        return self._request_bytes() or None, self._response_bytes() or None

    # ------------------------------------------------------------------ transactions
    def _commit(self):
        # The decision and Chorus's answer must outlive whatever happens to the request.
        commit(self.env.cr)

    def _lock(self):
        """Row lock so that one worker only sends a push; False when another one holds it."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM chorus_pro_status_push WHERE id = %s FOR UPDATE NOWAIT",
                    (self.id,),
                    log_exceptions=False,
                )
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
            return False
        self.invalidate_recordset()
        return True

    # ------------------------------------------------------------------ sending
    def _send(self, manual=True, client=None):
        """Send this pending push to Chorus Pro (see the module docstring). Never raises for a
        Chorus Pro problem: the outcome is recorded on the push and on the invoice.

        ``client``: an open client from ``account._chorus_client("status", ...)`` (the guard
        was checked when it was opened), for a caller sending many pushes in a row (the
        mandating run); by default each push opens its own guarded client.

        What it writes (outcome, chatter) is in the language of the caller's context; a caller
        without one (retry cron, script) writes in the decider's language."""
        self.ensure_one()
        if not self.env.lang:
            in_writer_lang(self, self.user_id, self.company_id)._send(manual=manual, client=client)
            return self
        push = self.sudo()
        if push.state != "pending" or not push._lock() or push.state != "pending":
            return self
        push.write({"attempts": push.attempts + 1, "last_attempt_at": fields.Datetime.now()})
        earlier = push.search([
            ("invoice_id", "=", push.invoice_id.id), ("state", "=", "pending"),
            ("id", "<", push.id),
        ], limit=1)
        if earlier:
            # Decisions reach Chorus in the order they were taken (Service fait, then Mandatée).
            push._keep_pending(_(
                "It waits for the decision %(status)s, taken before it, to be sent.",
                status=earlier._target_label(),
            ))
            push._commit()
            return self
        try:
            # Anything unexpected rolls back to here; the decision itself stays recorded.
            with push.env.cr.savepoint():
                if client is not None:
                    push._exchange(client)
                else:
                    with push.account_id._chorus_client(
                        "status",
                        manual=manual,
                        **push._client_options(manual),
                    ) as own_client:
                        push._exchange(own_client)
        except ChorusGuardError as error:
            push._keep_pending(error.args[0])
        except chorus_errors.ChorusProError as error:
            # Raised by the first history read: nothing was sent.
            if push._is_retryable(error):
                push._keep_pending(chorus_error_message(error, self.env))
            else:
                push._record_not_sent(chorus_error_message(error, self.env), error)
        except Exception as error:  # noqa: BLE001 - the decision must end recorded, never lost
            _logger.exception("Chorus Pro status push %s failed unexpectedly", push.id)
            if push.state == "pending":
                # The request may have left before the failure: read the history next time.
                push.write({"outcome_unknown": True})
                push._keep_pending(_("Unexpected error: %(error)s", error=str(error)))
        push._commit()
        if push.state == "pending":
            push._schedule_retry()
        return self

    @staticmethod
    def _client_options(manual):
        """Client options of a push: a user waits (one quick retry), or the background."""
        return dict(INTERACTIVE_CLIENT_OPTIONS if manual else BACKGROUND_CLIENT_OPTIONS)

    @staticmethod
    def _is_retryable(error):
        # Credentials and access problems are fixed by a manager; the decision then goes through.
        return error.temporary or isinstance(
            error, (chorus_errors.ChorusCredentialsError, chorus_errors.ChorusAuthorizationError)
        )

    def _sends_directly(self):
        """MANDATEE on its first attempt (no earlier attempt whose outcome is unknown) is sent
        without reading the history first: see the module docstring."""
        self.ensure_one()
        return self.target_status == chorus_statuses.MANDATEE and not self.outcome_unknown

    def _exchange(self, client):
        """History first (idempotence), our hard rules on the fresh status, then traiter/recue
        (a first MANDATEE attempt skips the history read: see the module docstring).

        Chorus errors of the first history read propagate (nothing was sent); every other
        outcome is recorded here."""
        invoice = self.invoice_id
        direct = self._sends_directly()
        if not direct:
            history = client.get_history(invoice.chorus_id)
            self._refresh_invoice(history)
            if self._chorus_already_has(history):
                self._record_already()
                return
        blockers = invoice._chorus_hard_blockers(self.target_status)
        if blockers:
            self._record_refused_locally(" ".join(blockers))
            return
        at = _utc_now()
        try:
            result = client.change_status(
                invoice.chorus_id,
                self.target_status,
                motif=self.motif or "",
                mandate_number=self.mandate_number or "",
            )
        except chorus_errors.ChorusProError as error:
            if self._is_retryable(error):
                # The answer may have been lost after Chorus processed it: the next attempt reads
                # the history first and does not send it again if it went through.
                self._keep_pending(chorus_error_message(error, self.env), error=error)
            elif direct and isinstance(error, chorus_errors.ChorusTransitionRefused):
                self._check_refusal_against_history(client, error, at)
            else:
                self._refresh_after(client, quiet=False)
                self._record_refused(error, at)
            return
        self._record_sent(result, at)
        if self.target_status == chorus_statuses.MANDATEE:
            self._apply_accepted_status(result)
        else:
            self._refresh_after(client, quiet=True, fallback=True)
        self._post_outcome()

    @staticmethod
    def _outcome_unknown(error):
        """True when a failed ``traiter/recue`` may still have been processed by Chorus: the
        answer was lost or not understood. A 429 or 503 means Chorus did not process it;
        credentials and access errors are refused before anything is processed."""
        if isinstance(error, chorus_errors.ChorusServerError) and error.http_status in (429, 503):
            return False
        return bool(error.temporary)

    def _check_refusal_against_history(self, client, error, at):
        """A first MANDATEE attempt was refused (20002): read the history now to tell "Chorus
        already has it" (``already``) from a real refusal (``refused``)."""
        try:
            history = client.get_history(self.invoice_id.chorus_id)
        except chorus_errors.ChorusProError as read_error:
            # Refused, but why cannot be told now: the retry reads the history first.
            _logger.warning(
                "Chorus Pro push %s: MANDATEE refused and history unreadable (%s)",
                self.id, type(read_error).__name__,
            )
            self.write({"outcome_unknown": True})
            self._keep_pending(chorus_error_message(error, self.env), error=error)
            return
        self._refresh_invoice(history)
        mandated = history.current_status == chorus_statuses.MANDATEE or any(
            event.code == chorus_statuses.MANDATEE for event in history.events
        )
        known_number = (self.invoice_id.mandate_number_chorus or "").strip()
        if mandated and known_number and known_number != (self.mandate_number or ""):
            vals = self._evidence_values(error.request_body, error.response_body, at)
            vals.update(
                state="refused",
                sent_at=fields.Datetime.now(),
                chorus_code=str(error.code) if error.code is not None else False,
                chorus_label=error.label or False,
                answer_message=_(
                    "Chorus Pro already shows the invoice Mandatée with another mandate number "
                    "(%(chorus)s, not %(ours)s): check which mandate is the right one with the "
                    "public accountant.",
                    chorus=known_number, ours=self.mandate_number or "?",
                ),
            )
            self.write(vals)
            self.flush_recordset()
            self.invoice_id._chorus_after_push(self)
            self._post_outcome()
            return
        if mandated:
            # Keep the refused exchange as the trace of this attempt.
            self.write(self._evidence_values(error.request_body, error.response_body, at))
            self._record_already()
            return
        self._record_refused(error, at)

    def _apply_accepted_status(self, result):
        """Chorus accepted: the invoice takes the status from Chorus's answer (``nouveauStatut``,
        ``dateTraitement``) and a local history entry, replaced by Chorus's own entry at the
        next retrieval (no history re-read now)."""
        invoice = self.invoice_id
        status = result.new_status or self.target_status
        now = fields.Datetime.now()
        at = now
        if result.processing_date and result.processing_date != paris_date(
            now.replace(tzinfo=timezone.utc)
        ):
            # Chorus dated it another day (clocks around midnight): keep Chorus's day.
            at = to_utc_naive(datetime.combine(result.processing_date, time(12), PARIS))
        vals = {
            "chorus_status": invoice._status_selection_value(status),
            "chorus_status_code": status,
            "chorus_status_comment": self.motif or False,
            "status_datetime": at,
        }
        if status == chorus_statuses.MANDATEE and self.mandate_number:
            vals["mandate_number_chorus"] = self.mandate_number
        since = (self.requested_at or now).replace(second=0, microsecond=0)
        already_stored = invoice.status_history_ids.filtered(
            lambda entry: entry.code == status and not entry.is_local
            and entry.at and entry.at >= since
        )
        try:
            with self.env.cr.savepoint():
                invoice.with_context(tracking_disable=True, mail_notrack=True).write(vals)
                if not already_stored:
                    self.env["chorus.pro.invoice.status"].sudo().create({
                        "invoice_id": invoice.id,
                        "code": status,
                        "at": at,
                        "comment": self.motif or False,
                        "author": self.user_id.name or False,
                        "is_local": True,
                    })
        except Exception:  # noqa: BLE001 - the next retrieval brings the status anyway
            _logger.exception("Chorus Pro push %s: accepted status not applied", self.id)

    def _chorus_already_has(self, history):
        """Chorus already shows this status: current, or reached since the decision (minute
        precision: Chorus's history has no seconds)."""
        target = self.target_status
        if history.current_status == target:
            return True
        since = (self.requested_at or fields.Datetime.now()).replace(second=0, microsecond=0)
        since = since.replace(tzinfo=timezone.utc)
        return any(
            event.code == target and event.at and event.at >= since for event in history.events
        )

    def _refresh_invoice(self, history, quiet=False):
        invoice = self.invoice_id.with_context(
            tracking_disable=True, mail_notrack=True, chorus_pro_quiet_status=quiet
        )
        try:
            with self.env.cr.savepoint():
                invoice._apply_history(history)
        except Exception:  # noqa: BLE001 - a refresh problem must not lose Chorus's answer
            _logger.exception("Chorus Pro invoice %s: history could not be applied", invoice.id)

    def _refresh_after(self, client, quiet, fallback=False):
        """Re-read the history after the push; when it cannot be read, show at least the status
        Chorus accepted (the next retrieval brings the history)."""
        try:
            history = client.get_history(self.invoice_id.chorus_id)
        except chorus_errors.ChorusProError as error:
            _logger.warning(
                "Chorus Pro invoice %s: history not re-read after push %s (%s)",
                self.invoice_id.chorus_id, self.id, type(error).__name__,
            )
            if fallback:
                self.invoice_id.with_context(tracking_disable=True, mail_notrack=True).write({
                    "chorus_status": self.invoice_id._status_selection_value(self.target_status),
                    "chorus_status_code": self.target_status,
                    "chorus_status_comment": self.motif or False,
                    "status_datetime": fields.Datetime.now(),
                })
            return
        self._refresh_invoice(history, quiet=quiet)

    # ------------------------------------------------------------------ outcomes
    def _evidence_extra(self):
        self.ensure_one()
        return {
            "operation": OP_PROCESS,
            "chorus_id": self.invoice_id.chorus_id,
            "invoice_number": self.invoice_id.number or "",
            "target_status": self.target_status,
            "motif": self.motif or "",
            "mandate_number": self.mandate_number or "",
            "user_login": self.user_id.login or "",
            "push_id": self.id,
            "database_uuid": self.env["ir.config_parameter"].sudo().get_param("database.uuid", ""),
        }

    def _evidence_values(self, request_body, response_body, at):
        """Bodies and evidence of an exchange that reached Chorus Pro (accepted or refused)."""
        vals = {
            "request_body": base64.b64encode(request_body or b""),
            "response_body": base64.b64encode(response_body or b""),
        }
        extra = self._evidence_extra()
        try:
            evidence = self.account_id._chorus_evidence(
                request_body or b"", response_body or b"", at, extra
            )
        except Exception:  # noqa: BLE001 - never lose Chorus's answer for want of a signature
            _logger.exception("Chorus Pro push %s: evidence could not be signed", self.id)
            evidence = unsigned_evidence(
                request_body or b"", response_body or b"", from_utc_naive(at), extra
            )
        vals.update(evidence=evidence.to_json(), evidence_signed=evidence.is_signed)
        return vals

    def _record_sent(self, result, at):
        vals = self._evidence_values(result.request_body, result.response_body, at)
        vals.update(
            state="sent",
            sent_at=fields.Datetime.now(),
            chorus_code=str(result.return_code or 0),
            chorus_label=result.label or False,
            answer_message=_(
                "Chorus Pro accepted the status %(status)s.",
                status=self._target_label(),
            ),
        )
        self.write(vals)
        self.flush_recordset()
        self.invoice_id._chorus_after_push(self)

    def _record_already(self):
        self.write({
            "state": "already",
            "sent_at": fields.Datetime.now(),
            "answer_message": _(
                "Chorus Pro already shows the status %(status)s: nothing was sent.",
                status=self._target_label(),
            ),
        })
        self.invoice_id._chorus_after_push(self)
        self._post_outcome()

    def _record_refused(self, error, at):
        vals = self._evidence_values(
            getattr(error, "request_body", b""), getattr(error, "response_body", b""), at
        )
        vals.update(
            state="refused",
            sent_at=fields.Datetime.now(),
            chorus_code=str(error.code) if error.code is not None else (
                str(error.http_status) if error.http_status else False
            ),
            chorus_label=error.label or False,
            answer_message=self._refusal_message(error),
        )
        self.write(vals)
        self.flush_recordset()
        self.invoice_id._chorus_after_push(self)
        self._post_outcome()

    def _refusal_message(self, error):
        message = chorus_error_message(error, self.env)
        return _(
            "%(reason)s The invoice was refreshed from Chorus Pro (now: %(status)s); the motif "
            "is kept so that you can decide again.",
            reason=message,
            status=self.invoice_id._status_label(self.invoice_id.chorus_status_code) or "?",
        )

    def _record_refused_locally(self, reason):
        self.write({
            "state": "refused",
            "sent_at": fields.Datetime.now(),
            "answer_message": _(
                "Not sent: %(reason)s The invoice was refreshed from Chorus Pro.", reason=reason
            ),
        })
        self.invoice_id._chorus_after_push(self)
        self._post_outcome()

    def _record_not_sent(self, message, error=None):
        self.write({
            "state": "failed",
            "chorus_code": (str(error.code) if error is not None and error.code is not None
                            else False),
            "chorus_label": (error.label or False) if error is not None else False,
            "answer_message": message,
        })
        self.invoice_id._chorus_after_push(self)
        self._post_outcome()

    def _keep_pending(self, message, error=None):
        vals = {
            "state": "pending",
            "answer_message": _(
                "%(reason)s The decision is kept and will be sent automatically.", reason=message
            ),
        }
        if error is not None and getattr(error, "request_body", b""):
            # Ambiguous: the request left; keep what we know of the exchange.
            vals["request_body"] = base64.b64encode(error.request_body)
            if getattr(error, "response_body", b""):
                vals["response_body"] = base64.b64encode(error.response_body)
            if self._outcome_unknown(error):
                vals["outcome_unknown"] = True
        first_time = self.attempts <= 1
        self.write(vals)
        self.invoice_id._chorus_after_push(self)
        if first_time:
            self._post_outcome()

    def _schedule_retry(self):
        cron = self.env.ref(RETRY_CRON, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger(at=fields.Datetime.now() + timedelta(minutes=2))

    def _target_label(self):
        return self.invoice_id._status_label(self.target_status)

    def _post_outcome(self):
        """Chatter trace: who decided what, with which motif, and what Chorus answered."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self._post_outcome_message()
        except Exception:  # noqa: BLE001 - the push record is the trace that matters
            _logger.exception("Chorus Pro push %s: chatter message not posted", self.id)

    def _post_outcome_message(self):
        invoice = self.invoice_id
        lines = [
            _("Decision %(status)s by %(user)s on %(date)s.",
              status=self._target_label(),
              user=self.user_id.name or "?",
              date=fields.Datetime.context_timestamp(self, self.requested_at).strftime(
                  "%d/%m/%Y %H:%M")),
        ]
        if self.motif:
            lines.append(_("Motif: %(motif)s", motif=self.motif))
        if self.service_date:
            lines.append(_("Service done on %(date)s.",
                           date=self.service_date.strftime("%d/%m/%Y")))
        if self.mandate_number:
            lines.append(_("Mandate number: %(number)s", number=self.mandate_number))
        answer = self.answer_message or ""
        if self.chorus_label or self.chorus_code:
            answer += " " + _("(Chorus Pro code %(code)s %(label)s)",
                              code=self.chorus_code or "-", label=self.chorus_label or "")
        lines.append(answer.strip())
        body = Markup("<br/>").join(lines)
        if self.env.context.get("chorus_pro_log_accepted") and self.state in ("sent", "already"):
            # An accepted decision among many (the mandating run): logged in the chatter without
            # message_post's pass over the followers, who are told of refusals only.
            invoice._message_log(body=body)
        else:
            invoice.message_post(body=body, subtype_xmlid="mail.mt_note")
        if self.state == "refused" and not self.env.context.get("chorus_pro_user_present"):
            invoice._chorus_notify_decider(self)

    # ------------------------------------------------------------------ actions
    def _check_send_rights(self, withdraw=False):
        """Decisions are sent or withdrawn by processors; a Mandatée by mandating officers."""
        user = self.env.user
        mandatee = self.filtered(lambda push: push.target_status == chorus_statuses.MANDATEE)
        if (self - mandatee or not self) and not user.has_group(
            "chorus_pro_liaison.group_chorus_pro_processor"
        ):
            raise AccessError(_("Only Chorus Pro processors can withdraw a decision.") if withdraw
                              else _("Only Chorus Pro processors can send decisions to Chorus Pro."))
        if mandatee and not user.has_group("chorus_pro_liaison.group_chorus_pro_mandating"):
            raise AccessError(_("Only mandating officers can send or withdraw the status "
                                "Mandatée."))

    def action_retry(self):
        """"Send now": a pending push is sent at once. A push withdrawn or not sent is decided
        again by the current user: a new push, every rule checked anew (and, for Mandatée, only
        for a validated mandate)."""
        check_action_access(self, "read")
        self._check_send_rights()
        for push in self.sorted("id"):
            if push.state == "failed":
                if push.target_status == chorus_statuses.MANDATEE:
                    move = self.env["account.move"].search(
                        [("chorus_pro_push_id", "=", push.id)], limit=1)
                    if move.state != "posted":
                        raise UserError(_(
                            "The status Mandatée is sent for a validated mandate only."))
                    move._chorus_pro_push_mandated()
                else:
                    push.invoice_id.with_env(self.env)._chorus_push_status(
                        push.target_status, motif=push.motif, service_date=push.service_date,
                        user=self.env.user,
                    )
            elif push.state == "pending":
                push.with_context(chorus_pro_user_present=True)._send(manual=True)
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def action_cancel(self):
        """Withdraw a decision still waiting to be sent (e.g. to take another one)."""
        check_action_access(self, "read")
        self._check_send_rights(withdraw=True)
        for push in self.sudo():
            if push.state != "pending" or not push._lock():
                raise UserError(_("Only a decision waiting to be sent can be withdrawn."))
            push.write({
                "state": "failed",
                "answer_message": _(
                    "Withdrawn by %(user)s before it was sent. If an earlier attempt reached "
                    "Chorus Pro, its status comes back with the next retrieval.",
                    user=self.env.user.name,
                ),
            })
            push.invoice_id._chorus_after_push(push)
            push._post_outcome()
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    # ------------------------------------------------------------------ cron
    @api.model
    def _cron_retry_pending(self):
        """Every 10 minutes: send the decisions still pending. Never raises (each failure is
        recorded on its push); respects the guard as a scheduled call (``manual=False``)."""
        pushes = self.sudo().search([("state", "=", "pending")], order="id")
        unreachable = set()
        for index, push in enumerate(pushes):
            if push.account_id.id in unreachable:
                continue
            try:
                # Its outcome is written in the decider's language (else the company's).
                in_writer_lang(push.with_company(push.company_id), push.user_id,
                               push.company_id)._send(manual=False)
            except Exception:  # noqa: BLE001 - one bad push must not stop the others
                _logger.exception("Chorus Pro push %s: retry failed", push.id)
                rollback(self.env.cr)
            if push.state == "pending":
                # Chorus (or the guard) refused this account's calls: the others wait too.
                unreachable.add(push.account_id.id)
            self.env["ir.cron"]._notify_progress(done=index + 1, remaining=len(pushes) - index - 1)
        return True
