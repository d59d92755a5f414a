# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import date, timedelta

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tests.common import TransactionCase
from odoo.tools import mute_logger

from odoo.addons.chorus_pro_liaison.services.errors import ChorusGuardError

from chorus_pro.timeutil import paris_today

from .common import ChorusCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestChorusProAccount(ChorusCase, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "CCAS de Saint-Exemple"})
        cls.manager = cls.chorus_user("chorus_manager", "manager")
        cls.processor = cls.chorus_user("chorus_processor", "processor")

    def setUp(self):
        super().setUp()
        self.sim.admin.clear_faults()

    # ------------------------------------------------------------ storage and access
    def test_account_saved_and_read_back_per_company(self):
        other = self.create_chorus_account(
            self.sim, company=self.company_b, technical_login="TECH_2_ccas@cpro.fr",
            structure_chorus_id=999001,
        )
        Account = self.env["chorus.pro.account"]
        self.assertEqual(Account._for_company(self.env.company), self.account)
        self.assertEqual(Account._for_company(self.company_b), other)
        self.assertEqual(self.account.technical_login, self.sim.info["login"])
        self.assertEqual(other.technical_login, "TECH_2_ccas@cpro.fr")
        self.assertEqual(other.structure_chorus_id, 999001)
        self.assertTrue(self.account.technical_password_set)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            Account.create({"company_id": self.company_b.id})

    def test_password_is_write_only(self):
        account = self.account
        self.assertFalse(account.technical_password)
        self.assertFalse(account.piste_client_secret)
        values = account.read(["technical_password", "piste_client_secret"])[0]
        self.assertFalse(values["technical_password"])
        self.assertFalse(values["piste_client_secret"])
        exported = account.export_data(["technical_password", "piste_client_secret"])["datas"]
        self.assertNotIn(self.sim.info["password"], str(exported))
        self.assertNotIn(self.sim.info["client_secret"], str(exported))
        web = account.web_read({"technical_password": {}, "technical_login": {}})
        self.assertNotIn(self.sim.info["password"], str(web))
        # The value is there for the client, nowhere else.
        self.assertEqual(
            account._read_secret("technical_password_secret"), self.sim.info["password"]
        )
        # Replacing it works and resets the expiry to today + 424 days.
        account.technical_password = "Nouveau-Mot-De-Passe-1"
        self.assertEqual(account._read_secret("technical_password_secret"), "Nouveau-Mot-De-Passe-1")
        self.assertEqual(account.password_expiry_date, paris_today() + timedelta(days=424))
        self.assertEqual(account.password_expiry_source, "computed")
        # An expiry date typed with the password wins.
        wanted = paris_today() + timedelta(days=100)
        account.write({"technical_password": "Autre-1", "password_expiry_date": wanted})
        self.assertEqual(account.password_expiry_date, wanted)

    def test_non_manager_cannot_read_or_write_credentials(self):
        account = self.account.with_user(self.processor)
        with self.assertRaises(AccessError):
            account.read(["technical_login"])
        with self.assertRaises(AccessError):
            account.write({"technical_password": "piratage"})
        with self.assertRaises(AccessError):
            account.write({"piste_client_secret": "piratage"})
        self.assertEqual(self.account._read_secret("technical_password_secret"), self.sim.info["password"])
        # The manager can replace it, but not read it back either.
        managed = self.account.with_user(self.manager)
        managed.write({"technical_password": self.sim.info["password"]})
        self.assertFalse(managed.read(["technical_password"])[0]["technical_password"])

    def test_other_company_account_invisible(self):
        other = self.create_chorus_account(
            self.sim, company=self.company_b,
            structure_chorus_id=self.sim.info["second_structure_id"])
        accounts = self.env["chorus.pro.account"].with_user(self.manager).search([])
        self.assertIn(self.account, accounts)
        self.assertNotIn(other, accounts)

    # ------------------------------------------------------------ connection test
    def _report(self, account):
        action = account.action_test_connection()
        return account.last_test_ok, account.last_test_report, action

    def test_connection_test_success(self):
        ok, report, action = self._report(self.account.with_user(self.manager))
        self.assertTrue(ok, report)
        self.assertIn("PISTE", report)
        self.assertEqual(action["params"]["type"], "success")
        self.assertTrue(self.account.service_ids, "services were loaded from Chorus")
        self.assertLessEqual({"SERV_TECH", "ECOLES"}, set(self.account.service_ids.mapped("code")))
        self.assertTrue(self.account.structure_name)
        # The simulator reports the technical password's expiry: it is used.
        detail = self.sim.admin.state()
        self.assertEqual(self.account.password_expiry_source, "chorus", detail)

    def test_update_says_when_chorus_replaces_the_typed_expiry_date(self):
        account = self.account.with_user(self.manager)
        typed = date(2031, 1, 15)
        account.password_expiry_date = typed
        self.assertEqual(account.password_expiry_source, "manual")
        action = account.action_update()
        self.assertTrue(account.last_test_ok, account.last_test_report)
        self.assertEqual(account.password_expiry_source, "chorus")
        self.assertNotEqual(account.password_expiry_date, typed)
        self.assertIn("you typed (15/01/2031) was replaced", action["params"]["message"])
        # Chorus's date typed again: nothing to say.
        account.password_expiry_date = account.password_expiry_date
        action = account.action_update()
        self.assertNotIn("was replaced", action["params"]["message"])

    def test_connection_test_wrong_password(self):
        self.account.technical_password = "mauvais-mot-de-passe"
        ok, report, action = self._report(self.account)
        self.assertFalse(ok)
        self.assertIn("Technical account", report)
        self.assertIn("login or password incorrects", report)
        self.assertEqual(action["params"]["type"], "danger")

    def test_connection_test_wrong_piste_secret(self):
        self.account.piste_client_secret = "secret-faux"
        ok, report, _action = self._report(self.account)
        self.assertFalse(ok)
        self.assertIn("PISTE application", report)

    def test_connection_test_survives_expired_token(self):
        self.assertTrue(self._report(self.account)[0])
        tokens_before = self.sim.admin.counters().get("api/oauth/token", 0)
        self.sim.admin.expire_tokens()
        ok, report, _action = self._report(self.account)
        self.assertTrue(ok, report)
        self.assertGreater(self.sim.admin.counters().get("api/oauth/token", 0), tokens_before)

    def test_connection_test_unknown_structure(self):
        self.account.structure_chorus_id = 424242
        ok, report, _action = self._report(self.account)
        self.assertFalse(ok)
        self.assertIn("424242", report)
        self.assertIn("not attached", report)

    def test_connection_test_chorus_down(self):
        down = self.start_simulator()
        account = self.create_chorus_account(down, company=self.company_b)
        down.stop()
        ok, report, _action = self._report(account)
        self.assertFalse(ok)
        self.assertIn("cannot be reached", report)

    # ------------------------------------------------------------ guard and expiry
    def test_guard_refuses_when_disabled_or_incomplete(self):
        self.account.enabled = False
        with self.assertRaises(ChorusGuardError) as caught:
            self.account._chorus_guard("sync")
        self.assertEqual(caught.exception.code, "disabled")
        self.account.enabled = True
        self.account.piste_client_id = False
        with self.assertRaises(ChorusGuardError) as caught:
            self.account._chorus_guard("sync")
        self.assertEqual(caught.exception.code, "incomplete")
        self.assertIn("PISTE client ID", caught.exception.args[0])

    def test_guard_stops_every_call_after_expiry(self):
        self.account.password_expiry_date = paris_today() - timedelta(days=1)
        self.sim.admin.reset_counters()
        for purpose in ("connection_test", "configuration", "sync", "status", "mandate"):
            with self.assertRaises(ChorusGuardError) as caught:
                with self.account._chorus_client(purpose):
                    self.fail("no client may be built after expiry")
            self.assertEqual(caught.exception.code, "password_expired")
            self.assertIn("gestionnaire principal", caught.exception.args[0])
        ok, report, _action = self._report(self.account)
        self.assertFalse(ok)
        self.assertIn("expired", report)
        with self.assertRaises(UserError):
            self.account.action_load_structures()
        counters = {k: v for k, v in self.sim.admin.counters().items() if v}
        self.assertEqual(counters, {}, "nothing may be sent to Chorus after expiry")

    def test_expiry_reminder_creates_activity_once(self):
        reminded = self.chorus_user("chorus_reminded", "manager", email="compta@example.org")
        self.account.write(
            {
                "password_expiry_date": paris_today() + timedelta(days=10),
                "reminder_days": 15,
                "reminder_user_ids": [(6, 0, reminded.ids)],
            }
        )
        Activity = self.env["mail.activity"]
        domain = [("res_model", "=", "chorus.pro.account"), ("res_id", "=", self.account.id)]
        self.assertFalse(Activity.search(domain))
        mails_before = self.env["mail.mail"].search_count([])
        self.env["chorus.pro.account"]._cron_password_expiry_reminder()
        activities = Activity.search(domain)
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, reminded)
        self.assertEqual(activities.date_deadline, self.account.password_expiry_date)
        self.assertGreater(self.env["mail.mail"].search_count([]), mails_before)
        # Run again: no duplicate reminder for the same expiry date.
        self.env["chorus.pro.account"]._cron_password_expiry_reminder()
        self.assertEqual(len(Activity.search(domain)), 1)
        # Not yet due: nothing.
        self.account.password_expiry_date = paris_today() + timedelta(days=60)
        self.env["chorus.pro.account"]._cron_password_expiry_reminder()
        self.assertEqual(len(Activity.search(domain)), 1)

    def test_settings_switch_follows_the_account(self):
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.chorus_pro_enabled)
        settings.chorus_pro_enabled = False
        settings.execute()
        self.assertFalse(self.account.enabled)
        action = self.env["res.config.settings"].create({}).action_open_chorus_pro_account()
        self.assertEqual(action["res_id"], self.account.id)

    # ------------------------------------------------------------ structure choice
    def test_load_structures_and_choose_one(self):
        account = self.account.with_user(self.manager)
        action = account.action_load_structures()
        choice = self.env["chorus.pro.structure.choice"].browse(action["res_id"])
        ids = set(choice.line_ids.mapped("chorus_id"))
        self.assertEqual(
            ids, {self.sim.info["structure_id"], self.sim.info["second_structure_id"]},
            "the structures the technical account can receive for",
        )
        ccas = choice.line_ids.filtered(
            lambda line: line.chorus_id == self.sim.info["second_structure_id"]
        )
        ccas.with_user(self.manager).action_choose()
        self.assertEqual(self.account.structure_chorus_id, self.sim.info["second_structure_id"])
        self.assertEqual(self.account.structure_identifier, self.sim.info["second_structure_siret"])
        self.assertTrue(self.account.service_ids, "the chosen structure's services are listed")

    def test_find_structure_by_company_siret(self):
        self.env.company.siret = self.sim.info["structure_siret"]
        action = self.account.action_find_structure_by_siret()
        choice = self.env["chorus.pro.structure.choice"].browse(action["res_id"])
        self.assertEqual(choice.line_ids.mapped("chorus_id"), [self.sim.info["structure_id"]])
        self.env.company.siret = "73282932000074"
        with self.assertRaises(UserError):
            self.account.action_find_structure_by_siret()
