# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 2 against the simulator: decisions pushed to Chorus Pro, their rules, retries, access."""

import json
from datetime import timedelta

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tests.common import TransactionCase

from chorus_pro.client import OP_PROCESS
from chorus_pro.evidence import Evidence, verify_evidence
from chorus_pro.timeutil import paris_today

from .common import WholeWorldCase


class ProcessingCase(WholeWorldCase, TransactionCase):
    """The simulator also goes back to the same world before each test."""

    reset_simulator = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Push = cls.env["chorus.pro.status.push"]
        cls.processor = cls.chorus_user("chorus_processor", "processor")
        cls.reader = cls.chorus_user("chorus_reader", "user")
        cls.validator = cls.chorus_user("chorus_validator", "validator")
        cls.mandating = cls.chorus_user("chorus_mandating", "mandating")
        cls.validator_mandating = cls.chorus_user("chorus_both", "validator", "mandating")

    # ------------------------------------------------------------------ helpers
    def pick(self, count=1, status="MISE_A_DISPOSITION"):
        invoices = self.Invoice.search([
            ("chorus_status_code", "=", status),
            ("is_works", "=", False),
            ("invoice_type", "=", "invoice"),
            ("is_duplicate_suspect", "=", False),
            ("imported_as_history", "=", False),
            ("files_state", "=", "done"),
        ], order="chorus_id")
        self.assertGreaterEqual(len(invoices), count, f"not enough {status} invoices")
        return invoices[:count] if count > 1 else invoices[0]

    def by_tag(self, tag):
        item = next(
            item for item in self.sim.admin.invoices(tag=tag)
            if item["idDestinataire"] == self.sim.info["structure_id"]
        )
        invoice = self.Invoice.search([("chorus_id", "=", item["idFacture"])])
        self.assertTrue(invoice, f"invoice tagged {tag} was not retrieved")
        return invoice

    def sim_history(self, invoice):
        return self.sim.admin.invoice(invoice.chorus_id)["history"]

    def calls(self, operation=None):
        counters = self.sim.admin.counters()
        if operation:
            return counters.get(operation, 0)
        return sum(v for k, v in counters.items() if not k.startswith("_"))

    def push(self, invoice, target, user=None, **kwargs):
        user = user or self.processor
        return invoice.with_user(user)._chorus_push_status(target, **kwargs)


@tagged("post_install", "-at_install", "chorus_pro")
class TestProcessingTransitions(ProcessingCase):
    def test_each_decision_accepted_and_traced(self):
        invoices = self.pick(4)
        decisions = [
            ("SERVICE_FAIT", "Livraison conforme au bon de commande"),
            ("REJETEE", "Montant erroné : le devis indiquait 1 200 €"),
            ("SUSPENDUE", "Bon de livraison manquant"),
            ("A_RECYCLER", "Mauvais code service : ECOLES attendu"),
        ]
        service_day = paris_today() - timedelta(days=3)
        for invoice, (target, motif) in zip(invoices, decisions):
            extra = {"service_date": service_day} if target == "SERVICE_FAIT" else {}
            push = self.push(invoice, target, motif=motif, **extra)
            self.assertEqual(push.state, "sent", push.answer_message)
            self.assertEqual(push.user_id, self.processor)
            self.assertEqual(push.chorus_code, "0")
            # Chorus has it, with the motif, in its history.
            last = self.sim_history(invoice)[-1]
            self.assertEqual((last["code"], last["comment"]), (target, motif))
            # The status shown in Odoo comes from Chorus, after it accepted.
            self.assertEqual(invoice.chorus_status, target)
            self.assertIn(target, invoice.status_history_ids.mapped("code"))
            self.assertEqual(invoice.push_state, "sent")
            self.assertFalse(invoice.decision_status)
            # The exact request is kept, and the evidence matches the bytes exchanged.
            sent = json.loads(push._request_bytes())
            self.assertEqual(sent["nouveauStatut"], target)
            self.assertEqual(sent["motif"], motif)
            self.assertEqual(sent["idFacture"], invoice.chorus_id)
            evidence = Evidence.from_json(push.evidence)
            check = verify_evidence(evidence, push._request_bytes(), push._response_bytes())
            self.assertTrue(check.request_matches and check.response_matches, check.message)
            self.assertEqual(evidence.document["extra"]["target_status"], target)
            self.assertEqual(evidence.document["extra"]["user_login"], self.processor.login)
            self.assertFalse(push.evidence_signed)
            # Traced in the chatter: who, what, motif and Chorus's answer.
            note = invoice.message_ids.filtered(lambda m, motif=motif: motif in (m.body or ""))
            self.assertTrue(note, f"no chatter trace for {target}")
            self.assertIn(self.processor.name, note[0].body)
        self.assertEqual(invoices[0].service_done_date, service_day)
        self.assertEqual(invoices[0].push_ids.service_date, service_day)

    def test_mandatee_through_the_same_path(self):
        invoice = self.pick(status="SERVICE_FAIT")
        with self.assertRaisesRegex(UserError, "mandate number"):
            self.push(invoice, "MANDATEE", user=self.mandating)
        with self.assertRaisesRegex(UserError, "mandating officers"):
            self.push(invoice, "MANDATEE", mandate_number="2026-M-000815")
        self.assertEqual(self.calls(OP_PROCESS), 0)
        push = self.push(invoice, "MANDATEE", user=self.mandating, mandate_number="2026-M-000815")
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual(json.loads(push._request_bytes())["numeroDPMandat"], "2026-M-000815")
        self.assertEqual(self.sim.admin.invoice(invoice.chorus_id)["numeroDPMandat"], "2026-M-000815")
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        # Mandated: no more rejection or suspension from Odoo.
        with self.assertRaisesRegex(UserError, "ordonnancement"):
            self.push(invoice, "REJETEE", motif="Doublon")

    def test_mandatee_queues_behind_a_pending_decision(self):
        invoice = self.pick()
        self.sim.admin.fault("*", "503", count=100)
        service = self.push(invoice, "SERVICE_FAIT", motif="Conforme")
        mandate = self.push(invoice, "MANDATEE", user=self.mandating, mandate_number="2026-M-7")
        self.assertEqual((service.state, mandate.state), ("pending", "pending"))
        self.assertIn("waits for the decision", mandate.answer_message)
        self.sim.admin.clear_faults()
        self.Push._cron_retry_pending()
        self.assertEqual((service.state, mandate.state), ("sent", "sent"), mandate.answer_message)
        codes = [entry["code"] for entry in self.sim_history(invoice)]
        self.assertEqual(codes[-2:], ["SERVICE_FAIT", "MANDATEE"])
        self.assertEqual(invoice.chorus_status, "MANDATEE")

    def test_double_click_and_replay_push_once(self):
        invoice = self.pick()
        first = self.push(invoice, "REJETEE", motif="Doublon")
        second = self.push(invoice, "REJETEE", motif="Doublon")
        self.assertEqual(first, second)
        self.assertEqual(len(invoice.push_ids), 1)
        self.assertEqual(self.calls(OP_PROCESS), 1)
        self.assertEqual([e["code"] for e in self.sim_history(invoice)].count("REJETEE"), 1)

    def test_replayed_pending_decision_not_sent_when_chorus_has_it(self):
        invoice = self.pick()
        # Chorus processed the request but the answer was lost (connection reset after it).
        self.sim.admin.fault(OP_PROCESS, "reset", count=1)
        push = self.push(invoice, "SUSPENDUE", motif="Bon de livraison manquant")
        self.assertEqual(push.state, "pending", push.answer_message)
        self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION",
                         "the status changes only when Chorus accepts")
        # Meanwhile Chorus did record it (as the lost answer would have said).
        self.sim.admin.move(invoice.chorus_id, "SUSPENDUE", comment="Bon de livraison manquant")
        self.sim.admin.reset_counters()
        again = self.push(invoice, "SUSPENDUE", motif="Bon de livraison manquant")
        self.assertEqual(again, push)
        self.assertEqual(push.state, "already")
        self.assertEqual(self.calls(OP_PROCESS), 0, "nothing sent twice")
        self.assertEqual(invoice.chorus_status, "SUSPENDUE")
        self.assertFalse(invoice.decision_status)


@tagged("post_install", "-at_install", "chorus_pro")
class TestProcessingRules(ProcessingCase):
    def test_missing_motif_refused_before_any_call(self):
        invoice = self.pick()
        self.sim.admin.reset_counters()
        for target in ("REJETEE", "SUSPENDUE", "SERVICE_FAIT"):
            with self.assertRaisesRegex(UserError, "motif is required"):
                self.push(invoice, target, motif="   ")
        with self.assertRaisesRegex(UserError, "at most 255"):
            self.push(invoice, "REJETEE", motif="x" * 256)
        with self.assertRaisesRegex(UserError, "future"):
            self.push(invoice, "SERVICE_FAIT", motif="Conforme",
                      service_date=paris_today() + timedelta(days=1))
        self.account.enabled = False
        with self.assertRaisesRegex(UserError, "switched off"):
            self.push(invoice, "REJETEE", motif="Doublon")
        self.account.enabled = True
        self.assertEqual(self.calls(), 0, "no Chorus call for a refused decision")
        self.assertFalse(invoice.push_ids, "nothing recorded")
        # The company may relax the motif for Service fait; the date defaults to today.
        self.account.require_service_fait_motif = False
        push = self.push(invoice, "SERVICE_FAIT")
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual(push.service_date, paris_today())
        self.assertEqual(self.sim_history(invoice)[-1]["code"], "SERVICE_FAIT")

    def test_chorus_refusal_20002_refreshes_and_keeps_motif(self):
        invoice = self.pick()
        invoice.with_user(self.processor).write({
            "decision_status": "SERVICE_FAIT",
            "decision_motif": "Livraison conforme",
        })
        # Someone rejected it on the portal; Odoo does not know yet.
        self.sim.admin.move(invoice.chorus_id, "REJETEE", comment="Rejet saisi sur le portail",
                            user="AGENT PORTAIL")
        action = invoice.with_user(self.processor).action_confirm_decision()
        push = invoice.last_push_id
        self.assertEqual(push.state, "refused")
        self.assertEqual(push.chorus_code, "20002")
        self.assertIn("refused this status change", push.answer_message)
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("refused", action["params"]["message"])
        # Refreshed from Chorus, motif and decision kept for the next attempt.
        self.assertEqual(invoice.chorus_status, "REJETEE")
        self.assertEqual(invoice.decision_status, "SERVICE_FAIT")
        self.assertEqual(invoice.decision_motif, "Livraison conforme")
        self.assertEqual(invoice.push_state, "refused")
        # The refusal is evidence too.
        self.assertIn(b"20002", push._response_bytes())
        self.assertTrue(verify_evidence(Evidence.from_json(push.evidence),
                                        push._request_bytes(), push._response_bytes()).request_matches)
        self.assertTrue(invoice.message_ids.filtered(lambda m: "refused" in (m.body or "")))

    def test_chorus_down_pending_then_sent_by_the_retry_job(self):
        invoice = self.pick()
        self.sim.admin.fault("*", "503", count=100)
        push = self.push(invoice, "REJETEE", motif="Montant erroné")
        self.assertEqual(push.state, "pending")
        self.assertIn("will be sent automatically", push.answer_message)
        self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION")
        self.assertEqual(invoice.push_state, "pending")
        self.assertEqual(invoice.decision_motif, "Montant erroné")
        # Still down: the job records it and does not raise.
        self.Push._cron_retry_pending()
        self.assertEqual(push.state, "pending")
        self.assertEqual(push.attempts, 2)
        # Another decision waits for this one.
        with self.assertRaisesRegex(UserError, "waiting to be sent"):
            self.push(invoice, "SUSPENDUE", motif="Pièce manquante")
        self.sim.admin.clear_faults()
        self.Push._cron_retry_pending()
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual(self.sim_history(invoice)[-1]["comment"], "Montant erroné")
        self.assertEqual(invoice.chorus_status, "REJETEE")
        cron = self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_push_retry")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (10, "minutes"))

    def test_send_now_and_withdraw(self):
        first, second = self.pick(2)
        self.sim.admin.fault("*", "503", count=100)
        pending = self.push(first, "SUSPENDUE", motif="Bon de livraison manquant")
        withdrawn = self.push(second, "SUSPENDUE", motif="Bon de livraison manquant")
        self.sim.admin.clear_faults()
        action = first.with_user(self.processor).action_send_pending()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        self.assertEqual(pending.state, "sent")
        with self.assertRaises(UserError):
            withdrawn.with_user(self.reader).action_cancel()
        withdrawn.with_user(self.processor).action_cancel()
        self.assertEqual(withdrawn.state, "failed")
        self.assertIn("Withdrawn", withdrawn.answer_message)
        self.assertEqual(self.sim_history(second)[-1]["code"], "MISE_A_DISPOSITION")
        # Another decision can now be taken.
        self.assertEqual(self.push(second, "REJETEE", motif="Doublon").state, "sent")

    def test_cron_respects_the_guard(self):
        invoice = self.pick()
        self.sim.admin.fault("*", "503", count=100)
        push = self.push(invoice, "REJETEE", motif="Montant erroné")
        self.sim.admin.clear_faults()
        self.account.password_expiry_date = paris_today() - timedelta(days=1)
        self.Push._cron_retry_pending()
        self.assertEqual(push.state, "pending")
        self.assertIn("expired", push.answer_message)
        self.assertEqual(self.sim_history(invoice)[-1]["code"], "MISE_A_DISPOSITION")

    def test_second_suspension_refused(self):
        invoice = self.by_tag("completed")  # suspended once already, then completed
        self.assertEqual(invoice.chorus_status, "COMPLETEE")
        self.sim.admin.reset_counters()
        with self.assertRaisesRegex(UserError, "only one interruption"):
            self.push(invoice, "SUSPENDUE", motif="Autre pièce manquante")
        self.assertEqual(self.calls(), 0)
        # Our own suspension counts too.
        fresh = self.pick()
        self.assertEqual(self.push(fresh, "SUSPENDUE", motif="BL manquant").state, "sent")
        self.sim.admin.complete(fresh.chorus_id)
        self.sync()
        self.assertEqual(fresh.chorus_status, "COMPLETEE")
        with self.assertRaisesRegex(UserError, "only one interruption"):
            self.push(fresh, "SUSPENDUE", motif="Encore une pièce")
        self.assertEqual(self.push(fresh, "SERVICE_FAIT", motif="Conforme").state, "sent")

    def test_mandated_or_helios_invoices_are_protected(self):
        mandated = self.pick(status="MANDATEE")
        self.sim.admin.reset_counters()
        for target in ("REJETEE", "SUSPENDUE"):
            with self.assertRaisesRegex(UserError, "ordonnancement"):
                self.push(mandated, target, motif="Doublon")
        paid = self.pick(status="MISE_EN_PAIEMENT")
        with self.assertRaisesRegex(UserError, "public accountant"):
            self.push(paid, "REJETEE", motif="Doublon")
        self.assertEqual(self.calls(), 0)
        # Hélios moved it in the meantime: refused after the history read, nothing sent.
        invoice = self.pick()
        self.sim.admin.move(invoice.chorus_id, "MANDATEE", user="AGENT")
        self.sim.admin.move(invoice.chorus_id, "MISE_A_DISPOSITION_COMPTABLE")
        push = self.push(invoice, "SERVICE_FAIT", motif="Conforme")
        self.assertEqual(push.state, "refused")
        self.assertIn("public accountant", push.answer_message)
        self.assertEqual(self.calls(OP_PROCESS), 0)
        self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION_COMPTABLE")

    def test_status_rules_and_consequences(self):
        invoice = self.pick()
        form = Form(invoice.with_user(self.processor))
        form.decision_status = "REJETEE"
        self.assertIn("new invoice with a new number", form.decision_warning)
        self.assertTrue(form.decision_motif_required)
        form.decision_motif_id = self.env.ref("chorus_pro_liaison.motif_missing_purchase_order")
        self.assertEqual(form.decision_status, "REJETEE", "a motif never changes the decision")
        form.decision_status = "A_RECYCLER"
        self.assertFalse(form.decision_motif_id, "a motif of another decision is dropped")
        self.assertFalse(form.decision_motif)
        form.decision_motif_id = self.env.ref("chorus_pro_liaison.motif_wrong_recipient")
        self.assertEqual(form.decision_status, "A_RECYCLER")
        self.assertIn("same invoice number", form.decision_warning)
        self.assertTrue(form.decision_motif.startswith("Mauvais destinataire"))
        form.decision_status = "SERVICE_FAIT"
        self.assertFalse(form.decision_motif_id)
        self.assertEqual(form.service_done_date, paris_today())
        form.save()
        with self.assertRaises(ValidationError):
            invoice.with_user(self.processor).service_done_date = paris_today() + timedelta(days=2)
        rejected = self.by_tag("rejected")
        with self.assertRaisesRegex(UserError, "no status can be set"):
            self.push(rejected, "SERVICE_FAIT", motif="Conforme")


@tagged("post_install", "-at_install", "chorus_pro")
class TestProcessingScreen(ProcessingCase):
    def test_worklist_batch_confirmation_explains_consequences(self):
        first, second = self.pick(2)
        first.with_user(self.processor).write({"decision_status": "REJETEE",
                                               "decision_motif": "TVA erronée"})
        second.with_user(self.processor).write({"decision_status": "SERVICE_FAIT",
                                                "decision_motif": "Conforme",
                                                "service_done_date": paris_today()})
        action = (first | second).with_user(self.processor).action_confirm_selected()
        wizard = self.env[action["res_model"]].with_user(self.processor).browse(action["res_id"])
        self.assertTrue(wizard.needs_acknowledgement)
        self.assertIn("new invoice with a new number", wizard.summary)
        with self.assertRaisesRegex(UserError, "consequences"):
            wizard.action_confirm()
        self.assertEqual(self.calls(OP_PROCESS), 0)
        wizard.acknowledged = True
        result = wizard.action_confirm()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
        self.assertEqual((first.chorus_status, second.chorus_status), ("REJETEE", "SERVICE_FAIT"))
        self.assertEqual(self.calls(OP_PROCESS), 2)

    def test_worklist_action_and_dashboard(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_processing_action")
        self.assertEqual(action["res_model"], "chorus.pro.invoice")
        worklist = self.Invoice.search(self.Invoice._chorus_worklist_domain())
        self.assertTrue(worklist)
        self.assertEqual(set(worklist.mapped("chorus_status")), {"MISE_A_DISPOSITION", "COMPLETEE"})
        dashboard = self.env["chorus.pro.dashboard"].with_user(self.processor).create({})
        self.assertEqual(dashboard.count_duplicates, 2)
        self.assertEqual(dashboard.action_open_processing()["id"], action["id"])

    def test_eye_icon_opens_pdf_then_attachments(self):
        invoice = self.by_tag("multi_attachments")
        action = invoice.with_user(self.reader).action_preview_files()
        self.assertEqual(action["tag"], "chorus_pro_preview_files")
        files = action["params"]["files"]
        self.assertEqual(files[0]["id"], invoice.main_attachment_pdf_id.id)
        self.assertEqual(files[0]["mimetype"], "application/pdf")
        self.assertEqual({f["id"] for f in files}, set(invoice.attachment_ids.ids))

    def test_rename_keeps_the_file_and_its_chorus_name(self):
        invoice = self.by_tag("multi_attachments")
        attachment = (invoice.attachment_ids - invoice.main_attachment_pdf_id)[0]
        original, raw = attachment.chorus_pro_original_name, attachment.raw
        extension = original.rsplit(".", 1)[1]
        invoice.with_user(self.processor).write({
            "attachment_ids": [(1, attachment.id, {"name": "Bon de livraison signé"})],
        })
        self.assertEqual(attachment.name, f"Bon de livraison signé.{extension}")
        self.assertEqual(attachment.chorus_pro_original_name, original)
        self.assertEqual(attachment.raw, raw)
        self.assertTrue(invoice.message_ids.filtered(lambda m: "renamed" in (m.body or "")))
        with self.assertRaises(AccessError):
            attachment.with_user(self.processor).write({"chorus_pro_original_name": "x.pdf"})
        with self.assertRaises(AccessError):
            attachment.with_user(self.reader).write({"name": "Autre nom"})

    def test_duplicates_flagged_on_arrival(self):
        flagged = self.Invoice.search([("is_duplicate_suspect", "=", True)])
        expected = set()
        for tag in ("duplicate", "duplicate_amount"):
            pair = self.Invoice.search([("chorus_id", "in", [
                item["idFacture"] for item in self.sim.admin.invoices(tag=tag)])])
            self.assertEqual(len(pair), 2)
            original, twin = pair.sorted(lambda inv: inv._chorus_arrival_key())
            expected.add(twin.id)
            self.assertEqual(twin.duplicate_of_id, original)
            self.assertEqual(twin.decision_status, "REJETEE")
            self.assertEqual(twin.decision_motif_id.code, "duplicate")
            self.assertIn("doublon", twin.decision_motif.lower())
            # Why, as a code told in the reader's language (French: TestFrenchPushMessages).
            self.assertIn(twin.duplicate_reason, ("number", "amount_date"))
            self.assertIn("same supplier", twin.with_context(lang="en_US").decision_warning)
            self.assertFalse(original.is_duplicate_suspect)
            self.assertTrue(twin.message_ids.filtered(lambda m: "duplicate" in (m.body or "")))
        self.assertEqual(set(flagged.ids), expected)
        # Same number as an invoice already mandated, under a new Chorus id.
        mandated = self.pick(status="MANDATEE")
        info = self.sim.admin.invoice(mandated.chorus_id)
        deposited = self.sim.admin.deposit(number=mandated.number,
                                           supplier_index=info["supplier_index"])
        self.sync()
        new = self.Invoice.search([("chorus_id", "=", deposited["idFacture"])])
        self.assertTrue(new.is_duplicate_suspect)
        self.assertEqual(new.duplicate_of_id, mandated)
        # The processor checks it and clears the suspicion.
        new.with_user(self.processor).action_not_duplicate()
        self.assertFalse(new.is_duplicate_suspect)
        self.assertFalse(new.decision_status)

    def test_twin_search_takes_names_and_numbers_letter_for_letter(self):
        """A supplier without identifier is compared by name, whole: "_" and "%" in a name or a
        number are letters, not wildcards (the twin search escapes them)."""
        first, second = self.Invoice.search([
            ("invoice_type", "=", "invoice"), ("company_id", "=", self.account.company_id.id),
            ("chorus_status_code", "!=", "A_RECYCLER"),
        ], limit=2)
        values = {"supplier_identifier": False, "number": "F_2026%01"}
        first.sudo().write(dict(values, supplier_name="Atelier_Bleu"))
        second.sudo().write(dict(values, supplier_name="AtelierXBleu"))

        def twins(invoice):
            return self.Invoice.search(invoice._chorus_twin_searches()[0][0])

        self.assertFalse(twins(second), "AtelierXBleu is not Atelier_Bleu")
        second.sudo().write({"supplier_name": "ATELIER_BLEU", "number": "F_2026%01"})
        self.assertEqual(twins(second), first, "the same name in capitals is the same supplier")
        second.sudo().write({"number": "FX2026X01"})
        self.assertFalse(twins(second), "the number is compared letter for letter")


@tagged("post_install", "-at_install", "chorus_pro")
class TestProcessingValidationAndAccess(ProcessingCase):
    def test_internal_validation_required_and_four_eyes(self):
        invoice = self.pick(status="SERVICE_FAIT")
        self.account.require_internal_validation = True
        self.assertTrue(invoice._check_validation_for_mandate(self.mandating))
        with self.assertRaisesRegex(UserError, "internal validation"):
            self.push(invoice, "MANDATEE", user=self.mandating, mandate_number="M-1")
        with self.assertRaises(AccessError):
            invoice.with_user(self.processor).write({"chorus_pro_validated": True})
        invoice.with_user(self.validator_mandating).write({"chorus_pro_validated": True})
        self.assertEqual(invoice.validated_by_id, self.validator_mandating)
        self.assertTrue(invoice.validated_at)
        self.assertEqual(invoice._check_validation_for_mandate(self.mandating), [])
        # Four-eyes: who approved cannot mandate.
        self.account.four_eyes = True
        reasons = invoice._check_validation_for_mandate(self.validator_mandating)
        self.assertEqual(len(reasons), 1)
        self.assertIn("Four-eyes", reasons[0])
        with self.assertRaisesRegex(UserError, "Four-eyes"):
            self.push(invoice, "MANDATEE", user=self.validator_mandating, mandate_number="M-1")
        self.assertEqual(self.calls(OP_PROCESS), 0)
        self.assertEqual(self.push(invoice, "MANDATEE", user=self.mandating,
                                   mandate_number="M-1").state, "sent")
        # Withdrawing the validation needs a reason, which is tracked.
        with self.assertRaisesRegex(UserError, "reason"):
            invoice.with_user(self.validator).write({"chorus_pro_validated": False})
        invoice.with_user(self.validator).write({
            "chorus_pro_validated": False,
            "validation_reset_reason": "Montant à revoir avec le service",
        })
        self.assertFalse(invoice.validated_by_id)
        self.assertEqual(invoice.validation_reset_reason, "Montant à revoir avec le service")
        self.assertTrue(invoice._check_validation_for_mandate(self.mandating))
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.assertTrue(invoice.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "chorus_pro_validated"))

    def test_access_rights_by_group(self):
        invoice = self.pick()
        for user in (self.reader, self.validator, self.mandating):
            with self.assertRaisesRegex(UserError, "processors"):
                self.push(invoice, "REJETEE", user=user, motif="Doublon")
            with self.assertRaises(AccessError):
                invoice.with_user(user).write({"decision_status": "REJETEE"})
        with self.assertRaises(AccessError):
            invoice.with_user(self.reader).action_confirm_decision()
        with self.assertRaises(AccessError):
            invoice.with_user(self.validator).write({"supplier_name": "Autre"})
        push = self.push(invoice, "REJETEE", motif="Doublon")
        self.assertEqual(push.state, "sent")
        # Everyone of the company reads the decisions; nobody edits them.
        self.assertEqual(push.with_user(self.reader).answer_message, push.answer_message)
        for user in (self.reader, self.processor):
            with self.assertRaises(AccessError):
                push.with_user(user).write({"motif": "Autre"})
        # Usual motifs: configured by managers only.
        with self.assertRaises(AccessError):
            self.env["chorus.pro.motif"].with_user(self.processor).create(
                {"name": "X", "text": "X"})
        self.assertTrue(self.env["chorus.pro.motif"].with_user(self.processor).search([]))
        # Another company's processor sees nothing of ours.
        other = self.env["res.company"].create({"name": "Syndicat des eaux"})
        outsider = self.chorus_user("chorus_outsider", "processor", company=other)
        self.assertFalse(self.Invoice.with_user(outsider).search([("id", "=", invoice.id)]))
        self.assertFalse(self.Push.with_user(outsider).search([("id", "=", push.id)]))
        other_invoice = self.pick()
        with self.assertRaises(AccessError):
            self.push(other_invoice, "REJETEE", user=outsider, motif="Doublon")
