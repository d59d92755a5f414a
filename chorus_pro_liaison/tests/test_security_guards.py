# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What people cannot do by calling the server directly (RPC), whatever the views show: forge a
mandate's Chorus bookkeeping, post a draft mandate whose payee was changed, skip the checks with
a context key, rewrite what Chorus said, touch a received file, change a validated bordereau,
send Chorus traffic to a URL of their choice, or re-send a Mandatée without being a mandating
officer."""

import base64

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from chorus_pro.client import OP_PROCESS

from .mandate_common import MandateCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestSecurityGuards(MandateCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_user = new_test_user(
            cls.env, login="chorus_billing_only", groups="base.group_user,account.group_account_invoice",
        )

    def ready_invoice(self):
        for invoice in self.mandate_candidates():
            self.trust_supplier(invoice)
            if invoice.mandate_ready:
                return invoice
        self.fail("the data set has an invoice ready to mandate")

    def draft_mandate(self):
        invoice = self.ready_invoice()
        self.account.mandate_auto_post = False
        run, _action = self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "draft", self.run_report(run))
        return invoice, move

    # ------------------------------------------------------------------ mandates
    def test_mandate_bookkeeping_cannot_be_forged(self):
        invoice = self.ready_invoice()
        partner = invoice.partner_id
        with self.assertRaisesRegex(AccessError, "set by the mandating"):
            self.env["account.move"].with_user(self.billing_user).create({
                "move_type": "in_invoice", "partner_id": partner.id,
                "chorus_pro_invoice_id": invoice.id, "chorus_pro_budget_id": self.budget_ttc.id,
                "chorus_pro_exercice": 2026,
            })
        self.assertFalse(invoice.mandate_move_id)
        run, _action = self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "posted", self.run_report(run))
        number = move.chorus_pro_mandate_number
        self.assertTrue(number)
        for vals in ({"chorus_pro_mandate_number": 0}, {"chorus_pro_push_id": False},
                     {"chorus_pro_bordereau_id": False},
                     {"chorus_pro_mandated_by_id": self.billing_user.id}):
            with self.assertRaisesRegex(AccessError, "set by the mandating"):
                move.with_user(self.mandating_user).write(vals)
        self.assertEqual(move.chorus_pro_mandate_number, number)
        self.assertTrue(move.chorus_pro_push_id)
        with self.assertRaisesRegex(UserError, "never automatically"):
            move.with_user(self.mandating_user).write({"auto_post": "at_date"})

    def test_draft_mandate_with_another_bank_account_is_refused(self):
        invoice, move = self.draft_mandate()
        other_bank = self.env["res.partner.bank"].create({
            "partner_id": move.partner_id.id, "acc_number": "FR7630001007941234567890185",
        })
        trusted = move.partner_bank_id
        move.with_user(self.mandating_user).write({"partner_bank_id": other_bank.id})
        # A context key sent by the client does not skip the checks.
        with self.assertRaisesRegex(UserError, "bank account is not the one trusted"):
            move.with_user(self.mandating_user).with_context(chorus_pro_checked=True).action_post()
        self.assertEqual(move.state, "draft")
        self.assertFalse(move.chorus_pro_mandate_number)
        move.with_user(self.mandating_user).write({"partner_bank_id": trusted.id})
        move.with_user(self.mandating_user).action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.chorus_pro_push_state, "sent")

    def test_mandate_validated_by_mandating_officers_only(self):
        _invoice, move = self.draft_mandate()
        with self.assertRaisesRegex(UserError, "only the mandating officers"):
            move.with_user(self.billing_user).action_post()
        self.assertEqual(move.state, "draft")

    def test_pending_rejection_blocks_mandating(self):
        invoice = self.ready_invoice()
        self.sim.admin.fault(OP_PROCESS, "503", count=5)
        push = invoice.with_user(self.processor)._chorus_push_status("REJETEE", motif="Doublon")
        self.assertEqual(push.state, "pending")
        invoice.invalidate_recordset(["mandate_ready", "mandate_blocking_reason"])
        reasons = " ".join(invoice._mandate_blocking_reasons(acting_user=self.mandating_user))
        self.assertIn("waiting to be sent", reasons)
        self.sim.admin.clear_faults()

    # ------------------------------------------------------------------ pushes
    def test_mandatee_is_resent_by_mandating_officers_only(self):
        invoice = self.ready_invoice()
        self.sim.admin.fault(OP_PROCESS, "503", count=10)
        self.mandate(invoice)
        push = invoice.mandate_move_id.chorus_pro_push_id
        self.assertEqual(push.state, "pending")
        self.sim.admin.clear_faults()
        with self.assertRaisesRegex(UserError, "mandating officers"):
            push.with_user(self.processor).action_retry()
        with self.assertRaisesRegex(UserError, "mandating officers"):
            push.with_user(self.processor).action_cancel()
        self.assertEqual(push.state, "pending")
        push.with_user(self.mandating_user).action_retry()
        self.assertEqual(push.state, "sent", push.answer_message)

    # ------------------------------------------------------------------ invoices and files
    def test_what_chorus_said_is_read_only_for_people(self):
        invoice = self.invoice("pdf_only")
        for vals in ({"chorus_status_code": "SERVICE_FAIT"}, {"amount_total": 1.0},
                     {"validated_by_id": self.mandating_user.id}):
            with self.assertRaisesRegex(AccessError, "not by hand"):
                invoice.with_user(self.processor).write(vals)
        self.assertNotEqual(invoice.amount_total, 1.0)
        # The decision fields stay the processor's.
        invoice.with_user(self.processor).write({"decision_motif": "À vérifier"})
        self.assertEqual(invoice.decision_motif, "À vérifier")

    def test_received_files_are_kept_as_delivered(self):
        invoice = self.invoice("multi_attachments")
        attachment = invoice.main_attachment_pdf_id
        content = attachment.raw
        as_processor = attachment.with_user(self.processor)
        with self.assertRaisesRegex(AccessError, "only its name"):
            as_processor.write({"datas": base64.b64encode(b"%PDF-1.4 forged")})
        with self.assertRaisesRegex(AccessError, "only its name"):
            as_processor.write({"chorus_pro_is_main": False})
        with self.assertRaisesRegex(AccessError, "cannot be deleted"):
            as_processor.unlink()
        as_processor.write({"name": "Facture principale"})
        self.assertTrue(attachment.name.startswith("Facture principale"))
        self.assertEqual(attachment.raw, content)

    # ------------------------------------------------------------------ bordereaux
    def test_bordereau_needs_chorus_to_know_its_mandates_and_is_then_frozen(self):
        invoice = self.ready_invoice()
        self.sim.admin.fault(OP_PROCESS, "503", count=10)
        self.mandate(invoice)
        move = invoice.mandate_move_id
        bordereau = move.chorus_pro_bordereau_id
        self.assertEqual(move.chorus_pro_push_state, "pending")
        with self.assertRaisesRegex(UserError, "has not confirmed the status Mandatée"):
            bordereau.with_user(self.mandating_user).action_validate()
        self.assertEqual(bordereau.state, "draft")
        self.sim.admin.clear_faults()
        move.chorus_pro_push_id.with_user(self.mandating_user).action_retry()
        bordereau.with_user(self.mandating_user).action_validate()
        self.assertEqual(bordereau.state, "validated")
        with self.assertRaisesRegex(AccessError, "given by its validation only"):
            bordereau.with_user(self.mandating_user).write({"state": "draft"})
        with self.assertRaisesRegex(UserError, "validated bordereau cannot be changed"):
            bordereau.with_user(self.mandating_user).write({"exercice": bordereau.exercice + 1})
        self.assertEqual(bordereau.state, "validated")

    # ------------------------------------------------------------------ configuration
    def test_custom_urls_are_for_system_administrators(self):
        manager = self.chorus_user("chorus_sec_manager", "manager")
        account = self.account.with_user(manager)
        with self.assertRaisesRegex(AccessError, "system administrator"):
            account.write({"custom_api_url": "http://192.0.2.1:9/"})
        self.account.environment = "qualification"
        with self.assertRaisesRegex(AccessError, "system administrator"):
            account.write({"environment": "custom"})
        self.assertEqual(self.account.environment, "qualification")
        # Unchanged custom settings can be saved by the manager (other fields of the form).
        self.account.environment = "custom"
        account.write({"environment": "custom", "reminder_days": 20})
        self.assertEqual(self.account.reminder_days, 20)
