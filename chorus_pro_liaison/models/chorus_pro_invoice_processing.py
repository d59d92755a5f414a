# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 2 — decide what happens to each received invoice and push it to Chorus Pro at once.

The worklist edits a draft decision on the invoice (status, motif, service date); confirming it
goes through :meth:`ChorusProInvoice._chorus_push_status`, which checks the rules (Chorus's and
the law's) before anything is recorded or sent, records the decision, commits, and sends it
(see ``chorus_pro_status_push.py``). Also here: internal validation (validation interne, with an
optional four-eyes rule), duplicate detection at retrieval time, and the file preview.
"""

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.sql import escape_psql

from odoo.addons.chorus_pro_liaison.models.chorus_pro_motif import PROCESSING_TARGET_SELECTION
from odoo.addons.chorus_pro_liaison.models.chorus_pro_status_push import PUSH_STATES
from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.errors import text_refusal_message
from odoo.addons.chorus_pro_liaison.services.languages import field_labels, selection_label

from chorus_pro import statuses as chorus_statuses
from chorus_pro import text as chorus_text
from chorus_pro.timeutil import paris_today

PROCESSOR_GROUP = "chorus_pro_liaison.group_chorus_pro_processor"
VALIDATOR_GROUP = "chorus_pro_liaison.group_chorus_pro_validator"
MANDATING_GROUP = "chorus_pro_liaison.group_chorus_pro_mandating"

DECISION_FIELDS = frozenset({
    "decision_status", "decision_motif", "decision_motif_id", "service_done_date",
    # Renaming the main document from the worklist (the file keeps its Chorus name).
    "main_attachment_name",
})
VALIDATION_FIELDS = frozenset({"chorus_pro_validated", "validation_reset_reason"})
DUPLICATE_MOTIF_CODE = "duplicate"
# Why an invoice looks like one already received (see _chorus_twin_searches).
DUPLICATE_REASONS = [
    ("number", "same supplier and invoice number"),
    ("amount_date", "same supplier, amount and invoice date"),
]


class ChorusProInvoice(models.Model):
    _inherit = "chorus.pro.invoice"

    # ------------------------------------------------------------------ draft decision
    decision_status = fields.Selection(
        PROCESSING_TARGET_SELECTION,
        string="Decision",
        copy=False,
        help="What to tell Chorus Pro: Service fait (service certified), Rejetée (refused: the "
        "supplier issues a new invoice), Suspendue (documents missing: the supplier completes "
        "it), À recycler (wrong recipient: the supplier re-sends it to the right one).",
    )
    decision_motif_id = fields.Many2one(
        "chorus.pro.motif",
        string="Usual motif",
        copy=False,
        # Only the motifs of the chosen decision (or of none): a motif never changes it.
        domain="[('suggested_status', 'in', [decision_status, False]), "
        "'|', ('company_id', '=', False), ('company_id', '=', company_id)]",
        help="Pick a usual motif of the chosen decision to fill the motif text, then edit it "
        "if needed.",
    )
    decision_motif = fields.Char(
        string="Motif",
        size=chorus_statuses.MOTIF_MAX_LENGTH,
        copy=False,
        help="Sent to Chorus Pro with the status; the supplier reads it. At most 255 "
        "characters. Kept when Chorus Pro refuses the status, so that you can act again.",
    )
    service_done_date = fields.Date(
        string="Service done on",
        copy=False,
        tracking=True,
        help="Date the service was actually done (delivery, end of works). The payment delay "
        "starts from it when it is later than the date the invoice was made available.",
    )
    service_date_certified = fields.Date(
        string="Service done on (certified)",
        readonly=True,
        copy=False,
        help="The service date sent with the Service fait Chorus Pro accepted: the one the "
        "payment delay uses (a date typed but not yet accepted does not move it).",
    )
    decision_warning = fields.Text(compute="_compute_decision_warning")
    decision_motif_required = fields.Boolean(compute="_compute_decision_warning")

    # ------------------------------------------------------------------ pushes
    push_ids = fields.One2many(
        "chorus.pro.status.push", "invoice_id", string="Decisions sent to Chorus Pro",
        readonly=True,
    )
    last_push_id = fields.Many2one(
        "chorus.pro.status.push", string="Last decision", compute="_compute_push_state",
        store=True,
    )
    push_state = fields.Selection(
        [("none", "No decision sent")] + PUSH_STATES,
        string="Decision state",
        compute="_compute_push_state",
        store=True,
        index=True,
    )
    push_message = fields.Text(related="last_push_id.answer_message", string="Last outcome")
    push_count = fields.Integer(compute="_compute_push_count")

    # ------------------------------------------------------------------ duplicates
    duplicate_of_id = fields.Many2one(
        "chorus.pro.invoice",
        string="Suspected duplicate of",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    is_duplicate_suspect = fields.Boolean(
        string="Suspected duplicate", readonly=True, copy=False, index=True,
    )
    # A code, shown in the reader's language (the retrieval that found the twin writes in its own).
    duplicate_reason = fields.Selection(DUPLICATE_REASONS, readonly=True, copy=False)

    # ------------------------------------------------------------------ internal validation
    chorus_pro_validated = fields.Boolean(
        string="Validation interne",
        tracking=True,
        copy=False,
        help="Internal approval before mandating, given by an internal validator. Withdrawing "
        "it requires a reason.",
    )
    validated_by_id = fields.Many2one(
        "res.users", string="Validated by", readonly=True, copy=False, tracking=True,
    )
    validated_at = fields.Datetime(string="Validated at", readonly=True, copy=False)
    validation_reset_reason = fields.Char(
        string="Reason for withdrawing the validation", copy=False, tracking=True,
    )

    # ------------------------------------------------------------------ main document
    main_attachment_name = fields.Char(
        string="Main document",
        compute="_compute_main_attachment_name",
        inverse="_inverse_main_attachment_name",
        help="The name of the invoice's main document, editable in place; its name in Chorus "
        "Pro stays recorded on the file.",
    )

    # ------------------------------------------------------------------ rights (for views)
    chorus_pro_can_process = fields.Boolean(compute="_compute_chorus_pro_rights")
    chorus_pro_can_validate = fields.Boolean(compute="_compute_chorus_pro_rights")

    # ------------------------------------------------------------------ compute
    @api.depends("push_ids.state")
    def _compute_push_state(self):
        for invoice in self:
            last = invoice.push_ids.sorted("id", reverse=True)[:1]
            invoice.last_push_id = last
            invoice.push_state = last.state if last else "none"

    def _compute_push_count(self):
        data = dict(self.env["chorus.pro.status.push"]._read_group(
            [("invoice_id", "in", self.ids)], ["invoice_id"], ["__count"]
        ))
        for invoice in self:
            invoice.push_count = data.get(invoice, 0)

    @api.depends_context("uid")
    def _compute_chorus_pro_rights(self):
        user = self.env.user
        can_process = user.has_group(PROCESSOR_GROUP)
        can_validate = user.has_group(VALIDATOR_GROUP)
        for invoice in self:
            invoice.chorus_pro_can_process = can_process
            invoice.chorus_pro_can_validate = can_validate

    @api.depends(
        "decision_status", "chorus_status_code", "is_duplicate_suspect", "duplicate_of_id",
        "account_id.require_service_fait_motif", "duplicate_reason",
    )
    @api.depends_context("lang")
    def _compute_decision_warning(self):
        for invoice in self:
            target = invoice.decision_status
            account = invoice._chorus_account()
            invoice.decision_motif_required = bool(target) and (
                chorus_statuses.motif_required(target)
                or (target == chorus_statuses.SERVICE_FAIT and account.require_service_fait_motif)
            )
            lines = []
            if target:
                lines.extend(invoice._chorus_consequence(target))
            if invoice.is_duplicate_suspect and invoice.duplicate_of_id:
                lines.append(_(
                    "Suspected duplicate of %(twin)s (%(reason)s).",
                    twin=invoice.duplicate_of_id.display_name,
                    reason=selection_label(invoice, "duplicate_reason", invoice.duplicate_reason),
                ))
            invoice.decision_warning = "\n".join(lines) or False

    def _chorus_consequence(self, target):
        """What a decision means for the supplier and the payment delay, in plain words."""
        self.ensure_one()
        if target == chorus_statuses.REJETEE:
            return [_(
                "Rejetée is final: the supplier must issue a new invoice with a new number. "
                "Prefer Suspendue when only a document is missing."
            )]
        if target == chorus_statuses.A_RECYCLER:
            return [_(
                "À recycler sends the invoice back to the supplier, who corrects only the "
                "recipient, the service code or the engagement number and re-sends the same "
                "invoice number to the right recipient."
            )]
        if target == chorus_statuses.SUSPENDUE:
            if self._chorus_was_suspended():
                return [_(
                    "This invoice was already suspended once: the law allows only one "
                    "interruption of the payment delay, a second suspension is refused."
                )]
            return [_(
                "Suspendue interrupts the payment delay (once only, before the mandate): the "
                "supplier completes the invoice in Chorus Pro, then a new delay starts."
            )]
        if target == chorus_statuses.SERVICE_FAIT:
            return [_(
                "Give the date the service was actually done; it cannot be in the future."
            )]
        return []

    @api.depends("main_attachment_pdf_id.name")
    def _compute_main_attachment_name(self):
        for invoice in self:
            invoice.main_attachment_name = invoice.main_attachment_pdf_id.name or False

    def _inverse_main_attachment_name(self):
        for invoice in self:
            attachment = invoice.main_attachment_pdf_id
            if attachment and invoice.main_attachment_name != attachment.name:
                # The file's own rules apply: extension kept, rename traced, Chorus name kept.
                attachment.write({"name": invoice.main_attachment_name})

    # ------------------------------------------------------------------ onchange / checks
    @api.onchange("decision_status")
    def _onchange_decision_status(self):
        if self.decision_status == chorus_statuses.SERVICE_FAIT and not self.service_done_date:
            self.service_done_date = paris_today()
        motif = self.decision_motif_id
        if motif.suggested_status and motif.suggested_status != self.decision_status:
            # A usual motif of another decision does not follow the decision it was not for
            # (its text goes too, unless edited: a usual motif's text is stored folded).
            if chorus_text.fold_spaces(self.decision_motif) == motif.text:
                self.decision_motif = False
            self.decision_motif_id = False

    @api.onchange("decision_motif_id")
    def _onchange_decision_motif_id(self):
        # The motif fills the text only: the decision stays the one the user chose.
        if self.decision_motif_id:
            self.decision_motif = self.decision_motif_id.text

    @api.constrains("service_done_date")
    def _check_service_done_date(self):
        today = paris_today()
        for invoice in self:
            if invoice.service_done_date and invoice.service_done_date > today:
                raise ValidationError(_(
                    "The service cannot be done in the future: enter the date the service was "
                    "actually done (at the latest today, %(today)s).",
                    today=today.strftime("%d/%m/%Y"),
                ))

    # ------------------------------------------------------------------ write rights
    def write(self, vals):
        if not self.env.su:
            self._chorus_check_write_rights(vals)
        if "chorus_pro_validated" in vals:
            return self._chorus_write_validation(vals)
        return super().write(vals)

    def _chorus_check_write_rights(self, vals):
        user = self.env.user
        touched = set(vals)
        # The company and Chorus account of a received invoice are those it arrived for:
        # moving it would hand its bank details to another company and send its decisions
        # through another company's Chorus Pro account.
        moved = sorted(name for name in ("company_id", "account_id") if name in touched and any(
            invoice[name].id != (vals[name] or False) for invoice in self))
        if moved:
            raise AccessError(_(
                "A Chorus Pro invoice stays in the company and on the Chorus Pro account it was "
                "received for: %(fields)s cannot be changed.",
                fields=field_labels(self, moved),
            ))
        if vals.get("message_main_attachment_id"):
            self._chorus_check_main_attachment(vals["message_main_attachment_id"])
        if vals.get("decision_motif"):
            # Checked before the field's size would cut it: refused in words, never cut.
            problem = self._chorus_checked_motif(vals["decision_motif"])[1]
            if problem:
                raise UserError(problem)
        # What Chorus says and what the application records (status, amounts, bank details,
        # validator, mandate...) is read-only for people: only server code (sudo) writes it.
        read_only = sorted(
            name for name in touched
            if name in self._fields and self._fields[name].readonly
            and not name.startswith(("message_", "activity_"))
            # Renaming a file goes through the invoice's files (the file keeps its content).
            and name != "attachment_ids"
        )
        if read_only:
            raise AccessError(_(
                "These fields of a Chorus Pro invoice are set by Chorus Pro or by the "
                "application, not by hand: %(fields)s.",
                fields=field_labels(self, read_only),
            ))
        can_process = user.has_group(PROCESSOR_GROUP)
        if touched & DECISION_FIELDS and not can_process:
            raise AccessError(_("Only Chorus Pro processors can prepare a decision."))
        if touched & VALIDATION_FIELDS and not user.has_group(VALIDATOR_GROUP):
            raise AccessError(_("Only internal validators can give or withdraw the internal "
                                "validation (Validation interne)."))
        # Internal validators get write access for the validation only (other steps' groups
        # keep whatever access they are given).
        if (not can_process and not user.has_group(MANDATING_GROUP)
                and touched - VALIDATION_FIELDS):
            raise AccessError(_("You can only give or withdraw the internal validation of "
                                "Chorus Pro invoices."))

    def _chorus_check_main_attachment(self, attachment_id):
        """The main file of an invoice is one of its own files, never another record's."""
        attachment = self.env["ir.attachment"].sudo().browse(attachment_id).exists()
        for invoice in self:
            if not (attachment and attachment.res_model == invoice._name
                    and attachment.res_id == invoice.id):
                raise AccessError(_(
                    "The main file of a Chorus Pro invoice can only be one of that invoice's "
                    "own files."
                ))

    def _chorus_write_validation(self, vals):
        validated = bool(vals["chorus_pro_validated"])
        changed = self.filtered(lambda invoice: invoice.chorus_pro_validated != validated)
        unchanged = self - changed
        result = True
        if unchanged:
            result = super(ChorusProInvoice, unchanged).write(vals)
        if not changed:
            return result
        vals = dict(vals)
        if validated:
            vals.update(
                validated_by_id=self.env.user.id,
                validated_at=fields.Datetime.now(),
                validation_reset_reason=False,
            )
        else:
            reason = chorus_text.fold_spaces(vals.get("validation_reset_reason"))
            if not reason:
                raise UserError(_(
                    "Give the reason for withdrawing the internal validation (it is recorded "
                    "in the invoice's history)."
                ))
            vals.update(validation_reset_reason=reason, validated_by_id=False, validated_at=False)
        return super(ChorusProInvoice, changed).write(vals) and result

    def _check_validation_for_mandate(self, user=None):
        """Plain-words reasons why ``user`` may not mandate this invoice yet (empty when OK):
        internal validation required by the company, four-eyes rule."""
        self.ensure_one()
        user = user or self.env.user
        invoice = self.sudo()
        account = invoice._chorus_account()
        reasons = []
        if account.require_internal_validation and not invoice.chorus_pro_validated:
            reasons.append(_(
                "Invoice %(number)s has not received its internal validation (Validation "
                "interne), which %(company)s requires before mandating.",
                number=invoice.number or invoice.chorus_id,
                company=invoice.company_id.name,
            ))
        if (account.four_eyes and invoice.chorus_pro_validated
                and invoice.validated_by_id == user):
            reasons.append(_(
                "Four-eyes rule: %(user)s gave the internal validation of invoice %(number)s "
                "and cannot also mandate it; another person must mandate it.",
                user=user.name,
                number=invoice.number or invoice.chorus_id,
            ))
        return reasons

    # ------------------------------------------------------------------ rules
    def _chorus_account(self):
        self.ensure_one()
        return (self.account_id or self.env["chorus.pro.account"]._for_company(
            self.company_id
        )).sudo()

    def _chorus_history_codes(self):
        self.ensure_one()
        return set(self.status_history_ids.mapped("code")) | {self.chorus_status_code or ""}

    def _chorus_was_suspended(self):
        """True when Chorus or our pushes show a suspension (the one interruption allowed)."""
        self.ensure_one()
        if chorus_statuses.SUSPENDUE in self._chorus_history_codes():
            return True
        return bool(self.sudo().push_ids.filtered(
            lambda push: push.target_status == chorus_statuses.SUSPENDUE
            and push.state in ("sent", "already")
        ))

    def _chorus_is_mandated(self):
        """True once the invoice is mandated (ordonnancée): Chorus shows it, or a mandate was
        validated in Odoo (numbered), even before Chorus shows it, so that the invoice can no
        longer be rejected or suspended from Odoo."""
        self.ensure_one()
        if chorus_statuses.is_mandated(self._chorus_history_codes()) or self.mandate_number_chorus:
            return True
        mandate = self.sudo().mandate_move_id
        return bool(
            mandate and mandate.state != "cancel" and mandate.move_type == "in_invoice"
            and mandate.chorus_pro_mandate_number
        )

    def _chorus_hard_blockers(self, target):
        """Rules that hold whatever Chorus would accept, checked again on the fresh status just
        before sending: the accountant's side took over (Hélios), a second interruption, a
        return after the mandate."""
        self.ensure_one()
        codes = self._chorus_history_codes()
        reasons = []
        if codes & chorus_statuses.COMPTABLE_STATUSES:
            reasons.append(_(
                "Chorus Pro shows that the invoice reached the public accountant (Mise à "
                "disposition comptable): the ordonnateur no longer sets its status."
            ))
            return reasons
        if target in chorus_statuses.RETURNED and self._chorus_is_mandated():
            reasons.append(_(
                "The invoice is already mandated: it can no longer be rejected, suspended or "
                "returned from Odoo (the payment delay can be interrupted only before "
                "ordonnancement). If it must be cancelled, cancel the mandate first with the "
                "public accountant."
            ))
        if target == chorus_statuses.SUSPENDUE and self._chorus_was_suspended():
            when = self.status_history_ids.filtered(
                lambda entry: entry.code == chorus_statuses.SUSPENDUE and entry.at
            ).sorted("at")[:1].at
            on_date = _("on %(date)s", date=when.strftime("%d/%m/%Y")) if when else ""
            reasons.append(_(
                "The invoice was already suspended%(when)s: the law allows only one interruption "
                "of the payment delay (CCP R2192-27). Reject it or certify the service instead.",
                when=(" " + on_date) if when else "",
            ))
        return reasons

    @api.model
    def _chorus_checked_motif(self, motif):
        """``(motif as Chorus Pro receives it, "")`` (``chorus_pro.text.check_motif``), or
        ``(motif as typed, why it cannot reach Chorus Pro)``: an invisible or control
        character, or over Chorus's limit (never cut silently)."""
        try:
            return chorus_text.check_motif(motif), ""
        except chorus_text.TextRefused as refused:
            return motif, text_refusal_message(refused, self.env)

    def _chorus_push_blockers(self, target, *, motif="", service_date=None, mandate_number="",
                              user=None):
        """Every reason why this decision cannot be taken now (empty list when it can).
        Checked before anything is recorded or sent."""
        self.ensure_one()
        user = user or self.env.user
        invoice = self.sudo()
        label = invoice._status_label(target)
        if target not in chorus_statuses.PUSHABLE:
            return [_("%(status)s is not a status Odoo sends to Chorus Pro.", status=label)]
        reasons = []
        if target == chorus_statuses.MANDATEE:
            if not user.has_group(MANDATING_GROUP):
                reasons.append(_("Only mandating officers can set the status Mandatée."))
        elif not user.has_group(PROCESSOR_GROUP):
            reasons.append(_("Only Chorus Pro processors can set %(status)s.", status=label))
        if not invoice._chorus_account():
            reasons.append(_("Chorus Pro is not configured for %(company)s.",
                             company=invoice.company_id.name))
        pending = invoice.push_ids.filtered(lambda push: push.state == "pending")
        # Mandatée may queue behind a decision not sent yet (sent in order); others may not.
        if pending and target != chorus_statuses.MANDATEE:
            reasons.append(_(
                "A decision (%(status)s) is waiting to be sent to Chorus Pro for this invoice: "
                "it is sent automatically, or use \"Send now\" or \"Withdraw\" on it first.",
                status=pending[:1]._target_label(),
            ))
        current = invoice.chorus_status_code or ""
        hard = invoice._chorus_hard_blockers(target)
        if hard:
            reasons.extend(hard)
        elif current == target:
            reasons.append(_("The invoice already has the status %(status)s in Chorus Pro.",
                             status=label))
        elif current == chorus_statuses.SUSPENDUE:
            reasons.append(_(
                "The invoice is suspended: it comes back to you once the supplier completes it "
                "in Chorus Pro."
            ))
        elif current in chorus_statuses.FINAL:
            reasons.append(_(
                "The invoice is %(current)s in Chorus Pro: no status can be set on it any more.",
                current=invoice._status_label(current),
            ))
        elif target == chorus_statuses.MANDATEE and current not in chorus_statuses.MANDATE_FROM:
            reasons.append(_(
                "Mandatée can be set only after Mise à disposition, Complétée or Service fait; "
                "the invoice is %(current)s in Chorus Pro.",
                current=invoice._status_label(current) or "?",
            ))
        elif not chorus_statuses.is_allowed(current, target):
            reasons.append(_(
                "Chorus Pro does not allow %(status)s when the invoice is %(current)s.",
                status=label,
                current=invoice._status_label(current) or "?",
            ))
        # Motif
        motif, problem = self._chorus_checked_motif(motif)
        if problem:
            reasons.append(problem)
        elif not motif:
            if chorus_statuses.motif_required(target):
                reasons.append(_(
                    "A motif is required to set %(status)s (Chorus Pro requires it; the "
                    "supplier reads it).", status=label,
                ))
            elif (target == chorus_statuses.SERVICE_FAIT
                  and invoice._chorus_account().require_service_fait_motif):
                reasons.append(_(
                    "A motif is required for Service fait (your company's procedure; a "
                    "Chorus Pro manager can make it optional)."
                ))
        if target == chorus_statuses.SERVICE_FAIT:
            if not service_date:
                reasons.append(_("Enter the date the service was actually done."))
            elif service_date > paris_today():
                reasons.append(_(
                    "The service cannot be done in the future (%(date)s): enter the date it "
                    "was actually done.", date=service_date.strftime("%d/%m/%Y"),
                ))
        if target == chorus_statuses.MANDATEE:
            if not mandate_number:
                reasons.append(_("The mandate number (numéro de mandat) is required to set "
                                 "Mandatée."))
            reasons.extend(invoice._check_validation_for_mandate(user))
        return reasons

    # ------------------------------------------------------------------ pushing
    def _chorus_lock_for_push(self):
        """Serialize decisions on one invoice (double click, two users, replay)."""
        self.env.cr.execute(
            "SELECT id FROM chorus_pro_invoice WHERE id IN %s FOR UPDATE", (tuple(self.ids),)
        )

    def _chorus_existing_push(self, target, mandate_number=""):
        """The push that already carries this decision: pending, or accepted and still the
        invoice's status (a double click or a replayed request must not push twice)."""
        self.ensure_one()
        pushes = self.sudo().push_ids.filtered(
            lambda push: push.target_status == target
            and (target != chorus_statuses.MANDATEE
                 or (push.mandate_number or "") == (mandate_number or ""))
        ).sorted("id", reverse=True)
        pending = pushes.filtered(lambda push: push.state == "pending")[:1]
        if pending:
            return pending
        if self.chorus_status_code == target:
            return pushes.filtered(lambda push: push.state in ("sent", "already"))[:1]
        return pushes.browse()

    def _chorus_push_status(self, target, *, motif="", service_date=None, mandate_number="",
                            user=None, manual=True, send=True):
        """Record a decision and push it to Chorus Pro (``traiter/recue``); returns the
        ``chorus.pro.status.push``.

        The rules are checked first (``UserError`` with every reason, before any call and
        before anything is recorded); the decision is then recorded as a pending push and
        committed, and sent right after in its own transaction. Calling it again with the same
        decision (double click, replayed request) returns the same push and sends nothing new.
        ``user`` is who decided (default: the current user); ``manual=False`` for scheduled
        callers (the guard then never asks for anything interactive).

        ``send=False`` only records the pending push in the current transaction (no guard, no
        commit, no call): for a caller that must record the decision atomically with its own
        writes (a mandate validated with its MANDATEE), then commits and sends it (the push's
        ``_send``, or this method again); the retry cron sends it otherwise.
        """
        self.ensure_one()
        user = user or self.env.user
        self.check_access("read")
        invoice = self.sudo()
        motif, problem = self._chorus_checked_motif(motif)
        if problem:
            raise UserError(problem)
        mandate_number = (mandate_number or "").strip()
        if target == chorus_statuses.SERVICE_FAIT:
            service_date = service_date or invoice.service_done_date or paris_today()
        invoice._chorus_lock_for_push()
        existing = invoice._chorus_existing_push(target, mandate_number)
        if existing:
            if existing.state == "pending" and send:
                existing.with_context(chorus_pro_user_present=manual)._send(manual=manual)
            return existing.with_env(self.env)
        reasons = invoice._chorus_push_blockers(
            target, motif=motif, service_date=service_date, mandate_number=mandate_number,
            user=user,
        )
        if reasons:
            raise UserError(_(
                "%(invoice)s: this decision cannot be sent to Chorus Pro.\n%(reasons)s",
                invoice=invoice.display_name,
                reasons="\n".join("• " + reason for reason in reasons),
            ))
        account = invoice._chorus_account()
        if send:
            # The switch, credentials and key are checked now: the user learns at once.
            account._chorus_guard("status", manual=manual)
        push = self.env["chorus.pro.status.push"].sudo().create({
            "invoice_id": invoice.id,
            "account_id": account.id,
            "target_status": target,
            "motif": motif or False,
            "service_date": service_date if target == chorus_statuses.SERVICE_FAIT else False,
            "mandate_number": mandate_number or False,
            "user_id": user.id,
            "requested_at": fields.Datetime.now(),
        })
        vals = {}
        if target in chorus_statuses.PROCESSING_TARGETS:
            vals["decision_motif"] = motif or False
        if target == chorus_statuses.SERVICE_FAIT:
            vals["service_done_date"] = service_date
        if not invoice.account_id:
            vals["account_id"] = account.id
        if vals:
            invoice.write(vals)
        if not send:
            return push.with_env(self.env)
        push._commit()
        earlier = invoice.push_ids.filtered(
            lambda other: other.state == "pending" and other.id < push.id
        ).sorted("id")
        for other in earlier | push:
            other.with_context(chorus_pro_user_present=manual)._send(manual=manual)
        return push.with_env(self.env)

    def _chorus_after_push(self, push):
        """Keep the worklist line in step with the push: an accepted decision is done; a refused
        or pending one keeps its motif for the next attempt."""
        self.ensure_one()
        vals = {}
        if push.state in ("sent", "already") and self.decision_status == push.target_status:
            vals.update(decision_status=False, decision_motif_id=False, decision_motif=False)
        if push.state in ("sent", "already") and push.service_date:
            vals["service_done_date"] = push.service_date
            vals["service_date_certified"] = push.service_date
        if vals:
            self.sudo().write(vals)

    def _chorus_notify_decider(self, push):
        """The decider was not there when Chorus answered (retry job): a to-do tells them."""
        self.ensure_one()
        if not push.user_id or push.user_id.share:
            return
        self.sudo().activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Chorus Pro refused your decision %(status)s", status=push._target_label()),
            note=push.answer_message,
            user_id=push.user_id.id,
        )

    # ------------------------------------------------------------------ worklist actions
    def _chorus_confirm_decisions(self):
        """Push the draft decision of each invoice; returns (invoice, push or None, message)
        per invoice. One invoice's problem never stops the others."""
        outcomes = []
        for invoice in self:
            if not invoice.decision_status:
                outcomes.append((invoice, None, _("No decision chosen.")))
                continue
            known = set(invoice.sudo().push_ids.ids)
            try:
                push = invoice._chorus_push_status(
                    invoice.decision_status,
                    motif=invoice.decision_motif or "",
                    service_date=invoice.service_done_date,
                )
            except UserError as error:
                outcomes.append((invoice, None, error.args[0]))
                continue
            message = push.sudo().answer_message or ""
            if push.id in known and push.state != "pending":
                message = _("This decision had already been sent: %(outcome)s", outcome=message)
            outcomes.append((invoice, push, message))
        return outcomes

    def action_confirm_decision(self):
        """Row button: confirm this invoice's decision now."""
        check_action_access(self, "write")
        if not self.env.user.has_group(PROCESSOR_GROUP):
            raise AccessError(_("Only Chorus Pro processors can send decisions to Chorus Pro."))
        if len(self) == 1:
            invoice = self
            if not invoice.decision_status:
                raise UserError(_("Choose a decision first."))
            reasons = invoice._chorus_push_blockers(
                invoice.decision_status,
                motif=invoice.decision_motif or "",
                service_date=invoice.service_done_date or paris_today(),
            ) if not invoice._chorus_existing_push(invoice.decision_status) else []
            if reasons:
                raise UserError("\n".join(reasons))
        return self._chorus_outcome_notification(self._chorus_confirm_decisions())

    def action_confirm_selected(self):
        """List header button: review the selected decisions (consequences), then confirm."""
        check_action_access(self, "write")
        if not self.env.user.has_group(PROCESSOR_GROUP):
            raise AccessError(_("Only Chorus Pro processors can send decisions to Chorus Pro."))
        with_decision = self.filtered("decision_status")
        if not with_decision:
            raise UserError(_("None of the selected invoices has a decision to confirm."))
        wizard = self.env["chorus.pro.processing.confirm"].create({
            "invoice_ids": [(6, 0, with_decision.ids)],
        })
        return wizard._get_records_action(name=_("Confirm the decisions"), target="new")

    @api.model
    def _chorus_outcome_notification(self, outcomes):
        """One notification summing up what Chorus Pro answered."""
        sent = [o for o in outcomes if o[1] and o[1].state in ("sent", "already")]
        pending = [o for o in outcomes if o[1] and o[1].state == "pending"]
        problems = [o for o in outcomes if not o[1] or o[1].state in ("refused", "failed")]
        if len(outcomes) == 1:
            invoice, push, message = outcomes[0]
            title = invoice.display_name
            body = message
        else:
            title = _("Decisions sent to Chorus Pro")
            parts = [_("%(count)s accepted by Chorus Pro.", count=len(sent))]
            if pending:
                parts.append(_("%(count)s waiting to be sent (Chorus Pro unreachable); they "
                               "are sent automatically.", count=len(pending)))
            if problems:
                parts.append(_("%(count)s not done:", count=len(problems)))
                parts.extend("• %s: %s" % (inv.display_name, msg) for inv, _push, msg in problems)
            body = "\n".join(parts)
        kind = "danger" if problems else ("warning" if pending else "success")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": body,
                "type": kind,
                "sticky": kind != "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_send_pending(self):
        """"Send now" on a line whose decision is waiting to be sent."""
        check_action_access(self, "write")
        pending = self.sudo().push_ids.filtered(lambda push: push.state == "pending")
        if not pending:
            raise UserError(_("No decision is waiting to be sent for this invoice."))
        pending.sorted("id").with_env(self.env).action_retry()
        outcomes = [(push.invoice_id, push, push.answer_message or "") for push in pending]
        return self._chorus_outcome_notification(outcomes)

    def action_open_pushes(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.env["chorus.pro.status.push"]._get_records_action(
            name=_("Decisions of %(invoice)s", invoice=self.display_name),
            views=[(False, "list"), (False, "form")],
            domain=[("invoice_id", "=", self.id)], context={"create": False},
        )

    def action_preview_files(self):
        """Eye icon: the invoice PDF first, then the complementary attachments, in Odoo's
        file viewer."""
        check_action_access(self, "read")
        self.ensure_one()
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", self._name), ("res_id", "=", self.id)]
        ).sorted(lambda att: (
            not (att == self.main_attachment_pdf_id or att.chorus_pro_is_main), att.id
        ))
        if not attachments:
            raise UserError(_(
                "No file of this invoice has been retrieved from Chorus Pro yet (see the "
                "retrieval runs)."
            ))
        return {
            "type": "ir.actions.client",
            "tag": "chorus_pro_preview_files",
            "params": {
                "title": self.display_name,
                "files": [
                    {
                        "id": att.id,
                        "name": att.name,
                        "mimetype": att.mimetype,
                        "checksum": att.checksum,
                    }
                    for att in attachments
                ],
            },
        }

    # ------------------------------------------------------------------ duplicates
    def _chorus_arrival_key(self):
        self.ensure_one()
        when = self.mise_a_disposition_at or self.status_datetime or self.create_date
        return (when or fields.Datetime.now(), self.chorus_id)

    def _chorus_twin_searches(self):
        """The searches for an invoice's twin, in the order they are tried: [(domain, reason
        code of DUPLICATE_REASONS)]:
        same supplier and number, or same supplier, amount and date, under another Chorus id
        (whatever the twin's status, mandated included)."""
        self.ensure_one()
        if not (self.supplier_identifier or self.supplier_name):
            return []
        base = [
            ("company_id", "=", self.company_id.id),
            ("id", "!=", self.id),
            ("chorus_id", "!=", self.chorus_id),
            ("invoice_type", "=", self.invoice_type),
            # A recycled invoice comes back under the same number by design.
            ("chorus_status_code", "!=", chorus_statuses.A_RECYCLER),
        ]
        if self.supplier_identifier:
            base.append(("supplier_identifier", "=", self.supplier_identifier))
        else:
            # =ilike compares the names whole: their % and _ are letters, not wildcards.
            base.append(("supplier_name", "=ilike", escape_psql(self.supplier_name or "")))
        searches = []
        if self.number:
            searches.append((base + [("number", "=ilike", escape_psql(self.number.strip()))],
                             "number"))
        if self.amount_total and self.invoice_date:
            searches.append((base + [
                ("amount_total", "=", self.amount_total),
                ("invoice_date", "=", self.invoice_date),
                # A rejected invoice is normally re-issued with the same amount.
                ("chorus_status_code", "!=", chorus_statuses.REJETEE),
            ], "amount_date"))
        return searches

    def _chorus_find_twins(self):
        """``{invoice id: (twin, reason)}`` of these invoices (see :meth:`_chorus_find_twin`),
        their searches made in one query (the same domains, access rules included)."""
        searches = {invoice.id: invoice._chorus_twin_searches() for invoice in self}
        parts = [
            self._search(domain).subselect(SQL("%s", invoice_id), SQL("%s", rank),
                                           SQL.identifier(self._table, "id"))
            for invoice_id, tries in searches.items()
            for rank, (domain, _reason) in enumerate(tries)
        ]
        found = {}  # (invoice id, rank): twin ids
        if parts:
            for invoice_id, rank, twin_id in self.env.execute_query(
                    SQL(" UNION ALL ").join(parts)):
                found.setdefault((invoice_id, rank), []).append(twin_id)
        twins = {}
        for invoice in self:
            mine = invoice._chorus_arrival_key()
            twins[invoice.id] = (self.browse(), "")
            for rank, (_domain, reason) in enumerate(searches[invoice.id]):
                candidates = self.browse(found.get((invoice.id, rank), []))
                earlier = candidates.filtered(lambda other: other._chorus_arrival_key() < mine)
                if earlier:
                    twins[invoice.id] = (
                        earlier.sorted(lambda other: other._chorus_arrival_key())[0], reason)
                    break
        return twins

    def _chorus_find_twin(self):
        """(twin, reason) for an invoice that looks like one already received: same supplier and
        number, or same supplier, amount and date, under another Chorus id (whatever the twin's
        status, mandated included). The earlier of the two is the original."""
        self.ensure_one()
        return self._chorus_find_twins()[self.id]

    def _chorus_detect_duplicates(self):
        """Flag the invoices that look like one already received, link them to their twin and
        propose Rejetée with the motif "doublon" (the user confirms it or clears the flag).
        Their twins are searched together first (what is written here changes none of the
        fields searched)."""
        twins = self.filtered(lambda inv: not inv.is_duplicate_suspect)._chorus_find_twins()
        for invoice in self.sorted(lambda inv: inv._chorus_arrival_key()):
            if invoice.is_duplicate_suspect:
                continue
            twin, reason = twins[invoice.id]
            if not twin:
                continue
            vals = {
                "duplicate_of_id": twin.id,
                "is_duplicate_suspect": True,
                "duplicate_reason": reason,
            }
            awaiting = (invoice.chorus_status_code in chorus_statuses.AWAITING_DECISION
                        and not invoice.imported_as_history)
            if awaiting and not invoice.decision_status:
                motif = self.env["chorus.pro.motif"].sudo()._for_code(
                    DUPLICATE_MOTIF_CODE, invoice.company_id
                )
                text = _("Duplicate of invoice %(number)s (Chorus Pro %(chorus_id)s).",
                         number=twin.number or "?", chorus_id=twin.chorus_id)
                if motif:
                    text = "%s %s" % (motif.text, text)
                vals.update(
                    decision_status=chorus_statuses.REJETEE,
                    decision_motif_id=motif.id or False,
                    decision_motif=chorus_text.proposed_motif(text),
                )
            invoice.sudo().write(vals)
            twin_link = Markup('<a href="#" data-oe-model="%s" data-oe-id="%s">%s</a>') % (
                twin._name, twin.id, twin.display_name
            )
            invoice.sudo().message_post(
                body=Markup("%s %s (%s).") % (
                    _("Suspected duplicate of"), twin_link,
                    selection_label(invoice, "duplicate_reason", reason),
                ) + (Markup(" ") + _("Rejetée with the motif \"doublon\" is proposed.")
                     if awaiting else ""),
                subtype_xmlid="mail.mt_note",
            )

    def action_not_duplicate(self):
        """"Not a duplicate": clear the flag (and the proposed rejection)."""
        check_action_access(self, "write")
        if not self.env.user.has_group(PROCESSOR_GROUP):
            raise AccessError(_("Only Chorus Pro processors can clear a duplicate suspicion."))
        for invoice in self.filtered("is_duplicate_suspect"):
            vals = {"is_duplicate_suspect": False}
            motif = invoice.decision_motif_id
            if (invoice.decision_status == chorus_statuses.REJETEE and motif
                    and motif.code == DUPLICATE_MOTIF_CODE):
                vals.update(decision_status=False, decision_motif_id=False, decision_motif=False)
            invoice.sudo().write(vals)
            invoice.message_post(
                body=_("%(user)s checked it: not a duplicate of %(twin)s.",
                       user=self.env.user.name, twin=invoice.duplicate_of_id.display_name),
                subtype_xmlid="mail.mt_note",
            )
        return True

    def action_open_duplicate(self):
        check_action_access(self, "read")
        self.ensure_one()
        if not self.duplicate_of_id:
            return False
        return self.duplicate_of_id._get_records_action()

    @api.model
    def _chorus_worklist_domain(self):
        """Invoices on the processing screen by default: waiting for our decision, or with a
        decision waiting to be sent."""
        return expression.OR([
            [("chorus_status", "in", sorted(chorus_statuses.AWAITING_DECISION)),
             ("imported_as_history", "=", False)],
            [("push_state", "=", "pending")],
        ])
