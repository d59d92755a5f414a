# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A French user's decisions and retrievals are told in French, labels included (issue 14):
never "a accepté le statut Service done", never the XML parser's English inside a French
sentence. The callers that have no language of their own (a script such as the demo, the retry
cron) are the ones that used to mix them."""

import re
from datetime import date
from unittest.mock import patch

from markupsafe import Markup

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from odoo.addons.chorus_pro_liaison.services.languages import selection_label
from odoo.addons.chorus_pro_liaison.services.retrieval import InvoiceSynchronizer

from .common import ChorusCase


class FrenchMessagesCase(ChorusCase, TransactionCase):
    account_options = {"sync_cutoff_date": date(2000, 1, 1)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marie = cls.french_user("mail")
        # The server itself (cron user) speaks English: only the decider is French.
        cls.env.ref("base.user_root").lang = "en_US"

    def chatter_text(self, record):
        bodies = record.message_ids.mapped("body")
        return "\n".join(re.sub(r"<[^>]+>", " ", str(body or Markup())) for body in bodies)


@tagged("post_install", "-at_install", "chorus_pro")
class TestFrenchPushMessages(FrenchMessagesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chorus_ids = [
            cls.deposited(f"FR-MSG-{rank}")
            for rank in (1, 2, 3)
        ]
        cls.sync()

    def invoice(self, rank):
        return self.received(self.chorus_ids[rank])

    def assert_french_service_fait(self, invoice, push):
        self.assertEqual(push.state, "sent", push.answer_message)
        text = self.chatter_text(invoice)
        self.assertIn("a accepté le statut Service fait", text)
        self.assertIn("Décision Service fait prise par Marie Dupont", text)
        self.assertNotIn("Service done", text)
        self.assertNotIn("accepted the status", text)
        self.assertEqual(push.answer_message, "Chorus Pro a accepté le statut Service fait.")

    def test_french_user_without_language_in_context(self):
        # As a script does (the demo): Marie's environment, no language in the context.
        invoice = self.invoice(0).with_user(self.marie).with_context(lang=None)
        self.assertFalse(invoice.env.lang)
        push = invoice._chorus_push_status("SERVICE_FAIT", motif="Conforme",
                                           service_date=date.today())
        self.assert_french_service_fait(invoice, push)

    def test_push_retried_by_the_cron_for_a_french_decider(self):
        invoice = self.invoice(1)
        self.sim.admin.fault("*", "503", count=100)
        push = invoice.with_user(self.marie).with_context(lang="fr_FR")._chorus_push_status(
            "SERVICE_FAIT", motif="Conforme", service_date=date.today())
        self.assertEqual(push.state, "pending", push.answer_message)
        self.sim.admin.clear_faults()
        # The retry cron runs as the (English) server, with no language in its context.
        cron_env = self.env(user=self.env.ref("base.user_root"), context={})
        cron_env["chorus.pro.status.push"]._cron_retry_pending()
        push.invalidate_recordset()
        self.assert_french_service_fait(invoice, push)

    def test_a_decision_is_named_in_the_language_of_the_user_reading_it(self):
        invoice = self.invoice(2)  # its own: the simulator keeps what is pushed
        push = invoice.with_context(lang="en_US")._chorus_push_status(
            "SERVICE_FAIT", motif="Conforme", service_date=date.today())
        self.assertEqual(push.with_context(lang="en_US").name, f"{invoice.number} → Service done")
        self.assertEqual(push.with_context(lang="fr_FR").name, f"{invoice.number} → Service fait")
        # Found by the invoice number it names.
        found = self.env["chorus.pro.status.push"].name_search(invoice.number)
        self.assertIn(push.id, [push_id for push_id, _name in found])

    def test_why_an_invoice_looks_like_a_duplicate_is_read_in_the_readers_language(self):
        invoice = self.invoice(0)
        self.assertEqual(selection_label(invoice.with_context(lang="fr_FR"), "duplicate_reason",
                                         "number"), "même fournisseur et même numéro de facture")
        self.assertEqual(selection_label(invoice.with_context(lang="en_US"), "duplicate_reason",
                                         "amount_date"), "same supplier, amount and invoice date")

    def test_status_label_follows_the_sentence_language(self):
        invoice = self.invoice(0)
        self.assertEqual(invoice.with_user(self.marie).with_context(lang=None)
                         ._status_label("SERVICE_FAIT"), "Service fait")
        self.assertEqual(invoice.with_context(lang="en_US")._status_label("SERVICE_FAIT"),
                         "Service done")

    def test_refusal_names_the_fields_as_the_reader_reads_them(self):
        # A refusal listing fields names them by their French labels, with or without a
        # language in the context (a script acting as Marie).
        invoice = self.invoice(0)
        for context in ({"lang": "fr_FR"}, {"lang": None}):
            with self.assertRaises(AccessError) as refused:
                invoice.with_user(self.marie).with_context(**context).write(
                    {"supplier_name": "Autre fournisseur"})
            message = str(refused.exception)
            self.assertIn("Nom du fournisseur", message)
            self.assertNotIn("Supplier Name", message)
        with self.assertRaises(AccessError) as refused:
            invoice.with_user(self.marie).with_context(lang="en_US").write(
                {"supplier_name": "Autre fournisseur"})
        self.assertIn("Supplier Name", str(refused.exception))


@tagged("post_install", "-at_install", "chorus_pro")
class TestFrenchLabelsWrittenByScripts(FrenchMessagesCase):
    """Labels of selections (a run's kind, the bank details' state) written by a script acting
    as Marie, with no language in its context: French like the sentence around them, as
    Chorus statuses are, not the server's English."""

    def test_a_run_is_named_in_the_language_of_the_user_reading_it(self):
        run = self.env["chorus.pro.run"].sudo().create({
            "company_id": self.account.company_id.id,
            "account_id": self.account.id,
            "run_type": "sync",
            "trigger": "manual",
            "user_id": self.marie.id,
        })
        as_script = run.with_user(self.marie).with_context(lang=None)
        self.assertFalse(as_script.env.lang)
        self.assertTrue(as_script.name.startswith("Récupération depuis Chorus Pro "),
                        as_script.name)
        run.invalidate_recordset(["name"])
        self.assertTrue(run.with_context(lang="en_US").name.startswith(
            "Retrieval from Chorus Pro "))

    def test_failed_runs_told_in_the_language_of_the_user_reading_them(self):
        """A run Marie launched that failed unexpectedly, and one interrupted: each summary in
        the reader's language, and no message line repeating it in Marie's."""
        Run = self.env["chorus.pro.run"].sudo()
        values = {"company_id": self.account.company_id.id, "account_id": self.account.id,
                  "run_type": "sync", "trigger": "manual", "user_id": self.marie.id}
        failed = Run.create(values)
        with patch.object(InvoiceSynchronizer, "execute", side_effect=RuntimeError("boom")), \
                mute_logger("odoo.addons.chorus_pro_liaison.models.chorus_pro_run"):
            failed.with_context(lang=None)._execute()
        interrupted = Run.create(dict(values, state="running"))
        interrupted._reap_interrupted()
        for run, english, french in (
                (failed, "Unexpected error: boom", "Erreur inattendue : boom"),
                (interrupted, "Interrupted:", "Interrompu :")):
            self.assertEqual(run.state, "failed")
            run.invalidate_recordset(["summary"])
            self.assertIn(english, run.with_context(lang="en_US").summary)
            run.invalidate_recordset(["summary"])
            self.assertIn(french, run.with_context(lang="fr_FR").summary)
            self.assertFalse(run.line_ids, run.line_ids.mapped("message"))

    def test_bank_details_state_told_in_french_when_a_script_matches_the_supplier(self):
        chorus_id = self.deposited("FR-LBL-1")
        self.sync()
        invoice = self.received(chorus_id)
        partner = self.env["res.partner"].create({"name": "Fournisseur du script",
                                                  "is_company": True})
        as_script = invoice.with_user(self.marie).with_context(lang=None)
        as_script._chorus_confirm_match(partner)
        self.assertNotEqual(invoice.bank_state, "trusted")
        french = selection_label(invoice.with_context(lang="fr_FR"), "bank_state",
                                 invoice.bank_state)
        english = selection_label(invoice.with_context(lang="en_US"), "bank_state",
                                  invoice.bank_state)
        self.assertNotEqual(french, english)
        text = self.chatter_text(invoice)
        self.assertIn("Coordonnées bancaires : %s." % french, text)
        self.assertNotIn(english, text)


@tagged("post_install", "-at_install", "chorus_pro")
class TestFrenchPivotErrors(FrenchMessagesCase):
    """A PIVOT file Chorus Pro sends broken: the reasons are French, with no English detail of
    the XML parser, for a retrieval started by a French user."""

    ENGLISH = ("malformed", "xmlParse", "EntityRef", "Opening and ending tag", "invalid decimal",
               "line ", "not a PIVOT", "invoice(s) read")

    def run_by_marie(self):
        run = self.env["chorus.pro.run"].with_user(self.marie).sudo().create({
            "company_id": self.account.company_id.id,
            "account_id": self.account.id,
            "run_type": "sync",
            "trigger": "manual",
            "user_id": self.marie.id,
        })
        # Executed in the background, as the job cron does: no language of its own.
        run.with_user(self.env.ref("base.user_root")).with_context(lang=None).sudo()._execute()
        return run

    def assert_french_reason(self, corruption, expected):
        chorus_id = self.deposited(f"FR-PIV-{len(corruption)}")
        self.sim.admin.corrupt(chorus_id, corruption)
        run = self.run_by_marie()
        self.assertEqual(run.user_id, self.marie)
        invoice = self.received(chorus_id)
        self.assertEqual(invoice.files_state, "error")
        french_reader = run.with_user(self.marie).with_context(lang="fr_FR")
        texts = [invoice.sync_error or ""] + [
            line.message for line in french_reader.line_ids if line.level == "error"
        ] + [self.chatter_text(run), french_reader.summary or ""]
        text = "\n".join(texts)
        self.assertIn(expected, text)
        for english in self.ENGLISH:
            self.assertNotIn(english, text, text)

    def test_broken_xml_told_in_french(self):
        self.assert_french_reason("broken_xml", "le XML est mal formé")

    def test_malformed_pivot_told_in_french(self):
        self.assert_french_reason("malformed_pivot", "n'est pas un nombre")
