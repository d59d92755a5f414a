# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 1 against the simulator: full retrieval, idempotence, cutoff, faults, isolation."""

from datetime import date, datetime, time, timedelta, timezone
from unittest.mock import patch

import psycopg2

from odoo import fields
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from odoo.addons.chorus_pro_liaison.models.chorus_pro_run import LOCK_NAMESPACES
from odoo.addons.chorus_pro_liaison.services.retrieval import InvoiceSynchronizer, SyncInterrupted

from chorus_pro.client import OP_DOWNLOAD, OP_HISTORY, OP_SEARCH_RECEIVED
from chorus_pro.records import StatusEvent, StatusHistory
from chorus_pro.timeutil import PARIS, parse_datetime, to_utc_naive

from .common import WHOLE_WORLD, ChorusCase

LOCK_NAMESPACE = LOCK_NAMESPACES["sync"]
MANDATE_LOCK_NAMESPACE = LOCK_NAMESPACES["mandate"]


class SyncCase(ChorusCase, TransactionCase):
    account_options = WHOLE_WORLD
    reset_simulator = True

    def sim_invoices(self, tag=None, structure_id=None):
        structure_id = structure_id or self.sim.info["structure_id"]
        return [
            item for item in self.sim.admin.invoices(tag=tag)
            if item.get("idDestinataire", structure_id) == structure_id
            and item.get("statut") not in ("BROUILLON", "DEPOSEE", "EN_COURS_ACHEMINEMENT")
        ]

    def record(self, tag):
        item = self.sim_invoices(tag=tag)[0]
        invoice = self.Invoice.search([("chorus_id", "=", item["idFacture"])])
        self.assertTrue(invoice, f"invoice tagged {tag} was not retrieved")
        return invoice, self.sim.admin.invoice(item["idFacture"])


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncFull(SyncCase):
    def test_full_sync_brings_every_invoice_once(self):
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        expected = {item["idFacture"] for item in self.sim_invoices()}
        got = set(self.Invoice.search([("company_id", "=", self.env.company.id)]).mapped("chorus_id"))
        self.assertEqual(got, expected)
        self.assertEqual(run.count_new, len(expected))
        # Chorus calls per new invoice stay well under the ceiling of 3.
        calls = sum(v for k, v in self.sim.admin.counters().items() if not k.startswith("_"))
        self.assertLessEqual(calls / len(expected), 3.0)
        # Everything downloaded except what Chorus refuses to send (listed, not skipped).
        refused = {item["idFacture"] for item in self.sim_invoices(tag="download_refused")}
        problems = self.Invoice.search([("files_state", "!=", "done")])
        self.assertEqual(set(problems.mapped("chorus_id")), refused)
        for invoice in problems:
            self.assertEqual(invoice.files_state, "unavailable")
            self.assertTrue(invoice.sync_error)
            self.assertTrue(run.line_ids.filtered(lambda l, i=invoice: l.invoice_id == i))
        for invoice in self.Invoice.search([("files_state", "=", "done")]):
            self.assertTrue(invoice.main_attachment_pdf_id, invoice.number)
            self.assertEqual(invoice.main_attachment_pdf_id.mimetype, "application/pdf")
            self.assertTrue(invoice.main_attachment_pdf_id.raw.startswith(b"%PDF"))
            self.assertTrue(invoice.mise_a_disposition_date, invoice.number)
        self.assertTrue(self.account.last_sync_at)

    def test_the_one_notice_of_the_whole_world_is_the_works_invoice_chorus_refuses(self):
        """The simulated world deliberately holds one invoice whose files Chorus refuses to send
        (a works DGD, codeRetour 20003): the first retrieval's only notice, in plain words."""
        run = self.sync()
        self.assertEqual(run.state, "warning", run.summary)
        self.assertEqual(run.count_failed, 0)
        self.assertIn("1 notice(s)", run.summary)
        notice = run.line_ids.filtered(lambda line: line.level != "info")
        self.assertEqual(len(notice), 1, notice.mapped("message"))
        refused = self.sim_invoices(tag="download_refused")
        self.assertEqual(len(refused), 1)
        invoice = self.received(refused[0]["idFacture"])
        self.assertEqual(notice.invoice_id, invoice)
        self.assertEqual(notice.level, "warning")
        # What Chorus said is quoted, its code number is not; what is kept and what happens next.
        self.assertIn("cannot be downloaded from Chorus Pro for now", notice.message)
        self.assertIn("Chorus Pro does not make them available (it answered: GDP_MSG_11.017 ",
                      notice.message)
        self.assertNotIn("20003", notice.message)
        self.assertIn("Its data (supplier, amounts, status) is in Odoo; only its files are "
                      "missing", notice.message)
        self.assertIn("asked again once a day and whenever its status changes", notice.message)
        self.assertEqual(invoice.sync_error, notice.message)
        # Nothing lost: its data is there, it is listed as files missing.
        self.assertEqual(invoice.files_state, "unavailable")
        self.assertTrue(invoice.is_works and invoice.supplier_name and invoice.amount_total)
        self.assertEqual(invoice.chorus_status_code, refused[0]["statut"])
        self.assertIn(invoice, self.Invoice.search(self.Invoice._files_missing_domain()))

    def test_representative_invoices_every_field(self):
        self.sync()
        # Factored invoice: the money goes to the factor.
        invoice, sim = self.record("factored")
        self.assertTrue(invoice.is_factored)
        self.assertTrue(invoice.factor_name)
        self.assertNotEqual(invoice.factor_name.upper(), invoice.supplier_name.upper())
        self.assertEqual(invoice.bank_holder, invoice.factor_name)
        self.assertTrue(invoice.factor_identifier, "factor identity comes from the consult")
        self.assertEqual(invoice.bank_account, sim["bank"]["iban"] if "bank" in sim else invoice.bank_account)
        # Credit note pointing at its invoice.
        invoice, sim = self.record("credit_note")
        self.assertEqual(invoice.invoice_type, "credit_note")
        self.assertTrue(invoice.origin_invoice_number)
        # Several attachments: the PDF is the main document, the others keep their names.
        invoice, sim = self.record("multi_attachments")
        self.assertGreaterEqual(len(invoice.attachment_ids), 4)
        main = invoice.attachment_ids.filtered("chorus_pro_is_main")
        self.assertEqual(main, invoice.main_attachment_pdf_id)
        self.assertEqual(invoice.message_main_attachment_id, main)
        others = invoice.attachment_ids - main
        self.assertTrue(all(att.chorus_pro_original_name == att.name for att in others))
        # Besides the complementary files, the supplier's XML when it deposited a UBL flow
        # (then the main document is Chorus's PDF of it).
        xml = others.filtered(lambda att: att.mimetype == "application/xml")
        self.assertEqual(set((others - xml).mapped("chorus_pro_type_code")), {"02"})
        self.assertTrue(all(att.chorus_pro_type_code == "01" for att in xml))
        # Structured invoice: lines and VAT by rate, consistent to the cent.
        invoice, sim = self.record("multi_vat")
        self.assertTrue(invoice.line_ids)
        self.assertGreaterEqual(len(invoice.tax_ids), 2)
        self.assertAlmostEqual(sum(invoice.line_ids.mapped("amount_untaxed")), invoice.amount_untaxed, 2)
        self.assertAlmostEqual(sum(invoice.tax_ids.mapped("base")), invoice.amount_untaxed, 2)
        self.assertAlmostEqual(invoice.amount_untaxed + sum(invoice.tax_ids.mapped("amount")), invoice.amount_total, 2)
        self.assertEqual(invoice.number, sim.get("numeroFacture", invoice.number))
        self.assertTrue(invoice.supplier_identifier)
        self.assertEqual(invoice.supplier_identifier_type, "SIRET")
        self.assertTrue(invoice.bank_account.startswith("FR"))
        self.assertTrue(invoice.purchase_order)
        self.assertTrue(invoice.service_id, "the service is linked to the account's services")
        # PDF-only invoice: no lines, VAT recap only.
        invoice, sim = self.record("pdf_only")
        self.assertFalse(invoice.line_ids)
        self.assertTrue(invoice.tax_ids)
        # Works invoice through its own API.
        works = self.Invoice.search([("is_works", "=", True)])
        self.assertEqual(len(works), len(self.sim_invoices(tag="works")))
        self.assertTrue(works.filtered(lambda w: w.files_state == "done"))
        # A2 frame (already paid) is kept as such.
        invoice, sim = self.record("a2")
        self.assertEqual(invoice.frame, "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE")
        # The completed invoice's history and payment-delay start come from Chorus's history.
        invoice, sim = self.record("completed")
        self.assertEqual(invoice.chorus_status, "COMPLETEE")
        codes = invoice.status_history_ids.sorted("at").mapped("code")
        start = codes.index("MISE_A_DISPOSITION")
        self.assertEqual(codes[start:start + 3], ["MISE_A_DISPOSITION", "SUSPENDUE", "COMPLETEE"])
        first_mad = invoice.status_history_ids.filtered(lambda s: s.code == "MISE_A_DISPOSITION").sorted("at")[0]
        self.assertEqual(invoice.mise_a_disposition_at, first_mad.at)

    def test_rerun_creates_nothing_and_downloads_nothing(self):
        self.sync()
        count = self.Invoice.search_count([])
        self.sim.admin.reset_counters()
        run = self.sync()
        self.assertEqual(run.count_new, 0)
        self.assertEqual(self.Invoice.search_count([]), count)
        counters = self.sim.admin.counters()
        # Nothing is downloaded again (files Chorus refused are asked again once a day only).
        self.assertEqual(counters.get(OP_DOWNLOAD, 0), 0)
        self.assertEqual(counters.get(OP_HISTORY, 0), 0)
        refused = self.Invoice.search([("files_state", "=", "unavailable")])
        self.assertTrue(refused)
        refused.write({"files_attempted_at": "2000-01-01 00:00:00"})
        self.sync()
        self.assertEqual(self.sim.admin.counters().get(OP_DOWNLOAD, 0), len(refused))

    def test_files_asked_again_without_reading_the_history(self):
        """An invoice listed again with its status unchanged and only its files to fetch again:
        its files are downloaded, its history (nothing new in it) is not read."""
        self.sync()
        invoice = self.Invoice.search([("files_state", "=", "done"), ("is_works", "=", False)],
                                      limit=1)
        invoice.write({"files_state": "error"})
        # The whole listing examined again (as the overlap does), nothing changed in Chorus.
        self.account.last_sync_at = "2000-01-01 00:00:00"
        self.sim.admin.reset_counters()
        self.sync()
        self.assertEqual(invoice.files_state, "done", invoice.sync_error)
        counters = self.sim.admin.counters()
        self.assertGreaterEqual(counters.get(OP_DOWNLOAD, 0), 1)
        self.assertEqual(counters.get(OP_HISTORY, 0), 0)

    def test_status_changes_made_elsewhere_come_in(self):
        self.sync()
        target = next(i for i in self.sim_invoices() if i["statut"] == "MISE_A_DISPOSITION"
                      and "works" not in i.get("tags", []))
        invoice = self.Invoice.search([("chorus_id", "=", target["idFacture"])])
        # The supplier's invoice is suspended on the portal, then completed by the supplier.
        self.sim.admin.move(target["idFacture"], "SUSPENDUE", comment="Bon de livraison manquant")
        self.sync()
        self.assertEqual(invoice.chorus_status, "SUSPENDUE")
        self.assertEqual(invoice.chorus_status_comment, "Bon de livraison manquant")
        self.sim.admin.complete(target["idFacture"])
        run = self.sync()
        self.assertEqual(invoice.chorus_status, "COMPLETEE")
        self.assertEqual(run.count_updated, 1, run.summary)
        self.assertIn("SUSPENDUE", invoice.status_history_ids.mapped("code"))
        self.assertIn("COMPLETEE", invoice.status_history_ids.mapped("code"))
        self.assertTrue(invoice.message_ids.filtered(lambda m: "Completed" in (m.body or "")),
                        "the change is traced in the chatter")
        # Hélios moves a mandated invoice.
        self.sim.admin.move(target["idFacture"], "MISE_A_DISPOSITION_COMPTABLE")
        self.sync()
        self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION_COMPTABLE")
        self.sim.admin.move(target["idFacture"], "MISE_EN_PAIEMENT")
        self.sync()
        self.assertEqual(invoice.chorus_status, "MISE_EN_PAIEMENT")

    def test_other_company_sees_none(self):
        self.sync()
        company_b = self.env["res.company"].create({"name": "Autre collectivité"})
        user_b = self.chorus_user("chorus_user_b", "processor", company=company_b)
        self.assertEqual(self.Invoice.with_user(user_b).search_count([]), 0)
        self.assertEqual(self.env["chorus.pro.run"].with_user(user_b).search_count([]), 0)
        user_a = self.chorus_user("chorus_user_a", "user")
        self.assertGreater(self.Invoice.with_user(user_a).search_count([]), 0)


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncCutoff(SyncCase):
    def test_cutoff_keeps_old_closed_history_out_but_pending_in(self):
        self.account.write({
            "sync_cutoff_date": date.today().replace(day=1),
            "sync_cutoff_mode": "skip",
        })
        self.sync()
        old_pending = self.sim_invoices(tag="old_pending")[0]
        self.assertTrue(self.Invoice.search([("chorus_id", "=", old_pending["idFacture"])]),
                        "an old invoice still waiting for a decision is always imported")
        paid = self.sim_invoices(tag="paid")
        old_paid = [i for i in paid if i.get("dateHeureEtatCourant", "9999") < str(date.today().replace(day=1))]
        self.assertTrue(old_paid, "the data set has old closed invoices")
        self.assertFalse(self.Invoice.search([("chorus_id", "in", [i["idFacture"] for i in old_paid])]))

    def test_cutoff_history_mode_marks_them_processed(self):
        self.account.write({
            "sync_cutoff_date": date.today().replace(day=1),
            "sync_cutoff_mode": "history",
        })
        self.sync()
        paid = self.sim_invoices(tag="paid")
        old_paid = [i for i in paid if i.get("dateHeureEtatCourant", "9999") < str(date.today().replace(day=1))]
        records = self.Invoice.search([("chorus_id", "in", [i["idFacture"] for i in old_paid])])
        self.assertEqual(len(records), len(old_paid))
        self.assertTrue(all(records.mapped("imported_as_history")))
        old_pending = self.Invoice.search([("chorus_id", "=", self.sim_invoices(tag="old_pending")[0]["idFacture"])])
        self.assertFalse(old_pending.imported_as_history)


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncFaults(SyncCase):
    def test_injected_faults_are_survived(self):
        admin = self.sim.admin
        admin.fault(OP_SEARCH_RECEIVED, "503", count=1)
        admin.fault(OP_SEARCH_RECEIVED, "429", count=1, retry_after=1)
        admin.fault(OP_DOWNLOAD, "500", count=2)
        admin.fault(OP_HISTORY, "timeout", count=1, delay_s=12)
        admin.fault(OP_DOWNLOAD, "401", count=1)
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        expected = {item["idFacture"] for item in self.sim_invoices()}
        got = set(self.Invoice.search([]).mapped("chorus_id"))
        self.assertEqual(got, expected)
        refused = {item["idFacture"] for item in self.sim_invoices(tag="download_refused")}
        self.assertEqual(set(self.Invoice.search([("files_state", "!=", "done")]).mapped("chorus_id")), refused)

    def test_token_expiry_mid_run(self):
        self.sim.admin.config(token_ttl=1)
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assertEqual(run.count_new, len(self.sim_invoices()))

    def test_malformed_invoice_isolated_then_retried(self):
        victim = next(i for i in self.sim_invoices() if "structured" in i.get("tags", []))
        self.sim.admin.corrupt(victim["idFacture"], "broken_xml")
        run = self.sync()
        self.assertEqual(run.state, "warning")
        bad = self.Invoice.search([("chorus_id", "=", victim["idFacture"])])
        self.assertEqual(bad.files_state, "error")
        self.assertIn("malformed", bad.sync_error)
        self.assertEqual(run.count_failed, 1)
        self.assertTrue(run.line_ids.filtered(lambda l: l.level == "error" and l.invoice_id == bad))
        refused = {item["idFacture"] for item in self.sim_invoices(tag="download_refused")}
        others = self.Invoice.search([("id", "!=", bad.id), ("chorus_id", "not in", list(refused))])
        self.assertTrue(others)
        self.assertEqual(set(others.mapped("files_state")), {"done"})
        # Chorus fixes the file: the next run retrieves it.
        self.sim.admin.reset()
        self.sync()
        self.assertEqual(bad.files_state, "done")
        self.assertTrue(bad.main_attachment_pdf_id)

    def test_too_large_invoice_recorded(self):
        victim = next(i for i in self.sim_invoices() if "pdf_only" in i.get("tags", []))
        self.sim.admin.corrupt(victim["idFacture"], "too_large")
        run = self.sync()
        bad = self.Invoice.search([("chorus_id", "=", victim["idFacture"])])
        self.assertEqual(bad.files_state, "error")
        self.assertIn("413", bad.sync_error)
        self.assertEqual(run.count_failed, 1)

    def test_chorus_down_is_recorded_not_raised(self):
        self.sync()
        watermark = self.account.last_sync_at
        self.sim.admin.fault("*", "503", count=50)
        run = self.sync(trigger="cron")
        self.assertEqual(run.state, "failed")
        self.assertIn("stopped", run.summary)
        self.assertEqual(self.account.last_sync_at, watermark, "the watermark does not move")

    def test_cron_skips_disabled_and_records_expired_credentials(self):
        company_b = self.env["res.company"].create({"name": "Syndicat des eaux"})
        disabled = self.create_chorus_account(
            self.sim, company=company_b, enabled=False,
            structure_chorus_id=self.sim.info["second_structure_id"])
        self.account.password_expiry_date = date.today() - timedelta(days=2)
        Run = self.env["chorus.pro.run"]
        before = Run.search([])
        self.env["chorus.pro.account"]._cron_scheduled_sync()
        runs = Run.search([]) - before
        self.assertEqual(runs.account_id, self.account)
        self.assertEqual(runs.state, "failed")
        self.assertIn("expired", runs.summary)
        self.assertFalse(Run.search([("account_id", "=", disabled.id)]))
        self.assertTrue(self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_sync").active)

    def test_two_syncs_never_run_at_once(self):
        # Another connection holds the lock (a cron or another worker).
        registry = self.env.registry
        with registry.cursor() as other:
            other.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, self.account.id))
            try:
                run = self.sync()
            finally:
                other.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, self.account.id))
        self.assertEqual(run.state, "skipped")
        self.assertIn("already running", run.summary)
        self.assertFalse(self.Invoice.search([]))

    def test_button_queues_a_background_run(self):
        processor = self.chorus_user("chorus_processor_btn", "processor")
        action = self.account.with_user(processor).action_launch_sync()
        run = self.env["chorus.pro.run"].browse(action["res_id"])
        self.assertEqual(run.state, "queued")
        self.assertEqual(run.user_id, processor)
        cron = self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_jobs")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        # A second click opens the same run rather than starting another.
        again = self.account.with_user(processor).action_launch_sync()
        self.assertEqual(again["res_id"], run.id)
        # The job loop (run explicitly: there are no cron workers in tests).
        self.env["chorus.pro.run"]._cron_process_queue()
        self.assertIn(run.state, ("done", "warning"))
        self.assertGreater(run.count_new, 0)
        self.assertEqual(run.done, run.total)


# Logged at ERROR by design when a run fails unexpectedly (the test runner counts ERROR records).
RUN_LOGGER = "odoo.addons.chorus_pro_liaison.models.chorus_pro_run"


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncRecovery(SyncCase):
    """Runs killed half-way, SQL errors, interrupted batches, one bad invoice, the cutoff day."""

    def other_holds_lock(self, namespace=LOCK_NAMESPACE):
        """Another connection (a live cron or worker) holding the account's lock."""
        other = self.env.registry.cursor()
        other.execute("SELECT pg_try_advisory_lock(%s, %s)", (namespace, self.account.id))
        if not other.fetchone()[0]:
            other.close()
            self.fail("the account's lock is held already (leaked by an earlier run?)")

        def release():
            if not other.closed:
                other.execute("SELECT pg_advisory_unlock(%s, %s)", (namespace, self.account.id))
                other.close()

        self.addCleanup(release)
        return release

    def lock_is_free(self, namespace=LOCK_NAMESPACE):
        with self.env.registry.cursor() as other:
            other.execute("SELECT pg_try_advisory_lock(%s, %s)", (namespace, self.account.id))
            free = other.fetchone()[0]
            if free:
                other.execute("SELECT pg_advisory_unlock(%s, %s)", (namespace, self.account.id))
        return free

    def stale_run(self, run_type="sync", trigger="cron"):
        """A run its process left "running" (worker killed: SIGKILL, limit_time_real)."""
        return self.env["chorus.pro.run"].create({
            "company_id": self.account.company_id.id,
            "account_id": self.account.id,
            "run_type": run_type,
            "trigger": trigger,
            "state": "running",
            "started_at": fields.Datetime.now() - timedelta(hours=2),
        })

    # ------------------------------------------------------------------ killed runs
    def test_killed_run_is_marked_failed_and_blocks_nothing(self):
        dead = self.stale_run()
        Run = self.env["chorus.pro.run"]
        before = Run.search([])
        self.env["chorus.pro.account"]._cron_scheduled_sync()
        self.assertEqual(dead.state, "failed")
        self.assertIn("interrupted", dead.summary.lower())
        self.assertIn("next run resumes", dead.summary)
        self.assertTrue(dead.ended_at)
        # The scheduled retrieval went on with a run of its own.
        runs = Run.search([]) - before
        self.assertEqual(len(runs), 1)
        self.assertIn(runs.state, ("done", "warning"), runs.summary)
        self.assertGreater(runs.count_new, 0)
        # "Lancer la vérification" does not reopen a dead run either.
        dead_again = self.stale_run(trigger="manual")
        processor = self.chorus_user("chorus_processor_dead", "processor")
        action = self.account.with_user(processor).action_launch_sync()
        self.assertNotEqual(action["res_id"], dead_again.id)
        self.assertEqual(dead_again.state, "failed")
        self.assertEqual(Run.browse(action["res_id"]).state, "queued")

    def test_running_run_with_a_live_process_is_left_alone(self):
        live = self.stale_run()
        release = self.other_holds_lock()
        self.assertEqual(self.account._running_sync(), live)
        self.env["chorus.pro.run"]._cron_process_queue()
        self.assertEqual(live.state, "running")
        release()
        self.assertFalse(self.account._running_sync())
        self.assertEqual(live.state, "failed")

    def test_a_run_is_executed_once(self):
        # Claimed by another process (a second job cron): never executed twice.
        run = self.stale_run()
        run._execute()
        self.assertEqual(run.state, "running")
        self.assertEqual(run.count_new, 0)
        self.assertFalse(self.Invoice.search([]))
        # A queued run is claimed, then executed.
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assertTrue(run.started_at)
        self.assertTrue(self.lock_is_free(), "the lock is released after the run")

    def test_killed_mandating_run_is_marked_failed(self):
        dead = self.stale_run(run_type="mandate", trigger="manual")
        release = self.other_holds_lock(MANDATE_LOCK_NAMESPACE)
        self.env["chorus.pro.run"]._cron_process_queue()
        self.assertEqual(dead.state, "running", "its process is alive")
        release()
        self.env["chorus.pro.run"]._cron_process_queue()
        self.assertEqual(dead.state, "failed")
        self.assertIn("interrupted", dead.summary.lower())
        self.assertIn("mandated again", dead.summary)

    # ------------------------------------------------------------------ SQL error: lock released
    def test_sql_error_is_reported_and_the_lock_released(self):
        def broken(synchronizer, *args):
            synchronizer.env.cr.execute("SELECT 1 / 0")

        with patch.object(InvoiceSynchronizer, "_examine_everything", broken), \
                mute_logger(RUN_LOGGER, "odoo.sql_db"):
            run = self.sync()
        self.assertEqual(run.state, "failed")
        self.assertIn("division by zero", run.summary, "the original error is reported")
        self.assertTrue(run.ended_at)
        self.assertTrue(self.lock_is_free(), "the advisory lock does not stay held")
        # The account is not stuck: the next retrieval runs.
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)

    # ------------------------------------------------------------------ duplicates after a stop
    def test_duplicates_detected_after_an_interrupted_batch(self):
        self.sync()
        sim_twins = [item["idFacture"] for tag in ("duplicate", "duplicate_amount")
                     for item in self.sim.admin.invoices(tag=tag)]
        original = self.Invoice.search([
            ("chorus_id", "not in", sim_twins),
            ("invoice_type", "=", "invoice"), ("is_works", "=", False),
            ("supplier_identifier", "!=", False), ("is_duplicate_suspect", "=", False),
            ("chorus_status_code", "=", "MISE_A_DISPOSITION"),
        ], limit=1)
        self.assertTrue(original)
        info = self.sim.admin.invoice(original.chorus_id)
        deposited = self.sim.admin.deposit(number=original.number,
                                           supplier_index=info["supplier_index"])
        # Chorus stops answering after the batch was committed (factor lookups, single
        # downloads), before the checks made on arrival.
        with patch.object(InvoiceSynchronizer, "_complete_factored",
                          side_effect=SyncInterrupted("Chorus Pro stopped answering.")):
            run = self.sync()
        self.assertEqual(run.state, "failed")
        twin = self.Invoice.search([("chorus_id", "=", deposited["idFacture"])])
        self.assertTrue(twin, "the batch was recorded")
        self.assertFalse(twin.is_duplicate_suspect)
        self.assertTrue(twin.duplicate_check_pending)
        # The next run is not "new" for it any more, yet the duplicate is found.
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assertFalse(run.count_new)
        self.assertTrue(twin.is_duplicate_suspect)
        self.assertEqual(twin.duplicate_of_id, original)
        self.assertFalse(twin.duplicate_check_pending)
        self.assertFalse(original.is_duplicate_suspect)

    # ------------------------------------------------------------------ one bad invoice
    def failing_for(self, chorus_id):
        """The write phase of one invoice hits an SQL error (the transaction is aborted)."""
        original = InvoiceSynchronizer._values_from_summary

        def values(synchronizer, summary):
            if summary.chorus_id == chorus_id:
                synchronizer.env.cr.execute("SELECT 1 / 0")
            return original(synchronizer, summary)

        return patch.object(InvoiceSynchronizer, "_values_from_summary", values)

    def test_one_bad_invoice_does_not_stop_the_batch(self):
        expected = {item["idFacture"] for item in self.sim_invoices()}
        victim = next(i for i in self.sim_invoices() if "structured" in i.get("tags", []))
        with self.failing_for(victim["idFacture"]), mute_logger("odoo.sql_db"):
            run = self.sync()
        self.assertEqual(run.state, "warning", run.summary)
        self.assertEqual(run.count_failed, 1)
        line = run.line_ids.filtered(lambda l: l.chorus_id == victim["idFacture"])
        self.assertEqual(line.level, "error")
        self.assertIn("could not be recorded", line.message)
        self.assertIn("division by zero", line.message)
        got = set(self.Invoice.search([]).mapped("chorus_id"))
        self.assertEqual(got, expected - {victim["idFacture"]}, "the others are all in")
        self.assertFalse(self.account.last_sync_at, "examined again next time")
        # Retried at the next run.
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assertEqual(set(self.Invoice.search([]).mapped("chorus_id")), expected)
        self.assertTrue(self.account.last_sync_at)

    def test_one_invoice_whose_files_fail_does_not_stop_its_bundle(self):
        victim = next(i for i in self.sim_invoices() if "multi_attachments" in i.get("tags", []))
        original = InvoiceSynchronizer._store_invoice_files

        def store(synchronizer, invoice, summary, pivot):
            if invoice.chorus_id == victim["idFacture"]:
                synchronizer.env.cr.execute("SELECT 1 / 0")
            return original(synchronizer, invoice, summary, pivot)

        with patch.object(InvoiceSynchronizer, "_store_invoice_files", store), \
                mute_logger("odoo.sql_db"):
            run = self.sync()
        self.assertEqual(run.state, "warning", run.summary)
        self.assertEqual(run.count_failed, 1)
        invoice = self.Invoice.search([("chorus_id", "=", victim["idFacture"])])
        self.assertEqual(invoice.files_state, "error")
        self.assertIn("files of this invoice could not be recorded", invoice.sync_error)
        others = self.Invoice.search([("id", "!=", invoice.id), ("files_state", "=", "error")])
        self.assertFalse(others, "the other invoices of the bundle have their files")
        self.assertTrue(self.Invoice.search([("id", "!=", invoice.id),
                                             ("main_attachment_pdf_id", "!=", False)]))
        run = self.sync()
        self.assertEqual(invoice.files_state, "done")
        self.assertTrue(invoice.main_attachment_pdf_id)

    def test_one_bad_update_is_retried(self):
        self.sync()
        target = next(i for i in self.sim_invoices() if i["statut"] == "MISE_A_DISPOSITION"
                      and "works" not in i.get("tags", []))
        invoice = self.Invoice.search([("chorus_id", "=", target["idFacture"])])
        moved = self.sim.admin.move(target["idFacture"], "SUSPENDUE", comment="Pièce manquante")
        moved_at = to_utc_naive(parse_datetime(moved["dateHeureEtatCourant"]))
        with self.failing_for(target["idFacture"]), mute_logger("odoo.sql_db"):
            run = self.sync()
        self.assertEqual(run.state, "warning", run.summary)
        self.assertEqual(run.count_failed, 1)
        self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION")
        self.assertEqual(invoice.files_state, "error")
        self.assertIn("could not be recorded", invoice.sync_error)
        self.assertLessEqual(self.account.last_sync_at, moved_at,
                             "the watermark stays before the failed change")
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assertEqual(invoice.chorus_status, "SUSPENDUE")
        self.assertEqual(invoice.files_state, "done")

    # ------------------------------------------------------------------ cutoff day
    def test_cutoff_starts_at_paris_midnight(self):
        day = datetime.now(PARIS).date() - timedelta(days=3)
        self.account.write({"sync_cutoff_date": day, "sync_cutoff_mode": "skip"})

        def closed_at(moment):
            deposited = self.sim.admin.deposit(
                status_datetime=(moment - timedelta(minutes=10)).isoformat())
            self.sim.admin.move(deposited["idFacture"], "REJETEE", comment="Doublon",
                                at=moment.isoformat())
            return deposited["idFacture"]

        # 00:30 in Paris on the cutoff day is still the previous day in UTC.
        inside = closed_at(datetime.combine(day, time(0, 30), tzinfo=PARIS))
        before = closed_at(datetime.combine(day - timedelta(days=1), time(23, 30), tzinfo=PARIS))
        self.sync()
        self.assertTrue(self.Invoice.search([("chorus_id", "=", inside)]),
                        "closed on the cutoff day (Paris): imported")
        self.assertFalse(self.Invoice.search([("chorus_id", "=", before)]),
                         "closed the day before (Paris): left out")


@tagged("post_install", "-at_install", "chorus_pro")
class TestHistoryStoredOnce(SyncCase):
    def test_a_chorus_history_entry_is_stored_once(self):
        self.sync()
        invoice, _item = self.record("completed")
        before = len(invoice.status_history_ids)
        suspensions = invoice.status_history_ids.filtered(lambda e: e.code == "SUSPENDUE")
        self.assertEqual(len(suspensions), 1)
        entry = suspensions
        # The same answer listing an entry twice, applied again: nothing new is stored.
        event = StatusEvent(code=entry.code, at=entry.at.replace(tzinfo=timezone.utc).astimezone(PARIS),
                            comment=entry.comment or "", chorus_id=entry.chorus_history_id)
        extra = StatusEvent(code="SERVICE_FAIT", at=datetime.now(PARIS), chorus_id=987654321)
        invoice._apply_history(StatusHistory(chorus_id=invoice.chorus_id,
                                             current_status=invoice.chorus_status_code,
                                             events=[event, event, extra, extra]))
        self.assertEqual(len(invoice.status_history_ids), before + 1)
        self.assertEqual(len(invoice.status_history_ids.filtered(lambda e: e.code == "SUSPENDUE")), 1)
        # Whoever stores it, the database refuses a second copy of a Chorus entry.
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                self.env["chorus.pro.invoice.status"].create({
                    "invoice_id": invoice.id, "code": entry.code, "at": entry.at,
                    "chorus_history_id": entry.chorus_history_id,
                })


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncCallsInFlight(SyncCase):
    def test_calls_in_flight_never_exceed_the_setting(self):
        """The next chunk's calls (made ahead, in a worker thread) and the current chunk's own
        (renderings, consults, one-by-one downloads) share the account's one limit."""
        self.account.sync_parallel_calls = 2
        # Small batches and pages: many chunks, the next one's calls made while this one's
        # search page, renderings and consults are asked; a slow Chorus makes them meet.
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("chorus_pro_liaison.sync_batch_size", 4)
        params.set_param("chorus_pro_liaison.sync_page_size", 4)
        self.sim.admin.config(latency_ms=150)
        self.sim.admin.reset_counters()
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        peak = self.sim.admin.in_flight()["max_in_flight"]
        self.assertLessEqual(peak, 2)
        self.assertEqual(peak, 2, "the calls do run two at a time")

