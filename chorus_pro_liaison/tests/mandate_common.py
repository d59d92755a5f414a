# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared setup of the step 4 tests: a synchronised simulator world, budgets, articles, taxes,
and helpers that go through the real steps: Service fait pushed by a processor (step 2),
supplier matched by a processor and bank account trusted by someone allowed to validate bank
accounts (step 3), "Mandater" on the real screen and job."""

from odoo import Command
from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase

from chorus_pro.client import OP_PROCESS

from .common import WHOLE_WORLD, ChorusCase


class MandateCommon(ChorusCase):
    account_options = dict(WHOLE_WORLD, sync_parallel_calls=1)
    # Invoices moved to SERVICE_FAIT in Chorus before the first retrieval (tags; first of each).
    service_fait_tags = ("multi_vat", "credit_note_origin", "multi_attachments", "factored", "a2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        euro = cls.env.ref("base.EUR")
        if cls.company.currency_id != euro:
            # A French public body keeps its accounts in euros (the test database starts in USD).
            euro.active = True
            cls.company.write({"currency_id": euro.id, "country_id": cls.env.ref("base.fr").id})
        cls.Move = cls.env["account.move"]
        Budget = cls.env["chorus.pro.budget"]
        Article = cls.env["chorus.pro.budget.article"]
        cls.budget_ttc = Budget.create({
            "name": "Budget principal", "code": "00", "kind": "principal", "instruction": "M57",
            "vat_recovering": False, "comptable_name": "SGC de Saint-Exemple",
            "poste_comptable": "073000",
        })
        cls.budget_ht = Budget.create({
            "name": "Assainissement", "code": "01", "kind": "annexe", "instruction": "M49",
            "vat_recovering": True,
        })
        cls.article_ttc = Article.create({
            "budget_id": cls.budget_ttc.id, "code": "6042", "chapter": "011",
            "name": "Achats de prestations de services",
            "account_id": cls.expense_account("604200", "Achats de prestations de services").id,
        })
        cls.article_ttc_2 = Article.create({
            "budget_id": cls.budget_ttc.id, "code": "6064", "chapter": "011",
            "name": "Fournitures administratives",
            "account_id": cls.expense_account("606400", "Fournitures administratives").id,
        })
        cls.article_ht = Article.create({
            "budget_id": cls.budget_ht.id, "code": "6156", "chapter": "011", "name": "Maintenance",
            "account_id": cls.expense_account("615600", "Maintenance").id,
        })
        cls.taxes = {rate: cls.purchase_tax(rate) for rate in (20.0, 10.0, 5.5)}
        cls.mandating_user = cls.chorus_user("chorus_mandating", "mandating")
        cls.processor = cls.chorus_user("chorus_mandate_processor", "processor")
        cls.bank_validator = new_test_user(
            cls.env, login="chorus_mandate_bank_validator",
            groups="base.group_user,chorus_pro_liaison.group_chorus_pro_user,"
                   "account.group_validate_bank_account",
        )
        for tag in cls.service_fait_tags:
            cls.sim.admin.move(cls.sim.admin.first(tag)["idFacture"], "SERVICE_FAIT")
        cls.sync_run()

    @classmethod
    def expense_account(cls, code, name, account_type="expense"):
        Account = cls.env["account.account"]
        account = Account.search([*Account._check_company_domain(cls.company), ("code", "=", code)],
                                 limit=1)
        return account or Account.create({
            "code": code, "name": name, "account_type": account_type,
            "company_ids": [Command.link(cls.company.id)],
        })

    @classmethod
    def purchase_tax(cls, rate):
        Tax = cls.env["account.tax"]
        tax = Tax.search([*Tax._check_company_domain(cls.company), ("type_tax_use", "=", "purchase"),
                          ("amount_type", "=", "percent"), ("amount", "=", rate)])
        tax = tax.filtered(lambda t: not t.price_include and all(
            line.factor_percent >= 0 for line in t.invoice_repartition_line_ids))[:1]
        return tax or Tax.create({
            "name": f"TVA déductible {rate:g} %", "amount": rate, "amount_type": "percent",
            "type_tax_use": "purchase", "company_id": cls.company.id,
        })

    # ------------------------------------------------------------------ helpers
    def resync_simulator(self):
        """Back to the seeded world, with the same invoices certified Service fait as in Odoo."""
        self.sim.admin.reset()
        for tag in self.service_fait_tags:
            self.sim.admin.move(self.sim.admin.first(tag)["idFacture"], "SERVICE_FAIT")
        self.sim.admin.reset_counters()

    def invoice(self, tag, index=0, status=None):
        items = [i for i in self.sim.admin.invoices(tag=tag)
                 if i.get("idDestinataire") == self.sim.info["structure_id"]
                 and (status is None or i["statut"] == status)]
        record = self.Invoice.search([("chorus_id", "=", items[index]["idFacture"])])
        self.assertTrue(record, f"invoice tagged {tag} not retrieved")
        return record

    def certify(self, invoice, service_date=None, motif="Service fait conforme"):
        """Service fait through step 2's real push, by a processor; returns the push."""
        push = invoice.with_user(self.processor)._chorus_push_status(
            "SERVICE_FAIT", motif=motif, service_date=service_date,
        )
        self.assertEqual(push.state, "sent", push.answer_message)
        invoice.invalidate_recordset(["mandate_ready", "mandate_blocking_reason"])
        return push

    def partner_for(self, siret, name):
        """The partner of this SIRET (created once, as an accountant would)."""
        Partner = self.env["res.partner"]
        domain = [("siret", "=", siret)] if siret else [("name", "=", name)]
        return Partner.search(domain, limit=1) or Partner.create({
            "name": name, "siret": siret or False, "is_company": True,
        })

    def trust_supplier(self, invoice, trusted=True):
        """Step 3 for real: a processor matches the supplier (and the factor) to partners
        ("Valider les tiers"); then, when ``trusted``, someone allowed to validate bank accounts
        trusts the invoice's IBAN. Returns (partner, trusted bank account or nothing)."""
        partner = self.partner_for(invoice.supplier_identifier, invoice.supplier_name)
        factor = None
        if invoice.is_factored:
            factor = self.partner_for(invoice.factor_identifier, invoice.factor_name)
        invoice.with_user(self.processor)._chorus_confirm_match(partner, factor_partner=factor)
        bank = self.env["res.partner.bank"]
        if trusted:
            bank = invoice.with_user(self.bank_validator)._chorus_trust_bank_account(
                note="RIB confirmé par téléphone avec le fournisseur"
            )
            self.assertEqual(invoice.bank_state, "trusted")
        # "Ready to mandate" is computed on reading: read it afresh.
        invoice.invalidate_recordset(["mandate_ready", "mandate_blocking_reason"])
        return partner, bank

    def mandate_candidates(self, include_mandated=False):
        """Invoices (not credit notes, not already paid) certified Service fait, with their
        files in and a valid IBAN, in id order; without a mandate yet unless
        ``include_mandated``."""
        domain = [
            ("chorus_status", "=", "SERVICE_FAIT"), ("invoice_type", "=", "invoice"),
            ("frame", "!=", "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"), ("files_state", "=", "done"),
            ("bank_account_valid", "=", True),
        ]
        if not include_mandated:
            domain.append(("mandate_move_id", "=", False))
        return self.Invoice.search(domain, order="id")

    def ready_invoices(self, count, include_mandated=False):
        """``count`` invoices certified Service fait (not mandated yet, unless
        ``include_mandated``), their suppliers matched and bank accounts trusted (step 3)."""
        invoices = self.mandate_candidates(include_mandated)
        for invoice in invoices:
            self.trust_supplier(invoice)
        ready = invoices.filtered("mandate_ready")
        self.assertGreaterEqual(len(ready), count, "the data set has enough invoices")
        return ready[:count]

    def open_screen(self, invoices=None, user=None, **values):
        Wizard = self.env["chorus.pro.mandate.wizard"].with_user(user or self.mandating_user)
        action = Wizard._open(invoices.with_user(user or self.mandating_user) if invoices else None)
        wizard = Wizard.browse(action["res_id"])
        if values:
            wizard.write(values)
        return wizard

    def mandate(self, invoices, budget=None, article=None, user=None, exercice=None):
        """"Mandater" on ``invoices`` through the screen; returns (run, action)."""
        wizard = self.open_screen(invoices, user=user)
        wizard.write({
            "budget_id": (budget or self.budget_ttc).id,
            "article_id": (article or self.article_ttc).id,
            **({"exercice": str(exercice)} if exercice else {}),
        })
        for line in wizard.line_ids:
            line.selected = not line.blocked and line.invoice_id in invoices
        action = wizard.action_mandate()
        run = self.env["chorus.pro.run"].search([("run_type", "=", "mandate")], limit=1)
        return run, action

    def launch(self, invoices, budget=None, article=None, exercice=None, user=None):
        """A mandating run of ``invoices`` forced past the screen (``_launch_mandate``), on
        this exercice (default: the screen's) with its accounting date; returns the run."""
        Wizard = self.env["chorus.pro.mandate.wizard"]
        exercice = exercice or Wizard._exercice_default()
        user = user or self.mandating_user
        return self.env["chorus.pro.run"].with_user(user)._launch_mandate(
            self.account, budget or self.budget_ttc, article or self.article_ttc, exercice,
            Wizard._accounting_date_for(exercice), [(invoice, None) for invoice in invoices],
            user=user,
        )

    def run_report(self, run):
        return "%s | %s" % (run.summary, "; ".join(
            f"{r.invoice_id.number}: {r.state} {r.message or ''}" for r in run.mandate_request_ids))

    def traiter_calls(self):
        return self.sim.admin.counters().get(OP_PROCESS, 0)

    def cpro_calls(self):
        return sum(v for k, v in self.sim.admin.counters().items()
                   if not k.startswith("_") and k != "api/oauth/token")


class MandateCase(MandateCommon, TransactionCase):
    def setUp(self):
        super().setUp()
        self.resync_simulator()
