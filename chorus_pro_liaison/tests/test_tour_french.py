# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A French user reads French (issue 14): the guard's refusal is a plain French dialog, not a
crash; runs (even a scheduled one, made by the server in English) and the chatter are in
French, identifiers without thousands separators. The tours fail on any English string left."""

from datetime import date

from odoo.tests import HttpCase, tagged

from .common import ChorusCase


class FrenchUserCase(ChorusCase, HttpCase):
    account_options = {"sync_cutoff_date": date(2000, 1, 1)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marie = cls.french_user("web", "mail")


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestGuardRefusalTour(FrenchUserCase):
    account_options = dict(FrenchUserCase.account_options, enabled=False)

    def test_link_off_refusal_is_a_french_dialog(self):
        self.tour_as_marie(
            "/odoo/action-chorus_pro_liaison.chorus_pro_dashboard_action",
            "chorus_pro_guard_refusal_tour")
        self.assertFalse(self.env["chorus.pro.run"].search([("account_id", "=", self.account.id)]))


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestFrenchUserTour(FrenchUserCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chorus_id = cls.deposited("FR-2026-0007")
        # A scheduled retrieval, run by the server in English: its summary is stored as facts.
        cls.scheduled_run = cls.sync(trigger="cron")
        cls.invoice = cls.received(cls.chorus_id)
        # Marie certifies the service: the chatter says what Chorus Pro accepted, in French.
        cls.invoice.with_user(cls.marie).with_context(lang="fr_FR")._chorus_push_status(
            "SERVICE_FAIT", motif="Conforme", service_date=date.today(),
        )

    def test_french_user_reads_french(self):
        self.assertEqual(self.invoice.chorus_status, "SERVICE_FAIT")
        self.assertIn(" new, ", self.scheduled_run.with_context(lang="en_US").summary)
        self.assertIn(" nouvelle(s), ", self.scheduled_run.with_context(lang="fr_FR").summary)
        # Its messages name invoices by Chorus id: the tour checks how they are written.
        self.assertTrue(self.scheduled_run.line_ids.filtered("chorus_id"))
        self.tour_as_marie(
            f"/odoo/action-chorus_pro_liaison.chorus_pro_run_action/{self.scheduled_run.id}",
            "chorus_pro_french_run_tour")
        self.tour_as_marie(
            f"/odoo/action-chorus_pro_liaison.chorus_pro_invoice_action/{self.invoice.id}",
            "chorus_pro_french_invoice_tour")
