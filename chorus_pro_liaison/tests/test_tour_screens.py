# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The screens as the accountant expects them (issue 14), in headless Chromium: the worklist's
decisions (a motif never changes the decision, nothing reaches Chorus Pro before the
confirmation), its table (Validation interne ticked, main document renamed in place, numbers
and statuses not truncated at 1440 px), and the guard's refusals shown as plain messages."""

from datetime import date

from odoo.tests import HttpCase, tagged

from chorus_pro.client import OP_PROCESS

from .common import ChorusCase


class WorklistTourCase(ChorusCase, HttpCase):
    account_options = {"sync_cutoff_date": date(2000, 1, 1)}
    browser_size = "1440x900"

    def status_calls(self):
        return self.sim.admin.counters().get(OP_PROCESS, 0)


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestWorklistDecisionTour(WorklistTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rejected_id = cls.deposited("TOUR-REJ-0001")
        cls.suspended_id = cls.deposited("TOUR-SUS-0002")
        cls.sync()

    def test_motif_keeps_decision_and_nothing_sent_before_confirmation(self):
        rejected = self.received(self.rejected_id)
        suspended = self.received(self.suspended_id)
        calls_before = self.status_calls()
        self.start_tour(
            "/odoo/action-chorus_pro_liaison.chorus_pro_processing_action",
            "chorus_pro_worklist_motif_tour", login="admin", timeout=180,
        )
        # Rejetée then a usual motif, then the confirmation cancelled: still Rejetée, and
        # Chorus Pro received nothing.
        self.assertEqual(self.status_calls(), calls_before)
        self.assertFalse(rejected.push_ids)
        self.assertFalse(suspended.push_ids)
        self.assertEqual(rejected.chorus_status, "MISE_A_DISPOSITION")
        history = [entry["code"] for entry in self.sim.admin.invoice(self.rejected_id)["history"]]
        self.assertNotIn("SUSPENDUE", history)
        self.assertNotIn("REJETEE", history)

        self.start_tour(
            "/odoo/action-chorus_pro_liaison.chorus_pro_processing_action",
            "chorus_pro_worklist_suspend_tour", login="admin", timeout=180,
        )
        # Suspendue is sent only once confirmed, with the motif picked, as Suspendue.
        self.assertEqual(self.status_calls(), calls_before + 1)
        self.assertEqual(suspended.chorus_status, "SUSPENDUE")
        last = self.sim.admin.invoice(self.suspended_id)["history"][-1]
        self.assertEqual(last["code"], "SUSPENDUE")
        self.assertTrue(last["comment"].startswith("Numéro d'engagement"))
        self.assertFalse(rejected.push_ids, "the other line was not sent with it")


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestWorklistTableTour(WorklistTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chorus_id = cls.deposited("TOUR-2026-123456789", attachments=1)
        cls.sync()

    def test_tick_validation_and_rename_main_document(self):
        invoice = self.received(self.chorus_id)
        main = invoice.main_attachment_pdf_id
        original = main.chorus_pro_original_name
        self.assertTrue(original)
        self.assertFalse(invoice.chorus_pro_validated)
        self.start_tour(
            "/odoo/action-chorus_pro_liaison.chorus_pro_processing_action",
            "chorus_pro_worklist_table_tour", login="admin", timeout=180,
        )
        self.assertTrue(invoice.chorus_pro_validated)
        self.assertEqual(invoice.validated_by_id.login, "admin")
        self.assertTrue(invoice.validated_at)
        self.assertEqual(main.name, "Facture mars travaux.pdf")
        self.assertEqual(main.chorus_pro_original_name, original)
        self.assertFalse(invoice.push_ids, "ticking and renaming send nothing to Chorus Pro")
