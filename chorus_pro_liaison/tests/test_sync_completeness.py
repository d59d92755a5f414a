# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 1 leaves no invoice behind: works invoices on both sides of the cutoff, a listing that
moves while it is paged, an invoice suspended and completed before its first retrieval, a
history read that failed, one structure per account; and the Mandater refusal."""

from datetime import date, datetime, timedelta

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from chorus_pro.client import OP_DOWNLOAD, OP_HISTORY, OP_SEARCH_RECEIVED, OP_SEARCH_WORKS
from chorus_pro.timeutil import PARIS, to_utc_naive

from .common import WHOLE_WORLD
from .test_sync import SyncCase


def paris_iso(moment):
    return moment.astimezone(PARIS).replace(microsecond=0).isoformat()


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncWorksCutoff(SyncCase):
    def old_works(self, status):
        items = [item for item in self.sim_invoices(tag="old_works") if item["statut"] == status]
        self.assertEqual(len(items), 1)
        return items[0]["idFacture"]

    def cutoff_after_old_works(self, mode):
        # The simulated world's old works invoices are 120 and 150 days old, the recent ones
        # at most 18: a cutoff 60 days back lies between them.
        self.account.write({"sync_cutoff_date": date.today() - timedelta(days=60),
                            "sync_cutoff_mode": mode})

    def test_waiting_works_invoice_before_the_cutoff_is_retrieved(self):
        self.cutoff_after_old_works("skip")
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        waiting = self.received(self.old_works("MISE_A_DISPOSITION"))
        self.assertTrue(waiting, "a works invoice waiting for a decision always comes in")
        self.assertTrue(waiting.is_works)
        self.assertFalse(waiting.imported_as_history)
        self.assertEqual(waiting.files_state, "done")
        self.assertFalse(self.received(self.old_works("MANDATEE")),
                         "a closed works invoice older than the cutoff is left out")
        recent = [item["idFacture"] for item in self.sim_invoices(tag="works")
                  if "old_works" not in item["tags"]]
        self.assertEqual(len(self.Invoice.search([("chorus_id", "in", recent)])), len(recent))
        # Later runs look back from the last one only: the invoice stays, nothing is lost.
        self.sync()
        self.assertTrue(waiting.exists())

    def test_history_mode_imports_old_closed_works_as_history(self):
        self.cutoff_after_old_works("history")
        self.sync()
        closed = self.received(self.old_works("MANDATEE"))
        waiting = self.received(self.old_works("MISE_A_DISPOSITION"))
        self.assertTrue(closed.imported_as_history)
        self.assertTrue(waiting)
        self.assertFalse(waiting.imported_as_history)

    def test_works_searched_like_ordinary_invoices(self):
        self.cutoff_after_old_works("skip")
        self.sim.admin.reset_counters()
        self.sync()
        counters = self.sim.admin.counters()
        # One search per status waiting for a decision, then the window: for both kinds.
        self.assertEqual(counters.get(OP_SEARCH_WORKS, 0), counters.get(OP_SEARCH_RECEIVED, 0))
        self.assertGreaterEqual(counters.get(OP_SEARCH_WORKS, 0), 3)


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncListingMoves(SyncCase):
    def test_invoices_arriving_between_pages_are_not_skipped(self):
        self.env["ir.config_parameter"].sudo().set_param("chorus_pro_liaison.sync_page_size", 5)
        cutoff = date.today() - timedelta(days=40)
        self.account.write({"sync_cutoff_date": cutoff, "sync_cutoff_mode": "skip"})
        # While the invoices waiting for a decision are paged, two arrive whose dates sort them
        # onto the page already read (older than the cutoff: no other search brings them).
        long_ago = paris_iso(datetime.now(PARIS) - timedelta(days=90))
        self.sim.admin.arrive_between_pages(
            OP_SEARCH_RECEIVED, [{"status_datetime": long_ago}, {"status_datetime": long_ago}],
            page=2)
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        arrived = self.sim_invoices(tag="deposited")
        self.assertEqual(len(arrived), 2, "the simulator deposited them during the paging")
        waiting = [item["idFacture"] for item in self.sim_invoices()
                   if item["statut"] in ("MISE_A_DISPOSITION", "COMPLETEE")]
        got = self.Invoice.search([("chorus_id", "in", waiting)])
        self.assertEqual(set(got.mapped("chorus_id")), set(waiting),
                         "every invoice waiting for a decision is retrieved, the arrivals too")
        self.env.cr.execute("SELECT count(*) - count(DISTINCT chorus_id) FROM chorus_pro_invoice")
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.assertEqual(run.count_new, self.Invoice.search_count([]))
        self.assertTrue(self.account.last_sync_at)


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncFirstSightHistory(SyncCase):
    def suspended_then_completed(self, deposited_days_ago, suspended_days_ago):
        now = datetime.now(PARIS)
        deposited = self.sim.admin.deposit(
            status_datetime=paris_iso(now - timedelta(days=deposited_days_ago)))
        self.sim.admin.move(deposited["idFacture"], "SUSPENDUE", comment="Bon de commande absent",
                            at=paris_iso(now - timedelta(days=suspended_days_ago)), user="AGENT")
        self.sim.admin.complete(deposited["idFacture"], then_available=True)
        return deposited

    def assert_history_known(self, deposited):
        invoice = self.received(deposited["idFacture"])
        self.assertTrue(invoice)
        self.assertEqual(invoice.chorus_status, "MISE_A_DISPOSITION")
        codes = invoice.status_history_ids.sorted(lambda s: (s.at, s.id)).mapped("code")
        self.assertIn("SUSPENDUE", codes)
        self.assertIn("COMPLETEE", codes)
        first = to_utc_naive(datetime.fromisoformat(deposited["dateHeureEtatCourant"]))
        # (Chorus's history gives the minute.)
        self.assertLess(abs((invoice.mise_a_disposition_at - first).total_seconds()), 60,
                        "the payment delay starts at the first mise à disposition")
        self.assertTrue(invoice.dgp_interrupted)
        self.assertEqual(invoice.dgp_suspension_count, 1)
        self.assertFalse(invoice.history_pending)

    def test_suspended_and_completed_before_the_first_retrieval(self):
        # Made available again days after its deposit; and one completed the day after it.
        weeks_ago = self.suspended_then_completed(12, 9)
        yesterday = self.suspended_then_completed(1, 0.5)
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assert_history_known(weeks_ago)
        self.assert_history_known(yesterday)


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncHistoryRetry(SyncCase):
    def test_failed_history_read_is_retried_by_the_next_run(self):
        self.sim.admin.fault(OP_HISTORY, "malformed", count=1000)
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        invoice, _sim = self.record("completed")
        self.assertTrue(invoice.history_pending)
        self.assertNotIn("SUSPENDUE", invoice.status_history_ids.mapped("code"))
        self.assertEqual(invoice.files_state, "done", "the files are not what failed")
        self.assertTrue(run.line_ids.filtered(
            lambda line: line.invoice_id == invoice and "history" in (line.message or "")))
        pending = self.Invoice.search([("history_pending", "=", True)])
        self.sim.admin.clear_faults()
        self.sim.admin.reset_counters()
        self.sync()
        counters = self.sim.admin.counters()
        self.assertEqual(counters.get(OP_HISTORY, 0), len(pending))
        self.assertEqual(counters.get(OP_DOWNLOAD, 0), len(self.Invoice.search(
            [("files_state", "=", "unavailable"), ("files_attempted_at", "=", False)])))
        self.assertFalse(self.Invoice.search([("history_pending", "=", True)]))
        codes = invoice.status_history_ids.sorted(lambda s: (s.at, s.id)).mapped("code")
        self.assertEqual(codes[-3:], ["MISE_A_DISPOSITION", "SUSPENDUE", "COMPLETEE"])
        self.assertTrue(invoice.dgp_interrupted)


@tagged("post_install", "-at_install", "chorus_pro")
class TestSyncOneStructure(SyncCase):
    def test_one_structure_one_company(self):
        company_b = self.env["res.company"].create({"name": "CCAS de la commune"})
        with self.assertRaisesRegex(ValidationError, "belongs to one company only"):
            with self.env.cr.savepoint():
                self.create_chorus_account(self.sim, company=company_b)
        account_b = self.create_chorus_account(
            self.sim, company=company_b, structure_chorus_id=self.sim.info["second_structure_id"],
            **WHOLE_WORLD)
        with self.assertRaisesRegex(ValidationError, "belongs to one company only"):
            with self.env.cr.savepoint():
                account_b.structure_chorus_id = self.account.structure_chorus_id
        self.sync()
        self.sync(account_b)
        mine = self.Invoice.search([("company_id", "=", self.env.company.id)])
        theirs = self.Invoice.search([("company_id", "=", company_b.id)])
        self.assertEqual(set(theirs.mapped("chorus_id")), {
            item["idFacture"] for item in self.sim_invoices(
                structure_id=self.sim.info["second_structure_id"])})
        self.assertFalse(set(mine.mapped("chorus_id")) & set(theirs.mapped("chorus_id")))
        self.assertEqual(set(mine.mapped("recipient_chorus_id")), {self.account.structure_chorus_id})
        # Keyed by structure: the same Chorus invoice cannot be recorded in another company.
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), \
                self.env.cr.savepoint():
            self.Invoice.create({
                "company_id": company_b.id, "account_id": account_b.id,
                "chorus_id": mine[0].chorus_id, "recipient_chorus_id": mine[0].recipient_chorus_id,
            })
            self.env.flush_all()

    def test_no_structure_no_retrieval(self):
        self.account.structure_chorus_id = 0
        self.sim.admin.reset_counters()
        run = self.sync()
        self.assertEqual(run.state, "failed")
        self.assertIn("recipient structure", run.summary)
        self.assertFalse(self.Invoice.search([]))
        self.assertFalse(self.sim.admin.counters().get(OP_SEARCH_RECEIVED))


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateRefusal(SyncCase):
    def test_mandater_refused_as_an_access_error(self):
        processor = self.chorus_user("refused_processor", "processor", "validator")
        Wizard = self.env["chorus.pro.mandate.wizard"]
        # Refused by the screen's own check or by its access rights: an access error that
        # names the mandating officers either way.
        with self.assertRaisesRegex(AccessError, "(?i)mandating officer"):
            Wizard.with_user(processor)._open()
        with self.assertRaisesRegex(AccessError, "(?i)mandating officer"):
            Wizard.with_user(processor).new({}).action_mandate()
