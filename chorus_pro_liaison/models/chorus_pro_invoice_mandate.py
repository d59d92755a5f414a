# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 4 on the Chorus Pro invoice: can it be mandated, and the mandate (vendor bill) it becomes.

Building a mandate:

* can it be mandated: step 3's supplier check (``_check_supplier_for_mandate``: partner matched,
  bank account trusted), step 2's validation check (``_check_validation_for_mandate``: internal
  validation, four-eyes) and this step's own reasons (Service fait, rejected, suspended, à
  recycler, already paid (A2), files, payment delay, amounts);
* partner and bank account: the partner matched at step 3 and the trusted bank account it
  computed (the supplier's, or the factor's for a factored invoice);
* lines: the structured lines when Chorus has them, otherwise one line per VAT rate, always on
  the article's account; the budget's VAT regime decides the amounts:

  - VAT not recovered: each line carries its amount TTC, no tax; on structured invoices the
    VAT of each rate (Chorus's recap) is shared among the lines of that rate in proportion to
    their amount HT, the last cent going to the last line, so the total is Chorus's TTC;
  - VAT recovered: each line carries its amount HT with the purchase tax of its rate; the VAT
    Odoo computes is aligned on Chorus's per-rate VAT when they differ by rounding only;

* totals must equal Chorus's to the cent, otherwise the invoice is stopped with the reason;
* the due date is the DGP due date, with no payment terms;
* the invoice PDF becomes the bill's main document; every other file is attached too.
"""

import logging
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.tools.misc import formatLang

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.errors import MandateBlocked
from odoo.addons.chorus_pro_liaison.services.languages import selection_label

from chorus_pro import billing
from chorus_pro import statuses as chorus_statuses

_logger = logging.getLogger(__name__)

CREDIT_NOTE_OUTCOMES = [
    ("reduction", "Reduces its mandate"),
    ("cancellation", "Cancels its mandate"),
    ("titre_recette", "Titre de recette to issue"),
]


def cents(value):
    """Amount → whole cents (Chorus amounts have two decimals)."""
    return int((Decimal(str(value or 0)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_cents(value):
    return float(Decimal(value) / 100)


def format_amount(value_cents, currency=None):
    text = f"{Decimal(value_cents) / 100:,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} {currency.symbol or currency.name}" if currency else text


def rate_key(rate):
    return round(float(rate or 0.0), 3)


def share_in_cents(total, weights):
    """Split ``total`` cents in proportion to ``weights`` (cents); the remainder goes last.

    The shares always add up to ``total`` exactly.
    """
    if not weights:
        return []
    weight_sum = sum(weights)
    if not weight_sum:
        shares = [0] * len(weights)
        shares[-1] = total
        return shares
    shares = [
        int((Decimal(total) * Decimal(weight) / Decimal(weight_sum)).quantize(
            Decimal("1"), rounding=ROUND_HALF_UP))
        for weight in weights[:-1]
    ]
    shares.append(total - sum(shares))
    return shares


class ChorusProInvoice(models.Model):
    _inherit = "chorus.pro.invoice"

    mandate_move_id = fields.Many2one(
        "account.move", string="Mandate", readonly=True, copy=False, index=True,
        ondelete="set null",
        help="The vendor bill (mandate) made from this invoice; for a credit note, the vendor "
        "credit note that reduces or cancels the mandate it corrects.",
    )
    mandate_number = fields.Integer(
        related="mandate_move_id.chorus_pro_mandate_number", string="Mandate number"
    )
    mandate_state = fields.Selection(related="mandate_move_id.state", string="Mandate state")
    credit_note_outcome = fields.Selection(
        CREDIT_NOTE_OUTCOMES, string="Credit note applied as", readonly=True, copy=False,
        tracking=True,
    )
    credit_note_mandate_id = fields.Many2one(
        "account.move", string="Mandate corrected", readonly=True, copy=False,
    )
    credit_note_origin_id = fields.Many2one(
        "chorus.pro.invoice", string="Invoice corrected", compute="_compute_credit_note_origin",
    )
    mandate_ready = fields.Boolean(
        string="Ready to mandate", compute="_compute_mandate_blocking",
    )
    mandate_blocking_reason = fields.Text(
        string="Why it cannot be mandated", compute="_compute_mandate_blocking",
    )

    # ------------------------------------------------------------------ computes
    def _compute_credit_note_origin(self):
        for invoice in self:
            invoice.credit_note_origin_id = invoice._find_credit_note_origin()

    def _compute_mandate_blocking(self):
        for invoice in self:
            reasons = invoice._mandate_blocking_reasons()
            invoice.mandate_ready = not reasons
            invoice.mandate_blocking_reason = "\n".join(reasons) or False

    # ------------------------------------------------------------------ domains
    @api.model
    def _to_mandate_domain(self):
        """Invoices certified Service fait and not mandated yet (ready or blocked)."""
        return [
            ("invoice_type", "!=", "credit_note"),
            ("imported_as_history", "=", False),
            ("chorus_status", "=", chorus_statuses.SERVICE_FAIT),
            "|", ("mandate_move_id", "=", False), ("mandate_move_id.state", "=", "cancel"),
        ]

    @api.model
    def _mandate_screen_domain(self):
        """Everything still open for the ordonnateur: what the mandating screen lists."""
        return [
            ("imported_as_history", "=", False),
            ("chorus_status", "not in", sorted(chorus_statuses.MANDATED)),
            "|", ("mandate_move_id", "=", False), ("mandate_move_id.state", "=", "cancel"),
        ]

    # ------------------------------------------------------------------ the mandate
    def _active_mandate(self):
        self.ensure_one()
        move = self.mandate_move_id
        return move if move and move.state != "cancel" else self.env["account.move"]

    def _find_credit_note_origin(self):
        """For a credit note: the invoice it corrects (same supplier, the number it quotes)."""
        self.ensure_one()
        if self.invoice_type != "credit_note" or not self.origin_invoice_number:
            return self.browse()
        domain = [
            ("company_id", "=", self.company_id.id),
            ("invoice_type", "!=", "credit_note"),
            ("number", "=", self.origin_invoice_number),
            ("id", "!=", self.id),
        ]
        if self.supplier_identifier:
            domain.append(("supplier_identifier", "=", self.supplier_identifier))
        return self.search(domain, order="id desc", limit=1)

    # ------------------------------------------------------------------ blocking reasons
    def _mandate_blocking_reasons(self, acting_user=None, ignore_move=None):
        """Why this invoice cannot be mandated now (an empty list: it can).

        This step's checks (status, frame, files, payment delay), then the supplier check of
        step 3 and the internal-validation check of step 2.
        ``acting_user``: who mandates (four-eyes). ``ignore_move``: a draft mandate of this invoice being validated (not a duplicate).
        """
        self.ensure_one()
        if self.imported_as_history:
            return [_("Imported as history: it was already processed before the link was activated.")]
        if self.invoice_type == "credit_note":
            return self._credit_note_blocking_reasons()
        reasons = []
        mandate = self._active_mandate()
        if mandate and mandate != ignore_move:
            if mandate.chorus_pro_mandate_number:
                reasons.append(_("Already mandated: mandate n° %(number)s.",
                                 number=mandate.chorus_pro_mandate_number))
            else:
                reasons.append(_("A draft mandate already exists (%(name)s): validate it.",
                                 name=mandate.display_name))
            return reasons
        reasons.extend(self._mandate_status_reasons())
        waiting = self.sudo().push_ids.filtered(
            lambda push: push.state == "pending"
            and push.target_status != chorus_statuses.MANDATEE
        )
        if waiting:
            # A rejection or suspension decided but not yet sent must not be overtaken by a
            # mandate (Chorus would then refuse it, and the invoice be paid).
            reasons.append(_(
                "A decision (%(status)s) is waiting to be sent to Chorus Pro: send it or "
                "withdraw it first.",
                status=", ".join(self._status_label(code)
                                 for code in sorted(set(waiting.mapped("target_status")))),
            ))
        if not reasons:
            # Step 2's rules that hold whatever Chorus says (e.g. the accountant's side took over).
            reasons.extend(self._chorus_hard_blockers(chorus_statuses.MANDATEE))
        if billing.is_already_paid(self.frame):
            reasons.append(_("Already paid (billing frame A2): there is nothing to mandate."))
        elif self.amount_to_pay is not None and cents(self.amount_to_pay) != cents(self.amount_total):
            # The mandate pays the TTC: an advance deducted or a part already paid is not
            # something to guess.
            reasons.append(_(
                "Chorus Pro gives %(to_pay)s to pay, not the total %(total)s (advance deducted "
                "or part already paid): this invoice is mandated by hand.",
                to_pay=format_amount(cents(self.amount_to_pay), self.currency_id),
                total=format_amount(cents(self.amount_total), self.currency_id),
            ))
        if not self.main_attachment_pdf_id or self.files_state != "done":
            reasons.append(_(
                "The invoice PDF has not been retrieved from Chorus Pro yet: it is the "
                "supporting document of the mandate."
            ))
        if not self.dgp_due_date and not self.dgp_awaiting_completion and not reasons:
            reasons.append(self.dgp_notice or _("The payment delay is not known."))
        reasons.extend(self._mandate_supplier_reasons())
        reasons.extend(self._mandate_validation_reasons(acting_user or self.env.user))
        return reasons

    def _mandate_status_reasons(self):
        status = self.chorus_status_code or self.chorus_status
        if status == chorus_statuses.SERVICE_FAIT:
            return []
        messages = {
            chorus_statuses.MISE_A_DISPOSITION: _("Service fait not certified yet."),
            chorus_statuses.COMPLETEE: _(
                "Completed by the supplier: Service fait not certified yet."),
            chorus_statuses.SUSPENDUE: _(
                "Suspended: waiting for the supplier to complete the invoice."),
            chorus_statuses.REJETEE: _("Rejected: it will not be paid."),
            chorus_statuses.A_RECYCLER: _(
                "À recycler: sent back to the supplier to correct the recipient data."),
        }
        if status in messages:
            return [messages[status]]
        if status in chorus_statuses.MANDATED:
            number = (
                _(", mandate n° %s", self.mandate_number_chorus)
                if self.mandate_number_chorus else ""
            )
            return [_(
                "Already mandated in Chorus Pro (%(status)s%(number)s): outside this database.",
                status=self._status_label(status),
                number=number,
            )]
        return [_("Its Chorus Pro status (%(status)s) does not allow mandating.",
                  status=self._status_label(status))]

    def _mandate_supplier_reasons(self):
        """Partner and bank account: step 3's check."""
        return list(self._check_supplier_for_mandate())

    def _mandate_validation_reasons(self, acting_user):
        """Internal validation and four-eyes rule: step 2's check."""
        return list(self._check_validation_for_mandate(acting_user))

    def _mandate_partner(self):
        """The partner of the mandate: the supplier matched at step 3."""
        self.ensure_one()
        return self.partner_id

    def _mandate_partner_bank(self):
        """The bank account to pay, once trusted (step 3: the supplier's or the factor's)."""
        self.ensure_one()
        if self.bank_state == "trusted":
            return self.partner_bank_id
        return self.env["res.partner.bank"]

    # ------------------------------------------------------------------ building a mandate
    def _mandate_check_amounts(self):
        """Chorus's own figures must agree with each other before anything is mandated."""
        self.ensure_one()
        untaxed, total = cents(self.amount_untaxed), cents(self.amount_total)
        currency = self.currency_id
        if self.tax_ids:
            recap_base = sum(cents(tax.base) for tax in self.tax_ids)
            recap_vat = sum(cents(tax.amount) for tax in self.tax_ids)
            if recap_base != untaxed or untaxed + recap_vat != total:
                raise MandateBlocked(_(
                    "Chorus Pro's amounts do not agree: VAT recap %(base)s HT + %(vat)s VAT, "
                    "invoice %(untaxed)s HT and %(total)s TTC. Check the invoice with the "
                    "supplier.",
                    base=format_amount(recap_base, currency), vat=format_amount(recap_vat, currency),
                    untaxed=format_amount(untaxed, currency), total=format_amount(total, currency),
                ))
        if self.line_ids:
            lines_untaxed = sum(cents(line.amount_untaxed) for line in self.line_ids)
            if lines_untaxed != untaxed:
                raise MandateBlocked(_(
                    "The lines of the invoice add up to %(lines)s HT but the invoice says "
                    "%(untaxed)s HT: the totals would not match Chorus Pro. Check the invoice "
                    "with the supplier.",
                    lines=format_amount(lines_untaxed, currency),
                    untaxed=format_amount(untaxed, currency),
                ))
        if total <= 0:
            raise MandateBlocked(_("The invoice's total is zero: there is nothing to pay."))

    def _mandate_vat_by_rate(self):
        """{rate: (base cents, VAT cents)} from Chorus's VAT recap."""
        recap = defaultdict(lambda: [0, 0])
        for tax in self.tax_ids:
            entry = recap[rate_key(tax.rate)]
            entry[0] += cents(tax.base)
            entry[1] += cents(tax.amount)
        return {rate: tuple(values) for rate, values in recap.items()}

    def _mandate_line_label(self, line):
        label = line.name or line.reference or _("Line %s", line.sequence)
        if line.reference and line.name and line.reference not in line.name:
            label = f"[{line.reference}] {label}"
        if line.quantity and line.price_unit:
            # Numbers written the reader's way (a decimal comma in French).
            integral = float(line.quantity).is_integer()
            quantity = formatLang(self.env, line.quantity, digits=0 if integral else 3)
            unit = (" " + line.unit_code) if line.unit_code else ""
            price = formatLang(self.env, line.price_unit, digits=2)
            label += f" ({quantity}{unit} × {price})"
        return label[:250]

    def _mandate_lines(self, budget, article):
        """Line values ``[{name, account_id, price_unit, quantity, tax_ids}]`` and the amounts
        expected (untaxed cents, VAT cents by rate) — see the module docstring."""
        self.ensure_one()
        self._mandate_check_amounts()
        recap = self._mandate_vat_by_rate()
        currency = self.currency_id
        account_id = article.account_id.id
        lines = []
        number = self.number or str(self.chorus_id)
        if not budget.vat_recovering:
            if self.line_ids:
                by_rate = defaultdict(list)
                for line in self.line_ids.sorted(lambda l: (l.sequence, l.id)):
                    by_rate[rate_key(line.tax_rate)].append(line)
                for rate, rate_lines in by_rate.items():
                    vat = recap.get(rate, (0, None))[1]
                    if vat is None:
                        # No recap for this rate: the VAT of its lines (rate 0: none).
                        vat = sum(cents(line.amount_tax) for line in rate_lines)
                    shares = share_in_cents(vat, [cents(line.amount_untaxed) for line in rate_lines])
                    for line, share in zip(rate_lines, shares):
                        lines.append({
                            "name": self._mandate_line_label(line),
                            "price_unit": from_cents(cents(line.amount_untaxed) + share),
                        })
            elif recap:
                for rate, (base, vat) in sorted(recap.items(), reverse=True):
                    lines.append({
                        "name": _("Invoice %(number)s – VAT %(rate)s %% included (%(base)s HT + %(vat)s VAT)",
                                  number=number, rate=format(rate, "g").replace(".", ","),
                                  base=format_amount(base, currency),
                                  vat=format_amount(vat, currency)),
                        "price_unit": from_cents(base + vat),
                    })
            else:
                lines.append({
                    "name": _("Invoice %(number)s (TTC)", number=number),
                    "price_unit": self.amount_total,
                })
            for values in lines:
                values.update(account_id=account_id, quantity=1.0, tax_ids=[Command.clear()])
            produced = sum(cents(values["price_unit"]) for values in lines)
            if produced != cents(self.amount_total):
                raise MandateBlocked(_(
                    "The mandate would total %(produced)s but the invoice is %(total)s TTC in "
                    "Chorus Pro: its VAT recap does not cover every rate of its lines. Check the "
                    "invoice with the supplier.",
                    produced=format_amount(produced, currency),
                    total=format_amount(cents(self.amount_total), currency),
                ))
            return lines
        # VAT-recovering budget: HT lines with the deductible VAT of each rate.
        if self.line_ids:
            for line in self.line_ids.sorted(lambda l: (l.sequence, l.id)):
                lines.append({
                    "name": self._mandate_line_label(line),
                    "price_unit": from_cents(cents(line.amount_untaxed)),
                    "rate": rate_key(line.tax_rate),
                })
        elif recap:
            for rate, (base, vat) in sorted(recap.items(), reverse=True):
                lines.append({
                    "name": _("Invoice %(number)s – VAT %(rate)s %%", number=number,
                              rate=format(rate, "g").replace(".", ",")),
                    "price_unit": from_cents(base),
                    "rate": rate,
                })
        elif cents(self.amount_tax) == 0:
            lines.append({"name": _("Invoice %(number)s (no VAT)", number=number),
                          "price_unit": self.amount_untaxed, "rate": 0.0})
        else:
            raise MandateBlocked(_(
                "Chorus Pro gives no VAT breakdown by rate for this invoice: the deductible VAT "
                "of a VAT-recovering budget cannot be booked. Check the invoice with the "
                "supplier."
            ))
        taxes = {}
        for values in lines:
            rate = values.pop("rate")
            if rate and rate not in taxes:
                try:
                    taxes[rate] = budget._purchase_tax_for_rate(rate)
                except Exception as error:  # UserError: the plain-words reason
                    raise MandateBlocked(error.args[0]) from error
            values.update(
                account_id=account_id,
                quantity=1.0,
                tax_ids=[Command.set(taxes[rate].ids)] if rate else [Command.clear()],
            )
        return lines

    def _mandate_expected_vat(self, budget):
        """{account.tax id: VAT cents} Chorus says is due, for a VAT-recovering budget."""
        expected = defaultdict(int)
        for rate, (_base, vat) in self._mandate_vat_by_rate().items():
            if rate:
                expected[budget._purchase_tax_for_rate(rate).id] += vat
        return expected

    def _mandate_object(self):
        """The mandate's object (PES Obj): supplier invoice number, supplier, Chorus number."""
        self.ensure_one()
        parts = [self.number or "", self.supplier_name or "", f"CPP {self.chorus_id}"]
        return " – ".join(part for part in parts if part)[:100]

    def _mandate_move_values(self, budget, article, exercice, accounting_date, acting_user,
                             move_type="in_invoice", reversed_move=None, journal=None):
        """Values of the vendor bill (or vendor credit note) of this Chorus invoice.
        ``journal``: the budget's mandate journal when the caller already has it."""
        self.ensure_one()
        if reversed_move:
            partner, bank = reversed_move.partner_id, reversed_move.partner_bank_id
        else:
            partner = self._mandate_partner()
            bank = self._mandate_partner_bank()
            if not partner or (not bank and self._needs_payment()):
                raise MandateBlocked("\n".join(self._mandate_supplier_reasons()) or _(
                    "Supplier or bank account not confirmed."))
        if self.invoice_date and self.invoice_date.year > exercice:
            raise MandateBlocked(_(
                "The invoice is dated %(date)s: it cannot be charged to exercice %(exercice)s.",
                date=self.invoice_date.strftime("%d/%m/%Y"), exercice=exercice,
            ))
        lines = self._mandate_lines(budget, article)
        vals = {
            "move_type": move_type,
            "journal_id": (journal or budget._mandate_journal()).id,
            "company_id": self.company_id.id,
            "partner_id": partner.id,
            "partner_bank_id": bank.id if bank else False,
            "currency_id": self.currency_id.id or self.company_id.currency_id.id,
            "ref": self.number or str(self.chorus_id),
            "invoice_date": self.invoice_date or self.mise_a_disposition_date or accounting_date,
            "date": accounting_date,
            "invoice_payment_term_id": False,
            "invoice_origin": _("Chorus Pro %(id)s", id=self.chorus_id),
            "narration": self._mandate_object(),
            "chorus_pro_invoice_id": self.id,
            "chorus_pro_budget_id": budget.id,
            "chorus_pro_article_id": article.id,
            "chorus_pro_exercice": exercice,
            "chorus_pro_mandated_by_id": acting_user.id,
            "invoice_line_ids": [Command.create(values) for values in lines],
        }
        if move_type == "in_invoice":
            vals.update(
                invoice_date_due=self.dgp_due_date,
                chorus_pro_dgp_start=self.dgp_start,
                chorus_pro_dgp_due_date=self.dgp_due_date,
                chorus_pro_dgp_ordonnateur_target=self.dgp_ordonnateur_target,
            )
        else:
            vals.update(reversed_entry_id=reversed_move.id,
                        invoice_date_due=reversed_move.invoice_date_due)
        return vals

    def _mandate_align_vat(self, move, budget):
        """VAT-recovering budget: Odoo's VAT per tax vs Chorus's per rate. A difference of
        rounding (a cent per line at most) is aligned on Chorus (the VAT the supplier
        invoiced); more than that stops the invoice."""
        self.ensure_one()
        expected = self._mandate_expected_vat(budget)
        tax_lines = move.line_ids.filtered(lambda l: l.display_type == "tax")
        sign = -1 if move.move_type == "in_refund" else 1
        currency = self.currency_id
        base_lines = move.invoice_line_ids
        for tax_id, vat in expected.items():
            lines = tax_lines.filtered(lambda l, t=tax_id: l.tax_line_id.id == t)
            computed = cents(sum(lines.mapped("amount_currency")) * sign)
            if computed == vat:
                continue
            count = len(base_lines.filtered(lambda l, t=tax_id: t in l.tax_ids.ids)) or 1
            if not lines or abs(computed - vat) > count:
                raise MandateBlocked(_(
                    "Chorus Pro says %(chorus)s of VAT at %(tax)s but the lines give %(odoo)s: "
                    "more than a rounding difference. Check the invoice with the supplier.",
                    chorus=format_amount(vat, currency), tax=self.env["account.tax"].browse(tax_id).name,
                    odoo=format_amount(computed, currency),
                ))
            first = lines[0]
            first.amount_currency = from_cents(cents(first.amount_currency) + sign * (vat - computed))

    def _mandate_check_totals(self, move, credit_note=None):
        """The mandate's totals against Chorus's, to the cent (per the budget's VAT regime)."""
        source = credit_note or self
        currency = source.currency_id
        budget = move.chorus_pro_budget_id
        if not budget.vat_recovering and (move.invoice_line_ids.tax_ids or cents(move.amount_tax)):
            return _(
                "Budget %(budget)s does not recover VAT: the mandate must be for the amount TTC "
                "with no deductible VAT. Remove the taxes from its lines.",
                budget=budget.display_name,
            )
        total = cents(move.amount_total)
        if total != cents(source.amount_total):
            return _(
                "The mandate totals %(mandate)s but the invoice is %(chorus)s TTC in Chorus Pro.",
                mandate=format_amount(total, currency),
                chorus=format_amount(cents(source.amount_total), currency),
            )
        if budget.vat_recovering and (
            cents(move.amount_untaxed) != cents(source.amount_untaxed)
            or cents(move.amount_tax) != cents(source.amount_total) - cents(source.amount_untaxed)
        ):
            return _(
                "The mandate's amounts (%(untaxed)s HT, %(tax)s VAT) differ from Chorus "
                "Pro's (%(c_untaxed)s HT, %(c_tax)s VAT).",
                untaxed=format_amount(cents(move.amount_untaxed), currency),
                tax=format_amount(cents(move.amount_tax), currency),
                c_untaxed=format_amount(cents(source.amount_untaxed), currency),
                c_tax=format_amount(cents(source.amount_total) - cents(source.amount_untaxed), currency),
            )
        return None

    def _mandate_attach_files(self, move):
        """Copy every file of the Chorus invoice onto the bill; the PDF is its main document."""
        self.ensure_one()
        return self._mandate_attach_files_many([(self, move)])[move.id]

    @api.model
    def _mandate_attach_files_many(self, pairs):
        """``_mandate_attach_files`` for many (invoice, bill) pairs at once: one search, one
        create. Returns {bill id: its main document copy (or None)}."""
        invoices = self.browse([invoice.id for invoice, _move in pairs])
        attachments = self.env["ir.attachment"].sudo().search(
            [("res_model", "=", self._name), ("res_id", "in", invoices.ids)], order="id"
        )
        by_invoice = defaultdict(list)
        for attachment in attachments:
            by_invoice[attachment.res_id].append(attachment)
        vals_list, origins = [], []
        for invoice, move in pairs:
            for attachment in by_invoice[invoice.id]:
                vals_list.extend(attachment.copy_data(
                    {"res_model": "account.move", "res_id": move.id}))
                origins.append((invoice, move, attachment))
        copies = self.env["ir.attachment"].sudo().create(vals_list)
        main = {move.id: None for _invoice, move in pairs}
        for (invoice, move, attachment), copy in zip(origins, copies):
            if attachment == invoice.main_attachment_pdf_id:
                main[move.id] = copy
        for move_id, copy in main.items():
            if copy:
                # Only the chatter's main document changes: Odoo's own context keys spare the
                # bill's line synchronisation and balance check.
                self.env["account.move"].sudo().browse(move_id).with_context(
                    skip_invoice_sync=True, check_move_validity=False,
                    skip_is_manually_modified=True,
                ).message_main_attachment_id = copy
        return main

    def _mandate_post_notes(self, move):
        self.ensure_one()
        self._mandate_post_notes_many([(self, move)])

    @api.model
    def _mandate_post_notes_many(self, pairs):
        """The chatter notes of new mandates (invoice ↔ mandate links), logged together."""
        invoice_bodies, move_bodies = {}, {}
        for invoice, move in pairs:
            if invoice.is_factored:
                move._message_log(body=_(
                    "Factored invoice: the payment goes to %(factor)s (subrogation), on the "
                    "bank account carried by the Chorus Pro invoice.",
                    factor=invoice.factor_name or move.partner_bank_id.partner_id.display_name,
                ))
            link = Markup('<a href="#" data-oe-model="%s" data-oe-id="%s">%s</a>') % (
                invoice._name, invoice.id, invoice.display_name)
            invoice_bodies[invoice.id] = Markup("%s ") % _("Mandate created:") + Markup(
                '<a href="#" data-oe-model="account.move" data-oe-id="%s">%s</a>') % (
                move.id, move.display_name)
            move_bodies[move.id] = Markup("%s ") % _("Made from the Chorus Pro invoice") + link
        if invoice_bodies:
            # Each in the environment of its records (the author is who mandates the bill).
            first_invoice, first_move = pairs[0]
            first_invoice.browse(list(invoice_bodies))._message_log_batch(invoice_bodies)
            first_move.browse(list(move_bodies))._message_log_batch(move_bodies)

    # ------------------------------------------------------------------ credit notes
    def _credit_note_target(self):
        """(origin invoice, its active mandate) of this credit note."""
        origin = self._find_credit_note_origin()
        return origin, origin._active_mandate() if origin else self.env["account.move"]

    def _credit_note_blocking_reasons(self):
        self.ensure_one()
        if self.credit_note_outcome:
            return [_("Already applied: %(outcome)s.", outcome=selection_label(
                self, "credit_note_outcome", self.credit_note_outcome))]
        if self.chorus_status_code in chorus_statuses.RETURNED_FOR_GOOD:
            return [_("Credit note %(status)s.", status=self._status_label(self.chorus_status_code))]
        if not self.origin_invoice_number:
            return [_("The credit note does not say which invoice it corrects.")]
        origin, mandate = self._credit_note_target()
        if not origin:
            return [_("The invoice it corrects (%(number)s) is not among the Chorus Pro invoices.",
                      number=self.origin_invoice_number)]
        if not mandate or mandate.state != "posted" or not mandate.chorus_pro_mandate_number:
            return [_("The invoice it corrects (%(number)s) is not mandated yet: mandate it "
                      "first, then apply the credit note.", number=self.origin_invoice_number)]
        return []

    def _credit_note_outcome_for(self, exercice):
        """What applying this credit note does now: reduction, cancellation or titre."""
        self.ensure_one()
        _origin, mandate = self._credit_note_target()
        if self._credit_note_mandate_paid(mandate) or mandate.chorus_pro_exercice != exercice:
            return "titre_recette"
        if cents(self.amount_total) >= cents(mandate.amount_residual):
            return "cancellation"
        return "reduction"

    def _credit_note_mandate_paid(self, mandate):
        origin = mandate.chorus_pro_invoice_id
        if origin.chorus_status == chorus_statuses.MISE_EN_PAIEMENT:
            return True
        return mandate.payment_state in ("paid", "in_payment") or cents(
            mandate.amount_residual) < cents(self.amount_total)

    def _credit_note_effect_label(self, exercice):
        self.ensure_one()
        if self._credit_note_blocking_reasons():
            return ""
        _origin, mandate = self._credit_note_target()
        outcome = self._credit_note_outcome_for(exercice)
        if outcome == "titre_recette":
            return _("Titre de recette: mandate n° %(number)s is already paid or closed",
                     number=mandate.chorus_pro_mandate_number)
        if outcome == "cancellation":
            return _("Cancels mandate n° %(number)s", number=mandate.chorus_pro_mandate_number)
        return _("Reduces mandate n° %(number)s", number=mandate.chorus_pro_mandate_number)

    # ------------------------------------------------------------------ actions
    def action_mandate_selection(self):
        """"Mandater" on selected invoices: the mandating screen with just them."""
        check_action_access(self, "read")
        return self.env["chorus.pro.mandate.wizard"]._open(self)

    def action_open_mandate(self):
        check_action_access(self, "read")
        self.ensure_one()
        move = self.mandate_move_id or self.credit_note_mandate_id
        return move._get_records_action(name=move.display_name)
