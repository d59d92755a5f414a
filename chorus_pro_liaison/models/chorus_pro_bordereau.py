# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Bordereaux: the numbered lists of mandates (one budget, one exercice, one kind) the
ordonnateur signs. Signing the bordereau orders payment of every mandate on it and certifies
the service fait (CGCT D1617-23).

A draft bordereau is open: validated mandates of its budget and exercice join it. Validating it
freezes it and gives it the next number of its series (PES IdBord must follow in sequence, so
numbers are given at validation, never to a draft that might be dropped). Totals are computed,
never typed; the running yearly total (PES MtCumulAnnuel) is stored at validation.
"""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_pes_piece import PES_STATES
from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro.timeutil import paris_today


# Set at validation only, by the application.
VALIDATION_FIELDS = frozenset({"number", "state", "date", "validated_by_id", "amount_cumulative"})

# PES TypBord of the aller flow: 01 ordinary mandates; 02 cancellations/reductions
# [unconfirmed meaning of 02, public-accounting.md §3.2].
KINDS = [("mandate", "Mandates"), ("cancellation", "Cancellations and reductions")]
PES_TYPES = {"mandate": "01", "cancellation": "02"}


class ChorusProBordereau(models.Model):
    _name = "chorus.pro.bordereau"
    _description = "Bordereau of mandates"
    _inherit = ["mail.thread"]
    _order = "exercice desc, budget_id, kind, number desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    budget_id = fields.Many2one("chorus.pro.budget", required=True, index=True,
                                ondelete="restrict", check_company=True)
    exercice = fields.Integer(required=True, index=True)
    kind = fields.Selection(KINDS, required=True, default="mandate")
    pes_type = fields.Char(string="PES type (TypBord)", compute="_compute_pes_type")
    number = fields.Integer(readonly=True, copy=False, index=True,
                            help="Given at validation, in sequence per budget and exercice.")
    date = fields.Date(string="Issue date", readonly=True, copy=False)
    state = fields.Selection(
        # After its validation, the bordereau goes to the accountant as a PES file
        # (chorus_pro_bordereau_pes.py).
        [("draft", "Open"), ("validated", "Validated")] + PES_STATES, default="draft",
        required=True, readonly=True, tracking=True, index=True,
    )
    validated_by_id = fields.Many2one("res.users", string="Validated by", readonly=True, copy=False)
    mandate_ids = fields.One2many("account.move", "chorus_pro_bordereau_id", string="Mandates",
                                  readonly=True)
    mandate_count = fields.Integer(string="Number of mandates", compute="_compute_totals",
                                   store=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount_untaxed = fields.Monetary(string="Total HT", compute="_compute_totals", store=True)
    amount_tax = fields.Monetary(string="Total VAT", compute="_compute_totals", store=True)
    amount_total = fields.Monetary(string="Total TTC", compute="_compute_totals", store=True)
    amount_cumulative = fields.Monetary(
        string="Yearly running total (HT)", readonly=True, copy=False,
        help="Total HT of the validated bordereaux of this budget, exercice and kind, this one "
        "included (PES MtCumulAnnuel).",
    )
    vat_regime_label = fields.Char(related="budget_id.vat_regime_label")

    _sql_constraints = [
        ("number_unique", "unique(budget_id, exercice, kind, number)",
         "This bordereau number is already used for this budget and exercice."),
    ]

    @api.depends("number", "exercice", "budget_id", "kind", "state")
    def _compute_name(self):
        for bordereau in self:
            prefix = _("Bordereau") if bordereau.kind == "mandate" else _("Bordereau of cancellations and reductions")
            if bordereau.number:
                bordereau.name = _("%(prefix)s %(number)s/%(exercice)s – %(budget)s",
                                   prefix=prefix, number=bordereau.number,
                                   exercice=bordereau.exercice, budget=bordereau.budget_id.name)
            else:
                bordereau.name = _("%(prefix)s being prepared %(exercice)s – %(budget)s",
                                   prefix=prefix, exercice=bordereau.exercice,
                                   budget=bordereau.budget_id.name or "")

    @api.depends("kind")
    def _compute_pes_type(self):
        for bordereau in self:
            bordereau.pes_type = PES_TYPES.get(bordereau.kind, "01")

    @api.depends("mandate_ids.amount_untaxed", "mandate_ids.amount_tax",
                 "mandate_ids.amount_total", "mandate_ids.state", "pes_piece_ids.move_id",
                 "pes_resent_bordereau_id")
    def _compute_totals(self):
        for bordereau in self:
            if bordereau.pes_resent_bordereau_id:
                # Rejected by the accountant, its mandates sent again in a new bordereau: it
                # keeps showing what it held.
                mandates = bordereau.pes_piece_ids.move_id
            else:
                mandates = bordereau.mandate_ids.filtered(lambda m: m.state == "posted")
            bordereau.mandate_count = len(mandates)
            bordereau.amount_untaxed = sum(mandates.mapped("amount_untaxed"))
            bordereau.amount_tax = sum(mandates.mapped("amount_tax"))
            bordereau.amount_total = sum(mandates.mapped("amount_total"))

    @api.model
    def _open_for(self, company, budget, exercice, kind="mandate"):
        """The open (draft) bordereau of this budget, exercice and kind; created if none."""
        bordereau = self.search([
            ("company_id", "=", company.id), ("budget_id", "=", budget.id),
            ("exercice", "=", exercice), ("kind", "=", kind), ("state", "=", "draft"),
        ], order="id", limit=1)
        if not bordereau:
            bordereau = self.create({
                "company_id": company.id, "budget_id": budget.id,
                "exercice": exercice, "kind": kind,
            })
        return bordereau

    @api.private  # for the printed bordereau's template; not a button (no RPC)
    def mandates_sorted(self):
        """Mandates in number order (for the printed bordereau and the PES flow)."""
        self.ensure_one()
        return self.mandate_ids.filtered(lambda m: m.state == "posted").sorted(
            lambda m: (m.chorus_pro_mandate_number, m.id)
        )

    def action_validate(self):
        """Freeze the bordereau and give it its number; it can then be signed."""
        check_action_access(self, "write")
        if not self.env.user.has_group("chorus_pro_liaison.group_chorus_pro_mandating"):
            raise AccessError(_("Only mandating officers can validate a bordereau."))
        for bordereau in self.sorted("id"):
            if bordereau.state != "draft":
                continue
            if not bordereau.mandate_ids.filtered(lambda m: m.state == "posted"):
                raise UserError(_("Bordereau %(name)s has no validated mandate.",
                                  name=bordereau.name))
            if bordereau.mandate_ids.filtered(lambda m: m.state != "posted"):
                raise UserError(_("Every mandate of a bordereau must be validated first."))
            # Chorus Pro must know each mandate (status Mandatée with its number) before the
            # comptable does: once the comptable has it, Chorus no longer accepts Mandatée.
            unconfirmed = bordereau.mandate_ids.filtered(
                lambda m: m.move_type == "in_invoice"
                and m.chorus_pro_push_state not in ("sent", "already")
            )
            if unconfirmed:
                raise UserError(_(
                    "Chorus Pro has not confirmed the status Mandatée of mandate(s) n° "
                    "%(numbers)s yet: send it again (Chorus Pro → Decisions sent) before "
                    "validating bordereau %(name)s.",
                    numbers=", ".join(str(n) for n in sorted(
                        unconfirmed.mapped("chorus_pro_mandate_number"))),
                    name=bordereau.name,
                ))
            series = "bordereau_mandate" if bordereau.kind == "mandate" else "bordereau_cancellation"
            number = bordereau.budget_id._next_number(bordereau.exercice, series)
            previous = self.search([
                ("budget_id", "=", bordereau.budget_id.id), ("exercice", "=", bordereau.exercice),
                ("kind", "=", bordereau.kind), ("state", "!=", "draft"),
            ])
            bordereau.sudo().write({
                "number": number,
                "state": "validated",
                "date": paris_today(),
                "validated_by_id": self.env.user.id,
                "amount_cumulative": sum(previous.mapped("amount_untaxed"))
                + bordereau.amount_untaxed,
            })
            bordereau.message_post(body=_("Bordereau validated with number %(number)s.",
                                          number=number))
        return True

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any(set(vals) & VALIDATION_FIELDS for vals in vals_list):
            raise AccessError(_("A bordereau's number, date and state are given by its "
                                "validation only."))
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            touched = set(vals) - {name for name in vals
                                   if name.startswith(("message_", "activity_"))}
            if touched & VALIDATION_FIELDS:
                raise AccessError(_("A bordereau's number, date and state are given by its "
                                    "validation only."))
            if touched and self.filtered(lambda b: b.state != "draft"):
                raise UserError(_("A validated bordereau cannot be changed: its mandates are "
                                  "reduced or cancelled with credit notes."))
        return super().write(vals)

    def action_print(self):
        check_action_access(self, "read")
        return self.env.ref("chorus_pro_liaison.action_report_chorus_pro_bordereau").report_action(
            self, config=False
        )

    def action_open_mandates(self):
        check_action_access(self, "read")
        self.ensure_one()
        mandate_list = self.env.ref("chorus_pro_liaison.chorus_pro_mandate_view_list")
        return self.env["account.move"]._get_records_action(
            name=self.name, views=[(mandate_list.id, "list"), (False, "form")],
            domain=[("chorus_pro_bordereau_id", "=", self.id)], context={"create": False},
        )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_validated(self):
        if self.filtered(lambda b: b.state != "draft" or b.mandate_ids):
            raise UserError(_("Only an empty bordereau being prepared can be deleted."))
