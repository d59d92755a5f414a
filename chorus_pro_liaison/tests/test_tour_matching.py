# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import date

from odoo.tests import HttpCase, tagged

from .common import ChorusSimulatorMixin

PARTNER_NAME = "Compte connu SARL"
HISTORY_NUMBER = "HIST-0001"


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestMatchingTour(ChorusSimulatorMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_simulator()
        cls.account = cls.create_chorus_account(
            cls.sim, sync_cutoff_date=date(2000, 1, 1), sync_cutoff_mode="history"
        )
        run = cls.env["chorus.pro.run"].create({
            "company_id": cls.account.company_id.id, "account_id": cls.account.id,
            "run_type": "sync", "trigger": "manual",
        })
        run._execute()
        Invoice = cls.env["chorus.pro.invoice"]
        cls.invoice = Invoice.search([
            ("is_factored", "=", False), ("partner_id", "=", False),
            ("supplier_identifier_type", "=", "SIRET"), ("payment_iban", "!=", False),
            ("chorus_status", "=", "MISE_A_DISPOSITION"), ("imported_as_history", "=", False),
            ("amount_to_pay", ">", 0),
        ], order="chorus_id", limit=1)
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
