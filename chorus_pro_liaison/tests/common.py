# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The shared base of the Odoo tests: the Chorus Pro simulator, the company's account against it,
one way to run a retrieval, and users with the addon's roles.

The simulator is a real HTTP server on loopback (``python -m chorus_pro.simulator``), started per
test class and stopped by PID; nothing is mocked between the addon and it.
"""

from datetime import date
from unittest import SkipTest

from odoo.tests import new_test_user

from chorus_pro import testing_softhsm
from chorus_pro.simulator.testing import SimulatorProcess

# Account settings that bring in every invoice of the simulated world: nothing is left out by the
# cutoff date (older closed invoices come in, marked as history).
WHOLE_WORLD = {"sync_cutoff_date": date(2000, 1, 1), "sync_cutoff_mode": "history"}

GROUPS = {
    "user": "chorus_pro_liaison.group_chorus_pro_user",
    "processor": "chorus_pro_liaison.group_chorus_pro_processor",
    "validator": "chorus_pro_liaison.group_chorus_pro_validator",
    "mandating": "chorus_pro_liaison.group_chorus_pro_mandating",
    "signatory": "chorus_pro_liaison.group_chorus_pro_signatory",
    "manager": "chorus_pro_liaison.group_chorus_pro_manager",
}


def skip_without_softhsm(tests):
    """Skip the test class, saying so loudly, when SoftHSM2 (the RGS** key stand-in) is missing;
    ``tests`` names what is then NOT run."""
    reason = testing_softhsm.softhsm_unavailable_reason()
    if reason:
        raise SkipTest(
            "SoftHSM2 not installed: %s - %s NOT run (install the Debian package softhsm2)."
            % (reason, tests)
        )


class ChorusSimulatorMixin:
    """Starts one simulator per test class; ``cls.sim`` and ``cls.sim.admin`` drive it."""

    simulator_options = {}

    @classmethod
    def start_simulator(cls, **options):
        opts = dict(cls.simulator_options, **options)
        simulator = SimulatorProcess(**opts)
        simulator.start()
        cls.addClassCleanup(simulator.stop)
        return simulator

    @classmethod
    def account_values(cls, simulator, company=None, **overrides):
        values = cls.env["chorus.pro.account"]._simulator_values(simulator.info)
        values.update(company_id=(company or cls.env.company).id, **overrides)
        return values

    @classmethod
    def create_chorus_account(cls, simulator, company=None, **overrides):
        return cls.env["chorus.pro.account"].create(
            cls.account_values(simulator, company=company, **overrides)
        )

    @classmethod
    def chorus_user(cls, login, *roles, company=None, **kwargs):
        groups = ",".join(["base.group_user"] + [GROUPS[role] for role in roles])
        company = company or cls.env.company
        return new_test_user(
            cls.env,
            login=login,
            groups=groups,
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
            **kwargs,
        )


class ChorusCase(ChorusSimulatorMixin):
    """Base of a test class (with ``TransactionCase`` or ``HttpCase``): one simulator for the
    class (``cls.sim``), the company's Chorus Pro account against it (``cls.account``, with
    ``account_options``), and :meth:`sync`, the one way tests run a retrieval."""

    account_options = {}
    # One retrieval of the simulated world for the class (each test then rolls back to it).
    retrieve_at_setup = False
    # The simulator goes back to its seeded world before each test.
    reset_simulator = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_simulator()
        cls.account = cls.create_chorus_account(cls.sim, **cls.account_options)
        cls.Invoice = cls.env["chorus.pro.invoice"]
        if cls.retrieve_at_setup:
            cls.sync_run()

    def setUp(self):
        super().setUp()
        if self.reset_simulator:
            self.sim.admin.reset()

    def assert_chorus_entry_replaced_local_one(self, invoice, code):
        """After a retrieval, the history entry Odoo recorded from Chorus's answer to a push
        gave way to Chorus's own entry of that status: one entry, Chorus's."""
        entries = invoice.status_history_ids.filtered(lambda entry: entry.code == code)
        self.assertEqual(len(entries), 1)
        self.assertFalse(entries.is_local)
        self.assertGreater(entries.chorus_history_id, 0)
        self.assertEqual(invoice.chorus_status, code)

    @classmethod
    def deposited(cls, number, attachments=0, **options):
        """A new invoice deposited on the simulator now (the next retrieval brings it): its
        Chorus id."""
        return cls.sim.admin.deposit(number=number, attachments=attachments, **options)["idFacture"]

    @classmethod
    def received(cls, chorus_id):
        """The retrieved invoice of this Chorus id."""
        return cls.Invoice.search([("chorus_id", "=", chorus_id)])

    @classmethod
    def french_user(cls, *modules, roles=("manager", "processor", "validator")):
        """Marie Dupont (with ``roles``), who reads French: French activated and loaded for
        ``modules``, Odoo's base and the addon."""
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(
            ["base", *modules, "chorus_pro_liaison"], ["fr_FR"], overwrite=True,
        )
        return cls.chorus_user("marie", *roles, name="Marie Dupont", lang="fr_FR",
                               tz="Europe/Paris")

    def tour_as_marie(self, path, tour):
        """The browser tour ``tour`` from ``path``, logged in as Marie (see :meth:`french_user`)."""
        self.start_tour(path, tour, login="marie", timeout=120)

    # A retrieved invoice of an ordinary supplier (SIRET, not factored) nobody matched yet.
    UNMATCHED_DOMAIN = [
        ("is_factored", "=", False), ("partner_id", "=", False),
        ("supplier_identifier_type", "=", "SIRET"), ("imported_as_history", "=", False),
    ]

    @classmethod
    def unmatched_invoices(cls, *criteria, statuses=("MISE_A_DISPOSITION",)):
        """Such invoices with these ``statuses`` and further ``criteria``, oldest first."""
        return cls.Invoice.search(
            cls.UNMATCHED_DOMAIN + [("chorus_status", "in", list(statuses)), *criteria],
            order="chorus_id",
        )

    @classmethod
    def sync(cls, account=None, trigger="manual"):
        """A retrieval run of ``account`` (default: the class's), executed now as the job cron
        executes it; returns the run."""
        account = account or cls.account
        run = cls.env["chorus.pro.run"].create({
            "company_id": account.company_id.id,
            "account_id": account.id,
            "run_type": "sync",
            "trigger": trigger,
        })
        run._execute()
        return run

    @classmethod
    def sync_run(cls, account=None):
        """:meth:`sync`, asserting the retrieval went through (done, or done with notices)."""
        run = cls.sync(account)
        assert run.state in ("done", "warning"), run.summary
        return run


class WholeWorldCase(ChorusCase):
    """The whole simulated world (history included) retrieved once for the class; each test
    rolls back to it."""

    account_options = WHOLE_WORLD
    retrieve_at_setup = True
