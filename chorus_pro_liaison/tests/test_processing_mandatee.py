# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""MANDATEE through step 2's push: one Chorus call on a first attempt, the history read only
when Chorus refuses or after an unknown outcome, the status taken from Chorus's answer and a
local history entry replaced by Chorus's own at the next retrieval."""

import json
from datetime import datetime, timedelta, timezone

from odoo.tests import tagged

from chorus_pro.client import OP_HISTORY, OP_PROCESS
from chorus_pro.records import StatusEvent, StatusHistory

from .test_processing import ProcessingCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateePush(ProcessingCase):
    def mandatee(self, invoice, number="2026-M-000815"):
        return self.push(invoice, "MANDATEE", user=self.mandating, mandate_number=number)

    def test_first_attempt_is_one_call_and_sets_the_status_from_the_answer(self):
        invoice = self.pick(status="SERVICE_FAIT")
        self.sim.admin.reset_counters()
        push = self.mandatee(invoice)
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual(self.calls(OP_PROCESS), 1)
        self.assertEqual(self.calls(OP_HISTORY), 0)
        self.assertEqual(self.calls(), self.calls(OP_PROCESS) + self.calls("api/oauth/token"))
        self.assertFalse(push.outcome_unknown)
        # Chorus's answer set the status; a local history entry stands for Chorus's.
        answer = json.loads(push._response_bytes())
        self.assertEqual(answer["nouveauStatut"], "MANDATEE")
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        self.assertEqual(invoice.chorus_status_code, "MANDATEE")
        self.assertEqual(invoice.mandate_number_chorus, "2026-M-000815")
        self.assertEqual(str(invoice.status_datetime.date()), answer["dateTraitement"])
        local = invoice.status_history_ids.filtered(lambda entry: entry.code == "MANDATEE")
        self.assertEqual(len(local), 1)
        self.assertTrue(local.is_local)
        self.assertEqual(local.chorus_history_id, 0)
        self.assertEqual(invoice.push_state, "sent")
        # The next retrieval replaces it with Chorus's own entry: no duplicate.
        self.sync()
        self.assert_chorus_entry_replaced_local_one(invoice, "MANDATEE")

    def test_refused_first_attempt_already_when_chorus_has_it(self):
        invoice = self.pick(status="SERVICE_FAIT")
        # Chorus already has MANDATEE with this number (set outside this push).
        self.sim.admin.move(invoice.chorus_id, "MANDATEE", user="AGENT",
                            numeroDPMandat="2026-M-000815")
        self.sim.admin.reset_counters()
        push = self.mandatee(invoice)
        self.assertEqual(push.state, "already", push.answer_message)
        self.assertEqual(self.calls(OP_PROCESS), 1)
        self.assertEqual(self.calls(OP_HISTORY), 1, "read only because Chorus refused")
        self.assertEqual(invoice.chorus_status, "MANDATEE")
        self.assertIn(b"20002", push._response_bytes(), "the refused exchange is kept")
        self.assertEqual([e["code"] for e in self.sim_history(invoice)].count("MANDATEE"), 1)

    def test_refused_first_attempt_with_another_mandate_number(self):
        invoice = self.pick(status="SERVICE_FAIT")
        self.sim.admin.move(invoice.chorus_id, "MANDATEE", user="AGENT", numeroDPMandat="M-OTHER")
        # The retrieval showed Chorus's mandate number (consult answer).
        invoice.sudo().mandate_number_chorus = "M-OTHER"
        push = self.mandatee(invoice, number="M-1")
        self.assertEqual(push.state, "refused")
        self.assertIn("another mandate number", push.answer_message)
        self.assertIn("M-OTHER", push.answer_message)

    def test_refused_first_attempt_really_refused(self):
        invoice = self.pick(status="SERVICE_FAIT")
        self.sim.admin.move(invoice.chorus_id, "REJETEE", comment="Rejet saisi sur le portail",
                            user="AGENT PORTAIL")
        self.sim.admin.reset_counters()
        push = self.mandatee(invoice)
        self.assertEqual(push.state, "refused")
        self.assertEqual(push.chorus_code, "20002")
        self.assertIn("refused this status change", push.answer_message)
        self.assertEqual((self.calls(OP_PROCESS), self.calls(OP_HISTORY)), (1, 1))
        self.assertEqual(invoice.chorus_status, "REJETEE", "refreshed from the history")

    def test_retry_after_an_unknown_outcome_reads_the_history_first(self):
        invoice = self.pick(status="SERVICE_FAIT")
        # The connection drops while Chorus may be processing it: outcome unknown.
        self.sim.admin.fault(OP_PROCESS, "reset", count=1)
        push = self.mandatee(invoice)
        self.assertEqual(push.state, "pending", push.answer_message)
        self.assertTrue(push.outcome_unknown)
        self.assertEqual(invoice.chorus_status, "SERVICE_FAIT")
        self.sim.admin.reset_counters()
        self.Push._cron_retry_pending()
        # History first (Chorus had not got it), then sent: two calls.
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual((self.calls(OP_HISTORY), self.calls(OP_PROCESS)), (1, 1))
        self.assertEqual(invoice.chorus_status, "MANDATEE")

    def test_retry_after_a_503_sends_directly(self):
        invoice = self.pick(status="SERVICE_FAIT")
        self.sim.admin.fault(OP_PROCESS, "503", count=10)
        push = self.mandatee(invoice)
        self.assertEqual(push.state, "pending")
        self.assertFalse(push.outcome_unknown, "Chorus said it did not process it")
        self.sim.admin.clear_faults()
        self.sim.admin.reset_counters()
        self.Push._cron_retry_pending()
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual((self.calls(OP_HISTORY), self.calls(OP_PROCESS)), (0, 1))

    def test_other_statuses_still_read_the_history_first(self):
        invoice = self.pick()
        self.sim.admin.reset_counters()
        push = self.push(invoice, "SERVICE_FAIT", motif="Conforme")
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertEqual(self.calls(OP_HISTORY), 2, "read before and after the push")
        self.assertFalse(invoice.status_history_ids.filtered("is_local"))


@tagged("post_install", "-at_install", "chorus_pro")
class TestHistoryReplacesLocalEntries(ProcessingCase):
    def test_local_entry_replaced_and_chorus_entries_without_id_kept(self):
        invoice = self.pick()
        Status = self.env["chorus.pro.invoice.status"]
        base = datetime(2026, 3, 2, 9, 0)
        # A Chorus entry stored without a Chorus id, and a local one recorded by Odoo.
        Status.create({"invoice_id": invoice.id, "code": "SUSPENDUE", "at": base,
                       "chorus_history_id": 0})
        Status.create({"invoice_id": invoice.id, "code": "MANDATEE",
                       "at": base + timedelta(days=3), "is_local": True})
        aware = base.replace(tzinfo=timezone.utc)
        invoice._apply_history(StatusHistory(
            chorus_id=invoice.chorus_id,
            current_status="MANDATEE",
            events=[
                StatusEvent(code="SUSPENDUE", at=aware),
                StatusEvent(code="SUSPENDUE", at=aware + timedelta(days=1)),
                StatusEvent(code="MANDATEE", at=aware + timedelta(days=3, minutes=1),
                            chorus_id=987654),
            ],
        ))
        by_code = {
            code: invoice.status_history_ids.filtered(lambda e, c=code: e.code == c)
            for code in ("SUSPENDUE", "MANDATEE")
        }
        self.assertEqual(len(by_code["SUSPENDUE"]), 2, "Chorus's own entries are never dropped")
        self.assertEqual(len(by_code["MANDATEE"]), 1)
        self.assertEqual(by_code["MANDATEE"].chorus_history_id, 987654)
        self.assertFalse(by_code["MANDATEE"].is_local)
        # Applying the same history again changes nothing.
        count = len(invoice.status_history_ids)
        invoice._apply_history(StatusHistory(
            chorus_id=invoice.chorus_id, current_status="MANDATEE",
            events=[StatusEvent(code="MANDATEE", at=aware + timedelta(days=3, minutes=1),
                                chorus_id=987654)],
        ))
        self.assertEqual(len(invoice.status_history_ids), count)

    def test_local_entry_kept_until_chorus_entry_of_that_status_arrives(self):
        invoice = self.pick()
        Status = self.env["chorus.pro.invoice.status"]
        local = Status.create({"invoice_id": invoice.id, "code": "MANDATEE",
                               "at": datetime(2026, 3, 5, 9, 0), "is_local": True})
        invoice._apply_history(StatusHistory(
            chorus_id=invoice.chorus_id, current_status="MISE_A_DISPOSITION",
            events=[StatusEvent(code="SERVICE_FAIT",
                                at=datetime(2026, 3, 4, 9, 0, tzinfo=timezone.utc),
                                chorus_id=123)],
        ))
        self.assertTrue(local.exists())
