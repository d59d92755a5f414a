# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 4 as a French user reads it (issue 14): the Mandater screen's breadcrumb reads
"Mandater"; the mandates list shows positive amounts; a mandate's lines are written with a
decimal comma; an invoice not ready to mandate says so in one alert, not two."""

from odoo.tests import HttpCase, tagged

from .mandate_common import MandateCommon


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestFrenchMandateTour(MandateCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marie = cls.french_user("web", "mail", "account",
                                    roles=("mandating", "processor", "user"))

    def test_french_mandates(self):
        invoice = self.invoice("multi_vat")
        self.trust_supplier(invoice)
        self.assertTrue(invoice.mandate_ready, invoice.mandate_blocking_reason)
        run, _action = self.mandate(invoice, user=self.marie)
        mandate = invoice.mandate_move_id
        self.assertTrue(mandate, self.run_report(run))
        self.assertGreater(mandate.chorus_pro_mandate_total, 0)
        # Written for Marie: amounts in the lines' labels with a decimal comma.
        labels = " | ".join(mandate.invoice_line_ids.mapped("name"))
        self.assertRegex(labels, r"\d,\d\d", labels)
        self.assertNotRegex(labels, r"\d\.\d\d\b", labels)
        # Certified Service fait, supplier not matched: not ready to mandate.
        blocked = self.invoice("multi_attachments")
        self.assertEqual(blocked.chorus_status, "SERVICE_FAIT")
        self.assertFalse(blocked.mandate_ready)
        self.tour_as_marie(
            "/odoo/action-chorus_pro_liaison.chorus_pro_mandate_wizard_action",
            "chorus_pro_french_mandater_tour")
        self.tour_as_marie(
            f"/odoo/action-chorus_pro_liaison.chorus_pro_mandate_action/{mandate.id}",
            "chorus_pro_french_mandate_tour")
        self.tour_as_marie(
            f"/odoo/action-chorus_pro_liaison.chorus_pro_invoice_action/{blocked.id}",
            "chorus_pro_french_not_ready_tour")
