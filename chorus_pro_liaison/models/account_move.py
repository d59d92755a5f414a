# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Mandates are vendor bills (and vendor credit notes for the Chorus credit notes that reduce
them) carrying the Chorus invoice, the budget, the exercice, the gap-free mandate number and the
legal payment delay.

At validation (posting) a mandate is checked once more (amounts against Chorus per the budget's
VAT regime, due date = DGP due date, no payment terms), numbered in its budget's series for its
exercice, put in the open bordereau of its budget, and its MANDATEE with the number is recorded
as a pending ``chorus.pro.status.push`` (step 2) in the same transaction: a validated mandate
always has its push. Once committed, the push is sent through step 2's path
(``_chorus_push_status``); when Chorus cannot be reached it stays pending and step 2's retry cron
sends it; a double click or a retry finds the same push and never sends twice.
"""

import logging
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.sql import SQL, column_exists, table_exists

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.languages import field_labels
from odoo.addons.chorus_pro_liaison.services.mandating import (
    bookkeeping_allowed,
    checked_mandate_ids,
    mandate_runner,
)

from chorus_pro import statuses as chorus_statuses
from chorus_pro.timeutil import paris_today

_logger = logging.getLogger(__name__)

# What the accountant pays on a posted mandate: frozen (see _chorus_pro_check_frozen).
FROZEN_MANDATE_FIELDS = {
    "partner_id", "commercial_partner_id", "partner_bank_id", "invoice_date", "invoice_date_due",
    "date", "invoice_payment_term_id", "currency_id", "journal_id", "line_ids",
    "invoice_line_ids", "amount_untaxed", "amount_tax", "amount_total", "fiscal_position_id",
    "move_type",
}
FROZEN_MANDATE_LINE_FIELDS = {
    "move_id", "partner_id", "account_id", "price_unit", "quantity", "discount", "tax_ids",
    "debit", "credit", "balance", "amount_currency", "currency_id", "price_subtotal",
    "price_total", "date_maturity", "product_id", "display_type", "tax_repartition_line_id",
}


def changes_value(record, name, value):
    """Whether writing ``value`` to ``record[name]`` would change it (relations: any command on
    an x2many changes it; many2one: another id; floats: beyond rounding noise)."""
    field = record._fields[name]
    current = record[name]
    if field.type in ("one2many", "many2many"):
        return bool(value)
    if field.type == "many2one":
        return current.id != (value.id if isinstance(value, models.BaseModel) else value or False)
    if field.type in ("float", "monetary"):
        return abs((current or 0.0) - float(value or 0.0)) > 1e-6
    if field.type == "date":
        return current != fields.Date.to_date(value)
    return (current or False) != (value or False)

MANDATING_GROUP = "chorus_pro_liaison.group_chorus_pro_mandating"
# The stored mandate amounts and the signed amounts of Odoo they are the opposite of on a
# mandate: filled in SQL when their columns are created (see _auto_init).
MANDATE_AMOUNT_FIELDS = {
    "chorus_pro_mandate_untaxed": "amount_untaxed_signed",
    "chorus_pro_mandate_total": "amount_total_signed",
}
# Push states after which Chorus knows (or may know) the mandate number.
PUSH_LIVE = ("pending", "sent", "already")
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
    # A mandate orders a payment: its amounts read positive (a reduction mandate's negative),
    # unlike Odoo's signed amounts of a vendor bill.
    chorus_pro_mandate_untaxed = fields.Monetary(
        string="Mandate amount excl. VAT", compute="_compute_chorus_pro_mandate_amounts",
        store=True, currency_field="company_currency_id",
    )
    chorus_pro_mandate_total = fields.Monetary(
        string="Mandate amount", compute="_compute_chorus_pro_mandate_amounts",
        store=True, currency_field="company_currency_id",
    )
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
    chorus_pro_push_id = fields.Many2one(
        "chorus.pro.status.push", string="Mandatée sent to Chorus Pro", readonly=True,
        copy=False, index="btree_not_null",
        help="The status Mandatée with this mandate's number, as sent to Chorus Pro (who, when, "
        "the exact exchange and Chorus Pro's answer).",
    )
    chorus_pro_push_state = fields.Selection(
        related="chorus_pro_push_id.state", string="Mandatée in Chorus Pro",
    )
    chorus_pro_push_message = fields.Text(
        related="chorus_pro_push_id.answer_message", string="Chorus Pro answer",
    )
    chorus_pro_pushed_at = fields.Datetime(
        related="chorus_pro_push_id.sent_at", string="Answered by Chorus Pro at",
    )
    chorus_pro_credit_note_outcome = fields.Selection(
        related="chorus_pro_invoice_id.credit_note_outcome"
    )

    @api.depends("amount_untaxed_signed", "amount_total_signed", "chorus_pro_invoice_id")
    def _compute_chorus_pro_mandate_amounts(self):
        for move in self:
            sign = -1 if move.chorus_pro_invoice_id else 0
            move.chorus_pro_mandate_untaxed = sign * move.amount_untaxed_signed
            move.chorus_pro_mandate_total = sign * move.amount_total_signed

    def _auto_init(self):
        # Odoo would compute the new stored mandate amounts of every existing move through the
        # ORM (slow, and memory-hungry on a database with many moves): the columns are created
        # and filled here instead (Odoo's way, as website_sale or l10n_latam_invoice_document
        # do), so that Odoo finds them and computes nothing.
        self._chorus_pro_create_mandate_amount_columns()
        return super()._auto_init()

    @api.model
    def _chorus_pro_create_mandate_amount_columns(self):
        """Create the missing mandate amount columns with the values the compute gives; ``True``
        if created. Most moves are not mandates (none on a first install): the columns are
        added with 0 for every row in one statement (a constant default, which PostgreSQL
        records without rewriting the table), the default dropped as Odoo makes its columns,
        and only the mandates, if the Chorus invoice column exists yet, are then updated."""
        cr = self.env.cr
        if not table_exists(cr, self._table):
            return False  # Odoo creates the table with every column, and nothing to compute
        missing = [name for name in MANDATE_AMOUNT_FIELDS
                   if not column_exists(cr, self._table, name)]
        if not missing:
            return False
        table = SQL.identifier(self._table)
        cr.execute(SQL("ALTER TABLE %s %s", table, SQL(", ").join(
            SQL("ADD COLUMN %s %s DEFAULT 0", SQL.identifier(name),
                SQL(self._fields[name].column_type[1]))
            for name in missing
        )))
        cr.execute(SQL("ALTER TABLE %s %s", table, SQL(", ").join(
            SQL("ALTER COLUMN %s DROP DEFAULT", SQL.identifier(name)) for name in missing
        )))
        if column_exists(cr, self._table, "chorus_pro_invoice_id"):
            self._chorus_pro_fill_mandate_amounts(mandates_only=True)
        return True

    @api.model
    def _chorus_pro_fill_mandate_amounts(self, mandates_only=False):
        """The moves' mandate amounts in one UPDATE, as ``_compute_chorus_pro_mandate_amounts``
        gives them: the opposite of Odoo's signed amounts on a mandate, 0 on any other move
        (left alone with ``mandates_only``)."""
        self.env.cr.execute(SQL(
            "UPDATE %s SET %s %s",
            SQL.identifier(self._table),
            SQL(", ").join(
                SQL("%s = CASE WHEN chorus_pro_invoice_id IS NULL THEN 0 ELSE -coalesce(%s, 0) END",
                    SQL.identifier(name), SQL.identifier(source))
                for name, source in MANDATE_AMOUNT_FIELDS.items()
            ),
            SQL("WHERE chorus_pro_invoice_id IS NOT NULL") if mandates_only else SQL(),
        ))

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

    # ------------------------------------------------------------------ protected bookkeeping
    @api.model
    def _chorus_pro_protected_fields(self):
        """The mandate's own stored Chorus fields: written by server code only."""
        return {
            name for name, field in self._fields.items()
            if name.startswith("chorus_pro_") and field.store and not field.related
        }

    def _chorus_pro_check_protected(self, vals_list):
        if self.env.su or bookkeeping_allowed():
            return
        protected = self._chorus_pro_protected_fields()
        touched = sorted({name for vals in vals_list for name in vals if name in protected})
        if touched:
            raise AccessError(_(
                "The Chorus Pro fields of a mandate (%(fields)s) are set by the mandating "
                "(\"Mandater\") only.", fields=field_labels(self, touched),
            ))

    def _chorus_pro_frozen_mandates(self):
        """The posted mandates among these moves: what the accountant pays is frozen."""
        return self.filtered(lambda move: move.chorus_pro_invoice_id and move.state == "posted")

    def _chorus_pro_check_frozen(self, vals):
        """A posted mandate (more so one on a validated bordereau) keeps its payee, bank account,
        dates, amounts and lines: a change goes through reset to draft (traced in its chatter)
        or a credit note. Writing the same value again is harmless."""
        if bookkeeping_allowed():
            return
        frozen = self._chorus_pro_frozen_mandates()
        if not frozen:
            return
        changed = sorted(name for name in set(vals) & FROZEN_MANDATE_FIELDS if any(
            changes_value(move, name, vals[name]) for move in frozen))
        if changed:
            raise UserError(_(
                "Mandate %(number)s is validated: %(fields)s can no longer be changed. Reset it "
                "to draft (when it is not on a validated bordereau nor known to Chorus Pro) or "
                "reduce or cancel it with a credit note.",
                number=", ".join(str(n) for n in frozen.mapped("chorus_pro_mandate_number") if n)
                or frozen[:1].display_name,
                fields=field_labels(self, changed),
            ))

    @api.model_create_multi
    def create(self, vals_list):
        self._chorus_pro_check_protected(vals_list)
        for vals in vals_list:
            if vals.get("chorus_pro_invoice_id") and vals.get("auto_post", "no") != "no":
                raise UserError(_("A mandate is validated by a person, never automatically."))
        return super().create(vals_list)

    def write(self, vals):
        self._chorus_pro_check_protected([vals])
        self._chorus_pro_check_frozen(vals)
        if vals.get("auto_post", "no") != "no" and self.filtered("chorus_pro_invoice_id"):
            raise UserError(_("A mandate is validated by a person, never automatically."))
        return super().write(vals)

    def _chorus_pro_store(self, vals):
        """Store the mandate's own bookkeeping (number, bordereau, Chorus push) through the
        ORM's ``write`` (every module's logic runs), as the mandating server code: the protected
        fields accept it (``mandate_runner``). These fields touch neither the lines nor the
        balance: Odoo's own context keys tell the vendor-bill write so (no dynamic-line sync, no
        balance check, no "manually modified" mark), which saves tens of milliseconds a bill."""
        assert all(name.startswith("chorus_pro_") for name in vals), vals
        with mandate_runner():
            return self.with_context(
                skip_invoice_sync=True, check_move_validity=False,
                skip_is_manually_modified=True,
            ).write(vals)

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
            if move.company_id != invoice.company_id:
                problems.append(_("%(label)s: it belongs to another company than its Chorus Pro "
                                  "invoice.", label=label))
                continue
            if not self.env.su and not self.env.user.has_group(MANDATING_GROUP):
                problems.append(_("%(label)s: only the mandating officers (Chorus Pro: "
                                  "Mandating) validate mandates.", label=label))
                continue
            if move.move_type == "in_invoice":
                reasons = [] if move.id in checked_mandate_ids() else (
                    invoice._mandate_blocking_reasons(acting_user=self.env.user, ignore_move=move)
                )
                reasons += move._chorus_pro_payee_reasons()
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

    def _chorus_pro_payee_reasons(self):
        """The mandate pays the supplier matched at step 3, on the bank account trusted there:
        a draft edited since (another partner, another IBAN) is refused."""
        self.ensure_one()
        invoice = self.chorus_pro_invoice_id
        reasons = []
        if self.partner_id != invoice._mandate_partner():
            reasons.append(_(
                "Its supplier (%(partner)s) is not the one matched on the Chorus Pro invoice "
                "(%(matched)s).", partner=self.partner_id.display_name or "?",
                matched=invoice._mandate_partner().display_name or "?",
            ))
        if self.partner_bank_id != invoice._mandate_partner_bank():
            reasons.append(_(
                "Its bank account is not the one trusted for the Chorus Pro invoice: the "
                "mandate pays only the account confirmed at supplier matching."
            ))
        return reasons

    def _post(self, soft=True):
        mandates = self.filtered(lambda m: m._is_chorus_pro_mandate())
        if mandates:
            mandates._chorus_pro_check_before_post()
        posted = super()._post(soft=soft)
        (posted & mandates)._chorus_pro_book()
        return posted

    def _chorus_pro_book(self):
        """What validating mandates records, mandate by mandate in order of creation, in one
        write each: its number in its budget's series for its exercice (who validates it is who
        mandates it), the open bordereau of its budget, exercice and kind, and its MANDATEE
        with the number recorded as a pending push through step 2's rules (not sent: a refusal
        stops the validation; it is sent once committed)."""
        Bordereau = self.env["chorus.pro.bordereau"].sudo()
        today = paris_today()
        bordereaux = {}
        moves = self.sorted("id")
        # The numbers of a budget's series are taken together (one lock, one update), given
        # in order of creation.
        series = defaultdict(list)
        for move in moves.filtered(lambda m: not m.chorus_pro_mandate_number):
            series[(move.chorus_pro_budget_id, move.chorus_pro_exercice)].append(move.id)
        numbers = {}
        for (budget, exercice), move_ids in series.items():
            numbers.update(zip(move_ids, budget.sudo()._next_numbers(
                exercice, "mandate", len(move_ids))))
        for move in moves:
            vals = {}
            number = move.chorus_pro_mandate_number
            if not number:
                number = numbers[move.id]
                vals.update(chorus_pro_mandate_number=number, chorus_pro_mandate_date=today,
                            chorus_pro_mandated_by_id=self.env.user.id)
            if not move.chorus_pro_bordereau_id:
                key = (move.company_id, move.chorus_pro_budget_id, move.chorus_pro_exercice,
                       "cancellation" if move.move_type == "in_refund" else "mandate")
                if key not in bordereaux:
                    bordereaux[key] = Bordereau._open_for(*key)
                vals["chorus_pro_bordereau_id"] = bordereaux[key].id
            if move.move_type == "in_invoice" and move.chorus_pro_push_state not in PUSH_LIVE:
                vals["chorus_pro_push_id"] = move.chorus_pro_invoice_id._chorus_push_status(
                    chorus_statuses.MANDATEE,
                    mandate_number=str(number),
                    user=self.env.user,
                    send=False,
                ).id
            if vals:
                move._chorus_pro_store(vals)

    def action_post(self):
        check_action_access(self.filtered("chorus_pro_invoice_id"), "write")
        result = super().action_post()
        if not self.env.context.get("chorus_pro_no_push"):
            pending = self.filtered(
                lambda m: m.state == "posted" and m.chorus_pro_push_state == "pending"
            )
            if pending:
                # The mandates and their pushes are durable before Chorus is called.
                pending.chorus_pro_push_id._commit()
                pending._chorus_pro_push_mandated()
        return result

    def button_draft(self):
        check_action_access(self.filtered("chorus_pro_invoice_id"), "write")
        for move in self.filtered("chorus_pro_invoice_id"):
            if move.chorus_pro_bordereau_id.state not in (False, "draft"):
                raise UserError(_(
                    "Mandate %(number)s is on validated bordereau %(bordereau)s: it cannot be "
                    "changed any more. Reduce or cancel it with a credit note.",
                    number=move.chorus_pro_mandate_number,
                    bordereau=move.chorus_pro_bordereau_id.display_name,
                ))
            if move.chorus_pro_push_state in PUSH_LIVE:
                raise UserError(_(
                    "Chorus Pro knows mandate %(number)s, or is about to be told (status "
                    "Mandatée): it cannot be reset to draft. Reduce or cancel it with a credit "
                    "note.",
                    number=move.chorus_pro_mandate_number,
                ))
        return super().button_draft()

    def button_cancel(self):
        check_action_access(self.filtered("chorus_pro_invoice_id"), "write")
        numbered = self.filtered("chorus_pro_mandate_number")
        if numbered:
            raise UserError(_(
                "A numbered mandate cannot be cancelled or deleted (its number would leave a "
                "gap in the series): reduce or cancel it with a credit note."
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
    def _chorus_pro_push_mandated(self, manual=True, client=None):
        """Send the MANDATEE of these validated mandates through step 2's path (at most once
        each: a push already sent or pending is found again, never duplicated). A push that
        was refused stays so (a person looks at it); one withdrawn or not sent is recorded
        again. ``client``: an open guarded client to send with (see
        ``chorus.pro.status.push._send``). Returns the pushes."""
        pushes = self.env["chorus.pro.status.push"]
        for move in self:
            if (
                move.move_type != "in_invoice"
                or move.state != "posted"
                or not move.chorus_pro_mandate_number
                or move.chorus_pro_push_state in PUSH_DONE + ("refused",)
            ):
                pushes |= move.chorus_pro_push_id
                continue
            push = move.chorus_pro_push_id
            if push.state == "pending":
                # Recorded with the validation: send it (step 2's send; it never sends twice).
                push.with_context(chorus_pro_user_present=manual)._send(manual=manual, client=client)
                pushes |= push
                continue
            # Withdrawn or not sent: step 2's path records it again (its rules checked anew).
            push = move.chorus_pro_invoice_id._chorus_push_status(
                chorus_statuses.MANDATEE,
                mandate_number=str(move.chorus_pro_mandate_number),
                user=move.chorus_pro_mandated_by_id or self.env.user,
                manual=manual,
            )
            if push != move.chorus_pro_push_id:
                move.sudo()._chorus_pro_store({"chorus_pro_push_id": push.id})
            pushes |= push
        return pushes

    # ------------------------------------------------------------------ actions
    def action_open_chorus_pro_invoice(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.chorus_pro_invoice_id._get_records_action(name=_("Chorus Pro invoice"))

    def action_chorus_pro_push_again(self):
        """"Send now" on a mandate whose MANDATEE is waiting to be sent (or was withdrawn)."""
        check_action_access(self, "write")
        if not self.env.user.has_group(MANDATING_GROUP):
            raise AccessError(_("Only mandating officers can send the status Mandatée."))
        pushes = self._chorus_pro_push_mandated()
        outcomes = [(push.invoice_id, push, push.sudo().answer_message or "") for push in pushes]
        return self.env["chorus.pro.invoice"]._chorus_outcome_notification(outcomes)

    def action_open_chorus_pro_push(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.chorus_pro_push_id._get_records_action(name=_("Mandatée sent to Chorus Pro"))


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def write(self, vals):
        if not bookkeeping_allowed() and set(vals) & FROZEN_MANDATE_LINE_FIELDS:
            posted = self.filtered(lambda line: line.move_id.chorus_pro_invoice_id
                                   and line.move_id.state == "posted")
            changed = sorted(name for name in set(vals) & FROZEN_MANDATE_LINE_FIELDS if any(
                changes_value(line, name, vals[name]) for line in posted))
            if changed:
                raise UserError(_(
                    "The lines of a validated mandate (%(number)s) cannot be changed "
                    "(%(fields)s): reset it to draft or reduce it with a credit note.",
                    number=", ".join(str(n) for n in posted.move_id.mapped(
                        "chorus_pro_mandate_number") if n) or posted.move_id[:1].display_name,
                    fields=field_labels(self, changed),
                ))
        return super().write(vals)

    @api.model_create_multi
    def create(self, vals_list):
        if not bookkeeping_allowed():
            moves = self.env["account.move"].browse(
                {vals["move_id"] for vals in vals_list if vals.get("move_id")})
            if moves._chorus_pro_frozen_mandates():
                raise UserError(_(
                    "No line can be added to a validated mandate: reset it to draft or issue a "
                    "credit note."
                ))
        return super().create(vals_list)
