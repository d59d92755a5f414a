# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Mandates are vendor bills (and vendor credit notes for the Chorus credit notes that reduce
them) carrying the Chorus invoice, the budget, the exercice, the gap-free mandate number and the
legal payment delay.

At validation (posting) a mandate is checked once more (amounts against Chorus per the budget's
VAT regime, due date = DGP due date, no payment terms), numbered in its budget's series for its
exercice, put in the open bordereau of its budget, and Chorus is told MANDATEE with the number
through the pending-push path: recorded before it is sent, committed, sent, retried by a cron,
never sent twice.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.chorus_pro_liaison.models.chorus_errors import (
    ChorusGuardError,
    chorus_error_message,
)
from odoo.addons.chorus_pro_liaison.models.chorus_pro_account import paris_today

from chorus_pro import errors as chorus_errors
from chorus_pro import statuses as chorus_statuses

_logger = logging.getLogger(__name__)

PUSH_STATES = [
    ("pending", "To send"),
    ("sent", "Sent"),
    ("already", "Already in Chorus"),
    ("refused", "Refused by Chorus"),
    ("failed", "Failed, will be retried"),
]
PUSH_DONE = ("sent", "already")


class AccountMove(models.Model):
    _inherit = "account.move"

    chorus_pro_invoice_id = fields.Many2one(
        "chorus.pro.invoice", string="Chorus Pro invoice", readonly=True, copy=False, index=True,
        ondelete="restrict",
    )
    chorus_pro_chorus_id = fields.Integer(
        related="chorus_pro_invoice_id.chorus_id", string="Chorus ID"
    )
    chorus_pro_status = fields.Selection(
        related="chorus_pro_invoice_id.chorus_status", string="Chorus Pro status"
    )
    chorus_pro_mandate_number = fields.Integer(
        string="Mandate number", readonly=True, copy=False, index=True,
        help="Number of the mandate in its budget's series for its exercice (given at "
        "validation, without gaps); sent to Chorus Pro and to the comptable.",
    )
    chorus_pro_mandate_date = fields.Date(
        string="Mandate date", readonly=True, copy=False,
        help="Date of ordonnancement: when the mandate was validated.",
    )
    chorus_pro_budget_id = fields.Many2one(
        "chorus.pro.budget", string="Budget", readonly=True, copy=False, index=True,
        check_company=True,
    )
    chorus_pro_vat_recovering = fields.Boolean(related="chorus_pro_budget_id.vat_recovering")
    chorus_pro_article_id = fields.Many2one(
        "chorus.pro.budget.article", string="Budget article", readonly=True, copy=False,
        check_company=True,
    )
    chorus_pro_exercice = fields.Integer(string="Exercice", readonly=True, copy=False, index=True)
    chorus_pro_bordereau_id = fields.Many2one(
        "chorus.pro.bordereau", string="Bordereau", readonly=True, copy=False, index=True,
        ondelete="restrict",
    )
    chorus_pro_mandated_by_id = fields.Many2one("res.users", string="Mandated by", readonly=True,
                                                copy=False)
    chorus_pro_dgp_start = fields.Date(string="Payment delay start", readonly=True, copy=False)
    chorus_pro_dgp_due_date = fields.Date(string="Legal due date", readonly=True, copy=False)
    chorus_pro_dgp_ordonnateur_target = fields.Date(
        string="Mandate by", readonly=True, copy=False
    )
    chorus_pro_amount_untaxed = fields.Monetary(
        related="chorus_pro_invoice_id.amount_untaxed", string="Chorus HT"
    )
    chorus_pro_amount_tax = fields.Monetary(
        related="chorus_pro_invoice_id.amount_tax", string="Chorus VAT"
    )
    chorus_pro_amount_total = fields.Monetary(
        related="chorus_pro_invoice_id.amount_total", string="Chorus TTC"
    )
    chorus_pro_paid_date = fields.Date(related="chorus_pro_invoice_id.dgp_paid_date")
    chorus_pro_late_days = fields.Integer(related="chorus_pro_invoice_id.dgp_late_days")
    chorus_pro_interest_rate = fields.Float(related="chorus_pro_invoice_id.dgp_interest_rate")
    chorus_pro_late_interest = fields.Monetary(related="chorus_pro_invoice_id.dgp_late_interest")
    chorus_pro_late_indemnity = fields.Monetary(
        related="chorus_pro_invoice_id.dgp_late_indemnity"
    )
    chorus_pro_interest_due_by = fields.Date(related="chorus_pro_invoice_id.dgp_interest_due_by")
    chorus_pro_push_state = fields.Selection(
        PUSH_STATES, string="Mandatée in Chorus", readonly=True, copy=False, index=True,
    )
    chorus_pro_push_message = fields.Text(string="Chorus Pro answer", readonly=True, copy=False)
    chorus_pro_pushed_at = fields.Datetime(string="Sent to Chorus Pro at", readonly=True,
                                           copy=False)
    chorus_pro_push_attempts = fields.Integer(readonly=True, copy=False)
    chorus_pro_credit_note_outcome = fields.Selection(
        related="chorus_pro_invoice_id.credit_note_outcome"
    )

    def init(self):
        super().init()
        # One live mandate per Chorus invoice, whatever happens (double click, retry, two
        # workers): the database refuses a second one.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS account_move_chorus_pro_one_mandate
                   ON account_move (chorus_pro_invoice_id)
                WHERE chorus_pro_invoice_id IS NOT NULL AND state != 'cancel'"""
        )
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS account_move_chorus_pro_mandate_number
                   ON account_move (chorus_pro_budget_id, chorus_pro_exercice,
                                    chorus_pro_mandate_number)
                WHERE chorus_pro_mandate_number IS NOT NULL AND chorus_pro_mandate_number > 0"""
        )

    def _chorus_pro_store(self, vals):
        """Store the mandate's own bookkeeping (number, bordereau, Chorus push state).

        These fields concern neither the lines, the balance nor the tracking of the bill: they
        are written with the plain ORM write (cache, dependencies and access rules kept),
        without the vendor-bill write machinery (dynamic lines, balance checks, "manually
        modified" flag) that costs tens of milliseconds per call on a validated bill.
        """
        assert all(name.startswith("chorus_pro_") for name in vals), vals
        return models.BaseModel.write(self, vals)

    # ------------------------------------------------------------------ the legal due date
    def _compute_invoice_payment_term_id(self):
        # A supplier's default payment terms must never replace the legal payment delay.
        mandates = self.filtered("chorus_pro_invoice_id")
        for move in mandates:
            move.invoice_payment_term_id = False
        return super(AccountMove, self - mandates)._compute_invoice_payment_term_id()

    def _is_chorus_pro_mandate(self):
        self.ensure_one()
        return bool(self.chorus_pro_invoice_id) and self.move_type in ("in_invoice", "in_refund")

    @api.depends("chorus_pro_mandate_number", "chorus_pro_exercice")
    def _compute_display_name(self):
        super()._compute_display_name()
        for move in self:
            if move.chorus_pro_mandate_number and move.name and move.name != "/":
                move.display_name = _(
                    "Mandate %(number)s/%(exercice)s (%(name)s)",
                    number=move.chorus_pro_mandate_number,
                    exercice=move.chorus_pro_exercice, name=move.name,
                ) if move.move_type == "in_invoice" else _(
                    "Reduction %(number)s/%(exercice)s (%(name)s)",
                    number=move.chorus_pro_mandate_number,
                    exercice=move.chorus_pro_exercice, name=move.name,
                )

    # ------------------------------------------------------------------ validation
    def _chorus_pro_check_before_post(self):
        """Last checks of a mandate before it is validated (clear reasons, nothing posted)."""
        problems = []
        for move in self:
            invoice = move.chorus_pro_invoice_id
            label = move.ref or invoice.display_name
            if not move.chorus_pro_budget_id or not move.chorus_pro_exercice:
                problems.append(_("%(label)s: choose its budget and exercice.", label=label))
                continue
            if move.move_type == "in_invoice":
                reasons = [] if self.env.context.get("chorus_pro_checked") else (
                    invoice._mandate_blocking_reasons(acting_user=self.env.user, ignore_move=move)
                )
                if reasons:
                    problems.append(_("%(label)s: %(reasons)s", label=label,
                                      reasons=" ".join(reasons)))
                    continue
                if move.invoice_payment_term_id:
                    problems.append(_(
                        "%(label)s: a mandate is due at the legal payment delay; remove its "
                        "payment terms.", label=label))
                if invoice.dgp_due_date and move.invoice_date_due != invoice.dgp_due_date:
                    problems.append(_(
                        "%(label)s: the due date must be the legal due date %(date)s.",
                        label=label, date=invoice.dgp_due_date.strftime("%d/%m/%Y")))
                problem = invoice._mandate_check_totals(move)
            else:
                problem = move.reversed_entry_id.chorus_pro_invoice_id._mandate_check_totals(
                    move, credit_note=invoice
                ) if move.reversed_entry_id else _("%(label)s: the mandate it reduces is missing.",
                                                  label=label)
            if problem:
                problems.append(_("%(label)s: %(problem)s", label=label, problem=problem))
        if problems:
            raise UserError("\n".join(problems))

    def _post(self, soft=True):
        mandates = self.filtered(lambda m: m._is_chorus_pro_mandate())
        if mandates:
            mandates._chorus_pro_check_before_post()
        posted = super()._post(soft=soft)
        to_number = (posted & mandates).filtered(lambda m: not m.chorus_pro_mandate_number)
        if to_number:
            to_number._chorus_pro_number()
        (posted & mandates)._chorus_pro_put_in_bordereau()
        (posted & mandates).filtered(
            lambda m: m.move_type == "in_invoice" and m.chorus_pro_push_state not in PUSH_DONE
        )._chorus_pro_store({"chorus_pro_push_state": "pending"})
        return posted

    def _chorus_pro_number(self):
        """Numbers in order of creation, each in its budget's series for its exercice."""
        Numbering = self.env["chorus.pro.numbering"].sudo()
        today = paris_today()
        for move in self.sorted("id"):
            number = Numbering._next_number(move.chorus_pro_budget_id, move.chorus_pro_exercice,
                                            "mandate")
            move._chorus_pro_store({"chorus_pro_mandate_number": number,
                                    "chorus_pro_mandate_date": today})

    def _chorus_pro_put_in_bordereau(self):
        Bordereau = self.env["chorus.pro.bordereau"].sudo()
        groups = self.filtered(lambda m: not m.chorus_pro_bordereau_id).grouped(
            lambda m: (m.company_id, m.chorus_pro_budget_id, m.chorus_pro_exercice,
                       "cancellation" if m.move_type == "in_refund" else "mandate")
        )
        for (company, budget, exercice, kind), moves in groups.items():
            bordereau = Bordereau._open_for(company, budget, exercice, kind)
            moves._chorus_pro_store({"chorus_pro_bordereau_id": bordereau.id})

    def action_post(self):
        result = super().action_post()
        if not self.env.context.get("chorus_pro_no_push"):
            self.filtered(
                lambda m: m.state == "posted" and m.chorus_pro_push_state in ("pending", "failed")
            )._chorus_pro_push_mandated()
        return result

    def button_draft(self):
        for move in self.filtered("chorus_pro_invoice_id"):
            if move.chorus_pro_bordereau_id.state == "validated":
                raise UserError(_(
                    "Mandate %(number)s is on validated bordereau %(bordereau)s: it cannot be "
                    "changed any more. Reduce or cancel it with a credit note.",
                    number=move.chorus_pro_mandate_number,
                    bordereau=move.chorus_pro_bordereau_id.display_name,
                ))
            if move.chorus_pro_push_state in PUSH_DONE:
                raise UserError(_(
                    "Chorus Pro already knows mandate %(number)s: it cannot be reset to draft. "
                    "Reduce or cancel it with a credit note.",
                    number=move.chorus_pro_mandate_number,
                ))
        return super().button_draft()

    def button_cancel(self):
        numbered = self.filtered("chorus_pro_mandate_number")
        if numbered:
            raise UserError(_(
                "A numbered mandate is never cancelled nor deleted (its number would leave a "
                "gap): reduce or cancel it with a credit note."
            ))
        result = super().button_cancel()
        self.filtered("chorus_pro_invoice_id")._chorus_pro_store({"chorus_pro_bordereau_id": False})
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_numbered_mandate(self):
        if self.filtered("chorus_pro_mandate_number"):
            raise UserError(_(
                "A numbered mandate cannot be deleted: reduce or cancel it with a credit note."
            ))

    # ------------------------------------------------------------------ MANDATEE to Chorus
    def _chorus_pro_push_mandated(self, client=None):
        """Tell Chorus the invoice is MANDATEE with the mandate number; at most once each.

        Through step 2's pending-push path when it is installed (``_chorus_push_status``:
        recorded, committed, sent through the guard, retried, idempotent); otherwise through a
        minimal equivalent: the move's push state is recorded and committed before the call,
        the answer is stored, temporary failures stay "failed" for the retry cron.
        """
        for move in self:
            if (
                move.move_type != "in_invoice"
                or move.state != "posted"
                or not move.chorus_pro_mandate_number
                or move.chorus_pro_push_state in PUSH_DONE
                or move.chorus_pro_push_state == "refused"
            ):
                continue
            invoice = move.chorus_pro_invoice_id
            user = move.chorus_pro_mandated_by_id or self.env.user
            if hasattr(invoice, "_chorus_push_status"):
                push = invoice._chorus_push_status(
                    chorus_statuses.MANDATEE,
                    mandate_number=str(move.chorus_pro_mandate_number),
                    user=user,
                )
                move._chorus_pro_record_push(
                    getattr(push, "state", "pending") or "pending",
                    getattr(push, "message", "") or getattr(push, "error_message", "") or "",
                )
            else:
                move._chorus_pro_push_fallback(client)

    def _chorus_pro_record_push(self, state, message=""):
        self.ensure_one()
        state = state if state in dict(PUSH_STATES) else "pending"
        vals = {"chorus_pro_push_state": state, "chorus_pro_push_message": message or False}
        if state in PUSH_DONE:
            vals["chorus_pro_pushed_at"] = fields.Datetime.now()
        self.sudo()._chorus_pro_store(vals)

    def _chorus_pro_can_commit(self):
        return self.env["chorus.pro.run"]._can_commit()

    def _chorus_pro_push_fallback(self, client=None):
        self.ensure_one()
        move = self.sudo()
        invoice = move.chorus_pro_invoice_id
        account = invoice.account_id or self.env["chorus.pro.account"].sudo()._for_company(
            move.company_id)
        number = str(move.chorus_pro_mandate_number)
        move._chorus_pro_store({"chorus_pro_push_state": "pending",
                                "chorus_pro_push_attempts": move.chorus_pro_push_attempts + 1})
        if self._chorus_pro_can_commit():
            # Recorded before it is sent: a crash now leaves it pending for the retry cron.
            self.env.cr.commit()  # pylint: disable=invalid-commit
        try:
            if client is not None:
                account._chorus_guard("mandate", manual=True)
                result = client.change_status(invoice.chorus_id, chorus_statuses.MANDATEE,
                                              mandate_number=number)
            else:
                with account._chorus_client("mandate", manual=True) as own_client:
                    result = own_client.change_status(invoice.chorus_id, chorus_statuses.MANDATEE,
                                                      mandate_number=number)
        except ChorusGuardError as error:
            move._chorus_pro_record_push("failed", error.args[0])
            return
        except chorus_errors.ChorusTransitionRefused as error:
            # An earlier attempt may have reached Chorus although its answer was lost.
            if move._chorus_pro_already_mandated(client):
                move._chorus_pro_record_push("already", _("Chorus Pro already shows it Mandatée."))
                move._chorus_pro_mark_invoice_mandated()
            else:
                move._chorus_pro_record_push("refused", chorus_error_message(error, self.env))
                move.message_post(body=_("Chorus Pro refused the status Mandatée: %(reason)s",
                                         reason=chorus_error_message(error, self.env)))
            return
        except chorus_errors.ChorusProError as error:
            state = "failed" if error.temporary else "refused"
            move._chorus_pro_record_push(state, chorus_error_message(error, self.env))
            return
        move._chorus_pro_record_push("sent", result.label or "")
        move._chorus_pro_mark_invoice_mandated()
        move._message_log(body=_(
            "Chorus Pro: invoice set to Mandatée with mandate number %(number)s.", number=number))

    def _chorus_pro_already_mandated(self, client=None):
        invoice = self.chorus_pro_invoice_id
        try:
            if client is not None:
                history = client.get_history(invoice.chorus_id)
            else:
                with invoice.account_id._chorus_client("mandate", manual=True) as own_client:
                    history = own_client.get_history(invoice.chorus_id)
        except (chorus_errors.ChorusProError, ChorusGuardError):
            return False
        return any(event.code == chorus_statuses.MANDATEE for event in history.events)

    def _chorus_pro_mark_invoice_mandated(self):
        invoice = self.chorus_pro_invoice_id.sudo()
        if invoice.chorus_status_code in (
            chorus_statuses.SERVICE_FAIT, chorus_statuses.MISE_A_DISPOSITION,
            chorus_statuses.COMPLETEE,
        ):
            previous = invoice.chorus_status_code
            invoice.with_context(tracking_disable=True).write({
                "chorus_status": chorus_statuses.MANDATEE,
                "chorus_status_code": chorus_statuses.MANDATEE,
                "mandate_number_chorus": str(self.chorus_pro_mandate_number),
            })
            invoice._message_log(body=_(
                "Chorus Pro status changed: %(old)s → %(new)s (mandate n° %(number)s).",
                old=invoice._status_label(previous), new=invoice._status_label(chorus_statuses.MANDATEE),
                number=self.chorus_pro_mandate_number,
            ))

    @api.model
    def _cron_chorus_pro_retry_mandate_pushes(self):
        """Mandates whose MANDATEE could not be sent yet (Chorus down, guard) are tried again."""
        moves = self.sudo().search([
            ("chorus_pro_invoice_id", "!=", False),
            ("move_type", "=", "in_invoice"),
            ("state", "=", "posted"),
            ("chorus_pro_push_state", "in", ("pending", "failed")),
        ], order="id", limit=500)
        for company, company_moves in moves.grouped("company_id").items():
            for move in company_moves.with_company(company):
                move._chorus_pro_push_mandated()
                if self._chorus_pro_can_commit():
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        return True

    # ------------------------------------------------------------------ actions
    def action_open_chorus_pro_invoice(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Chorus Pro invoice"),
            "res_model": "chorus.pro.invoice",
            "res_id": self.chorus_pro_invoice_id.id,
            "view_mode": "form",
        }

    def action_chorus_pro_push_again(self):
        """Button on a mandate whose MANDATEE is still pending or failed."""
        self._chorus_pro_push_mandated()
        return True
