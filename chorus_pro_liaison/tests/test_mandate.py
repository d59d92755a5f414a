# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 4 against the simulator: from retrieval to mandate, on both VAT regimes."""

import psycopg2

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.chorus_pro_liaison.models.chorus_pro_invoice_mandate import cents

from chorus_pro.client import OP_HISTORY, OP_PROCESS

from .mandate_common import MandateCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateFlow(MandateCase):
    def fresh_invoices(self, structured, count):
        """Invoices just made available (not certified yet), plain A1 invoices with a valid
        IBAN, structured (with lines) or PDF only."""
        invoices = self.Invoice.search([
            ("chorus_status", "=", "MISE_A_DISPOSITION"), ("invoice_type", "=", "invoice"),
            ("frame", "=", "A1_FACTURE_FOURNISSEUR"), ("is_factored", "=", False),
            ("is_works", "=", False), ("is_duplicate_suspect", "=", False),
            ("imported_as_history", "=", False), ("files_state", "=", "done"),
            ("bank_account_valid", "=", True),
        ], order="chorus_id").filtered(lambda i: bool(i.line_ids) == structured)
        self.assertGreaterEqual(len(invoices), count, "the data set has enough invoices")
        return invoices[:count]

    def mandate_while_chorus_fails(self, fault, count):
        """Mandate the invoice with several files (supplier trusted) while Chorus answers
        ``fault`` to the first ``count`` status pushes: the invoice, its mandate, the run and
        the action shown."""
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        self.sim.admin.fault(OP_PROCESS, fault, count=count)
        run, action = self.mandate(invoice)
        return invoice, invoice.mandate_move_id, run, action

    def assert_mandate_matches(self, move, invoice, budget, article):
        self.assertEqual(move.move_type, "in_invoice")
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.chorus_pro_invoice_id, invoice)
        self.assertEqual(invoice.mandate_move_id, move)
        self.assertEqual(move.ref, invoice.number)
        self.assertEqual(move.chorus_pro_budget_id, budget)
        self.assertEqual(move.chorus_pro_article_id, article)
        # The partner matched at step 3 and the bank account trusted there.
        self.assertEqual(move.partner_id, invoice.partner_id)
        self.assertEqual(move.partner_id.siret, invoice.supplier_identifier)
        self.assertEqual(move.partner_bank_id, invoice.partner_bank_id)
        self.assertEqual(move.partner_bank_id.sanitized_acc_number, invoice.payment_iban)
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
        # Numbered, in the open bordereau, and Chorus told MANDATEE with the number through
        # step 2's push, whose answer set the invoice's status.
        self.assertGreater(move.chorus_pro_mandate_number, 0)
        self.assertEqual(move.chorus_pro_bordereau_id.state, "draft")
        self.assertEqual(move.chorus_pro_bordereau_id.budget_id, budget)
        push = move.chorus_pro_push_id
        self.assertEqual((push.target_status, push.state), ("MANDATEE", "sent"), push.answer_message)
        self.assertEqual(push.mandate_number, str(move.chorus_pro_mandate_number))
        self.assertEqual(push.user_id, self.mandating_user)
        self.assertEqual(push.invoice_id, invoice)
        self.assertEqual(move.chorus_pro_push_state, "sent")
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        self.assertEqual(invoice.mandate_number_chorus, str(move.chorus_pro_mandate_number))
        chorus = self.sim.admin.invoice(invoice.chorus_id)
        self.assertEqual(chorus["history"][-1]["code"], "MANDATEE")
        self.assertEqual(chorus["numeroDPMandat"], str(move.chorus_pro_mandate_number))
        # The copies keep Chorus's marks (only their name can be changed).
        self.assertEqual(sorted(files.mapped("chorus_pro_original_name")),
                         sorted(invoice.attachment_ids.mapped("chorus_pro_original_name")))
        # The chatters link the invoice and its mandate both ways, and the invoice's traces
        # the Mandatée with its number.
        self.assertTrue(move.message_ids.filtered(
            lambda m: f'data-oe-model="chorus.pro.invoice" data-oe-id="{invoice.id}"' in str(m.body)))
        self.assertTrue(invoice.message_ids.filtered(
            lambda m: f'data-oe-model="account.move" data-oe-id="{move.id}"' in str(m.body)))
        self.assertTrue(invoice.message_ids.filtered(
            lambda m: f"Mandate number: {push.mandate_number}" in str(m.body)
            and "Chorus Pro accepted" in str(m.body)))

    def test_full_path_structured_and_pdf_only_on_both_budgets(self):
        structured = self.fresh_invoices(True, 2)
        pdf_only = self.fresh_invoices(False, 2)
        self.assertTrue(all(len(invoice.tax_ids) for invoice in structured | pdf_only))
        for invoice in structured | pdf_only:
            # Not ready yet: neither certified nor matched.
            self.assertFalse(invoice.mandate_ready)
            self.certify(invoice)
            self.assertEqual(invoice.chorus_status, "SERVICE_FAIT")
            if not invoice.partner_id:
                # (An invoice of a supplier matched just before follows its match.)
                self.assertRegex(invoice.mandate_blocking_reason, "not matched to a partner")
            partner, bank = self.trust_supplier(invoice)
            self.assertEqual(invoice.partner_id, partner)
            self.assertEqual(invoice.partner_bank_id, bank)
            self.assertTrue(invoice.mandate_ready, invoice.mandate_blocking_reason)
        cases = [
            (structured[0], self.budget_ttc, self.article_ttc),
            (pdf_only[0], self.budget_ttc, self.article_ttc),
            (structured[1], self.budget_ht, self.article_ht),
            (pdf_only[1], self.budget_ht, self.article_ht),
        ]
        self.sim.admin.reset_counters()
        for invoice, budget, article in cases:
            run, _action = self.mandate(invoice, budget=budget, article=article)
            self.assertTrue(invoice.mandate_move_id, self.run_report(run))
            self.assertEqual(run.state, "done", self.run_report(run))
        # One Chorus call per mandate: MANDATEE sent straight away, no history read.
        self.assertEqual(self.cpro_calls(), 4, self.sim.admin.counters())
        self.assertEqual(self.traiter_calls(), 4)
        self.assertEqual(self.sim.admin.counters().get(OP_HISTORY, 0), 0)
        for invoice, budget, article in cases:
            self.assert_mandate_matches(invoice.mandate_move_id, invoice, budget, article)
        # One series per budget.
        self.assertEqual(sorted(cases[0][0].mandate_move_id.mapped("chorus_pro_mandate_number")
                                + cases[1][0].mandate_move_id.mapped("chorus_pro_mandate_number")), [1, 2])
        self.assertEqual(sorted((cases[2][0] | cases[3][0]).mapped("mandate_move_id.chorus_pro_mandate_number")),
                         [1, 2])
        # The status came from Chorus's answer with a local history entry; the next retrieval
        # replaces it with Chorus's own entry (no duplicate).
        invoice = cases[0][0]
        local = invoice.status_history_ids.filtered(lambda e: e.code == "MANDATEE")
        self.assertEqual((len(local), local.is_local, local.chorus_history_id), (1, True, 0))
        self.sync_run()
        self.assert_chorus_entry_replaced_local_one(invoice, "MANDATEE")
        # Mandated in Odoo: no more rejection from Odoo.
        with self.assertRaisesRegex(UserError, "ordonnancement"):
            invoice.with_user(self.processor)._chorus_push_status("REJETEE", motif="Doublon")

    def test_mandated_in_odoo_blocks_rejection_before_chorus_shows_it(self):
        invoice, move, _run, _action = self.mandate_while_chorus_fails("503", count=20)
        self.assertEqual(move.chorus_pro_push_state, "pending")
        self.assertEqual(invoice.chorus_status, "SERVICE_FAIT", "Chorus was not told yet")
        self.assertTrue(invoice._chorus_is_mandated())
        self.sim.admin.clear_faults()
        for target in ("REJETEE", "SUSPENDUE"):
            with self.assertRaisesRegex(UserError, "already mandated"):
                invoice.with_user(self.processor)._chorus_push_status(target, motif="Pièce manquante")

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
        run = self.launch(credit_note)
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

    def test_net_to_pay_below_the_total_is_not_mandated_automatically(self):
        invoice = self.Invoice.search([
            ("chorus_status", "=", "SERVICE_FAIT"), ("invoice_type", "=", "invoice"),
            ("frame", "!=", "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"), ("files_state", "=", "done"),
            ("bank_account_valid", "=", True),
        ], order="id", limit=1)
        self.trust_supplier(invoice)
        self.assertTrue(invoice.mandate_ready, invoice.mandate_blocking_reason)
        # Chorus says an advance was deducted: the mandate (TTC) would overpay.
        invoice.sudo().amount_to_pay = invoice.amount_total - 100
        invoice.invalidate_recordset(["mandate_ready", "mandate_blocking_reason"])
        self.assertFalse(invoice.mandate_ready)
        self.assertIn("mandated by hand", invoice.mandate_blocking_reason)
        wizard = self.open_screen(invoice)
        self.assertTrue(wizard.line_ids.filtered(lambda line: line.invoice_id == invoice).blocked)

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
        self.trust_supplier(a2, trusted=False)
        no_partner = self.invoice("factored")
        bank_to_confirm = self.invoice("multi_attachments")
        self.trust_supplier(bank_to_confirm, trusted=False)
        self.assertEqual(bank_to_confirm.bank_state, "to_confirm")
        screen = self.open_screen()
        reasons = {line.invoice_id: line.reason for line in screen.blocked_line_ids}
        expected = {
            made_available: "Service fait not certified",
            suspended: "Suspended",
            rejected: "Rejected",
            recycled: "recycler",
            a2: "Already paid",
            # Step 3's own words.
            no_partner: "is not matched to a partner yet",
            bank_to_confirm: "is not a trusted bank account of",
        }
        for invoice, pattern in expected.items():
            self.assertIn(invoice, reasons, f"{invoice.display_name} should be listed as blocked")
            self.assertRegex(reasons[invoice], pattern)
            self.assertFalse(invoice.mandate_ready)
        self.assertFalse(screen.ready_line_ids.invoice_id & self.Invoice.browse([i.id for i in expected]))
        # The A2 invoice (nothing to pay: no bank account needed) is blocked only by its frame.
        self.assertNotIn("bank account", reasons[a2])
        self.assertNotIn("partner", reasons[a2])
        # A blocked invoice forced into a run is stopped with the same reason, nothing created.
        run = self.launch(rejected | bank_to_confirm)
        self.assertEqual(set(run.mandate_request_ids.mapped("state")), {"blocked"})
        self.assertRegex(run.mandate_request_ids[0].message, "Rejected")
        self.assertRegex(run.mandate_request_ids[1].message, "is not a trusted bank account of")
        self.assertEqual(run.state, "warning")
        self.assertFalse(self.Move.search([("chorus_pro_invoice_id", "in", (rejected | bank_to_confirm).ids)]))
        self.assertEqual(self.traiter_calls(), 0)
        # Once someone allowed to validate bank accounts trusts the IBAN, it can be mandated.
        self.trust_supplier(bank_to_confirm)
        self.assertTrue(bank_to_confirm.mandate_ready, bank_to_confirm.mandate_blocking_reason)

    def test_validation_missing_and_four_eyes_block_mandating(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        validator = self.chorus_user("chorus_validator_mandating", "validator", "mandating")
        self.account.write({"require_internal_validation": True, "four_eyes": True})
        # Validation missing: step 2's words, on the screen and in a forced run.
        screen = self.open_screen(invoice)
        self.assertFalse(screen.ready_line_ids)
        self.assertIn("has not received its internal validation", screen.blocked_line_ids.reason)
        run = self.launch(invoice)
        self.assertEqual(run.mandate_request_ids.state, "blocked")
        self.assertIn("internal validation", run.mandate_request_ids.message)
        # Validated by someone who may also mandate: the four-eyes rule stops that person.
        invoice.with_user(validator).write({"chorus_pro_validated": True})
        screen = self.open_screen(invoice, user=validator)
        self.assertIn("Four-eyes rule", screen.blocked_line_ids.reason)
        run = self.launch(invoice, user=validator)
        self.assertEqual(run.mandate_request_ids.state, "blocked")
        self.assertIn("Four-eyes rule", run.mandate_request_ids.message)
        # A draft mandate validated by the approver is refused at validation too.
        self.account.mandate_auto_post = False
        self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "draft")
        with self.assertRaisesRegex(UserError, "Four-eyes rule"):
            move.with_user(validator).action_post()
        self.assertEqual(self.traiter_calls(), 0)
        # Another mandating officer may.
        move.with_user(self.mandating_user).action_post()
        self.assertEqual(move.chorus_pro_push_state, "sent")
        self.assertEqual(move.chorus_pro_push_id.user_id, self.mandating_user)
        self.assertEqual(self.traiter_calls(), 1)

    def test_double_click_and_retry_make_one_mandate_and_one_push(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        Push = self.env["chorus.pro.status.push"]
        wizard = self.open_screen(invoice, budget_id=self.budget_ttc.id, article_id=self.article_ttc.id)
        wizard.action_mandate()
        wizard.action_mandate()  # the second click of a double click
        again = self.open_screen(invoice)
        self.assertFalse(again.ready_line_ids, "already mandated: no longer offered")
        self.assertIn("Already mandated", again.blocked_line_ids.reason)
        # Even forced through a new run, nothing is done twice.
        run = self.launch(invoice, exercice=wizard_exercice(wizard))
        self.assertEqual(run.mandate_request_ids.state, "skipped")
        self.assertEqual(self.Move.search_count([("chorus_pro_invoice_id", "=", invoice.id)]), 1)
        move = invoice.mandate_move_id
        pushes = Push.search([("invoice_id", "=", invoice.id), ("target_status", "=", "MANDATEE")])
        self.assertEqual(pushes, move.chorus_pro_push_id)
        self.assertEqual(self.traiter_calls(), 1)
        # Sending again, the retry cron, or the same decision replayed: the same push, no call.
        self.assertEqual(move._chorus_pro_push_mandated(), pushes)
        Push._cron_retry_pending()
        replayed = invoice.with_user(self.mandating_user)._chorus_push_status(
            "MANDATEE", mandate_number=str(move.chorus_pro_mandate_number))
        self.assertEqual(replayed, pushes)
        move.with_user(self.mandating_user).action_chorus_pro_push_again()
        self.assertEqual(self.traiter_calls(), 1)
        self.assertEqual(Push.search_count([("invoice_id", "=", invoice.id)]), 1)
        self.assertEqual([e["code"] for e in self.sim.admin.invoice(invoice.chorus_id)["history"]]
                         .count("MANDATEE"), 1)
        # The database itself refuses a second live mandate for the same Chorus invoice.
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), \
                self.env.cr.savepoint():
            move.copy({"chorus_pro_invoice_id": invoice.id})
            self.env.flush_all()

    def test_push_failure_is_kept_and_retried_by_step_2(self):
        invoice, move, run, action = self.mandate_while_chorus_fails("503", count=20)
        self.assertEqual(move.state, "posted", "the mandate exists even when Chorus is down")
        push = move.chorus_pro_push_id
        self.assertEqual(move.chorus_pro_push_state, "pending")
        self.assertIn("sent automatically", move.chorus_pro_push_message)
        self.assertFalse(push.outcome_unknown, "a 503 means Chorus did not process it")
        self.assertEqual(run.count_failed, 1)
        self.assertIn("not accepted by Chorus Pro yet", run.summary)
        self.assertEqual(action["res_model"], "chorus.pro.run", "the user sees what is left to do")
        self.assertEqual(invoice.chorus_status, "SERVICE_FAIT")
        self.sim.admin.clear_faults()
        self.sim.admin.reset_counters()
        # Step 2's retry cron sends it: one call, still no history read.
        self.env["chorus.pro.status.push"]._cron_retry_pending()
        self.assertEqual(move.chorus_pro_push_state, "sent", push.answer_message)
        self.assertEqual(self.traiter_calls(), 1)
        self.assertEqual(self.sim.admin.counters().get(OP_HISTORY, 0), 0)
        self.assertEqual(self.sim.admin.invoice(invoice.chorus_id)["numeroDPMandat"],
                         str(move.chorus_pro_mandate_number))
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        self.env["chorus.pro.status.push"]._cron_retry_pending()
        self.assertEqual(self.traiter_calls(), 1, "sent once, never again")

    def test_link_switched_off_mandates_wait_for_it(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        self.account.enabled = False
        run, _action = self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "posted", self.run_report(run))
        self.assertEqual(move.chorus_pro_push_state, "pending")
        self.assertIn("switched off", move.chorus_pro_push_message)
        self.assertEqual(self.traiter_calls(), 0)
        self.account.enabled = True
        self.env["chorus.pro.status.push"]._cron_retry_pending()
        self.assertEqual(move.chorus_pro_push_state, "sent", move.chorus_pro_push_message)
        self.assertEqual(self.traiter_calls(), 1)

    def test_lost_answer_then_retry_reads_the_history_first(self):
        # Chorus processes MANDATEE but the connection drops before its answer.
        invoice, move, _run, _action = self.mandate_while_chorus_fails("reset", count=5)
        push = move.chorus_pro_push_id
        self.assertEqual(push.state, "pending", push.answer_message)
        self.assertTrue(push.outcome_unknown)
        self.sim.admin.clear_faults()
        self.sim.admin.move(invoice.chorus_id, "MANDATEE", user="TECH",
                            numeroDPMandat=str(move.chorus_pro_mandate_number))
        self.sim.admin.reset_counters()
        self.env["chorus.pro.status.push"]._cron_retry_pending()
        self.assertEqual(push.state, "already", push.answer_message)
        self.assertEqual(self.sim.admin.counters().get(OP_HISTORY, 0), 1)
        self.assertEqual(self.traiter_calls(), 0, "not sent twice")
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        history = self.sim.admin.invoice(invoice.chorus_id)["history"]
        self.assertEqual([e["code"] for e in history].count("MANDATEE"), 1)

    def test_refused_first_attempt_reads_the_history_already_mandated(self):
        invoice = self.invoice("multi_attachments")
        self.trust_supplier(invoice)
        self.account.mandate_auto_post = False
        self.mandate(invoice)
        move = invoice.mandate_move_id
        move.with_user(self.mandating_user).with_context(chorus_pro_no_push=True).action_post()
        push = move.chorus_pro_push_id
        self.assertEqual(push.state, "pending", "recorded with the validation, not sent yet")
        # Meanwhile Chorus got MANDATEE (an earlier attempt whose answer was lost).
        self.sim.admin.move(invoice.chorus_id, "MANDATEE", user="TECH",
                            numeroDPMandat=str(move.chorus_pro_mandate_number))
        self.sim.admin.reset_counters()
        move._chorus_pro_push_mandated()
        self.assertEqual(move.chorus_pro_push_state, "already", push.answer_message)
        self.assertEqual(self.traiter_calls(), 1)
        self.assertEqual(self.sim.admin.counters().get(OP_HISTORY, 0), 1)
        history = self.sim.admin.invoice(invoice.chorus_id)["history"]
        self.assertEqual([e["code"] for e in history].count("MANDATEE"), 1)
        self.assertEqual(invoice.chorus_status, "MANDATEE")


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


@tagged("post_install", "-at_install", "chorus_pro")
class TestOpenActions(MandateCase):
    """The buttons that open related records (Odoo's ``_get_records_action``) show exactly
    those records: one record opens its form, a list never shows more than its own."""

    def records_shown(self, action):
        if action.get("res_id"):
            return self.env[action["res_model"]].browse(action["res_id"])
        return self.env[action["res_model"]].search(action.get("domain") or [("id", "=", 0)])

    def test_each_button_opens_its_own_records(self):
        invoice = self.ready_invoices(1)[0]
        run, _action = self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertTrue(move, self.run_report(run))
        user_invoice = invoice.with_user(self.mandating_user)

        action = run.action_open_mandates()
        self.assertEqual((action["res_model"], action["res_id"]), ("account.move", move.id))
        self.assertEqual(self.records_shown(user_invoice.action_open_mandate()), move)
        self.assertEqual(self.records_shown(move.action_open_chorus_pro_invoice()), invoice)
        self.assertEqual(self.records_shown(move.action_open_chorus_pro_push()),
                         move.chorus_pro_push_id)
        self.assertEqual(self.records_shown(user_invoice.action_open_pushes()), invoice.push_ids)
        files = self.records_shown(user_invoice.action_open_files())
        self.assertEqual(files, invoice.attachment_ids)
        self.assertEqual([view for _id, view in user_invoice.action_open_files()["views"]],
                         ["kanban", "list", "form"])
        self.assertIn(move, self.records_shown(move.chorus_pro_bordereau_id.action_open_mandates()))
        self.assertEqual(self.records_shown(self.account._action_open_form()), self.account)
        self.assertEqual(self.records_shown(run._action_open()), run)

        # A run without mandates (the retrieval) lists none, not every move; its invoices are
        # its own.
        retrieval = self.env["chorus.pro.run"].search([("run_type", "=", "sync")], limit=1)
        self.assertFalse(self.records_shown(retrieval.action_open_mandates()))
        listed = self.records_shown(retrieval.action_open_invoices())
        self.assertTrue(listed)
        self.assertEqual(listed, retrieval.invoice_ids | retrieval.line_ids.invoice_id)
