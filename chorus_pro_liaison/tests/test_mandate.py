# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 4 against the simulator: from retrieval to mandate, on both VAT regimes."""

import psycopg2

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

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

    def test_supplier_default_payment_term_keeps_the_legal_due_date(self):
        invoice = self.invoice("multi_attachments")
        partner, _bank = self.trust_supplier(invoice)
        term = self.env["account.payment.term"].create({
            "name": "45 jours fin de mois",
            "line_ids": [(0, 0, {"value": "percent", "value_amount": 100, "nb_days": 45,
                                 "delay_type": "days_end_of_month_on_the"})],
        })
        partner.property_supplier_payment_term_id = term
        self.account.mandate_auto_post = False
        self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "draft")
        self.assertFalse(move.invoice_payment_term_id)
        self.assertEqual(move.invoice_date_due, invoice.dgp_due_date)
        # Touching the partner again (onchange-like recompute) must not bring the term back.
        move.partner_id = partner
        self.assertFalse(move.invoice_payment_term_id)
        # Forcing a term is refused at validation: the legal delay wins.
        move.invoice_payment_term_id = term
        with self.assertRaisesRegex(UserError, "payment terms"):
            move.with_user(self.mandating_user).action_post()
        move.invoice_payment_term_id = False
        move.invoice_date_due = invoice.dgp_due_date
        move.with_user(self.mandating_user).action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.invoice_date_due, invoice.dgp_due_date)
        self.assertEqual(move.line_ids.filtered(lambda l: l.display_type == "payment_term").date_maturity,
                         invoice.dgp_due_date)
        # Validation gives the number and tells Chorus, once.
        self.assertEqual(move.chorus_pro_mandate_number, 1)
        self.assertEqual(move.chorus_pro_push_state, "sent")
        self.assertEqual(self.traiter_calls(), 1)

    def test_credit_note_reduces_its_mandate_or_asks_for_a_titre(self):
        origin = self.invoice("credit_note_origin")
        credit_note = self.Invoice.search([("invoice_type", "=", "credit_note"),
                                           ("origin_invoice_number", "=", origin.number)])
        self.assertEqual(len(credit_note), 1)
        self.trust_supplier(origin)
        # Before its invoice is mandated, the credit note waits, and says why.
        screen = self.open_screen(origin | credit_note)
        waiting = screen.blocked_line_ids.filtered(lambda l: l.invoice_id == credit_note)
        self.assertIn("not mandated yet", waiting.reason)
        self.mandate(origin, budget=self.budget_ttc, article=self.article_ttc_2)
        mandate = origin.mandate_move_id
        self.assertEqual(mandate.state, "posted")
        calls = self.traiter_calls()
        # Now it reduces the mandate: a vendor credit note linked to it, nothing sent to Chorus.
        screen = self.open_screen(credit_note)
        line = screen.ready_line_ids
        self.assertEqual(line.invoice_id, credit_note)
        self.assertIn(f"Reduces mandate n° {mandate.chorus_pro_mandate_number}", line.effect)
        run, _action = self.mandate(credit_note)
        refund = credit_note.mandate_move_id
        self.assertTrue(refund, self.run_report(run))
        self.assertEqual(refund.move_type, "in_refund")
        self.assertEqual(refund.state, "posted")
        self.assertEqual(refund.reversed_entry_id, mandate)
        self.assertEqual(refund.partner_id, mandate.partner_id)
        self.assertEqual(refund.chorus_pro_budget_id, mandate.chorus_pro_budget_id)
        self.assertEqual(refund.chorus_pro_article_id, self.article_ttc_2)
        self.assertEqual(cents(refund.amount_total), cents(credit_note.amount_total))
        self.assertFalse(refund.invoice_line_ids.tax_ids)
        self.assertEqual(credit_note.credit_note_outcome, "reduction")
        self.assertEqual(credit_note.credit_note_mandate_id, mandate)
        self.assertEqual(cents(mandate.amount_residual),
                         cents(origin.amount_total) - cents(credit_note.amount_total))
        self.assertEqual(refund.chorus_pro_bordereau_id.kind, "cancellation")
        self.assertEqual(self.traiter_calls(), calls, "a credit note is not mandated in Chorus")
        # It is not offered again, and forcing it does nothing more.
        screen = self.open_screen(credit_note)
        self.assertIn("Already applied", screen.blocked_line_ids.reason)
        Wizard = self.env["chorus.pro.mandate.wizard"]
        year = Wizard._exercice_default()
        run = self.env["chorus.pro.run"].with_user(self.mandating_user)._launch_mandate(
            self.account, self.budget_ttc, self.article_ttc, year, Wizard._accounting_date_for(year),
            [(credit_note, None)], user=self.mandating_user,
        )
        self.assertEqual(run.mandate_request_ids.state, "skipped")
        self.assertEqual(len(self.Move.search([("chorus_pro_invoice_id", "=", credit_note.id)])), 1)

    def test_credit_note_on_a_paid_mandate_is_flagged_for_a_titre_de_recette(self):
        origin_2 = self.invoice("multi_vat")
        credit_note_2 = self.Invoice.search([("invoice_type", "=", "credit_note"),
                                             ("origin_invoice_number", "=", origin_2.number)])
        self.trust_supplier(origin_2)
        self.mandate(origin_2)
        mandate = origin_2.mandate_move_id
        # Hélios paid it.
        self.sim.admin.move(origin_2.chorus_id, "MISE_A_DISPOSITION_COMPTABLE")
        self.sim.admin.move(origin_2.chorus_id, "MISE_EN_PAIEMENT")
        self.sync_run()
        self.assertEqual(origin_2.chorus_status, "MISE_EN_PAIEMENT")
        self.assertEqual(mandate.chorus_pro_status, "MISE_EN_PAIEMENT", "Hélios's status shows on the mandate")
        screen = self.open_screen(credit_note_2)
        self.assertIn("Titre de recette", screen.ready_line_ids.effect)
        self.mandate(credit_note_2)
        self.assertEqual(credit_note_2.credit_note_outcome, "titre_recette")
        self.assertFalse(credit_note_2.mandate_move_id)
        self.assertEqual(credit_note_2.credit_note_mandate_id, mandate)
        self.assertEqual(cents(mandate.amount_residual), cents(origin_2.amount_total), "mandate untouched")
        self.assertTrue(credit_note_2.activity_ids.filtered(lambda a: "titre de recette" in a.summary))
        self.assertIn(credit_note_2, self.Invoice.search([("credit_note_outcome", "=", "titre_recette")]))

    def test_every_blocked_case_is_explained(self):
        suspended = self.invoice("completed")
        self.sim.admin.move(suspended.chorus_id, "SUSPENDUE", comment="Bon de livraison manquant")
        self.sync_run()
        self.assertEqual(suspended.chorus_status, "SUSPENDUE")
        made_available = self.Invoice.search([("chorus_status", "=", "MISE_A_DISPOSITION"),
                                              ("invoice_type", "=", "invoice")], limit=1)
        rejected = self.invoice("rejected")
        recycled = self.invoice("to_recycle")
        a2 = self.invoice("a2")
        self.trust_supplier(a2)
        no_partner = self.invoice("factored")
        bank_to_confirm = self.invoice("multi_attachments")
        self.trust_supplier(bank_to_confirm, trusted=False)
        screen = self.open_screen()
        reasons = {line.invoice_id: line.reason for line in screen.blocked_line_ids}
        expected = {
            made_available: "Service fait not certified",
            suspended: "Suspended",
            rejected: "Rejected",
            recycled: "recycler",
            a2: "already paid|Already paid",
            no_partner: "Supplier not matched",
            bank_to_confirm: "Bank account to confirm",
        }
        for invoice, pattern in expected.items():
            self.assertIn(invoice, reasons, f"{invoice.display_name} should be listed as blocked")
            self.assertRegex(reasons[invoice], pattern)
            self.assertFalse(invoice.mandate_ready)
        self.assertFalse(screen.ready_line_ids.invoice_id & self.Invoice.browse([i.id for i in expected]))
        # The A2 invoice is blocked only by its frame.
        self.assertNotIn("Supplier", reasons[a2])
        # A blocked invoice forced into a run is stopped with the same reason, nothing created.
        Wizard = self.env["chorus.pro.mandate.wizard"]
        year = Wizard._exercice_default()
        run = self.env["chorus.pro.run"].with_user(self.mandating_user)._launch_mandate(
            self.account, self.budget_ttc, self.article_ttc, year, Wizard._accounting_date_for(year),
            [(rejected, None), (bank_to_confirm, None)], user=self.mandating_user,
        )
        self.assertEqual(set(run.mandate_request_ids.mapped("state")), {"blocked"})
        self.assertRegex(run.mandate_request_ids[0].message, "Rejected")
        self.assertRegex(run.mandate_request_ids[1].message, "Bank account to confirm")
        self.assertEqual(run.state, "warning")
        self.assertFalse(self.Move.search([("chorus_pro_invoice_id", "in", (rejected | bank_to_confirm).ids)]))
        self.assertEqual(self.traiter_calls(), 0)

    def test_double_click_and_retry_make_one_mandate_and_one_push(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        wizard = self.open_screen(invoice, budget_id=self.budget_ttc.id, article_id=self.article_ttc.id)
        wizard.action_mandate()
        wizard.action_mandate()  # the second click of a double click
        again = self.open_screen(invoice)
        self.assertFalse(again.ready_line_ids, "already mandated: no longer offered")
        self.assertIn("Already mandated", again.blocked_line_ids.reason)
        # Even forced through a new run, nothing is done twice.
        run = self.env["chorus.pro.run"].with_user(self.mandating_user)._launch_mandate(
            self.account, self.budget_ttc, self.article_ttc, wizard_exercice(wizard),
            wizard.accounting_date, [(invoice, None)], user=self.mandating_user,
        )
        self.assertEqual(run.mandate_request_ids.state, "skipped")
        self.assertEqual(self.Move.search_count([("chorus_pro_invoice_id", "=", invoice.id)]), 1)
        self.assertEqual(self.traiter_calls(), 1)
        move = invoice.mandate_move_id
        move._chorus_pro_push_mandated()
        self.env["account.move"]._cron_chorus_pro_retry_mandate_pushes()
        self.assertEqual(self.traiter_calls(), 1)
        # The database itself refuses a second live mandate for the same Chorus invoice.
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), \
                self.env.cr.savepoint():
            move.copy({"chorus_pro_invoice_id": invoice.id})
            self.env.flush_all()

    def test_push_failure_is_kept_and_retried_once_chorus_answers(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        self.sim.admin.fault("factures/v1/traiter/recue", "503", count=20)
        run, action = self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "posted", "the mandate exists even when Chorus is down")
        self.assertEqual(move.chorus_pro_push_state, "failed")
        self.assertIn("unavailable", move.chorus_pro_push_message)
        self.assertEqual(run.count_failed, 1)
        self.assertEqual(action["res_model"], "chorus.pro.run", "the user sees what is left to do")
        self.sim.admin.clear_faults()
        self.sim.admin.reset_counters()
        self.env["account.move"]._cron_chorus_pro_retry_mandate_pushes()
        self.assertEqual(move.chorus_pro_push_state, "sent")
        self.assertEqual(self.traiter_calls(), 1)
        self.assertEqual(self.sim.admin.invoice(invoice.chorus_id)["numeroDPMandat"],
                         str(move.chorus_pro_mandate_number))
        self.env["account.move"]._cron_chorus_pro_retry_mandate_pushes()
        self.assertEqual(self.traiter_calls(), 1, "sent once, never again")

    def test_lost_answer_then_retry_finds_it_already_mandated(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        self.account.mandate_auto_post = False
        self.mandate(invoice)
        move = invoice.mandate_move_id
        move.with_user(self.mandating_user).with_context(chorus_pro_no_push=True).action_post()
        # Chorus received MANDATEE (e.g. from an attempt whose answer was lost).
        self.sim.admin.move(invoice.chorus_id, "MANDATEE", user="TECH",
                            numeroDPMandat=str(move.chorus_pro_mandate_number))
        move._chorus_pro_push_mandated()
        self.assertEqual(move.chorus_pro_push_state, "already")
        history = self.sim.admin.invoice(invoice.chorus_id)["history"]
        self.assertEqual([e["code"] for e in history].count("MANDATEE"), 1)


def wizard_exercice(wizard):
    return int(wizard.exercice)


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateVatAlignment(MandateCase):
    def test_rounding_difference_aligned_on_chorus_larger_one_stops(self):
        from odoo.addons.chorus_pro_liaison.models.chorus_pro_invoice_mandate import MandateBlocked

        invoice = self.invoice("multi_vat")
        self.trust_supplier(invoice)
        year = self.env["chorus.pro.mandate.wizard"]._exercice_default()
        vals = invoice._mandate_move_values(self.budget_ht, self.article_ht, year,
                                            self.env["chorus.pro.mandate.wizard"]._accounting_date_for(year),
                                            self.mandating_user)
        move = self.Move.create(vals)
        self.assertEqual(len(move.invoice_line_ids), len(invoice.line_ids))
        tax_20 = self.taxes[20.0]
        tax_line = move.line_ids.filtered(lambda l: l.tax_line_id == tax_20)
        chorus_vat = cents(invoice.tax_ids.filtered(lambda t: t.rate == 20.0).amount)
        # Odoo rounded differently by a cent (per-line rounding): aligned on Chorus's VAT.
        tax_line.amount_currency += 0.01
        self.assertNotEqual(cents(tax_line.amount_currency), chorus_vat)
        invoice._mandate_align_vat(move, self.budget_ht)
        self.assertEqual(cents(tax_line.amount_currency), chorus_vat)
        self.assertIsNone(invoice._mandate_check_totals(move))
        self.assertEqual(cents(move.amount_total), cents(invoice.amount_total))
        # More than a rounding difference: the invoice is stopped with the reason.
        tax_line.amount_currency += 0.50
        with self.assertRaisesRegex(MandateBlocked, "more than a rounding difference"):
            invoice._mandate_align_vat(move, self.budget_ht)
