# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The RGS** key on a PKCS#11 token, with SoftHSM2 tokens created by the test.

One SoftHSM configuration per process (the Odoo test process runs every class): the tokens come
from :func:`chorus_pro.testing_softhsm.shared_softhsm_tokens`. Without SoftHSM2 the class is
skipped LOUDLY (and the runner counts a skip as a failure: CI installs softhsm2).
"""

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone
from unittest import SkipTest
from unittest.mock import patch

from odoo import tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from odoo.addons.chorus_pro_liaison.services.errors import ChorusGuardError

from chorus_pro import testing_softhsm
from chorus_pro.evidence import Evidence, verify_evidence
from chorus_pro.testing_softhsm import TokenSpec
from chorus_pro.token import CKF_USER_PIN_COUNT_LOW, load_pkcs11_library

from .common import ChorusSimulatorMixin

VALID = "odoo-rgs-valid"
EXPIRED = "odoo-rgs-expired"
PIN_TOKEN = "odoo-rgs-pin-guard"  # its own token: only the PIN test logs in there
KEY_LABEL = "rgs-signature"
HOLDER = "Jeanne Ordonnatrice"
_NOW = datetime.now(timezone.utc).replace(microsecond=0)
TOKEN_SPECS = (
    TokenSpec(VALID, pin="4321", key_type="rsa", key_label=KEY_LABEL, common_name=HOLDER),
    TokenSpec(
        EXPIRED,
        pin="4321",
        key_type="ec",
        key_label=KEY_LABEL,
        not_before=_NOW - timedelta(days=400),
        not_after=_NOW - timedelta(days=2),
    ),
    TokenSpec(PIN_TOKEN, pin="2468", key_type="ec", key_label=KEY_LABEL),
)
REQUEST = b'{"idFacture": 4242, "idNouveauStatut": "SERVICE_FAIT", "motif": ""}'
RESPONSE = b'{"codeRetour": 0, "libelle": "GCU_MSG_01_000"}'


class CountingLoader:
    """PKCS#11 library loader that counts module loads: 0 means the token was not touched."""

    def __init__(self):
        self.calls = 0

    def __call__(self, module_path):
        self.calls += 1
        return load_pkcs11_library(module_path)


@tagged("post_install", "-at_install", "chorus_pro")
class TestRgsKey(ChorusSimulatorMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        reason = testing_softhsm.softhsm_unavailable_reason()
        if reason:
            raise SkipTest(
                "SoftHSM2 not installed: %s - RGS** key tests NOT run (install the Debian "
                "package softhsm2)." % reason
            )
        super().setUpClass()
        cls.tokens = testing_softhsm.shared_softhsm_tokens(TOKEN_SPECS)
        cls.valid = cls.tokens[VALID]
        cls.sim = cls.start_simulator()
        cls.account = cls.create_chorus_account(
            cls.sim,
            token_module_path=cls.valid.module_path,
            token_label=VALID,
            token_key_label=KEY_LABEL,
        )
        cls.manager = cls.chorus_user("rgs_manager", "manager")
        cls.processor = cls.chorus_user("rgs_processor", "processor")
        cls.reader = cls.chorus_user("rgs_reader", "user")
        cls.Run = cls.env["chorus.pro.run"]

    def setUp(self):
        super().setUp()
        self.sim.admin.clear_faults()
        self.set_pin("4321")

    # ------------------------------------------------------------------ helpers
    def set_pin(self, pin):
        """The PIN as the server administrator sets it: in the Odoo configuration file."""
        key = f"chorus_pro_token_pin_{self.account.company_id.id}"
        self.enterContext(patch.dict(tools.config.options, {key: pin}))

    def use_token(self, label, **vals):
        self.account.write(dict(token_label=label, **vals))

    def count_token_access(self):
        loader = CountingLoader()
        self.patch(type(self.env["chorus.pro.account"]), "_token_library_loader",
                   lambda account: loader)
        return loader

    def check_stored(self, values):
        """What "Vérifier" finds for a record holding ``values`` (the mixin's fields), as
        (VerificationResult, notification params). The status-push model inheriting the mixin
        is not merged yet: its record method only feeds these same values."""
        Mixin = self.env["chorus.pro.evidence.mixin"]
        result = Mixin._chorus_check_evidence(
            values["evidence"],
            Mixin._chorus_body_bytes(values["request_body"]),
            Mixin._chorus_body_bytes(values["response_body"]),
            recorded_signed=values["evidence_signed"],
        )
        return result, Mixin._chorus_evidence_notification(result, values["evidence"])["params"]

    def certificate(self, der):
        from cryptography import x509

        return x509.load_der_x509_certificate(der)

    # ------------------------------------------------------------------ "Vérifier la clé"
    def test_check_of_a_plugged_key_shows_the_certificate(self):
        with self.assertRaises(AccessError):
            self.account.with_user(self.reader).action_token_check()
        result = self.account.with_user(self.processor).action_token_check()
        params = result["params"]
        self.assertEqual(params["type"], "success", params["message"])
        account = self.account
        certificate = self.certificate(self.valid.certificate_der)
        fingerprint = hashlib.sha256(self.valid.certificate_der).hexdigest()
        self.assertTrue(account.token_last_check_ok)
        self.assertFalse(account.token_last_check_problem)
        self.assertIn(HOLDER, account.token_certificate_subject)
        self.assertIn("Commune de Testville", account.token_certificate_issuer)
        self.assertEqual(int(account.token_certificate_serial, 16), certificate.serial_number)
        self.assertEqual(account.token_certificate_not_after, certificate.not_valid_after)
        self.assertEqual(account.token_certificate_not_before, certificate.not_valid_before)
        self.assertIn("digitalSignature", account.token_certificate_key_usage)
        self.assertIn("nonRepudiation", account.token_certificate_key_usage)
        self.assertEqual(account.token_certificate_fingerprint, fingerprint)
        self.assertGreater(account.token_certificate_days_left, 300)
        self.assertEqual(account.token_pin_source, "company")
        self.assertIn(HOLDER, params["message"])
        self.assertIn(fingerprint, params["message"])
        self.assertNotIn("4321", params["message"])

    def test_check_of_an_absent_key_says_what_is_wrong(self):
        self.account.action_token_check()
        self.assertTrue(self.account.token_certificate_fingerprint)
        self.use_token("odoo-rgs-unplugged")
        # The details of the previous key do not describe this one.
        self.assertFalse(self.account.token_certificate_fingerprint)
        result = self.account.action_token_check()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertFalse(self.account.token_last_check_ok)
        self.assertEqual(self.account.token_last_check_problem, "token_absent")
        self.assertIn("odoo-rgs-unplugged", self.account.token_last_check_message)
        self.assertIn("not plugged in", result["params"]["message"])
        self.assertFalse(self.account.token_certificate_fingerprint)

    def test_expired_certificate(self):
        self.use_token(EXPIRED)
        result = self.account.action_token_check()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertEqual(self.account.token_last_check_problem, "certificate_expired")
        self.assertIn("expired", self.account.token_last_check_message)
        # The details are shown even so: they tell which certificate must be renewed.
        self.assertLess(self.account.token_certificate_not_after, datetime.now())
        self.assertLess(self.account.token_certificate_days_left, 0)
        self.account.token_required = True
        with self.assertRaises(ChorusGuardError) as refused:
            self.account._chorus_guard("status")
        self.assertEqual(refused.exception.code, "token_missing")
        self.assertIn("expired", refused.exception.args[0])
        # An expired certificate never signs: the evidence stays unsigned and says why.
        evidence = self.account._chorus_evidence(REQUEST, RESPONSE, datetime.now())
        self.assertFalse(evidence.is_signed)
        self.assertEqual(evidence.document["extra"]["unsigned_reason"], "certificate_expired")

    def test_wrong_pin_is_recorded_and_never_retried(self):
        fixture = self.tokens[PIN_TOKEN]
        fixture.login_once()  # clears SoftHSM's "a login was refused" flag
        self.assertFalse(fixture.token_flags() & CKF_USER_PIN_COUNT_LOW)
        self.use_token(PIN_TOKEN, token_required=True)
        self.set_pin("13579")

        # 1. The wrong PIN reaches the key once; the refusal is recorded in the database.
        result = self.account.action_token_check()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertEqual(self.account.token_last_check_problem, "pin_incorrect")
        self.assertTrue(fixture.token_flags() & CKF_USER_PIN_COUNT_LOW)
        blocks = self.env["chorus.pro.token.pin.block"].search(
            [("account_id", "=", self.account.id)]
        )
        self.assertEqual(len(blocks), 1)
        self.assertNotIn("13579", blocks.fingerprint)
        self.assertTrue(self.account.token_pin_blocked_at)
        fixture.login_once()
        self.assertFalse(fixture.token_flags() & CKF_USER_PIN_COUNT_LOW)

        # 2. Nothing touches the key again with that PIN: check, guard (manual and scheduled),
        #    evidence signing.
        loader = self.count_token_access()
        self.account.invalidate_recordset()
        self.account.action_token_check()
        self.assertEqual(self.account.token_last_check_problem, "pin_retry_blocked")
        with self.assertRaises(ChorusGuardError):
            self.account._chorus_guard("sync")
        self.account._chorus_guard("sync", manual=False)
        self.assertTrue(self.account.token_absent_at_last_sync)
        evidence = self.account._chorus_evidence(REQUEST, RESPONSE, datetime.now())
        self.assertFalse(evidence.is_signed)
        self.assertEqual(evidence.document["extra"]["unsigned_reason"], "pin_retry_blocked")
        self.assertEqual(loader.calls, 0)
        self.assertFalse(fixture.token_flags() & CKF_USER_PIN_COUNT_LOW)

        # 3. A new PIN is a new configuration: tried, and accepted.
        self.set_pin(fixture.pin)
        self.account.invalidate_recordset()
        self.assertFalse(self.account.token_pin_blocked_at)
        self.account.action_token_check()
        self.assertTrue(self.account.token_last_check_ok, self.account.token_last_check_message)
        self.assertEqual(loader.calls, 1)

        # 4. Forgetting the refusal (manager) lets the wrong PIN be tried once more, which
        #    shows that the counting above would have seen an attempt.
        self.set_pin("13579")
        with self.assertRaises(AccessError):
            self.account.with_user(self.processor).action_token_forget_refused_pin()
        self.account.with_user(self.manager).action_token_forget_refused_pin()
        self.account.action_token_check()
        self.assertEqual(self.account.token_last_check_problem, "pin_incorrect")
        self.assertEqual(loader.calls, 2)
        self.assertTrue(fixture.token_flags() & CKF_USER_PIN_COUNT_LOW)
        fixture.login_once()

    def test_pin_refusals_are_written_in_their_own_transaction(self):
        """Outside tests a refusal must survive the rollback of the action that met it: the
        store goes through a cursor of its own (here a test cursor on the same transaction)."""
        from odoo.addons.chorus_pro_liaison.services import pin_guard_store as guard

        self.patch(guard, "can_commit", lambda: True)
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        opened = []
        real_cursor = self.registry.cursor

        def counting_cursor(*args, **kwargs):
            opened.append(True)
            return real_cursor(*args, **kwargs)

        self.patch(self.registry, "cursor", counting_cursor)
        store = guard.DatabasePinGuardStore(self.account)
        fingerprint = "ab" * 32
        blocked_at = datetime(2026, 5, 4, 3, 2, 1, tzinfo=timezone.utc)
        self.assertIsNone(store.get(fingerprint))
        store.set(fingerprint, blocked_at)
        store.set(fingerprint, blocked_at)  # recorded once
        self.assertEqual(store.get(fingerprint), blocked_at)
        self.assertEqual(
            self.env["chorus.pro.token.pin.block"].search_count(
                [("account_id", "=", self.account.id), ("fingerprint", "=", fingerprint)]
            ),
            1,
        )
        store.delete(fingerprint)
        self.assertIsNone(store.get(fingerprint))
        self.assertGreaterEqual(len(opened), 6)

    def test_missing_pin_is_explained(self):
        self.set_pin("")
        self.assertEqual(self.account.token_pin_source, "none")
        self.account.action_token_check()
        self.assertEqual(self.account.token_last_check_problem, "pin_missing")
        self.assertIn("chorus_pro_token_pin", self.account.token_last_check_message)

    def test_settings_must_be_complete_to_require_the_key(self):
        with self.assertRaises(ValidationError):
            self.account.write({"token_module_path": False, "token_required": True})
        # The module is a library the server loads: system administrators only, and only the
        # paths the server configuration allows when it lists them.
        with self.assertRaises(AccessError):
            self.account.with_user(self.manager).write({"token_module_path": "/tmp/evil.so"})
        self.account.with_user(self.manager).write({"token_label": EXPIRED})
        self.assertEqual(self.account.token_label, EXPIRED)
        self.enterContext(patch.dict(tools.config.options, {
            "chorus_pro_token_modules": "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so, %s"
            % self.valid.module_path,
        }))
        with self.assertRaises(ValidationError):
            self.account.write({"token_module_path": "/tmp/evil.so"})
        self.account.write({"token_module_path": self.valid.module_path + " "})
        bare = self.create_chorus_account(
            self.sim, company=self.env["res.company"].create({"name": "Syndicat sans clé"}),
            structure_chorus_id=self.sim.info["second_structure_id"],
        )
        with self.assertRaises(UserError):
            bare.action_token_check()

    # ------------------------------------------------------------------ the gate
    def test_key_required_gates_every_manual_action(self):
        self.use_token("odoo-rgs-unplugged", token_required=True)
        account = self.account

        # "Lancer la vérification": refused at once, no run created.
        runs_before = self.Run.search_count([])
        with self.assertRaises(ChorusGuardError) as refused:
            account.with_user(self.processor).action_launch_sync()
        self.assertEqual(refused.exception.code, "token_missing")
        self.assertIn("must be plugged in", refused.exception.args[0])
        self.assertIn("odoo-rgs-unplugged", refused.exception.args[0])
        self.assertEqual(self.Run.search_count([]), runs_before)

        # "Tester la connexion": reported as failed, Chorus not called.
        self.sim.admin.reset_counters()
        result = account.with_user(self.manager).action_test_connection()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertFalse(account.last_test_ok)
        self.assertIn("must be plugged in", account.last_test_report)
        calls = {k: v for k, v in self.sim.admin.counters().items() if not k.startswith("_")}
        self.assertFalse(any(calls.values()), calls)

        # Configuration, status changes and mandating, through the one guard.
        with self.assertRaises(ChorusGuardError):
            account.with_user(self.manager).action_load_structures()
        for purpose in ("status", "mandate", "configuration", "sync", "connection_test"):
            with self.assertRaises(ChorusGuardError) as refused:
                account._chorus_guard(purpose)
            self.assertEqual(refused.exception.code, "token_missing", purpose)
            # Scheduled work is never blocked by the key.
            self.assertTrue(account._chorus_guard(purpose, manual=False))

        # Not required: the same absent key blocks nothing.
        account.token_required = False
        for purpose in ("status", "mandate", "sync"):
            self.assertTrue(account._chorus_guard(purpose))

        # Required and plugged in: everything goes.
        self.use_token(VALID, token_required=True)
        for purpose in ("status", "mandate"):
            self.assertTrue(account._chorus_guard(purpose))
        result = account.with_user(self.manager).action_test_connection()
        self.assertEqual(result["params"]["type"], "success", account.last_test_report)
        action = account.with_user(self.processor).action_launch_sync()
        run = self.Run.browse(action["res_id"])
        self.assertEqual((run.state, run.trigger), ("queued", "manual"))
        self.assertTrue(account.token_last_check_ok)

    def test_scheduled_sync_is_not_blocked_and_records_the_absent_key(self):
        self.use_token("odoo-rgs-unplugged", token_required=True)
        self.env["chorus.pro.account"]._cron_scheduled_sync()
        run = self.account.last_sync_run_id
        self.assertTrue(run, "the scheduled retrieval did not complete")
        self.assertEqual(run.trigger, "cron")
        self.assertIn(run.state, ("done", "warning"), run.summary)
        self.assertTrue(run.key_absent)
        notice = run.line_ids.filtered(lambda line: "RGS** key" in line.message)
        self.assertEqual(notice.level, "warning")
        self.assertIn("odoo-rgs-unplugged", notice.message)
        self.assertTrue(self.account.token_absent_at_last_sync)
        self.assertTrue(self.account.token_absent_sync_date)
        retrieved = self.env["chorus.pro.invoice"].search_count(
            [("account_id", "=", self.account.id)]
        )
        self.assertTrue(retrieved, "nothing was retrieved without the key")

        # Key back: the next scheduled retrieval says it was there.
        self.use_token(VALID)
        self.env["chorus.pro.account"]._cron_scheduled_sync()
        second = self.account.last_sync_run_id
        self.assertNotEqual(second, run)
        self.assertFalse(second.key_absent)
        self.assertFalse(self.account.token_absent_at_last_sync)

    # ------------------------------------------------------------------ evidence
    def test_evidence_is_signed_and_verifiable_with_the_certificate_alone(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.x509 import load_pem_x509_certificate

        # Odoo's habit: naive UTC (the certificate is valid since yesterday).
        at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=123456)
        evidence = self.account._chorus_evidence(
            REQUEST, RESPONSE, at, {"operation": "status", "invoice": 4242}
        )
        self.assertTrue(evidence.is_signed)
        # Independent check: cryptography only, with the certificate stored in the evidence.
        certificate = load_pem_x509_certificate(evidence.certificate_pem.encode())
        self.assertEqual(
            certificate.fingerprint(hashes.SHA256()).hex(),
            hashlib.sha256(self.valid.certificate_der).hexdigest(),
        )
        certificate.public_key().verify(
            evidence.signature, evidence.payload, padding.PKCS1v15(), hashes.SHA256()
        )
        document = json.loads(evidence.payload)
        self.assertEqual(document["request"]["sha256"], hashlib.sha256(REQUEST).hexdigest())
        self.assertEqual(document["response"]["sha256"], hashlib.sha256(RESPONSE).hexdigest())
        self.assertEqual(document["at"], at.strftime("%Y-%m-%dT%H:%M:%S.123456Z"))
        self.assertEqual(document["extra"], {"operation": "status", "invoice": 4242})

        # Stored as the push model stores it, then "Vérifier".
        Mixin = self.env["chorus.pro.evidence.mixin"]
        values = Mixin._chorus_evidence_values(evidence)
        self.assertTrue(values["evidence_signed"])
        verdict, params = self.check_stored(
            dict(values, request_body=REQUEST.decode(), response_body=RESPONSE.decode())
        )
        self.assertTrue(verdict.valid, verdict.problems)
        self.assertEqual(params["type"], "success", params["message"])
        self.assertIn("intact", params["message"])
        self.assertIn(HOLDER, params["message"])

    def test_tampered_evidence_is_detected(self):
        evidence = self.account._chorus_evidence(REQUEST, RESPONSE, datetime.now(), {"n": 1})
        Mixin = self.env["chorus.pro.evidence.mixin"]
        good = dict(Mixin._chorus_evidence_values(evidence), request_body=REQUEST.decode(),
                    response_body=RESPONSE.decode())
        self.assertTrue(self.check_stored(good)[0].valid)

        # The answer of Chorus Pro edited after the fact.
        verdict, params = self.check_stored(
            dict(good, response_body=RESPONSE.decode().replace("0", "1", 1))
        )
        self.assertFalse(verdict.valid)
        self.assertEqual(verdict.problems, ("response_mismatch",))
        self.assertEqual(params["type"], "danger")
        self.assertIn("NOT intact", params["message"])

        # The signed document rewritten (its digests made to match other bodies).
        stored = json.loads(good["evidence"])
        document = json.loads(base64.b64decode(stored["payload"]))
        other_request = REQUEST.replace(b"SERVICE_FAIT", b"REJETEE")
        document["request"]["sha256"] = hashlib.sha256(other_request).hexdigest()
        stored["payload"] = base64.b64encode(
            json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        ).decode()
        verdict, params = self.check_stored(
            dict(good, evidence=json.dumps(stored), request_body=other_request.decode())
        )
        self.assertEqual(verdict.problems, ("signature_invalid",))
        self.assertIn("altered", params["message"])

        # The signature stripped from an evidence recorded as signed.
        stored = json.loads(good["evidence"])
        stored.update(signature=None, algorithm=None, certificate_pem=None)
        verdict, params = self.check_stored(dict(good, evidence=json.dumps(stored)))
        self.assertEqual(verdict.status, "invalid")
        self.assertIn("signature_removed", verdict.problems)

        # Not even an evidence.
        verdict, params = self.check_stored(dict(good, evidence="{}"))
        self.assertEqual(verdict.problems, ("evidence_unreadable",))
        self.assertEqual(params["type"], "danger")

    def test_evidence_without_a_usable_key_is_unsigned_and_says_why(self):
        self.use_token("odoo-rgs-unplugged")
        at = datetime.now()
        evidence = self.account._chorus_evidence(REQUEST, RESPONSE, at, {"n": 2})
        self.assertFalse(evidence.is_signed)
        self.assertEqual(evidence.document["extra"], {"n": 2, "unsigned_reason": "token_absent"})
        self.assertEqual(verify_evidence(evidence, REQUEST, RESPONSE).status, "unsigned")
        Mixin = self.env["chorus.pro.evidence.mixin"]
        verdict, params = self.check_stored(
            dict(Mixin._chorus_evidence_values(evidence),
                 request_body=REQUEST.decode(), response_body=RESPONSE.decode())
        )
        self.assertEqual(verdict.status, "unsigned")
        self.assertEqual(params["type"], "warning")
        self.assertIn("not signed", params["message"])
        self.assertIn("not plugged in", params["message"])

        # No key configured at all: plain unsigned evidence, no reason to give.
        self.account.write({"token_module_path": False, "token_label": False,
                            "token_key_label": False})
        evidence = self.account._chorus_evidence(REQUEST, RESPONSE, at, {"n": 2})
        self.assertFalse(evidence.is_signed)
        self.assertEqual(evidence.document["extra"], {"n": 2})
        self.assertEqual(Evidence.from_json(evidence.to_json()).payload, evidence.payload)

    def test_status_push_evidence_is_signed_stored_and_verified(self):
        """A real decision pushed to the simulator: its evidence is signed with the key, kept
        on the push (the invoice's decision history) and "Vérifier" says whether it is intact."""
        target = self.sim.admin.deposit()
        self.account.write({"sync_cutoff_date": "2000-01-01", "sync_cutoff_mode": "history",
                            "require_service_fait_motif": False})
        run = self.Run.create({"company_id": self.account.company_id.id,
                               "account_id": self.account.id, "run_type": "sync"})
        run._execute()
        invoice = self.env["chorus.pro.invoice"].search([("chorus_id", "=", target["idFacture"])])
        self.assertTrue(invoice)
        push = invoice.with_user(self.processor)._chorus_push_status(
            "SERVICE_FAIT", motif="Livraison conforme", service_date=invoice.invoice_date
        )
        self.assertEqual(push.state, "sent", push.answer_message)
        self.assertIn(push, invoice.push_ids)
        self.assertTrue(push.evidence_signed)
        evidence = Evidence.from_json(push.evidence)
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509 import load_pem_x509_certificate

        stored_certificate = load_pem_x509_certificate(evidence.certificate_pem.encode())
        self.assertEqual(
            stored_certificate.fingerprint(hashes.SHA256()).hex(),
            hashlib.sha256(self.valid.certificate_der).hexdigest(),
            "the evidence carries the key's certificate",
        )
        self.assertIn(b"SERVICE_FAIT", push._request_bytes())
        self.assertEqual(verify_evidence(evidence, push._request_bytes(),
                                         push._response_bytes()).status, "valid")
        action = push.with_user(self.reader).action_verify_evidence()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        # Someone edits Chorus's stored answer afterwards: "Vérifier" tells.
        tampered = push._response_bytes().replace(b"0", b"1", 1)
        push.sudo().write({"response_body": base64.b64encode(tampered)})
        action = push.action_verify_evidence()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("NOT intact", action["params"]["message"])

    # ------------------------------------------------------------------ expiry reminder
    def test_certificate_expiry_reminder(self):
        self.account.action_token_check()
        self.account.write({"token_reminder_user_ids": [(6, 0, self.manager.ids)],
                            "token_reminder_days": 30})
        Account = self.env["chorus.pro.account"]

        def reminders():
            return self.env["mail.activity"].search([
                ("res_model", "=", "chorus.pro.account"), ("res_id", "=", self.account.id),
                ("user_id", "=", self.manager.id), ("summary", "ilike", "RGS"),
            ])

        Account._cron_token_certificate_reminder()
        self.assertFalse(reminders(), "a year before expiry is too early to remind")
        self.account.token_reminder_days = 400
        Account._cron_token_certificate_reminder()
        activity = reminders()
        self.assertEqual(len(activity), 1)
        self.assertIn(HOLDER, activity.note)
        self.assertEqual(activity.date_deadline, self.account.token_certificate_not_after.date())
        Account._cron_token_certificate_reminder()
        self.assertEqual(len(reminders()), 1, "reminded twice for the same certificate")
