# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The mandating screen (step 4): what can be mandated, what cannot and why, and "Mandater"."""

from datetime import date

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro.timeutil import paris_today


# Until the end of January, the previous exercice can still be mandated (journée
# complémentaire): its mandates are dated 31 December.
CLOSING_PERIOD_END = (1, 31)


def exercice_choices(today):
    years = [today.year]
    if (today.month, today.day) <= CLOSING_PERIOD_END:
        years.append(today.year - 1)
    return years


class ChorusProMandateWizard(models.TransientModel):
    _name = "chorus.pro.mandate.wizard"
    _inherit = ["chorus.pro.screen.mixin"]
    _description = "Mandate Chorus Pro invoices"
    # The budget and article given (by the screen or any RPC client) are the company's own.
    _check_company_auto = True

    company_id = fields.Many2one("res.company", default=lambda self: self.env.company,
                                 required=True, readonly=True)
    account_id = fields.Many2one("chorus.pro.account", compute="_compute_account_id")

    def _compute_display_name(self):
        # The screen's breadcrumb (not "chorus.pro.mandate.wizard,1").
        for wizard in self:
            wizard.display_name = _("Mandater")
    exercice = fields.Selection(selection="_exercice_selection", required=True,
                                default=lambda self: str(self._exercice_default()))
    budget_id = fields.Many2one(
        "chorus.pro.budget", string="Budget", required=True, check_company=True,
        domain="[('company_id', '=', company_id)]",
        default=lambda self: self._default_budget(),
    )
    vat_regime_label = fields.Char(related="budget_id.vat_regime_label")
    article_id = fields.Many2one(
        "chorus.pro.budget.article", string="Budget article", check_company=True,
        domain="[('budget_id', '=', budget_id)]",
        help="Imputation of the mandates; a different article can be chosen on each line.",
    )
    accounting_date = fields.Date(compute="_compute_accounting_date")
    line_ids = fields.One2many("chorus.pro.mandate.wizard.line", "wizard_id")
    ready_line_ids = fields.One2many("chorus.pro.mandate.wizard.line", "wizard_id",
                                     domain=[("blocked", "=", False)], string="Ready")
    blocked_line_ids = fields.One2many("chorus.pro.mandate.wizard.line", "wizard_id",
                                       domain=[("blocked", "=", True)], string="Blocked")
    ready_count = fields.Integer(string="Number ready", compute="_compute_counts")
    blocked_count = fields.Integer(string="Number blocked", compute="_compute_counts")
    selected_count = fields.Integer(string="Number selected", compute="_compute_counts")
    selected_total = fields.Monetary(compute="_compute_counts", string="Selected (TTC)")
    currency_id = fields.Many2one(related="company_id.currency_id")
    background_threshold = fields.Integer(related="account_id.mandate_background_threshold")

    @api.model
    def _exercice_default(self):
        return paris_today().year

    @api.model
    def _accounting_date_for(self, exercice):
        """Today for the current exercice; 31 December for the previous one (closing period)."""
        today = paris_today()
        return today if exercice >= today.year else date(exercice, 12, 31)

    @api.model
    def _exercice_selection(self):
        return [(str(year), str(year)) for year in exercice_choices(paris_today())]

    @api.model
    def _default_budget(self):
        return self.env["chorus.pro.budget"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )

    @api.depends("company_id")
    def _compute_account_id(self):
        for wizard in self:
            wizard.account_id = self.env["chorus.pro.account"].sudo()._for_company(wizard.company_id)

    @api.depends("exercice")
    def _compute_accounting_date(self):
        for wizard in self:
            wizard.accounting_date = self._accounting_date_for(
                int(wizard.exercice or self._exercice_default())
            )

    @api.depends("ready_line_ids.selected", "ready_line_ids.amount_total", "blocked_line_ids")
    def _compute_counts(self):
        # From the two lists the screen edits (not line_ids) so that ticks count at once.
        for wizard in self:
            ready = wizard.ready_line_ids
            wizard.ready_count = len(ready)
            wizard.blocked_count = len(wizard.blocked_line_ids)
            selected = ready.filtered("selected")
            wizard.selected_count = len(selected)
            wizard.selected_total = sum(selected.mapped("amount_total"))

    # ------------------------------------------------------------------ opening
    @api.model
    def _open(self, invoices=None):
        """The mandating screen for ``invoices`` (default: every open invoice of the company)."""
        if not self.env.user.has_group("chorus_pro_liaison.group_chorus_pro_mandating"):
            raise AccessError(_("Only mandating officers can mandate invoices."))
        Invoice = self.env["chorus.pro.invoice"]
        if invoices is None:
            invoices = Invoice.search(
                Invoice._mandate_screen_domain() + [("company_id", "=", self.env.company.id)],
                order="dgp_ordonnateur_target, id",
            )
        wizard = self.create({})
        budget = wizard._budget_for(invoices) or wizard.budget_id
        wizard.budget_id = budget
        wizard._fill(invoices)
        return wizard._reopen()

    def _budget_for(self, invoices):
        budgets = invoices.service_id.budget_id
        return budgets if len(budgets) == 1 else self.env["chorus.pro.budget"]

    def _fill(self, invoices):
        self.ensure_one()
        exercice = int(self.exercice)
        values = []
        for invoice in invoices.sorted(lambda i: (i.dgp_ordonnateur_target or date.max, i.id)):
            reasons = invoice._mandate_blocking_reasons(acting_user=self.env.user)
            effect = ""
            if not reasons:
                effect = (invoice._credit_note_effect_label(exercice)
                          if invoice.invoice_type == "credit_note" else self._effect_label(invoice))
            values.append({
                "wizard_id": self.id,
                "invoice_id": invoice.id,
                "blocked": bool(reasons),
                "reason": "\n".join(reasons) or False,
                "effect": effect or False,
                "selected": not reasons,
            })
        self.line_ids.unlink()
        self.env["chorus.pro.mandate.wizard.line"].create(values)

    def _effect_label(self, invoice):
        if not self.budget_id:
            return ""
        if self.budget_id.vat_recovering:
            return _("Mandate %(amount)s HT + deductible VAT",
                     amount=format(invoice.amount_untaxed, ",.2f").replace(",", " ").replace(".", ","))
        return _("Mandate %(amount)s TTC",
                 amount=format(invoice.amount_total, ",.2f").replace(",", " ").replace(".", ","))

    @api.onchange("budget_id")
    def _onchange_budget_id(self):
        if self.article_id and self.article_id.budget_id != self.budget_id:
            self.article_id = False
        for line in self.line_ids:
            if line.article_id and line.article_id.budget_id != self.budget_id:
                line.article_id = False
            if not line.blocked and line.invoice_id.invoice_type != "credit_note":
                line.effect = self._effect_label(line.invoice_id)

    # ------------------------------------------------------------------ actions
    def action_refresh(self):
        check_action_access(self, "write")
        self.ensure_one()
        self._fill(self.line_ids.invoice_id)
        return self._reopen()

    def action_select_all(self):
        check_action_access(self, "write")
        self.ready_line_ids.selected = True
        return self._reopen()

    def action_select_none(self):
        check_action_access(self, "write")
        self.ready_line_ids.selected = False
        return self._reopen()

    def _reopen(self):
        return self._get_records_action(name=_("Mandater"))

    def action_mandate(self):
        """"Mandater": the selected invoices become mandates (in the background when many)."""
        check_action_access(self, "write")
        self.ensure_one()
        if not self.env.user.has_group("chorus_pro_liaison.group_chorus_pro_mandating"):
            raise AccessError(_("Only mandating officers can mandate invoices."))
        selected = self.line_ids.filtered(lambda l: l.selected and not l.blocked)
        if not selected:
            raise UserError(_("Select at least one invoice that can be mandated."))
        exercice = int(self.exercice)
        if exercice not in exercice_choices(paris_today()):
            raise UserError(_("Exercice %(exercice)s can no longer be mandated.", exercice=exercice))
        needs_article = selected.filtered(
            lambda l: l.invoice_id.invoice_type != "credit_note" and not l.article_id
        )
        if needs_article and not self.article_id:
            raise UserError(_("Choose the budget article of the mandates."))
        wrong = selected.filtered(lambda l: l.article_id and l.article_id.budget_id != self.budget_id)
        if wrong:
            raise UserError(_("Articles of another budget were chosen on some lines: %(lines)s.",
                              lines=", ".join(wrong.mapped("invoice_id.display_name"))))
        account = self.account_id
        if not account:
            raise UserError(_("Chorus Pro is not configured for %(company)s.",
                              company=self.company_id.name))
        run = self.env["chorus.pro.run"]._launch_mandate(
            account, self.budget_id, self.article_id, exercice, self.accounting_date,
            [(line.invoice_id, line.article_id) for line in selected],
        )
        if run.state != "done":
            # In the background, or something to read (stopped invoices, pushes to retry).
            return run._action_open()
        return run.action_open_mandates()


class ChorusProMandateWizardLine(models.TransientModel):
    _name = "chorus.pro.mandate.wizard.line"
    _inherit = ["chorus.pro.invoice.screen"]
    _description = "Invoice on the mandating screen"
    _screen_subject_fields = ("invoice_id", "wizard_id")
    _order = "blocked, dgp_ordonnateur_target, id"

    wizard_id = fields.Many2one("chorus.pro.mandate.wizard", required=True, ondelete="cascade")
    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, readonly=True)
    selected = fields.Boolean(string="To mandate")
    blocked = fields.Boolean(readonly=True)
    reason = fields.Text(string="Why not", readonly=True)
    effect = fields.Char(string="Result", readonly=True)
    article_id = fields.Many2one(
        "chorus.pro.budget.article", string="Article (if different)",
        domain="[('budget_id', '=', parent.budget_id)]",
    )
    number = fields.Char(related="invoice_id.number")
    invoice_type = fields.Selection(related="invoice_id.invoice_type")
    supplier_name = fields.Char(related="invoice_id.supplier_name")
    supplier_identifier = fields.Char(related="invoice_id.supplier_identifier")
    chorus_status = fields.Selection(related="invoice_id.chorus_status")
    currency_id = fields.Many2one(related="invoice_id.currency_id")
    amount_untaxed = fields.Monetary(related="invoice_id.amount_untaxed")
    amount_total = fields.Monetary(related="invoice_id.amount_total")
    dgp_due_date = fields.Date(related="invoice_id.dgp_due_date")
    dgp_ordonnateur_target = fields.Date(related="invoice_id.dgp_ordonnateur_target", store=True)
    dgp_ordonnateur_days_left = fields.Integer(related="invoice_id.dgp_ordonnateur_days_left")
    dgp_state = fields.Selection(related="invoice_id.dgp_state")
