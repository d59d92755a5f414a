# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import date

from odoo.tests import HttpCase, tagged

from .common import ChorusCase

NUMBER = "TOUR-2026-0042"
MOTIF = "Montant erroné : le devis accepté indiquait 1 200 € HT"


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestProcessingTour(ChorusCase, HttpCase):
    account_options = {"sync_cutoff_date": date(2000, 1, 1)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chorus_id = cls.deposited(NUMBER, attachments=1)
        cls.sync()

    def test_reject_with_motif_and_open_pdf(self):
        invoice = self.received(self.chorus_id)
        self.assertTrue(invoice.main_attachment_pdf_id)
        self.start_tour(
            "/odoo/action-chorus_pro_liaison.chorus_pro_processing_action",
            "chorus_pro_processing_tour",
            login="admin",
            timeout=180,
        )
        self.assertEqual(invoice.chorus_status, "REJETEE")
        push = invoice.last_push_id
        self.assertEqual((push.state, push.motif), ("sent", MOTIF))
        self.assertEqual(push.user_id.login, "admin")
        last = self.sim.admin.invoice(self.chorus_id)["history"][-1]
        self.assertEqual((last["code"], last["comment"]), ("REJETEE", MOTIF))
