# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Two companies on one database, as a public body's finance database is shared: the commune
and its CCAS, each with its own Chorus Pro structure on the simulator, and users limited to one
company (read-only, processor, mandating officer). Tests call the model methods the way an RPC
client does: ``with_user(...)`` and any ids, whatever the views show."""

from odoo.tests.common import TransactionCase

from chorus_pro.client import OP_PROCESS

from .common import WHOLE_WORLD
from .mandate_common import MandateCommon


class TwoCompaniesCommon(MandateCommon):
    """The commune (``cls.company``: budgets, mandates, as in the step 4 tests) and its CCAS
    (``cls.ccas``: its own Chorus Pro account on the CCAS structure, retrieved)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.commune = cls.company
        cls.ccas = cls.env["res.company"].create({
            "name": "CCAS de Saint-Exemple", "currency_id": cls.commune.currency_id.id,
            "country_id": cls.env.ref("base.fr").id,
        })
        cls.ccas_account = cls.create_chorus_account(
            cls.sim, company=cls.ccas, **WHOLE_WORLD,
            structure_chorus_id=cls.sim.info["second_structure_id"],
            structure_identifier=cls.sim.info["second_structure_siret"],
        )
        cls.sync_run(cls.ccas_account)
        # Users limited to one company.
        cls.commune_reader = cls.chorus_user("commune_reader", "user", company=cls.commune)
        cls.ccas_reader = cls.chorus_user("ccas_reader", "user", company=cls.ccas)
        cls.ccas_processor = cls.chorus_user("ccas_processor", "processor", company=cls.ccas)
        cls.ccas_mandating = cls.chorus_user("ccas_mandating", "mandating", company=cls.ccas)
        cls.ccas_manager = cls.chorus_user("ccas_manager", "manager", company=cls.ccas)

    def ccas_invoice(self, **domain):
        invoices = self.Invoice.search([("company_id", "=", self.ccas.id)] + [
            (name, "=", value) for name, value in domain.items()
        ], order="chorus_id")
        self.assertTrue(invoices, "the CCAS's invoices were retrieved")
        return invoices[0]

    def ccas_awaiting_invoice(self):
        return self.ccas_invoice(chorus_status="MISE_A_DISPOSITION", imported_as_history=False)

    def commune_awaiting_invoice(self):
        invoices = self.Invoice.search([
            ("company_id", "=", self.commune.id), ("chorus_status", "=", "MISE_A_DISPOSITION"),
            ("imported_as_history", "=", False), ("partner_id", "=", False),
        ], order="chorus_id")
        self.assertTrue(invoices)
        return invoices[0]

    def pending_decision(self, invoice, user, status="REJETEE", motif="Commande non reçue"):
        """A decision recorded while Chorus Pro is unreachable: waiting to be sent."""
        self.sim.admin.fault(OP_PROCESS, "503", count=20)
        push = invoice.with_user(user)._chorus_push_status(status, motif=motif)
        self.sim.admin.clear_faults()
        self.assertEqual(push.state, "pending")
        return push

    def counters(self):
        return {k: v for k, v in self.sim.admin.counters().items() if not k.startswith("_")}


class TwoCompaniesCase(TwoCompaniesCommon, TransactionCase):
    def setUp(self):
        super().setUp()
        self.resync_simulator()
