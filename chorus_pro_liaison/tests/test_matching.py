# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 3 against the simulator's data: candidates, remembered matches, partner creation,
bank-detail safeguards, factoring, invalid identifiers, company isolation."""

import random

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase

from chorus_pro import statuses as chorus_statuses
from chorus_pro.identifiers import mask_iban
from chorus_pro.simulator.generator import make_fr_iban, make_siret

from .common import WholeWorldCase


def other_iban(seed="other"):
    return make_fr_iban(random.Random(seed), "30004")


class MatchingCase(WholeWorldCase, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        cls.Supplier = cls.env["chorus.pro.supplier"]
        cls.processor = cls.chorus_user("matching_processor", "processor")
        cls.bank_validator = new_test_user(
            cls.env, login="matching_bank_validator",
            groups="base.group_user,chorus_pro_liaison.group_chorus_pro_user,"
                   "account.group_validate_bank_account",
        )

    # ------------------------------------------------------------------ helpers
    def plain_invoice(self, exclude=()):
        """A retrieved, ordinary invoice (not factored, valid SIRET and IBAN) whose supplier is
        not matched, from a supplier with no other invoice listed in ``exclude``."""
        invoices = self.unmatched_invoices(
            ("payment_iban", "!=", False), ("invoice_type", "=", "invoice"),
            ("amount_to_pay", ">", 0),
            ("supplier_identifier_key", "not in", list(exclude) or [""]),
            statuses=("MISE_A_DISPOSITION", "COMPLETEE", "SERVICE_FAIT"),
        )
        self.assertTrue(invoices, "the simulator gave no ordinary invoice")
        return invoices[0]

    def factored_invoice(self):
        invoice = self.Invoice.search([("is_factored", "=", True)], limit=1, order="chorus_id")
        self.assertTrue(invoice, "the simulator's factored invoice was not retrieved")
        return invoice

    def partner(self, name, siret=False, iban=False, trusted=False, company=None, **vals):
        partner = self.Partner.create(dict(
            name=name, is_company=True, siret=siret,
            company_id=company.id if company else False, **vals,
        ))
        if iban:
            self.env["res.partner.bank"].create({
                "partner_id": partner.id, "acc_number": iban, "allow_out_payment": trusted,
            })
        return partner

    def other_establishment(self, siret, establishment=77):
        return make_siret(siret[:9], establishment)

    def open_match(self, invoice, user=None):
        invoice = invoice.with_user(user or self.processor)
        action = invoice.action_open_supplier_match()
        return self.env["chorus.pro.supplier.match"].with_user(user or self.processor).browse(
            action["res_id"]
        )


@tagged("post_install", "-at_install", "chorus_pro")
class TestCandidates(MatchingCase):
    def test_iban_before_siret_before_siren_before_names(self):
        invoice = self.plain_invoice()
        siret, iban = invoice.supplier_identifier_key, invoice.payment_iban
        by_iban = self.partner("Compte connu SARL", iban=iban, trusted=True)
        by_siret = self.partner("Société au même SIRET", siret=siret)
        by_siren = self.partner("Autre établissement", siret=self.other_establishment(siret))
        by_name = self.partner(invoice.supplier_name + " (ancien)")
        company_b = self.env["res.company"].create({"name": "Budget annexe eau"})
        elsewhere = self.partner("Homonyme autre budget", siret=siret, iban=iban,
                                 company=company_b)

        candidates = invoice._chorus_candidates()
        partners = [c["partner"] for c in candidates]
        self.assertEqual(partners[:4], [by_iban, by_siret, by_siren, by_name])
        self.assertNotIn(elsewhere, partners, "another company's partner must never be proposed")
        self.assertEqual(candidates[0]["reasons"], ["iban"])
        self.assertTrue(candidates[0]["trusted"])
        self.assertEqual(candidates[1]["reasons"], ["siret"])
        self.assertEqual(candidates[2]["reasons"], ["siren"])
        self.assertEqual(candidates[3]["reasons"], ["name"])
        self.assertGreater(candidates[3]["similarity"], 0.3)

        # The same order, set-based, for the proposal stored at retrieval time.
        action = invoice.with_user(self.processor).action_refresh_proposals()
        self.assertEqual(action["params"]["type"], "info")
        self.assertEqual(invoice.suggested_partner_id, by_iban)
        self.assertEqual(invoice.suggestion_reason, "iban")
        self.assertFalse(invoice.partner_id, "a proposal is never a match")

        # The matching screen shows them with their reasons; selecting one fills the fields.
        match = self.open_match(invoice)
        self.assertEqual(match.line_ids.mapped("partner_id")[:4], by_iban | by_siret | by_siren | by_name)
        self.assertIn("IBAN", match.line_ids[0].reason_text)
        self.assertTrue(match.line_ids[3].name_only)
        self.assertFalse(match.partner_id)
        match.line_ids[1].action_select()
        self.assertEqual(match.partner_id, by_siret)
        self.assertEqual(match.partner_identifier, siret)

    def test_names_alone_never_match_automatically(self):
        invoice = self.plain_invoice()
        twin = self.partner(invoice.supplier_name)
        invoice._chorus_match_suppliers()
        self.assertFalse(invoice.partner_id)
        self.assertEqual(invoice.suggested_partner_id, twin)
        self.assertEqual(invoice.suggestion_reason, "name")
        # Partner with the same SIRET as well: the identifier wins over the identical name.
        by_siret = self.partner("Nom différent", siret=invoice.supplier_identifier_key)
        invoice._chorus_match_suppliers()
        self.assertEqual(invoice.suggested_partner_id, by_siret)
        self.assertEqual(invoice.suggestion_reason, "siret")
        self.assertFalse(invoice.partner_id)

    def test_other_companies_partners_never_proposed_nor_accepted(self):
        invoice = self.plain_invoice()
        company_b = self.env["res.company"].create({"name": "CCAS voisin"})
        theirs = self.partner(invoice.supplier_name, siret=invoice.supplier_identifier_key,
                              iban=invoice.payment_iban, trusted=True, company=company_b)
        self.assertFalse(invoice._chorus_candidates())
        invoice._chorus_match_suppliers()
        self.assertFalse(invoice.suggested_partner_id)
        with self.assertRaises(UserError):
            invoice.with_user(self.processor)._chorus_confirm_match(theirs)
        # A remembered match never points at another company's partner...
        with self.assertRaises(ValidationError):
            self.Supplier.create({
                "company_id": invoice.company_id.id, "identifier": invoice.supplier_identifier,
                "identifier_type": "SIRET", "partner_id": theirs.id,
            })
        # ...and the other company's remembered match does not apply here.
        self.Supplier.create({
            "company_id": company_b.id, "identifier": invoice.supplier_identifier,
            "identifier_type": "SIRET", "partner_id": theirs.id,
        })
        invoice._chorus_match_suppliers()
        self.assertFalse(invoice.partner_id)
        # Shared partners (no company) are proposed.
        shared = self.partner("Partagé", siret=invoice.supplier_identifier_key)
        self.assertEqual([c["partner"] for c in invoice._chorus_candidates()], [shared])


@tagged("post_install", "-at_install", "chorus_pro")
class TestRememberedMatches(MatchingCase):
    def test_confirmed_match_is_remembered_and_applied_at_next_sync(self):
        invoice = self.plain_invoice()
        siret = invoice.supplier_identifier_key
        partner = self.partner("Fournisseur local", siret=siret, iban=invoice.payment_iban,
                               trusted=True)
        siblings = self.Invoice.search([
            ("supplier_identifier_key", "=", siret), ("id", "!=", invoice.id),
            ("partner_id", "=", False),
        ])
        match = self.open_match(invoice)
        match.partner_id = partner
        match.action_confirm()

        self.assertEqual(invoice.partner_id, partner)
        self.assertEqual(invoice.partner_match_origin, "manual")
        self.assertEqual(invoice.bank_state, "trusted")
        self.assertEqual(invoice._check_supplier_for_mandate(), [])
        memory = self.Supplier.search([("identifier", "=", siret)])
        self.assertEqual(len(memory), 1)
        self.assertEqual(memory.partner_id, partner)
        self.assertEqual(memory.identifier_type, "SIRET")
        self.assertEqual(memory.matched_by, self.processor)
        self.assertTrue(memory.matched_at)
        self.assertEqual(memory.company_id, invoice.company_id)
        self.assertIn(partner.name, invoice.message_ids[0].body)
        # The other invoices of that supplier follow at once.
        self.assertTrue(siblings, "the simulator gives several invoices per supplier")
        self.assertEqual(siblings.partner_id, partner)
        self.assertEqual(set(siblings.mapped("partner_match_origin")), {"remembered"})

        # A new invoice of the same supplier is matched by the retrieval, nobody looking.
        supplier_index = next(
            item["supplier_index"] for item in self.sim.admin.invoices()
            if item["supplier_siret"] == siret
        )
        deposited = self.sim.admin.deposit(supplier_index=supplier_index)
        run = self.sync()
        self.assertIn(run.state, ("done", "warning"), run.summary)
        new = self.Invoice.search([("chorus_id", "=", deposited["idFacture"])])
        self.assertTrue(new)
        self.assertEqual(new.partner_id, partner)
        self.assertEqual(new.partner_match_origin, "remembered")
        self.assertEqual(new.bank_state, "trusted")

        # A wrong match corrected later: the invoices matched automatically follow.
        corrected = self.partner("Le bon partenaire", siret=siret)
        match = self.open_match(new)
        self.assertEqual(match.partner_id, partner, "the screen starts from the current partner")
        match.partner_id = corrected
        match.action_confirm()
        self.assertEqual(memory.partner_id, corrected)
        self.assertEqual(new.partner_id, corrected)
        # Mandated invoices keep the partner of their mandate (the world holds one for works).
        mandated = siblings.filtered(lambda i: i.chorus_status in chorus_statuses.MANDATED)
        self.assertTrue(mandated, "the supplier has a mandated invoice")
        self.assertEqual((siblings - mandated).partner_id, corrected)
        self.assertEqual(mandated.partner_id, partner)
        self.assertEqual(invoice.partner_id, partner, "a match confirmed by a person is kept")

    def test_archived_memory_or_partner_not_applied(self):
        invoice = self.plain_invoice()
        partner = self.partner("Fournisseur archivé", siret=invoice.supplier_identifier_key)
        memory = self.Supplier.create({
            "identifier": invoice.supplier_identifier, "identifier_type": "SIRET",
            "partner_id": partner.id, "active": False,
        })
        invoice._chorus_match_suppliers()
        self.assertFalse(invoice.partner_id)
        memory.active = True
        partner.active = False
        invoice._chorus_match_suppliers()
        self.assertFalse(invoice.partner_id)
        partner.active = True
        invoice._chorus_match_suppliers()
        self.assertEqual(invoice.partner_id, partner)

    def test_only_processors_match(self):
        invoice = self.plain_invoice()
        reader = self.chorus_user("matching_reader", "user")
        partner = self.partner("Quelqu'un", siret=invoice.supplier_identifier_key)
        with self.assertRaises(AccessError):
            invoice.with_user(reader).action_open_supplier_match()
        with self.assertRaises(AccessError):
            invoice.with_user(reader)._chorus_confirm_match(partner)
        self.assertFalse(invoice.partner_id)

    def test_dashboard_counts_suppliers_to_match(self):
        dashboard = self.env["chorus.pro.dashboard"].with_user(self.processor).create({})
        waiting = self.Invoice.search(self.Invoice._to_match_domain())
        # Suppliers, not invoices: a supplier with several invoices counts once.
        expected = len(set(waiting.mapped("supplier_identifier_key")))
        self.assertGreater(expected, 0)
        self.assertLess(expected, len(waiting), "the data set has a supplier with two invoices")
        self.assertEqual(dashboard.count_to_match, expected)
        invoice = self.plain_invoice()
        partner = self.partner("Fournisseur compté", siret=invoice.supplier_identifier_key)
        invoice.with_user(self.processor)._chorus_confirm_match(partner)
        dashboard.invalidate_recordset()
        self.assertEqual(dashboard.count_to_match, expected - 1)
        action = dashboard.action_open_to_match()
        self.assertEqual(action["res_model"], "chorus.pro.invoice")


@tagged("post_install", "-at_install", "chorus_pro")
class TestPartnerCreation(MatchingCase):
    def test_create_partner_from_chorus_data(self):
        invoice = self.plain_invoice()
        self.assertFalse(invoice.supplier_city, "non-factored invoices are not consulted at sync")
        match = self.open_match(invoice)
        self.assertTrue(invoice.supplier_city, "the matching screen asks Chorus for the address")
        self.assertTrue(match.supplier_address)
        self.assertFalse(match.details_message)
        match.action_create_partner()
        partner = invoice.partner_id
        self.assertTrue(partner)
        self.assertEqual(invoice.partner_match_origin, "created")
        self.assertEqual(partner.name, invoice.supplier_name)
        self.assertTrue(partner.is_company)
        self.assertEqual(partner.siret, invoice.supplier_identifier_key)
        self.assertEqual(partner.chorus_pro_siren, invoice.supplier_identifier_key[:9])
        # The company that matched it (its chatter tells that company's bank details).
        self.assertEqual(partner.company_id, invoice.company_id)
        # Address and BIC came from consulting the invoice in Chorus Pro, on demand.
        self.assertTrue(partner.street)
        self.assertTrue(partner.city)
        self.assertEqual(partner.city, invoice.supplier_city)
        self.assertEqual(partner.country_id.code, "FR")
        bank = partner.bank_ids
        self.assertEqual(len(bank), 1)
        self.assertEqual(bank.sanitized_acc_number, invoice.payment_iban)
        self.assertTrue(bank.bank_id.bic, "the BIC comes from the Chorus data")
        self.assertFalse(bank.allow_out_payment, "an IBAN from an invoice is never trusted by itself")
        self.assertEqual(invoice.partner_bank_id, bank)
        self.assertEqual(invoice.bank_state, "to_confirm")
        self.assertTrue(self.Supplier.search([("partner_id", "=", partner.id)]))
        # A second creation for the same SIRET is refused (select the existing one).
        other = self.Invoice.search([
            ("supplier_identifier_key", "=", invoice.supplier_identifier_key),
            ("id", "!=", invoice.id),
        ], limit=1)
        if other:
            other.partner_id = False
            with self.assertRaises(UserError):
                other.with_user(self.processor)._chorus_create_partner()

    def test_partner_created_with_what_is_known_when_chorus_cannot_answer(self):
        invoice = self.plain_invoice()
        self.account.technical_login = False  # the guard refuses any call
        match = self.open_match(invoice)
        self.assertIn("incomplete", match.details_message)
        match.action_create_partner()
        partner = invoice.partner_id
        self.assertEqual(partner.siret, invoice.supplier_identifier_key)
        self.assertFalse(partner.city)
        self.assertEqual(partner.bank_ids.sanitized_acc_number, invoice.payment_iban)
        self.assertTrue(invoice.message_ids.filtered(lambda m: "incomplete" in (m.body or "")))


@tagged("post_install", "-at_install", "chorus_pro")
class TestBankSafeguards(MatchingCase):
    def test_changed_iban_blocks_until_trusted(self):
        invoice = self.plain_invoice()
        known_iban = other_iban("known")
        partner = self.partner("Fournisseur habituel", siret=invoice.supplier_identifier_key,
                               iban=known_iban, trusted=True)
        invoice.with_user(self.processor)._chorus_confirm_match(partner)
        self.assertEqual(invoice.bank_state, "to_confirm")
        self.assertFalse(invoice.partner_bank_id)
        reasons = invoice._check_supplier_for_mandate()
        self.assertEqual(len(reasons), 1)
        self.assertIn(mask_iban(invoice.payment_iban), reasons[0])
        self.assertNotIn(invoice.payment_iban, reasons[0])
        self.assertIn(invoice, self.Invoice.search(
            self.Invoice._bank_to_confirm_domain()))

        # The processor cannot trust it, nor set Odoo's trust flag on the partner himself.
        with self.assertRaises(AccessError):
            invoice.with_user(self.processor)._chorus_trust_bank_account()
        # The bank-account validator must tick the trusted-channel box.
        wizard = self.env["chorus.pro.bank.confirm"].with_user(self.bank_validator).browse(
            invoice.with_user(self.bank_validator).action_confirm_bank_account()["res_id"]
        )
        self.assertEqual(wizard.payee_id, partner)
        self.assertIn(mask_iban(known_iban), wizard.known_accounts)
        with self.assertRaises(UserError):
            wizard.action_confirm()
        wizard.write({"confirmed_by_trusted_channel": True, "note": "Appel au 04 79 00 00 00"})
        wizard.action_confirm()

        self.assertEqual(invoice.bank_state, "trusted")
        self.assertEqual(invoice._check_supplier_for_mandate(), [])
        bank = invoice.partner_bank_id
        self.assertEqual(bank.partner_id, partner)
        self.assertTrue(bank.allow_out_payment)
        self.assertEqual(len(partner.bank_ids), 2, "the old account stays, the new one is added")
        # Traced on the invoice and on the partner, IBAN masked.
        trace = invoice.message_ids[0]
        self.assertIn(mask_iban(invoice.payment_iban), trace.body)
        self.assertNotIn(invoice.payment_iban, trace.body)
        self.assertEqual(trace.author_id, self.bank_validator.partner_id)
        self.assertIn("Appel au 04 79 00 00 00", trace.body)
        self.assertTrue(partner.message_ids.filtered(
            lambda m: mask_iban(invoice.payment_iban) in (m.body or "")
        ))
        # Every invoice of that supplier paid on that IBAN is released too.
        same = self.Invoice.search([
            ("partner_id", "=", partner.id), ("payment_iban", "=", invoice.payment_iban),
        ])
        self.assertEqual(set(same.mapped("bank_state")), {"trusted"})

        # The supplier changes its bank details again: blocked again.
        invoice.sudo().bank_account = other_iban("fraud")
        self.assertEqual(invoice.bank_state, "to_confirm")
        # Distrusting the account in Odoo blocks again as well.
        invoice.sudo().bank_account = bank.sanitized_acc_number
        self.assertEqual(invoice.bank_state, "trusted")
        bank.allow_out_payment = False
        self.assertEqual(invoice.bank_state, "to_confirm")

    def test_credit_notes_need_no_bank_account(self):
        credit_note = self.Invoice.search([("invoice_type", "=", "credit_note")], limit=1)
        self.assertTrue(credit_note, "the simulator gives a credit note")
        partner = self.partner("Fournisseur de l'avoir",
                               siret=credit_note.supplier_identifier_key)
        credit_note.with_user(self.processor)._chorus_confirm_match(partner)
        self.assertNotEqual(credit_note.bank_state, "trusted")
        self.assertEqual(credit_note._check_supplier_for_mandate(), [])


@tagged("post_install", "-at_install", "chorus_pro")
class TestFactoring(MatchingCase):
    def test_factored_invoice_checked_against_the_factor(self):
        invoice = self.factored_invoice()
        self.assertTrue(invoice.factor_name)
        self.assertTrue(invoice.factor_identifier, "the factor's identity comes from the consult")
        factor_iban = invoice.payment_iban
        # The factor's account is shared by its clients: it must not rank suppliers.
        other_client = self.partner("Autre client du factor", iban=factor_iban, trusted=True)
        supplier = self.partner("Le vrai fournisseur", siret=invoice.supplier_identifier_key)
        factor = self.partner(invoice.factor_name, siret=invoice.factor_identifier,
                              iban=factor_iban, trusted=True)
        candidates = invoice._chorus_candidates()
        self.assertNotIn(other_client, [c["partner"] for c in candidates])
        self.assertTrue(all("iban" not in c["reasons"] for c in candidates))
        self.assertEqual(candidates[0]["partner"], supplier)

        match = self.open_match(invoice)
        self.assertTrue(match.is_factored)
        self.assertEqual(match.factor_partner_id, factor, "the factor is found by its SIRET")
        match.partner_id = supplier
        match.factor_partner_id = False
        with self.assertRaises(UserError):
            match.action_confirm()
        match.factor_partner_id = factor
        match.action_confirm()
        self.assertEqual(invoice.partner_id, supplier)
        self.assertEqual(invoice.factor_partner_id, factor)
        self.assertEqual(invoice.bank_state, "trusted", "the IBAN is a trusted account of the factor")
        self.assertEqual(invoice.partner_bank_id.partner_id, factor)
        self.assertEqual(invoice._check_supplier_for_mandate(), [])
        memory = self.Supplier.search([("role", "=", "factor")])
        self.assertEqual(memory.partner_id, factor)
        # The factor's account is not trusted on the supplier: another factor's IBAN would block.
        factor.bank_ids.allow_out_payment = False
        self.assertEqual(invoice.bank_state, "to_confirm")
        self.assertIn(factor.name, invoice._check_supplier_for_mandate()[0])

    def test_factored_invoice_without_factor_blocks(self):
        invoice = self.factored_invoice()
        supplier = self.partner("Fournisseur affacturé", siret=invoice.supplier_identifier_key,
                                iban=invoice.payment_iban, trusted=True)
        invoice.with_user(self.processor)._chorus_confirm_match(supplier)
        self.assertFalse(invoice.factor_partner_id)
        self.assertEqual(invoice.bank_state, "to_confirm",
                         "the supplier holding the factor's IBAN does not make it trusted")
        reasons = invoice._check_supplier_for_mandate()
        self.assertTrue(any(invoice.factor_name in reason for reason in reasons))


@tagged("post_install", "-at_install", "chorus_pro")
class TestInvalidIdentifiers(MatchingCase):
    def test_invalid_siret_and_iban_are_shown_not_accepted(self):
        invoice = self.plain_invoice()
        good_siret = invoice.supplier_identifier_key
        bad_siret = good_siret[:-1] + str((int(good_siret[-1]) + 1) % 10)
        bad_iban = invoice.payment_iban[:-1] + str((int(invoice.payment_iban[-1]) + 1) % 10)
        self.partner("Même SIRET", siret=good_siret)
        invoice.sudo().write({"supplier_identifier": bad_siret, "bank_account": bad_iban})
        self.assertFalse(invoice.supplier_identifier_valid)
        self.assertFalse(invoice.bank_account_valid)
        self.assertFalse(invoice.supplier_siren, "no SIREN is taken from an invalid SIRET")
        # A partner typed with the same invalid SIRET is not proposed on it.
        typo = self.partner("Saisie erronée", siret=bad_siret)
        self.assertFalse(typo.chorus_pro_siret)
        self.assertNotIn(typo, [c["partner"] for c in invoice._chorus_candidates()])
        partner = self.partner("Choisi à la main")
        invoice.with_user(self.processor)._chorus_confirm_match(partner)
        self.assertEqual(invoice.bank_state, "invalid")
        self.assertTrue(any(mask_iban(bad_iban) in r for r in invoice._check_supplier_for_mandate()))
        with self.assertRaises(UserError):
            invoice.with_user(self.bank_validator)._chorus_trust_bank_account()
        self.assertIn(invoice, self.Invoice.search([
            ("id", "=", invoice.id), ("supplier_identifier_valid", "=", False),
        ]))

    def test_eu_vat_identifier(self):
        invoice = self.plain_invoice()
        invoice.sudo().write({
            "supplier_identifier": "BE0403019261", "supplier_identifier_type": "UE_HORS_FRANCE",
        })
        self.assertTrue(invoice.supplier_identifier_valid)
        foreign = self.partner("Fournisseur belge", vat="BE0403019261")
        self.assertEqual(invoice._chorus_candidates()[0]["partner"], foreign)
        self.assertEqual(invoice._chorus_candidates()[0]["reasons"], ["identifier"])
        invoice.sudo().supplier_identifier = "BE0403019262"
        self.assertFalse(invoice.supplier_identifier_valid)

    def test_partner_identifiers_are_validated(self):
        siret = make_siret("732829320", 1)
        partner = self.partner("Vérifié", siret=siret)
        self.assertEqual(partner.chorus_pro_siret, siret)
        self.assertEqual(partner.chorus_pro_siren, "732829320")
        spaced = self.partner("Espacé", company_registry=f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}")
        self.assertEqual(spaced.chorus_pro_siret, siret)
        only_vat = self.partner("TVA seule", vat="FR40303265045")
        self.assertFalse(only_vat.chorus_pro_siret)
        self.assertEqual(only_vat.chorus_pro_siren, "303265045")
        registry = self.partner("Registre", company_registry="732 829 320")
        self.assertEqual(registry.chorus_pro_siren, "732829320")
