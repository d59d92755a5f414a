# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The tiers screen (issue 14): a supplier's line opens the matching screen; "…" lists every
partner the field accepts (no company's contact) over it and brings the one chosen back into it
(the screen is not replaced); the invoice's PDF and files open in Odoo's viewer over it (no new
tab, the screen stays); Valider says what it did."""

from odoo.tests import HttpCase, tagged

from .common import WholeWorldCase

OTHER_NAME = "Autre Fournisseur Choisi SAS"
OTHER_CONTACT_NAME = "Contact Caché du tour"


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestMatchingPickerTour(WholeWorldCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.invoice = cls.unmatched_invoices(("main_attachment_pdf_id", "!=", False))[:1]
        assert cls.invoice, "the simulated world has an unmatched invoice with its PDF"
        # A partner no candidate search would propose: only "…" finds it.
        cls.other = cls.env["res.partner"].create({"name": OTHER_NAME, "is_company": True})
        # A contact of a company: never offered (suppliers are matched with companies).
        cls.env["res.partner"].create({"name": OTHER_CONTACT_NAME, "parent_id": cls.other.id})
        cls.invoice.supplier_name = "Fournisseur du tour"

    def test_pick_a_partner_with_the_dots_and_come_back(self):
        self.start_tour(
            "/odoo/action-chorus_pro_liaison.chorus_pro_invoice_action_to_match",
            "chorus_pro_matching_picker_tour", login="admin", timeout=120,
        )
        self.assertEqual(self.invoice.partner_id, self.other)
        self.assertEqual(self.invoice.partner_match_origin, "manual")
