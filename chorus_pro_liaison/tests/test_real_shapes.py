# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What the real portal sends (issue 12), through a full retrieval against the simulator, which
sends it that way by default: zipped PIVOT attachments, invoices deposited as UBL (an XML main
document: Chorus's PDF rendering is shown and mandated, the XML kept), ids and amounts as
strings, hostile archives in a bundle, and a status change answered 200 without codeRetour."""

from unittest.mock import patch

from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from chorus_pro import billing
from chorus_pro import errors as chorus_errors
from chorus_pro.client import OP_DOWNLOAD, OP_HISTORY, OP_PROCESS, ChorusProClient

from .mandate_common import MandateCommon
from .test_sync import SyncCase


class RealShapesCase(SyncCase):
    def sim_items(self, tag=None):
        """The structure's invoices in Chorus, but the one whose files Chorus refuses."""
        return [item for item in self.sim_invoices(tag=tag)
                if "download_refused" not in item.get("tags", [])]

    def retrieved(self, item):
        invoice = self.received(item["idFacture"])
        self.assertTrue(invoice, item["idFacture"])
        return invoice


@tagged("post_install", "-at_install", "chorus_pro")
class TestRealShapesSync(RealShapesCase):
    def test_every_main_document_opens_as_a_pdf_and_the_xml_is_kept(self):
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        done = self.Invoice.search([("files_state", "=", "done")])
        self.assertTrue(done)
        for invoice in done:
            main = invoice.main_attachment_pdf_id
            self.assertTrue(main, invoice.number)
            self.assertTrue(main.raw.startswith(b"%PDF"), invoice.number)
            self.assertEqual(main.mimetype, "application/pdf")
            self.assertEqual(invoice.message_main_attachment_id, main)
            self.assertFalse(any(att.raw.startswith(b"PK\x03\x04") for att in invoice.attachment_ids),
                             "an attachment stored zipped: " + invoice.number)
        xml_items = self.sim_items(tag="xml_main")
        self.assertTrue(xml_items, "the simulated world deposits some invoices as UBL")
        for item in xml_items:
            invoice = self.retrieved(item)
            main = invoice.main_attachment_pdf_id
            # Named after the invoice, a label never a path ("VEP2026/0254" → "VEP2026-0254.pdf").
            self.assertEqual(main.name, invoice.number.replace("/", "-") + ".pdf")
            self.assertEqual(invoice.attachment_ids.filtered("chorus_pro_is_main"), main)
            xml = invoice.attachment_ids.filtered(lambda att: att.mimetype == "application/xml")
            self.assertEqual(len(xml), 1, invoice.number)
            self.assertTrue(xml.name.endswith(".xml"))
            self.assertEqual(xml.chorus_pro_type_code, "01")
            self.assertIn(invoice.number.encode(), xml.raw)
            self.assertFalse(xml.chorus_pro_is_main)
        # The renderings come several per call, not one call per invoice.
        rendering_calls = self.sim.admin.counters()[OP_DOWNLOAD] - run.count_downloads
        self.assertGreaterEqual(rendering_calls, 1)
        self.assertLess(rendering_calls, len(xml_items))
        # A second run asks for nothing again.
        self.sim.admin.reset_counters()
        self.sync()
        self.assertEqual(self.sim.admin.counters().get(OP_DOWNLOAD, 0), 0)

    def test_zip_bomb_and_path_like_member_refused_the_rest_of_the_bundle_imported(self):
        items = [item for item in self.sim_items(tag="structured") if "xml_main" not in item["tags"]]
        bomb, path = items[0], items[1]
        self.sim.admin.corrupt(bomb["idFacture"], "zip_bomb")
        self.sim.admin.corrupt(path["idFacture"], "path_member")
        run = self.sync()
        self.assertEqual(run.state, "warning", run.summary)
        self.assertEqual(run.count_failed, 2)
        bad_bomb, bad_path = self.retrieved(bomb), self.retrieved(path)
        for bad in (bad_bomb, bad_path):
            self.assertEqual(bad.files_state, "error")
            self.assertFalse(bad.attachment_ids)
            self.assertTrue(run.line_ids.filtered(lambda l, b=bad: l.invoice_id == b and l.level == "error"))
        self.assertIn("zip bomb", bad_bomb.sync_error)
        self.assertIn("was refused", bad_bomb.sync_error)
        self.assertIn("The other invoices are not affected", bad_bomb.sync_error)
        self.assertIn("../../etc/passwd", bad_path.sync_error)
        self.assertIn("outside the archive", bad_path.sync_error)
        # Every other invoice of the same bundles came in, with its PDF.
        others = self.Invoice.search([("id", "not in", (bad_bomb | bad_path).ids),
                                      ("chorus_id", "in", [i["idFacture"] for i in self.sim_items()])])
        self.assertEqual(set(others.mapped("files_state")), {"done"})
        self.assertTrue(all(o.main_attachment_pdf_id.raw.startswith(b"%PDF") for o in others))
        # Chorus sends proper files again: the next run retrieves them.
        self.sim.admin.corrupt(bomb["idFacture"], "clear")
        self.sim.admin.corrupt(path["idFacture"], "clear")
        self.sync()
        for bad in (bad_bomb, bad_path):
            self.assertEqual(bad.files_state, "done")
            self.assertTrue(bad.main_attachment_pdf_id.raw.startswith(b"%PDF"))

    def test_rendering_unavailable_only_the_pdf_is_asked_again(self):
        item = self.sim_items(tag="xml_main")[0]
        self.sim.admin.corrupt(item["idFacture"], "no_rendering")
        run = self.sync()
        invoice = self.retrieved(item)
        # Its PIVOT (data, lines, the supplier's XML) is in: only Chorus's PDF is missing.
        self.assertEqual(invoice.files_state, "done", invoice.sync_error)
        self.assertTrue(invoice.rendering_pending)
        self.assertFalse(invoice.main_attachment_pdf_id)
        self.assertTrue(invoice.attachment_ids.filtered(lambda a: a.mimetype == "application/xml"))
        # The accountant sees the PDF is missing: the notice, the invoice's message and "Files
        # missing" on the Chorus Pro screen.
        self.assertIn("deposited this invoice as structured data", invoice.sync_error)
        self.assertIn("only the PDF is asked again", invoice.sync_error)
        notice = run.line_ids.filtered(lambda l: l.invoice_id == invoice)
        self.assertEqual(notice.mapped("level"), ["warning"])
        self.assertEqual(run.count_failed, 0)
        files_missing = self.Invoice.search(self.Invoice._files_missing_domain())
        self.assertIn(invoice, files_missing)
        self.assertEqual(self.env["chorus.pro.dashboard"].create({}).count_files_problem,
                         len(files_missing))
        # The other renderings of its bundle were stored.
        others = self.Invoice.search([("chorus_id", "in", [i["idFacture"] for i in self.sim_items("xml_main")]),
                                      ("id", "!=", invoice.id)])
        self.assertTrue(others and all(o.main_attachment_pdf_id for o in others))
        self.assertFalse(any(others.mapped("rendering_pending")))
        # Still refused: the next run asks Chorus's PDF again, never the PIVOT bundle.
        self.sim.admin.reset_counters()
        self.sync()
        self.assertEqual(self.sim.admin.invoice(item["idFacture"])["downloads_asked"],
                         {"PIVOT": 0, "PDF": 1})  # alone: a bundle of one is asked once
        self.assertTrue(invoice.rendering_pending)
        # Chorus renders it again: the run after brings the PDF, and nothing else.
        self.sim.admin.corrupt(item["idFacture"], "clear")
        self.sim.admin.reset_counters()
        run = self.sync()
        self.assertEqual(self.sim.admin.invoice(item["idFacture"])["downloads_asked"],
                         {"PIVOT": 0, "PDF": 1})
        self.assertEqual(self.sim.admin.counters().get(OP_DOWNLOAD), 1)
        self.assertEqual(run.state, "done", run.summary)
        self.assertEqual(invoice.files_state, "done")
        self.assertFalse(invoice.rendering_pending)
        self.assertFalse(invoice.sync_error)
        self.assertTrue(invoice.main_attachment_pdf_id.raw.startswith(b"%PDF"))
        self.assertEqual(invoice.main_attachment_pdf_id.name, invoice.number.replace("/", "-") + ".pdf")
        self.assertNotIn(invoice, self.Invoice.search(self.Invoice._files_missing_domain()))

    def test_rendering_interrupted_is_asked_by_the_next_run(self):
        """Chorus stops answering between the PIVOTs of invoices deposited as XML and their PDF
        renderings: the PIVOTs are kept, and the next run asks for the renderings only."""
        unreachable = chorus_errors.ChorusTransportError("Chorus Pro could not be reached.")
        with patch.object(ChorusProClient, "download_invoice_pdfs", side_effect=unreachable):
            run = self.sync()
        self.assertEqual(run.state, "failed", run.summary)
        waiting = self.Invoice.search([
            ("chorus_id", "in", [item["idFacture"] for item in self.sim_items(tag="xml_main")])])
        self.assertTrue(waiting, "the run stopped at the first renderings, after their PIVOTs")
        self.assertEqual(set(waiting.mapped("files_state")), {"done"})
        self.assertTrue(all(waiting.mapped("rendering_pending")))
        self.assertFalse(waiting.main_attachment_pdf_id)
        self.sim.admin.reset_counters()
        self.sync()
        for invoice in waiting:
            self.assertEqual(self.sim.admin.invoice(invoice.chorus_id)["downloads_asked"]["PIVOT"],
                             0, invoice.number)
            self.assertFalse(invoice.rendering_pending)
            self.assertTrue(invoice.main_attachment_pdf_id.raw.startswith(b"%PDF"))


@tagged("post_install", "-at_install", "chorus_pro")
class TestPushWithoutReturnCode(RealShapesCase):
    retrieve_at_setup = True

    def test_answer_without_code_is_an_unknown_outcome_verified_by_the_history(self):
        processor = self.chorus_user("chorus_shapes_processor", "processor")
        invoice = self.Invoice.search([
            ("chorus_status_code", "=", "MISE_A_DISPOSITION"), ("is_works", "=", False),
            ("invoice_type", "=", "invoice"), ("is_duplicate_suspect", "=", False),
            ("imported_as_history", "=", False), ("files_state", "=", "done"),
        ], order="chorus_id", limit=1)
        self.assertTrue(invoice)
        self.sim.admin.fault(OP_PROCESS, "no_code", count=1)
        push = invoice.with_user(processor)._chorus_push_status("SERVICE_FAIT", motif="Conforme")
        # Chorus applied it but did not say so: not "sent", the outcome is unknown.
        self.assertEqual(push.state, "pending", push.answer_message)
        self.assertTrue(push.outcome_unknown)
        self.assertIn("outcome is unknown", push.answer_message)
        self.assertTrue(push.request_body and push.response_body)
        self.assertEqual(self.sim.admin.invoice(invoice.chorus_id)["history"][-1]["code"],
                         "SERVICE_FAIT")
        # The retry reads the history first: Chorus has it, nothing is sent again.
        self.sim.admin.reset_counters()
        self.env["chorus.pro.status.push"]._cron_retry_pending()
        self.assertEqual(push.state, "already", push.answer_message)
        self.assertEqual(self.sim.admin.counters().get(OP_PROCESS, 0), 0)
        self.assertGreaterEqual(self.sim.admin.counters().get(OP_HISTORY, 0), 1)
        self.assertEqual(invoice.chorus_status, "SERVICE_FAIT")


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateXmlInvoice(MandateCommon, TransactionCase):
    service_fait_tags = ()

    def test_the_mandate_carries_chorus_pdf_of_an_invoice_deposited_as_xml(self):
        deposited_as_xml = self.Invoice.search([("chorus_id", "in", [
            item["idFacture"] for item in self.sim.admin.invoices(tag="xml_main")
            if item["statut"] == "MISE_A_DISPOSITION"
        ])])
        # An A2 invoice (already paid) is never mandated: take one that is to be paid.
        invoice = deposited_as_xml.filtered(lambda i: not billing.is_already_paid(i.frame))[:1]
        self.assertTrue(invoice, "the simulator deposits invoices to pay as XML")
        self.certify(invoice)
        self.trust_supplier(invoice)
        self.assertTrue(invoice.mandate_ready, invoice.mandate_blocking_reason)
        run = self.launch(invoice)
        move = invoice.mandate_move_id
        self.assertTrue(move, self.run_report(run))
        main = move.message_main_attachment_id
        self.assertEqual(main.mimetype, "application/pdf")
        self.assertTrue(main.raw.startswith(b"%PDF"))
        self.assertEqual(main.checksum, invoice.main_attachment_pdf_id.checksum)
        files = self.env["ir.attachment"].search([("res_model", "=", "account.move"),
                                                  ("res_id", "=", move.id)])
        # The supplier's XML goes too (Odoo serves XML uploaded by a non-admin as text/plain).
        xml = invoice.attachment_ids.filtered(lambda att: att.mimetype == "application/xml")
        self.assertTrue(xml)
        self.assertIn(xml.checksum, files.mapped("checksum"))
