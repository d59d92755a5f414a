# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The payment delay (DGP) of the retrieved invoices, reminders and late-payment interest."""

import html
from datetime import date, timedelta
from decimal import Decimal

from odoo.tests import tagged
from odoo.tools.misc import formatLang


from chorus_pro import dgp
from chorus_pro.timeutil import from_utc_naive, paris_date, paris_today

from .mandate_common import MandateCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateDgp(MandateCase):
    def deposit_and_sync(self, **overrides):
        """A new invoice made available at a given moment, retrieved like on a first run."""
        deposited = self.sim.admin.deposit(**overrides)
        # A first retrieval brings every invoice still waiting, whatever its date.
        self.account.last_sync_at = False
        self.sync_run()
        return self.Invoice.search([("chorus_id", "=", deposited["idFacture"])])

    def test_dates_from_the_retrieval_and_the_account_settings(self):
        invoice = self.invoice("multi_vat")
        first_mad = invoice.status_history_ids.filtered(lambda s: s.code == "MISE_A_DISPOSITION").sorted("at")[0]
        start = paris_date(from_utc_naive(first_mad.at))
        self.assertEqual(invoice.dgp_start, start)
        self.assertEqual(invoice.dgp_delay, 30)
        self.assertEqual(invoice.dgp_due_date, start + timedelta(days=30))
        self.assertEqual(invoice.dgp_ordonnateur_target, start + timedelta(days=20))
        self.assertTrue(invoice.dgp_running)
        today = paris_today()
        self.assertEqual(invoice.dgp_days_left, (invoice.dgp_due_date - today).days)
        self.assertEqual(invoice.dgp_ordonnateur_days_left, (invoice.dgp_ordonnateur_target - today).days)
        # A health establishment: 50 days, 15 for the comptable; a shorter contract delay wins.
        self.account.public_body_kind = "eps"
        self.assertEqual(invoice.dgp_due_date, start + timedelta(days=50))
        self.assertEqual(invoice.dgp_ordonnateur_target, start + timedelta(days=35))
        self.account.contract_delay_days = 20
        self.assertEqual(invoice.dgp_due_date, start + timedelta(days=20))
        self.account.write({"public_body_kind": "collectivite", "contract_delay_days": 0,
                            "dgp_convention": "start_day_one"})
        self.assertEqual(invoice.dgp_due_date, start + timedelta(days=29))

    def test_interruption_from_the_chorus_history(self):
        invoice = self.invoice("completed")
        history = invoice.status_history_ids.sorted("at")
        made_available = paris_date(from_utc_naive(history.filtered(lambda s: s.code == "MISE_A_DISPOSITION")[0].at))
        suspended = paris_date(from_utc_naive(history.filtered(lambda s: s.code == "SUSPENDUE")[0].at))
        completed = paris_date(from_utc_naive(history.filtered(lambda s: s.code == "COMPLETEE")[0].at))
        self.assertTrue(invoice.dgp_interrupted)
        self.assertEqual(invoice.dgp_start, made_available)
        self.assertEqual(invoice.dgp_restart, completed)
        remaining = (made_available + timedelta(days=30) - suspended).days
        self.assertEqual(invoice.dgp_due_date, completed + timedelta(days=max(30, remaining)))
        # A second suspension (refused by the law) does not stop the clock again.
        self.sim.admin.move(invoice.chorus_id, "SUSPENDUE", comment="Autre pièce manquante")
        self.sync_run()
        self.assertEqual(invoice.dgp_suspension_count, 2)
        self.assertEqual(invoice.dgp_due_date, completed + timedelta(days=max(30, remaining)))
        self.assertFalse(invoice.dgp_awaiting_completion)
        self.assertIn("only the first", invoice.dgp_notice)

    def test_suspended_invoice_waits_for_the_supplier(self):
        invoice = self.deposit_and_sync(supplier_index=1, amount_ht="500.00", vat_rate=20)
        self.sim.admin.move(invoice.chorus_id, "SUSPENDUE", comment="RIB manquant")
        self.sync_run()
        self.assertTrue(invoice.dgp_interrupted)
        self.assertTrue(invoice.dgp_awaiting_completion)
        self.assertFalse(invoice.dgp_due_date)
        self.assertEqual(invoice.dgp_state, "suspended")
        self.sim.admin.complete(invoice.chorus_id)
        self.sync_run()
        self.assertEqual(invoice.dgp_restart, paris_today())
        self.assertEqual(invoice.dgp_due_date, paris_today() + timedelta(days=30))

    def test_evening_mise_a_disposition_counts_by_its_paris_date(self):
        # 23:30 in Paris on 2 March (22:30 UTC): still 2 March, the reference's example 1.
        evening = self.deposit_and_sync(status_datetime="2026-03-02T23:30:00+01:00", supplier_index=2)
        self.assertEqual(evening.mise_a_disposition_date, date(2026, 3, 2))
        self.assertEqual(evening.dgp_start, date(2026, 3, 2))
        self.assertEqual(evening.dgp_due_date, date(2026, 4, 1))
        self.assertEqual(evening.dgp_ordonnateur_target, date(2026, 3, 22))
        # 00:30 in Paris on 1 July is still 30 June in UTC: the Paris date counts.
        night = self.deposit_and_sync(status_datetime="2026-07-01T00:30:00+02:00", supplier_index=4)
        self.assertEqual(night.mise_a_disposition_at.date(), date(2026, 6, 30))
        self.assertEqual(night.dgp_start, date(2026, 7, 1))
        self.assertEqual(night.dgp_due_date, date(2026, 7, 31))

    def test_colours_and_search_follow_the_day(self):
        invoice = self.deposit_and_sync(status_datetime="2026-03-02T10:00:00+01:00", supplier_index=2)
        self.account.dgp_reminder_days = 5
        for today, state in (("2026-03-10", "ok"), ("2026-03-17", "soon"), ("2026-03-22", "soon"),
                             ("2026-03-23", "late")):
            pinned = invoice.with_context(chorus_pro_today=today)
            self.assertEqual(pinned.dgp_state, state, today)
            found = self.Invoice.with_context(chorus_pro_today=today).search([("dgp_state", "=", state)])
            self.assertIn(invoice, found, today)
            others = self.Invoice.with_context(chorus_pro_today=today).search([("dgp_state", "!=", state)])
            self.assertNotIn(invoice, others, today)
        rejected = self.invoice("rejected")
        self.assertEqual(rejected.dgp_state, "none")
        self.assertFalse(rejected.dgp_running)

    def test_reminder_activity_before_the_ordonnateur_target(self):
        late = self.deposit_and_sync(status_datetime="2026-03-02T10:00:00+01:00", supplier_index=2)
        reminded = self.chorus_user("chorus_reminded", "mandating")
        self.account.write({"dgp_reminder_user_ids": [(6, 0, reminded.ids)], "dgp_reminder_days": 3})
        self.Invoice._cron_dgp_reminders()
        activities = self.env["mail.activity"].search([
            ("res_model", "=", "chorus.pro.invoice"), ("user_id", "=", reminded.id)])
        self.assertIn(late.id, activities.mapped("res_id"))
        limit = paris_today() + timedelta(days=3)
        for activity in activities:
            invoice = self.Invoice.browse(activity.res_id)
            self.assertTrue(invoice.dgp_running)
            self.assertLessEqual(invoice.dgp_ordonnateur_target, limit)
            self.assertEqual(activity.date_deadline, invoice.dgp_ordonnateur_target)
        # A reminder ahead of the target says how long is left and for which amount.
        upcoming = activities.filtered(
            lambda a: self.Invoice.browse(a.res_id).dgp_ordonnateur_target >= paris_today())
        self.assertTrue(upcoming, "the synced invoices include some still within their target")
        for activity in upcoming:
            invoice = self.Invoice.browse(activity.res_id)
            amount = formatLang(self.env, invoice.amount_total, currency_obj=invoice.currency_id)
            self.assertIn(amount, html.unescape(str(activity.note)))
            self.assertIn("day(s) left", str(activity.note))
        far = self.Invoice.search([("dgp_running", "=", True), ("dgp_ordonnateur_target", ">", limit)])
        self.assertFalse(set(far.ids) & set(activities.mapped("res_id")))
        self.Invoice._cron_dgp_reminders()
        self.assertEqual(self.env["mail.activity"].search_count([
            ("res_model", "=", "chorus.pro.invoice"), ("user_id", "=", reminded.id)]), len(activities),
            "reminded once per target date")

    def test_late_payment_interest_shown_on_the_mandate(self):
        made_available = paris_today() - timedelta(days=60)
        invoice = self.deposit_and_sync(
            status_datetime=f"{made_available.isoformat()}T09:00:00+01:00", supplier_index=5,
            amount_ht="12000.00", vat_rate=20, structured=False,
        )
        self.sim.admin.move(invoice.chorus_id, "SERVICE_FAIT", user="AGENT")
        self.sync_run()
        self.trust_supplier(invoice)
        self.mandate(invoice)
        mandate = invoice.mandate_move_id
        self.assertEqual(mandate.chorus_pro_push_state, "sent")
        self.assertFalse(mandate.chorus_pro_late_days)
        # Hélios pays it today, 30 days after the legal due date.
        self.sim.admin.move(invoice.chorus_id, "MISE_A_DISPOSITION_COMPTABLE")
        self.sim.admin.move(invoice.chorus_id, "MISE_EN_PAIEMENT")
        self.sync_run()
        due = made_available + timedelta(days=30)
        self.assertEqual(invoice.dgp_due_date, due)
        self.assertEqual(mandate.chorus_pro_status, "MISE_EN_PAIEMENT")
        self.assertEqual(mandate.chorus_pro_paid_date, paris_today())
        late_days = (paris_today() - due).days
        self.assertEqual(mandate.chorus_pro_late_days, late_days)
        interest_start = due + timedelta(days=1)
        half_year = date(interest_start.year, 1 if interest_start.month <= 6 else 7, 1)
        ecb = self.env["chorus.pro.ecb.rate"].search([("valid_from", "<=", half_year)], limit=1)
        rate = Decimal(str(ecb.ecb_mro_rate)) + 8
        expected = (Decimal("14400.00") * rate / 100 * late_days / 365).quantize(Decimal("0.01"))
        self.assertAlmostEqual(mandate.chorus_pro_interest_rate, float(rate))
        self.assertAlmostEqual(mandate.chorus_pro_late_interest, float(expected))
        self.assertEqual(mandate.chorus_pro_late_indemnity, 40.0)
        self.assertEqual(mandate.chorus_pro_interest_due_by, paris_today() + timedelta(days=45))
        # The finance administrator corrects the rate: the interest follows.
        ecb.ecb_mro_rate += 1
        expected = (Decimal("14400.00") * (rate + 1) / 100 * late_days / 365).quantize(Decimal("0.01"))
        self.assertAlmostEqual(mandate.chorus_pro_late_interest, float(expected))

    def test_later_service_date_recorded_at_service_fait_moves_the_start(self):
        made_available = paris_today() - timedelta(days=20)
        invoice = self.deposit_and_sync(
            status_datetime=f"{made_available.isoformat()}T09:00:00+01:00", supplier_index=5,
            amount_ht="2400.00", vat_rate=20, structured=False,
        )
        self.assertEqual(invoice.dgp_start, made_available)
        self.assertEqual(invoice.dgp_due_date, made_available + timedelta(days=30))
        service_day = made_available + timedelta(days=12)
        # A service date typed in the worklist, not yet accepted by Chorus, moves nothing.
        invoice.with_user(self.processor).write({"decision_status": "SERVICE_FAIT",
                                                 "service_done_date": service_day})
        self.assertEqual(invoice.dgp_start, made_available)
        # Service fait through step 2's push: the works ended 12 days after the invoice came.
        push = self.certify(invoice, service_date=service_day)
        self.assertEqual(push.service_date, service_day)
        self.assertEqual(invoice.service_done_date, service_day)
        self.assertEqual(invoice.service_date_certified, service_day)
        self.assertEqual(invoice.chorus_status, "SERVICE_FAIT")
        self.assertEqual(invoice.dgp_start, service_day)
        self.assertEqual(invoice.dgp_due_date, service_day + timedelta(days=30))
        self.assertEqual(invoice.dgp_ordonnateur_target, service_day + timedelta(days=20))
        # The mandate carries the moved start and due date.
        self.trust_supplier(invoice)
        self.mandate(invoice)
        mandate = invoice.mandate_move_id
        self.assertEqual(mandate.chorus_pro_push_state, "sent")
        self.assertEqual(mandate.chorus_pro_dgp_start, service_day)
        self.assertEqual(mandate.invoice_date_due, service_day + timedelta(days=30))

    def test_earlier_service_date_keeps_the_start(self):
        made_available = paris_today() - timedelta(days=5)
        invoice = self.deposit_and_sync(
            status_datetime=f"{made_available.isoformat()}T09:00:00+01:00", supplier_index=5,
            amount_ht="300.00", vat_rate=20, structured=False,
        )
        self.certify(invoice, service_date=made_available - timedelta(days=10))
        self.assertEqual(invoice.dgp_start, made_available)
        self.assertEqual(invoice.dgp_due_date, made_available + timedelta(days=30))

    def test_rate_table_is_seeded_from_the_packaged_csv(self):
        rows = self.env["chorus.pro.ecb.rate"].search([])
        packaged = dgp.load_ecb_rates()
        self.assertEqual(sorted((r.valid_from, Decimal(str(r.ecb_mro_rate))) for r in rows), packaged)
        # Loading again adds nothing and keeps an edited row.
        rows[0].ecb_mro_rate = 9.99
        self.env["chorus.pro.ecb.rate"]._load_packaged_rates()
        self.assertEqual(self.env["chorus.pro.ecb.rate"].search_count([]), len(packaged))
        self.assertEqual(rows[0].ecb_mro_rate, 9.99)
