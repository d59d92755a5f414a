# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.tests import HttpCase, tagged

from .common import WholeWorldCase

PARTNER_NAME = "Compte connu SARL"
HISTORY_NUMBER = "HIST-0001"


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestMatchingTour(WholeWorldCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Invoice = cls.Invoice
        cls.invoice = cls.unmatched_invoices(
            ("payment_iban", "!=", False), ("amount_to_pay", ">", 0))[:1]
        assert cls.invoice, "the simulated world has an unmatched invoice with an IBAN"
        # A partner known under another name, holding the supplier's IBAN (trusted) and SIRET.
        cls.partner = cls.env["res.partner"].create({
            "name": PARTNER_NAME, "is_company": True,
            "siret": cls.invoice.supplier_identifier_key,
        })
        cls.env["res.partner.bank"].create({
            "partner_id": cls.partner.id, "acc_number": cls.invoice.payment_iban,
            "allow_out_payment": True,
        })
        # Its history: a Chorus invoice of another supplier already linked to it.
        cls.past = Invoice.search([
            ("supplier_identifier_key", "!=", cls.invoice.supplier_identifier_key),
        ], limit=1)
        cls.past.write({"partner_id": cls.partner.id, "number": HISTORY_NUMBER})

    def test_matching_tour(self):
        self.assertFalse(self.invoice.partner_id)
        self.start_tour(
            f"/odoo/action-chorus_pro_liaison.chorus_pro_invoice_action/{self.invoice.id}",
            "chorus_pro_matching_tour", login="admin", timeout=120,
        )
        self.assertEqual(self.invoice.partner_id, self.partner)
        self.assertEqual(self.invoice.partner_match_origin, "manual")
        self.assertEqual(self.invoice.bank_state, "trusted")
        memory = self.env["chorus.pro.supplier"].search(
            [("identifier", "=", self.invoice.supplier_identifier_key)]
        )
        self.assertEqual(memory.partner_id, self.partner)
