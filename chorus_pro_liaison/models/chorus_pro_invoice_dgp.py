# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The délai global de paiement (DGP) of each Chorus Pro invoice, from the plain-Python engine.

Dates are stored (they only change when Chorus's history, the service date, the mandate or the
account's settings change: each is a dependency); what depends on *today* (days left, the
colour) is computed at read time for the Paris date, with a search method, so that nothing has
to be rewritten every night. The "À mandater" list sorts on the stored ordonnateur target date,
which is exactly the urgency.

Choices (``chorus_pro.dgp`` documents the rules):

* start: the first mise à disposition after the last recycling (Chorus history), else the
  date the retrieval recorded; moved to the date the service was done when later (R2192-13);
* interruption: the **first** suspension of the history, with the completion that followed it;
  Chorus may show more suspensions, but the law allows one interruption only (R2192-27): later
  ones do not stop the clock, and a notice says so;
* a suspension on or after the mandate date does not interrupt;
* late payment: the Chorus MISE_EN_PAIEMENT date (set by Hélios) against the due date, interest
  on the TTC amount, to be paid within 45 days of the payment (R2192-36).
"""

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.osv import expression
from odoo.tools.misc import formatLang


from chorus_pro import dgp
from chorus_pro import statuses as chorus_statuses
from chorus_pro.records import StatusEvent, StatusHistory
from chorus_pro.timeutil import from_utc_naive, paris_today

_logger = logging.getLogger(__name__)

DGP_STATES = [
    ("none", "No delay running"), ("suspended", "Interrupted"), ("ok", "On time"),
    ("soon", "Deadline near"), ("late", "Target passed"),
]
DGP_STORED_FIELDS = (
    "dgp_start", "dgp_restart", "dgp_delay", "dgp_due_date", "dgp_ordonnateur_target",
    "dgp_interrupted", "dgp_awaiting_completion", "dgp_suspension_count", "dgp_paid_date",
    "dgp_late_days", "dgp_interest_rate", "dgp_late_interest", "dgp_late_indemnity",
    "dgp_interest_due_by", "dgp_notice", "dgp_running",
)


def _dgp_depends(model):
    depends = [
        "mise_a_disposition_date", "status_history_ids.code", "status_history_ids.at",
        "chorus_status", "imported_as_history", "invoice_type", "amount_total",
        "account_id.public_body_kind", "account_id.contract_delay_days",
        "account_id.dgp_convention", "mandate_move_id.state",
        "mandate_move_id.chorus_pro_mandate_date",
        # Recorded when Chorus accepted the Service fait of the processing step (step 2).
        "service_date_certified",
    ]
    return depends


def _computed_by_dgp(field_type, string, **options):
    """A payment-delay figure: stored, and computed by ``_compute_dgp`` with all the others."""
    return field_type(string=string, compute="_compute_dgp", store=True, **options)


class ChorusProInvoice(models.Model):
    _inherit = "chorus.pro.invoice"

    dgp_start = _computed_by_dgp(
        fields.Date, "Payment delay start",
        help="Made available in Chorus Pro (or the date the service was done, when later).",
    )
    dgp_restart = _computed_by_dgp(
        fields.Date, "Delay restarted on",
        help="After the interruption: the date the supplier completed the invoice.",
    )
    dgp_delay = _computed_by_dgp(fields.Integer, "Delay (days)")
    dgp_due_date = _computed_by_dgp(
        fields.Date, "Legal due date", index=True,
        help="End of the délai global de paiement: the supplier must be paid by then.",
    )
    dgp_ordonnateur_target = _computed_by_dgp(
        fields.Date, "Mandate by", index=True,
        help="The ordonnateur's share of the delay ends here: the mandate must reach the "
        "comptable by this date so that the comptable has its own days to pay.",
    )
    dgp_interrupted = _computed_by_dgp(fields.Boolean, "Delay interrupted")
    dgp_awaiting_completion = _computed_by_dgp(
        fields.Boolean, "Waiting for the supplier",
        help="Suspended: the delay is stopped until the supplier completes the invoice.",
    )
    dgp_suspension_count = _computed_by_dgp(fields.Integer, "Suspensions")
    dgp_paid_date = _computed_by_dgp(fields.Date, "Paid on")
    dgp_late_days = _computed_by_dgp(fields.Integer, "Days late")
    dgp_interest_rate = _computed_by_dgp(
        fields.Float, "Late-payment interest rate (%)", digits=(6, 3)
    )
    dgp_late_interest = _computed_by_dgp(fields.Monetary, "Late-payment interest")
    dgp_late_indemnity = _computed_by_dgp(
        fields.Monetary, "Recovery indemnity",
        help="Flat 40 € indemnity for recovery costs owed on every invoice paid late.",
    )
    dgp_interest_due_by = _computed_by_dgp(
        fields.Date, "Interest to pay by",
        help="Interest and indemnity are paid within 45 days of the payment of the invoice.",
    )
    dgp_notice = _computed_by_dgp(fields.Char, "Payment delay notice")
    dgp_running = _computed_by_dgp(
        fields.Boolean, "Delay running", index=True,
        help="The ordonnateur still has to act: not mandated, not returned to the supplier.",
    )
    dgp_reminder_sent_for = fields.Date(string="Reminder sent for", readonly=True, copy=False)
    dgp_days_left = fields.Integer(
        string="Days left", compute="_compute_dgp_today",
        help="Days until the legal due date (negative once passed).",
    )
    dgp_ordonnateur_days_left = fields.Integer(
        string="Days to mandate", compute="_compute_dgp_today",
        help="Days until the ordonnateur's target date (negative once passed).",
    )
    dgp_state = fields.Selection(
        DGP_STATES, string="Deadline", compute="_compute_dgp_today", search="_search_dgp_state"
    )

    # ------------------------------------------------------------------ computation
    @api.depends(_dgp_depends)
    def _compute_dgp(self):
        rates = self.env["chorus.pro.ecb.rate"]._rate_table()
        accounts = {}
        for invoice in self:
            company = invoice.company_id
            if company.id not in accounts:
                accounts[company.id] = invoice.account_id.sudo() or self.env[
                    "chorus.pro.account"
                ].sudo()._for_company(company)
            values = invoice._dgp_values(accounts[company.id], rates)
            invoice.update(values)

    def _dgp_history(self):
        """The stored Chorus history as the engine reads it (aware UTC timestamps)."""
        self.ensure_one()
        return StatusHistory(
            chorus_id=self.chorus_id,
            current_status=self.chorus_status_code or "",
            events=[
                StatusEvent(
                    code=entry.code,
                    at=from_utc_naive(entry.at or None),
                    chorus_id=entry.chorus_history_id or None,
                )
                for entry in self.status_history_ids.sorted(
                    lambda e: (e.at or datetime.min, e.chorus_history_id, e.id)
                )
            ],
        )

    def _dgp_mandate_date(self, history_dates):
        mandate = self.mandate_move_id
        if mandate and mandate.state != "cancel" and mandate.chorus_pro_mandate_date:
            return mandate.chorus_pro_mandate_date
        return history_dates.mandated

    def _dgp_values(self, account, rates):
        """Field values of the DGP for this invoice (see the module docstring)."""
        self.ensure_one()
        values = dict.fromkeys(DGP_STORED_FIELDS, False)
        values.update(dgp_delay=0, dgp_suspension_count=0, dgp_late_days=0, dgp_interest_rate=0.0,
                      dgp_late_interest=0.0, dgp_late_indemnity=0.0)
        if self.invoice_type == "credit_note":
            return values
        history_dates = (
            dgp.mise_a_disposition_from_history(self._dgp_history())
            if self.status_history_ids else dgp.HistoryDates()
        )
        made_available = history_dates.mise_a_disposition or self.mise_a_disposition_date
        if not made_available:
            if self.chorus_status not in chorus_statuses.NOT_YET_AVAILABLE:
                values["dgp_notice"] = _(
                    "The date Chorus Pro made this invoice available is not known yet: the "
                    "payment delay cannot be computed."
                )
            return values
        notices = []
        # The law allows one interruption: the first suspension; later ones do not count.
        suspended, completed = history_dates.interruption
        if history_dates.ignored_suspensions:
            notices.append(_(
                "Chorus Pro shows %(count)s suspensions: only the first one interrupts the "
                "payment delay (the law allows one interruption).",
                count=history_dates.suspension_count,
            ))
        service_date = self.service_date_certified
        dgp_input = dgp.DgpInput(
            body=account.public_body_kind or dgp.BODY_COLLECTIVITE,
            mise_a_disposition=made_available,
            service_date=service_date or None,
            suspended=suspended,
            completed=completed,
            mandate_date=self._dgp_mandate_date(history_dates),
            paid=history_dates.paid,
            amount_ttc=Decimal(str(self.amount_total or 0)),
            contract_delay=account.contract_delay_days or None,
            convention=account.dgp_convention or dgp.DEFAULT_CONVENTION,
        )
        late_days = None
        try:
            result = dgp.compute(dgp_input, rates=rates)
        except dgp.MissingRateError as error:
            result = dgp.compute(replace(dgp_input, paid=None), rates=rates)
            if result.due and history_dates.paid:
                late_days = max(0, (history_dates.paid - result.due).days)
            notices.append(_(
                "Late-payment interest cannot be computed: %(reason)s (Configuration > ECB "
                "rates).", reason=str(error),
            ))
        except ValueError as error:
            values["dgp_notice"] = _("Payment delay not computed: %(reason)s", reason=str(error))
            return values
        if result.suspension_ignored:
            notices.append(_("The suspension came after the mandate: it does not interrupt the delay."))
        if late_days is None:
            late_days = result.late_days
        running = bool(
            result.due
            and not self.imported_as_history
            and self.chorus_status not in chorus_statuses.DELAY_STOPPED
            and not (self.mandate_move_id and self.mandate_move_id.state != "cancel")
        )
        values.update(
            dgp_start=result.start,
            dgp_restart=result.restart or False,
            dgp_delay=result.new_delay or result.delay,
            dgp_due_date=result.due or False,
            dgp_ordonnateur_target=result.ordonnateur_target or False,
            dgp_interrupted=result.interrupted,
            dgp_awaiting_completion=result.awaiting_completion,
            dgp_suspension_count=history_dates.suspension_count,
            dgp_paid_date=history_dates.paid or False,
            dgp_late_days=late_days,
            dgp_interest_rate=float(result.rate or 0),
            dgp_late_interest=float(result.interest or 0),
            dgp_late_indemnity=float(result.indemnity or 0) if late_days else 0.0,
            dgp_interest_due_by=(
                dgp.interest_due_by(history_dates.paid) if late_days else False
            ),
            dgp_notice=" ".join(notices) or False,
            dgp_running=running,
        )
        return values

    def _dgp_recompute(self):
        """Recompute the stored DGP fields now (after a change the dependencies do not see). The
        retrieval writes history and status in several steps: the dates of a batch are made final
        here (the dependencies already cover most changes)."""
        if not self:
            return
        # What shows these values (the mandate's related fields) must read them again.
        self.modified(list(DGP_STORED_FIELDS))
        for name in DGP_STORED_FIELDS:
            self.env.add_to_compute(self._fields[name], self)
        self.flush_recordset(list(DGP_STORED_FIELDS))

    @api.depends_context("chorus_pro_today")
    @api.depends("dgp_due_date", "dgp_ordonnateur_target", "dgp_running", "dgp_awaiting_completion")
    def _compute_dgp_today(self):
        today = self._dgp_today()
        soon_days = {}
        for invoice in self:
            company = invoice.company_id
            if company.id not in soon_days:
                soon_days[company.id] = self._dgp_soon_days(company)
            invoice.dgp_days_left = (invoice.dgp_due_date - today).days if invoice.dgp_due_date else 0
            target = invoice.dgp_ordonnateur_target
            invoice.dgp_ordonnateur_days_left = (target - today).days if target else 0
            if invoice.dgp_awaiting_completion and not invoice.imported_as_history:
                invoice.dgp_state = "suspended"
            elif not invoice.dgp_running or not target:
                invoice.dgp_state = "none"
            elif target < today:
                invoice.dgp_state = "late"
            elif (target - today).days <= soon_days[company.id]:
                invoice.dgp_state = "soon"
            else:
                invoice.dgp_state = "ok"

    @api.model
    def _dgp_today(self):
        """Paris today (a context key lets tests and the bench pin the day)."""
        forced = self.env.context.get("chorus_pro_today")
        return fields.Date.to_date(forced) if forced else paris_today()

    @api.model
    def _dgp_soon_days(self, company=None):
        account = self.env["chorus.pro.account"].sudo()._for_company(company or self.env.company)
        return account.dgp_reminder_days if account else 5

    @api.model
    def _search_dgp_state(self, operator, value):
        if operator not in ("=", "!=", "in", "not in"):
            raise NotImplementedError(operator)
        wanted = {value} if isinstance(value, str) or value is False else set(value)
        today = self._dgp_today()
        soon = today + timedelta(days=self._dgp_soon_days())
        running = [("dgp_running", "=", True)]
        by_state = {
            "suspended": [("dgp_awaiting_completion", "=", True), ("imported_as_history", "=", False)],
            "none": [("dgp_running", "=", False), "|", ("dgp_awaiting_completion", "=", False),
                     ("imported_as_history", "=", True)],
            "late": running + [("dgp_ordonnateur_target", "<", today)],
            "soon": running + [("dgp_ordonnateur_target", ">=", today),
                               ("dgp_ordonnateur_target", "<=", soon)],
            "ok": running + [("dgp_ordonnateur_target", ">", soon)],
        }
        domain = expression.OR([by_state[state] for state in wanted if state in by_state]) or [
            (0, "=", 1)
        ]
        if operator in ("!=", "not in"):
            domain = ["!"] + expression.normalize_domain(domain)
        return domain

    # ------------------------------------------------------------------ reminders
    @api.model
    def _cron_dgp_reminders(self):
        """Daily: an activity for the chosen users N days before the ordonnateur's target."""
        today = paris_today()
        Account = self.env["chorus.pro.account"].sudo()
        for account in Account.search([]):
            users = (account.dgp_reminder_user_ids or account.reminder_user_ids).filtered("active")
            if not users:
                continue
            limit = today + timedelta(days=account.dgp_reminder_days)
            invoices = self.sudo().search([
                ("company_id", "=", account.company_id.id),
                ("dgp_running", "=", True),
                ("dgp_ordonnateur_target", "<=", limit),
            ])
            for invoice in invoices.filtered(
                lambda inv: inv.dgp_reminder_sent_for != inv.dgp_ordonnateur_target
            ):
                invoice._dgp_schedule_reminder(users, today)
        return True

    def _dgp_schedule_reminder(self, users, today):
        self.ensure_one()
        target = self.dgp_ordonnateur_target
        days = (target - today).days
        summary = _("Mandate %(number)s by %(date)s", number=self.number or self.chorus_id,
                    date=target.strftime("%d/%m/%Y"))
        if days >= 0:
            note = _(
                "%(days)s day(s) left to mandate invoice %(number)s of %(supplier)s "
                "(%(amount)s): the comptable needs the mandate by %(target)s to pay by the "
                "legal due date %(due)s.",
                days=days, number=self.number or self.chorus_id, supplier=self.supplier_name or "?",
                amount=formatLang(self.env, self.amount_total, currency_obj=self.currency_id),
                target=target.strftime("%d/%m/%Y"), due=self.dgp_due_date.strftime("%d/%m/%Y"),
            )
        else:
            note = _(
                "The date by which invoice %(number)s of %(supplier)s had to be mandated has "
                "passed (%(target)s); the legal due date is %(due)s: mandate it now.",
                number=self.number or self.chorus_id, supplier=self.supplier_name or "?",
                target=target.strftime("%d/%m/%Y"), due=self.dgp_due_date.strftime("%d/%m/%Y"),
            )
        for user in users:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=target,
                summary=summary,
                note=note,
                user_id=user.id,
            )
        self.dgp_reminder_sent_for = target
