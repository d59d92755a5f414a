# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 4 against the simulator: from retrieval to mandate, on both VAT regimes."""

from odoo.tests import tagged

from odoo.addons.chorus_pro_liaison.models.chorus_pro_invoice_mandate import cents

from .mandate_common import MandateCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateFlow(MandateCase):
    def assert_mandate_matches(self, move, invoice, budget, article):
        self.assertEqual(move.move_type, "in_invoice")
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.chorus_pro_invoice_id, invoice)
        self.assertEqual(invoice.mandate_move_id, move)
        self.assertEqual(move.ref, invoice.number)
        self.assertEqual(move.chorus_pro_budget_id, budget)
        self.assertEqual(move.chorus_pro_article_id, article)
        self.assertEqual(move.partner_id.siret, invoice.supplier_identifier)
        self.assertEqual(move.partner_bank_id.sanitized_acc_number, invoice.bank_account.replace(" ", ""))
        self.assertTrue(move.partner_bank_id.allow_out_payment)
        self.assertFalse(move.invoice_payment_term_id)
        self.assertTrue(invoice.dgp_due_date)
        self.assertEqual(move.invoice_date_due, invoice.dgp_due_date)
        self.assertEqual(move.chorus_pro_dgp_due_date, invoice.dgp_due_date)
        self.assertEqual(move.line_ids.filtered(lambda l: l.display_type == "payment_term").date_maturity,
                         invoice.dgp_due_date)
        self.assertEqual(set(move.invoice_line_ids.account_id.ids), {article.account_id.id})
        # Totals to the cent, the way the budget's VAT regime wants them.
        self.assertEqual(cents(move.amount_total), cents(invoice.amount_total))
        if budget.vat_recovering:
            self.assertEqual(cents(move.amount_untaxed), cents(invoice.amount_untaxed))
            self.assertEqual(cents(move.amount_tax), cents(invoice.amount_tax))
            self.assertEqual(
                sorted(move.invoice_line_ids.tax_ids.mapped("amount")),
                sorted({tax.rate for tax in invoice.tax_ids}),
            )
        else:
            self.assertFalse(move.invoice_line_ids.tax_ids, "no deductible VAT on this budget")
            self.assertEqual(cents(move.amount_tax), 0)
            self.assertEqual(cents(move.amount_untaxed), cents(invoice.amount_total))
        # Lines: the structured lines, or one per VAT rate.
        expected_lines = len(invoice.line_ids) or len(invoice.tax_ids) or 1
        self.assertEqual(len(move.invoice_line_ids), expected_lines)
        # Every file of the Chorus invoice, the PDF as the main document.
        files = self.env["ir.attachment"].search([("res_model", "=", "account.move"), ("res_id", "=", move.id)])
        self.assertEqual(sorted(files.mapped("checksum")), sorted(invoice.attachment_ids.mapped("checksum")))
        self.assertEqual(move.message_main_attachment_id.checksum, invoice.main_attachment_pdf_id.checksum)
        self.assertEqual(move.message_main_attachment_id.mimetype, "application/pdf")
        # Numbered, in the open bordereau, and Chorus told MANDATEE with the number.
        self.assertGreater(move.chorus_pro_mandate_number, 0)
        self.assertEqual(move.chorus_pro_bordereau_id.state, "draft")
        self.assertEqual(move.chorus_pro_bordereau_id.budget_id, budget)
        self.assertEqual(move.chorus_pro_push_state, "sent")
        chorus = self.sim.admin.invoice(invoice.chorus_id)
        self.assertEqual(chorus["history"][-1]["code"], "MANDATEE")
        self.assertEqual(chorus["numeroDPMandat"], str(move.chorus_pro_mandate_number))

    def test_structured_and_pdf_only_on_both_budgets(self):
        structured = self.invoice("multi_vat")
        self.assertTrue(structured.line_ids and len(structured.tax_ids) == 3)
        structured_2 = self.invoice("multi_attachments")
        self.assertTrue(structured_2.line_ids)
        pdf_only = self.invoice("pdf_only", status="SERVICE_FAIT")
        self.assertFalse(pdf_only.line_ids)
        pdf_only_2 = self.invoice("service_done", index=1)
        for invoice in (structured, structured_2, pdf_only, pdf_only_2):
            self.trust_supplier(invoice)
        cases = [
            (structured, self.budget_ttc, self.article_ttc),
            (pdf_only, self.budget_ttc, self.article_ttc),
            (structured_2, self.budget_ht, self.article_ht),
            (pdf_only_2, self.budget_ht, self.article_ht),
        ]
        calls_before = self.cpro_calls()
        for invoice, budget, article in cases:
            self.assertTrue(invoice.mandate_ready, invoice.mandate_blocking_reason)
            run, _action = self.mandate(invoice, budget=budget, article=article)
            self.assertTrue(invoice.mandate_move_id, self.run_report(run))
        self.assertEqual(self.cpro_calls() - calls_before, 4, "one Chorus call per mandate")
        for invoice, budget, article in cases:
            self.assert_mandate_matches(invoice.mandate_move_id, invoice, budget, article)
        # One series per budget.
        self.assertEqual(sorted(structured.mandate_move_id.mapped("chorus_pro_mandate_number")
                                + pdf_only.mandate_move_id.mapped("chorus_pro_mandate_number")), [1, 2])
        self.assertEqual(sorted((structured_2 | pdf_only_2).mapped("mandate_move_id.chorus_pro_mandate_number")),
                         [1, 2])
