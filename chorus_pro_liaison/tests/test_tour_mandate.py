# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.tests import HttpCase, tagged

from .mandate_common import MandateCommon


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestMandateTour(MandateCommon, HttpCase):
    # Nothing certified beforehand: the test goes through steps 2 and 3 for real.
    service_fait_tags = ()

    def test_mandate_two_invoices_tour(self):
        for tag in ("multi_vat", "multi_attachments"):
            invoice = self.invoice(tag)
            self.certify(invoice)  # Service fait pushed by a processor (step 2)
            self.trust_supplier(invoice)  # matched, IBAN trusted (step 3)
        ready = self.Invoice.search(self.Invoice._to_mandate_domain()).filtered("mandate_ready")
        self.assertGreaterEqual(len(ready), 2)
        self.sim.admin.reset_counters()
        self.start_tour("/odoo/action-chorus_pro_liaison.chorus_pro_mandate_wizard_action",
                        "chorus_pro_mandate_tour", login="admin", timeout=180)
        mandates = self.env["account.move"].search([("chorus_pro_invoice_id", "!=", False)])
        self.assertEqual(len(mandates), 2)
        self.assertEqual(set(mandates.mapped("state")), {"posted"})
        self.assertEqual(sorted(mandates.mapped("chorus_pro_mandate_number")), [1, 2])
        self.assertEqual(mandates.chorus_pro_article_id.code, "6042")
        self.assertEqual(set(mandates.mapped("chorus_pro_push_state")), {"sent"})
        self.assertEqual(mandates.chorus_pro_push_id.mapped("target_status"), ["MANDATEE"] * 2)
        self.assertEqual(set(mandates.chorus_pro_invoice_id.mapped("chorus_status")), {"MANDATEE"})
        self.assertTrue(all(m.message_main_attachment_id.mimetype == "application/pdf" for m in mandates))
        self.assertEqual(self.traiter_calls(), 2)
        for mandate in mandates:
            chorus = self.sim.admin.invoice(mandate.chorus_pro_chorus_id)
            self.assertEqual(chorus["numeroDPMandat"], str(mandate.chorus_pro_mandate_number))
