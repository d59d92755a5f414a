# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Budgets (principal, annexes) with their VAT regime, budget articles, and gap-free numbering.

The VAT regime decides what a mandate is for (public-accounting.md §1.2 point 6, §8.2):

* a budget that does not recover VAT (most of them) mandates the amount TTC: the VAT is part of
  the expense and no deductible VAT is booked;
* a VAT-recovering budget (an M4 service, an activity subject to VAT) mandates HT and books the
  deductible VAT with the purchase tax of each rate.

Numbers (mandates, bordereaux) come from Odoo's gap-free sequences (``ir.sequence``, implementation
``no_gap``): one sequence per budget and series, with one date range per exercice. A number is
taken inside the transaction that posts, its row locked: a rolled-back posting gives it back, so
the series has no gaps, and a second posting of the same budget at the same moment is refused and
tried again (as Odoo does for its own gap-free sequences).
"""

import csv
from datetime import date

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import file_open

from odoo.addons.chorus_pro_liaison.services.errors import checked_text

from chorus_pro import text as chorus_text

from odoo.addons.base.models.ir_sequence import _update_nogap

MAX_MANDATE_NUMBER = 99_999_999  # 8 digits: PES IdPce (Num8) and Chorus numeroDPMandat
MAX_BORDEREAU_NUMBER = 9_999_999  # PES IdBord (Num7)
# Each numbering series of a budget: the field holding its sequence, and its largest number.
SERIES = {
    "mandate": ("mandate_sequence_id", MAX_MANDATE_NUMBER),
    "bordereau_mandate": ("bordereau_sequence_id", MAX_BORDEREAU_NUMBER),
    "bordereau_cancellation": ("cancellation_bordereau_sequence_id", MAX_BORDEREAU_NUMBER),
}
INSTRUCTIONS = [
    ("M57", "M57"),
    ("M14", "M14"),
    ("M52", "M52"),
    ("M4", "M4 (industrial and commercial public service)"),
    ("M41", "M41"),
    ("M43", "M43"),
    ("M49", "M49 (water and sanitation)"),
    ("M21", "M21 (public hospitals)"),
    ("M22", "M22 (social and medico-social)"),
    # Other nomenclatures Hélios knows (PES NomFic, chorus_pro.pes.codes.NOMENCLATURES).
    ("M42", "M42 (abattoirs)"),
    ("M44", "M44 (transports)"),
    ("M71", "M71 (regions)"),
    ("M31", "M31 (public housing offices)"),
    ("M61", "M61 (fire and rescue services)"),
    ("M832", "M832 (management centres of the territorial civil service)"),
    ("other", "Other"),
]

# The demo budgets and articles (M57 natures, chapters, the account type when the account must be
# created) are data: one row per article.
DEMO_BUDGET_ARTICLES = "chorus_pro_liaison/data/demo_budget_articles.csv"


class ChorusProBudget(models.Model):
    _name = "chorus.pro.budget"
    _description = "Budget (principal or annexe)"
    _inherit = ["mail.thread"]
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True, tracking=True,
        help="Budget code of the PES flow (CodBud), e.g. 00 for the budget principal.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    kind = fields.Selection(
        [("principal", "Budget principal"), ("annexe", "Budget annexe")],
        required=True, default="principal",
    )
    instruction = fields.Selection(INSTRUCTIONS, string="Budgetary instruction", default="M57")
    vat_recovering = fields.Boolean(
        string="Recovers VAT", tracking=True,
        help="Off (most budgets): mandates are for the amount including VAT (TTC) and no "
        "deductible VAT is booked. On (M4 services, activities subject to VAT): mandates are "
        "for the amount excluding VAT (HT) and the deductible VAT is booked.",
    )
    journal_id = fields.Many2one(
        "account.journal", string="Mandate journal", check_company=True,
        domain="[('type', '=', 'purchase')]",
        help="Purchase journal of the mandates of this budget (default: the company's first "
        "purchase journal).",
    )
    purchase_tax_ids = fields.Many2many(
        "account.tax", "chorus_pro_budget_purchase_tax_rel", "budget_id", "tax_id",
        string="Deductible VAT taxes", check_company=True,
        domain="[('type_tax_use', '=', 'purchase'), ('amount_type', '=', 'percent')]",
        help="VAT-recovering budgets: the purchase tax to use for each rate. Without one here, "
        "the company's purchase tax of that rate is used.",
    )
    comptable_name = fields.Char(string="Comptable assignataire")
    poste_comptable = fields.Char(string="Poste comptable code", help="IdPost of the PES flow.")
    article_ids = fields.One2many("chorus.pro.budget.article", "budget_id", string="Articles")
    vat_regime_label = fields.Char(string="Amount mandated", compute="_compute_vat_regime_label")
    # Gap-free numbering (see the module docstring): one sequence per series, one date range per
    # exercice.
    mandate_sequence_id = fields.Many2one(
        "ir.sequence", string="Mandate numbering", readonly=True, copy=False,
        groups="base.group_system",
    )
    bordereau_sequence_id = fields.Many2one(
        "ir.sequence", string="Bordereau numbering", readonly=True, copy=False,
        groups="base.group_system",
    )
    cancellation_bordereau_sequence_id = fields.Many2one(
        "ir.sequence", string="Numbering of bordereaux of cancellations", readonly=True,
        copy=False, groups="base.group_system",
    )

    _sql_constraints = [
        ("company_code_unique", "unique(company_id, code)",
         "Each budget of a company has its own code."),
    ]

    @api.depends("vat_recovering")
    def _compute_vat_regime_label(self):
        for budget in self:
            budget.vat_regime_label = (
                _("HT, deductible VAT booked") if budget.vat_recovering
                else _("TTC, VAT not recovered")
            )

    @api.depends("name", "code")
    def _compute_display_name(self):
        for budget in self:
            budget.display_name = f"{budget.code} – {budget.name}" if budget.code else budget.name

    def write(self, vals):
        if "vat_recovering" in vals:
            changed = self.filtered(lambda b: b.vat_recovering != bool(vals["vat_recovering"]))
            if changed and self.env["account.move"].sudo().search_count(
                [("chorus_pro_budget_id", "in", changed.ids), ("state", "=", "posted")], limit=1
            ):
                raise UserError(_(
                    "This budget already has validated mandates: its VAT regime cannot change "
                    "any more (mandates would mix amounts HT and TTC). Create another budget."
                ))
        return super().write(vals)

    # ------------------------------------------------------------------ numbering
    def _next_number(self, exercice, series):
        """Take the next number of this budget's ``series`` for ``exercice`` (see the module
        docstring): given back if the transaction that takes it is rolled back."""
        return self._next_numbers(exercice, series, 1)[0]

    def _next_numbers(self, exercice, series, count):
        """``count`` consecutive numbers of the series at once (one lock, one update: the
        gap-free taking of ``ir.sequence``); given back together if the transaction is rolled
        back."""
        self.ensure_one()
        if count < 1:
            return []
        if not exercice or exercice < 2000:
            raise UserError(_("Choose the exercice before numbering."))
        sequence = self._numbering_sequence(series)
        date_range = self._numbering_range(sequence, exercice, series)
        step = sequence.number_increment or 1
        # The gap-free taking of ir.sequence (no_gap), for ``count`` numbers.
        first = _update_nogap(date_range, step * count)
        numbers = [first + step * index for index in range(count)]
        limit = SERIES[series][1]
        if numbers[-1] > limit:
            raise UserError(_(
                "The numbering of budget %(budget)s for %(exercice)s is exhausted (%(limit)s).",
                budget=self.display_name, exercice=exercice, limit=limit,
            ))
        return numbers

    def _numbering_sequence(self, series):
        """The gap-free sequence of ``series`` (made the first time it is needed)."""
        field = SERIES[series][0]
        budget = self.sudo()
        if not budget[field]:
            names = {
                "mandate": _("Mandates of budget %(budget)s", budget=self.display_name),
                "bordereau_mandate": _("Bordereaux of budget %(budget)s",
                                       budget=self.display_name),
                "bordereau_cancellation": _("Bordereaux of cancellations of budget %(budget)s",
                                            budget=self.display_name),
            }
            budget[field] = self.env["ir.sequence"].sudo().create({
                "name": names[series],
                "code": f"chorus_pro.{series}",
                "implementation": "no_gap",
                "use_date_range": True,
                "padding": 0,
                "number_increment": 1,
                "company_id": self.company_id.id,
            })
        return budget[field]

    def _numbering_range(self, sequence, exercice, series):
        """The exercice's date range of ``sequence``; a new one starts after the numbers the
        exercice already uses (a database numbered before these sequences existed)."""
        day = date(exercice, 1, 1)
        Range = self.env["ir.sequence.date_range"].sudo()
        found = Range.search([("sequence_id", "=", sequence.id), ("date_from", "<=", day),
                              ("date_to", ">=", day)], limit=1)
        if not found:
            found = Range.create({
                "sequence_id": sequence.id,
                "date_from": day,
                "date_to": date(exercice, 12, 31),
                "number_next": self._numbers_used(exercice, series) + 1,
            })
        return found

    def _numbers_used(self, exercice, series):
        """The largest number of ``series`` this budget already uses for ``exercice``."""
        if series == "mandate":
            Model, field = self.env["account.move"].sudo(), "chorus_pro_mandate_number"
            domain = [("chorus_pro_budget_id", "=", self.id), ("chorus_pro_exercice", "=", exercice)]
        else:
            Model, field = self.env["chorus.pro.bordereau"].sudo(), "number"
            kind = "mandate" if series == "bordereau_mandate" else "cancellation"
            domain = [("budget_id", "=", self.id), ("exercice", "=", exercice), ("kind", "=", kind)]
        found = Model.search(domain, order=f"{field} desc", limit=1)
        return found[field] or 0

    def _mandate_journal(self):
        """Journal of this budget's mandates (the company's purchase journal by default)."""
        self.ensure_one()
        journal = self.journal_id or self.env["account.journal"].search(
            [*self.env["account.journal"]._check_company_domain(self.company_id),
             ("type", "=", "purchase")], limit=1,
        )
        if not journal:
            raise UserError(_(
                "%(company)s has no purchase journal for the mandates of budget %(budget)s.",
                company=self.company_id.name, budget=self.display_name,
            ))
        return journal

    def _purchase_tax_for_rate(self, rate):
        """Deductible VAT tax of ``rate`` percent for this budget (VAT-recovering budgets).

        The budget's own choice first, then the company's purchase taxes of that rate that
        are not reverse-charge (a tax with a negative repartition line books no deductible VAT
        the supplier invoiced). Raises a plain-words error when there is none.
        """
        self.ensure_one()
        rate = round(float(rate or 0.0), 4)
        found = self.purchase_tax_ids.filtered(
            lambda t: t.amount_type == "percent" and round(t.amount, 4) == rate and not t.price_include
        )
        if not found:
            candidates = self.env["account.tax"].search([
                *self.env["account.tax"]._check_company_domain(self.company_id),
                ("type_tax_use", "=", "purchase"),
                ("amount_type", "=", "percent"),
                ("amount", "=", rate),
            ], order="sequence, id")
            found = candidates.filtered(
                lambda t: not any(line.factor_percent < 0 for line in t.invoice_repartition_line_ids)
                and not t.price_include
            )
        if not found:
            raise UserError(_(
                "%(company)s has no purchase tax at %(rate)s %% to book the deductible VAT of "
                "budget %(budget)s. Create it, or choose it on the budget (Configuration > "
                "Budgets).",
                company=self.company_id.name, rate=_format_rate(rate), budget=self.display_name,
            ))
        return found[0]

    # ------------------------------------------------------------------ demo data
    @api.model
    def _demo_account(self, company, code, label, account_type):
        """The company's account for a budget nature: the longest code it has that the nature
        starts with (6042 → 604…), else a new account with the nature's code."""
        Account = self.env["account.account"].with_company(company)
        domain = Account._check_company_domain(company)
        for length in range(len(code), 2, -1):
            found = Account.search(domain + [("code", "=like", code[:length] + "%")],
                                   order="code", limit=1)
            if found:
                return found
        return Account.create({
            "code": code.ljust(6, "0"), "name": label, "account_type": account_type,
            "company_ids": [Command.link(company.id)],
        })

    @api.model
    def _create_demo_data(self, company=None):
        """Demo budgets and articles for ``company`` (idempotent)."""
        company = company or self.env.company
        with file_open(DEMO_BUDGET_ARTICLES) as handle:  # text, UTF-8
            rows = list(csv.DictReader(handle))
        for row in rows:
            budget = self.search([("company_id", "=", company.id), ("code", "=", row["budget_code"])])
            if not budget:
                budget = self.create({
                    "code": row["budget_code"], "name": row["budget_name"], "kind": row["kind"],
                    "instruction": row["instruction"], "vat_recovering": row["vat_recovering"] == "1",
                    "company_id": company.id,
                })
            if budget.article_ids.filtered(lambda a, c=row["code"]: a.code == c):
                continue
            account = self._demo_account(company, row["code"], row["name"], row["account_type"])
            self.env["chorus.pro.budget.article"].create({
                "budget_id": budget.id, "code": row["code"], "name": row["name"],
                "chapter": row["chapter"], "account_id": account.id,
            })
        return True

    @api.model
    def _create_demo_data_if_chart(self):
        """Demo data file: only on a company that already has the French chart (otherwise
        the budgets are made when that chart is loaded, see account.chart.template)."""
        company = self.env.company
        if company.chart_template == "fr":
            self._create_demo_data(company)
        return True


def _format_rate(rate):
    text = f"{rate:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


class ChorusProBudgetArticle(models.Model):
    _name = "chorus.pro.budget.article"
    _description = "Budget article"
    _order = "budget_id, code, id"
    _rec_names_search = ["code", "name"]
    _check_company_auto = True

    code = fields.Char(required=True, help="Nature (account of the M57 chart), e.g. 6042.")
    name = fields.Char(string="Label", required=True)
    budget_id = fields.Many2one("chorus.pro.budget", required=True, ondelete="cascade", index=True,
                                check_company=True)
    company_id = fields.Many2one(related="budget_id.company_id", store=True, index=True)
    account_id = fields.Many2one(
        "account.account", string="Expense account", required=True, check_company=True,
        domain="[('deprecated', '=', False), ('account_type', 'not in', "
        "('asset_receivable', 'liability_payable', 'asset_cash', 'liability_credit_card', 'off_balance'))]",
    )
    chapter = fields.Char(help="Budget chapter, e.g. 011 (charges à caractère général).")
    fonction = fields.Char(help="Function code, when the budget is voted or cross-checked by function.")
    operation = fields.Char(help="Operation number (investment).")
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("budget_code_unique", "unique(budget_id, code, fonction)",
         "This article already exists in this budget."),
    ]

    @api.model
    def _check_nature_values(self, vals_list):
        """The article number is a nature of the chart of accounts (digits only): it goes into
        the mandate, its Mandatée and the PES file as it is. Refused in words otherwise."""
        for vals in vals_list:
            for name in ("code", "pes_nature"):
                if name not in vals or (name == "pes_nature" and not vals[name]):
                    continue
                vals[name] = checked_text(chorus_text.check_nature_code, vals[name], self.env)

    @api.model_create_multi
    def create(self, vals_list):
        self._check_nature_values(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        self._check_nature_values([vals])
        return super().write(vals)

    @api.depends("code", "name", "fonction")
    def _compute_display_name(self):
        for article in self:
            label = f"{article.code} – {article.name}" if article.code else article.name or ""
            if article.fonction:
                label += f" (fonction {article.fonction})"
            article.display_name = label
