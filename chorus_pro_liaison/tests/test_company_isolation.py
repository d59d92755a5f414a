# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Companies kept apart on every path that is not a plain read (issue 13, holes 1 to 7): buttons
called with another company's ids, screens whose record is swapped, records moved between
companies, the main file swapped, posted mandates edited, partners created from Chorus data,
the Chorus Pro screen opened on another company. Each test calls the methods as an RPC client
would (``with_user`` and foreign ids)."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from chorus_pro.client import OP_PROCESS

from .two_companies_common import TwoCompaniesCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestCompanyIsolation(TwoCompaniesCase):
    # ------------------------------------------------------------------ 1. acting for another
    def test_send_now_on_another_company_invoice_is_refused(self):
        invoice = self.ccas_awaiting_invoice()
        push = self.pending_decision(invoice, self.ccas_processor)
        self.sim.admin.reset_counters()
        with self.assertRaises(AccessError) as refused:
            invoice.with_user(self.processor).action_send_pending()
        # Nothing of the CCAS's invoice in the message, nothing sent.
        self.assertNotIn(invoice.number or "?", str(refused.exception))
        self.assertNotIn(invoice.supplier_name or "?", str(refused.exception))
        self.assertEqual(push.state, "pending")
        self.assertEqual(self.counters().get(OP_PROCESS, 0), 0)
        # Its own processor sends it.
        invoice.with_user(self.ccas_processor).action_send_pending()
        self.assertEqual(push.state, "sent", push.answer_message)

    def test_decisions_of_another_company_are_not_confirmed(self):
        invoice = self.ccas_awaiting_invoice()
        invoice.with_user(self.ccas_processor).write({
            "decision_status": "REJETEE", "decision_motif": "Commande non reçue",
        })
        self.sim.admin.reset_counters()
        for method in ("action_confirm_decision", "action_confirm_selected",
                       "action_not_duplicate"):
            with self.assertRaises(AccessError):
                getattr(invoice.with_user(self.processor), method)()
        self.assertFalse(invoice.push_ids)
        self.assertEqual(self.counters().get(OP_PROCESS, 0), 0)

    def test_refreshing_proposals_of_another_company_is_refused(self):
        invoice = self.ccas_invoice(partner_id=False, supplier_identifier_type="SIRET")
        invoice.sudo().write({"suggested_partner_id": False, "suggestion_reason": False})
        # A shared partner with the supplier's SIRET: a refresh of this invoice proposes it.
        shared = self.env["res.partner"].create({
            "name": "Fournisseur partagé", "is_company": True,
            "siret": invoice.supplier_identifier_key,
        })
        with self.assertRaises(AccessError):
            invoice.with_user(self.processor).action_refresh_proposals()
        self.assertFalse(invoice.suggested_partner_id)
        # Without ids: only the user's own company's invoices are refreshed.
        self.Invoice.with_user(self.processor).action_refresh_proposals()
        self.assertFalse(invoice.suggested_partner_id)
        # The CCAS's own processor does refresh it: the refusals above were real.
        invoice.with_user(self.ccas_processor).action_refresh_proposals()
        self.assertEqual(invoice.suggested_partner_id, shared)

    def test_retrieval_of_another_company_is_not_launched(self):
        runs = self.env["chorus.pro.run"].search_count([("company_id", "=", self.ccas.id)])
        self.sim.admin.reset_counters()
        with self.assertRaises(AccessError):
            self.ccas_account.with_user(self.processor).action_launch_sync()
        with self.assertRaises(AccessError):
            self.ccas_account.with_user(self.processor).action_token_check()
        self.assertEqual(
            self.env["chorus.pro.run"].search_count([("company_id", "=", self.ccas.id)]), runs)
        self.assertEqual(self.counters(), {})

    def test_mandate_buttons_of_another_company_are_refused(self):
        invoice = self.ready_invoices(1)
        self.mandate(invoice)
        move = invoice.mandate_move_id
        bordereau = move.chorus_pro_bordereau_id
        self.assertEqual(move.state, "posted")
        for records, method in ((move, "action_chorus_pro_push_again"),
                                (move, "button_draft"), (move, "action_open_chorus_pro_invoice"),
                                (bordereau, "action_validate"), (bordereau, "action_print"),
                                (invoice, "action_open_mandate")):
            with self.assertRaises(AccessError, msg=method):
                getattr(records.with_user(self.ccas_mandating), method)()
        self.assertEqual(move.state, "posted")
        self.assertEqual(bordereau.state, "draft")

    # ------------------------------------------------------------------ 2. screens
    def test_supplier_match_screen_keeps_its_invoice(self):
        own = self.commune_awaiting_invoice()
        foreign = self.ccas_invoice(partner_id=False)
        Match = self.env["chorus.pro.supplier.match"].with_user(self.processor)
        match = Match.browse(own.with_user(self.processor).action_open_supplier_match()["res_id"])
        with self.assertRaises(AccessError):
            match.write({"invoice_id": foreign.id})
        match.invalidate_recordset()
        self.assertEqual(match.invoice_id, own)
        self.assertEqual(match.number, own.number)
        with self.assertRaises(AccessError):
            Match.create({"invoice_id": foreign.id})

    def test_bank_confirmation_keeps_its_invoice_even_for_a_reader(self):
        own = self.commune_awaiting_invoice()
        foreign = self.ccas_invoice()
        Confirm = self.env["chorus.pro.bank.confirm"].with_user(self.commune_reader)
        screen = Confirm.create({"invoice_id": own.id})
        with self.assertRaises(AccessError):
            screen.write({"invoice_id": foreign.id})
        screen.invalidate_recordset()
        self.assertEqual(screen.payment_iban_display, own.payment_iban_display)
        with self.assertRaises(AccessError):
            Confirm.create({"invoice_id": foreign.id})

    def test_mandating_line_keeps_its_invoice(self):
        own = self.ready_invoices(1)
        foreign = self.ccas_invoice()
        wizard = self.open_screen(own)
        line = wizard.line_ids.filtered(lambda l: l.invoice_id == own)
        with self.assertRaises(AccessError):
            line.write({"invoice_id": foreign.id})
        line.invalidate_recordset()
        self.assertEqual(line.amount_total, own.amount_total)
        Line = self.env["chorus.pro.mandate.wizard.line"].with_user(self.mandating_user)
        with self.assertRaises(AccessError):
            Line.create({"wizard_id": wizard.id, "invoice_id": foreign.id})
        with self.assertRaises(AccessError):
            wizard.write({"company_id": self.ccas.id})

    def test_mandating_screen_takes_only_its_companys_budget(self):
        # An RPC client gives the commune's mandating screen a budget of the CCAS: refused
        # before "Mandater" could number mandates in the CCAS's series.
        ccas_budget = self.env["chorus.pro.budget"].create({
            "name": "Budget du CCAS", "code": "00", "kind": "principal", "instruction": "M57",
            "company_id": self.ccas.id,
        })
        wizard = self.open_screen(self.ready_invoices(1))
        budget = wizard.budget_id
        # (the savepoint stands for the rollback of the refused RPC call)
        with self.assertRaisesRegex(UserError, "Incompatible companies"), \
                self.env.cr.savepoint():
            wizard.write({"budget_id": ccas_budget.id})
        wizard.invalidate_recordset()
        self.assertEqual(wizard.budget_id, budget)
        # Its own budget is still taken.
        wizard.write({"budget_id": self.budget_ht.id})
        self.assertEqual(wizard.budget_id, self.budget_ht)

    def test_a_screen_on_another_company_invoice_shows_nothing_of_it(self):
        # A screen left over from before the checks (made by server code, say), owned by a
        # reader of the commune, about the CCAS's invoice: its fields are read with the
        # reader's rights, so the CCAS's IBAN stays hidden.
        foreign = self.ccas_invoice()
        screen = self.env["chorus.pro.bank.confirm"].create({"invoice_id": foreign.id})
        self.env.cr.execute("UPDATE chorus_pro_bank_confirm SET create_uid = %s WHERE id = %s",
                            [self.commune_reader.id, screen.id])
        self.env.invalidate_all()
        with self.assertRaises(AccessError):
            screen.with_user(self.commune_reader).read(["payment_iban_display", "bank_holder"])

    def test_screens_read_their_related_fields_with_the_users_rights(self):
        for model in ("chorus.pro.supplier.match", "chorus.pro.bank.confirm",
                      "chorus.pro.mandate.wizard.line", "chorus.pro.dashboard"):
            related = [f for f in self.env[model]._fields.values() if f.related]
            self.assertTrue(related, model)
            self.assertFalse([f.name for f in related if f.compute_sudo], model)

    # ------------------------------------------------------------------ 3. moving records
    def test_received_invoice_stays_in_its_company(self):
        invoice = self.commune_awaiting_invoice()
        for vals in ({"company_id": self.ccas.id}, {"account_id": self.ccas_account.id}):
            with self.assertRaisesRegex(AccessError, "cannot be changed"):
                invoice.with_user(self.processor).write(vals)
        self.assertEqual(invoice.company_id, self.commune)
        self.assertEqual(invoice.account_id, self.account)

    def test_remembered_match_stays_in_its_company(self):
        invoice = self.commune_awaiting_invoice()
        partner = self.partner_for(invoice.supplier_identifier, invoice.supplier_name)
        invoice.with_user(self.processor)._chorus_confirm_match(partner)
        memory = self.env["chorus.pro.supplier"].search([
            ("company_id", "=", self.commune.id),
            ("identifier", "=", invoice.supplier_identifier_key)])
        self.assertTrue(memory)
        with self.assertRaisesRegex(AccessError, "cannot be changed"):
            memory.with_user(self.processor).write({"company_id": self.ccas.id})
        self.assertEqual(memory.company_id, self.commune)

    # ------------------------------------------------------------------ 4. main file
    def test_main_file_is_one_of_the_invoices_own(self):
        invoice = self.invoice("multi_attachments")
        other = self.invoice("pdf_only")
        foreign_pdf = self.ccas_invoice(files_state="done").main_attachment_pdf_id
        self.assertTrue(other.main_attachment_pdf_id and foreign_pdf)
        main = invoice.message_main_attachment_id
        for attachment in (other.main_attachment_pdf_id, foreign_pdf):
            with self.assertRaisesRegex(AccessError, "own files"):
                invoice.with_user(self.processor).write(
                    {"message_main_attachment_id": attachment.id})
        self.assertEqual(invoice.message_main_attachment_id, main)
        # One of its own files can be made the main one.
        own_files = self.env["ir.attachment"].search(
            [("res_model", "=", invoice._name), ("res_id", "=", invoice.id)])
        invoice.with_user(self.processor).write({"message_main_attachment_id": own_files[-1].id})
        self.assertEqual(invoice.message_main_attachment_id, own_files[-1])

    # ------------------------------------------------------------------ 5. posted mandates
    def posted_mandate_on_validated_bordereau(self):
        invoice = self.ready_invoices(1)
        run, _action = self.mandate(invoice)
        move = invoice.mandate_move_id
        self.assertEqual(move.state, "posted", self.run_report(run))
        move.chorus_pro_bordereau_id.with_user(self.mandating_user).action_validate()
        self.assertEqual(move.chorus_pro_bordereau_id.state, "validated")
        return move

    def test_posted_mandate_is_frozen(self):
        move = self.posted_mandate_on_validated_bordereau()
        trusted, total = move.partner_bank_id, move.amount_total
        due, line = move.invoice_date_due, move.invoice_line_ids[0]
        price = line.price_unit
        untrusted = self.env["res.partner.bank"].create({
            "partner_id": move.partner_id.id, "acc_number": "FR7630001007941234567890185",
            "allow_out_payment": False,
        })
        as_officer = move.with_user(self.mandating_user)
        for vals in ({"partner_bank_id": untrusted.id}, {"invoice_date_due": "2030-01-01"},
                     {"partner_id": self.env["res.partner"].create({"name": "Autre"}).id},
                     {"invoice_line_ids": [(1, line.id, {"price_unit": 1.0})]}):
            with self.assertRaisesRegex(UserError, "can no longer be changed"):
                as_officer.write(vals)
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            line.with_user(self.mandating_user).write({"price_unit": 1.0})
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            line.with_user(self.mandating_user).write({"quantity": 2.0})
        # The trace of the only way out: reset to draft is refused on a validated bordereau.
        with self.assertRaisesRegex(UserError, "validated bordereau"):
            as_officer.button_draft()
        move.invalidate_recordset()
        self.assertEqual((move.partner_bank_id, move.amount_total, move.invoice_date_due),
                         (trusted, total, due))
        self.assertEqual(line.price_unit, price)
        # What does not touch the payment stays editable (the reference of the mandate).
        as_officer.write({"ref": "Marché 2026-04"})
        self.assertEqual(move.ref, "Marché 2026-04")

    # ------------------------------------------------------------------ 6. partners created
    def test_partner_created_from_chorus_data_belongs_to_its_company(self):
        invoice = self.ccas_invoice(partner_id=False, supplier_identifier_type="SIRET",
                                    chorus_status="MISE_A_DISPOSITION")
        Match = self.env["chorus.pro.supplier.match"].with_user(self.ccas_processor)
        match = Match.browse(
            invoice.with_user(self.ccas_processor).action_open_supplier_match()["res_id"])
        match.with_user(self.ccas_processor).action_create_partner()
        partner = invoice.partner_id
        self.assertTrue(partner)
        self.assertEqual(partner.company_id, self.ccas)
        Partner = self.env["res.partner"]
        self.assertFalse(Partner.with_user(self.processor).search([("id", "=", partner.id)]))
        self.assertEqual(Partner.with_user(self.ccas_processor).search(
            [("id", "=", partner.id)]), partner)

    def test_partners_shared_when_the_company_chooses_so(self):
        self.ccas.chorus_pro_share_partners = True
        invoice = self.ccas_invoice(partner_id=False, supplier_identifier_type="SIRET",
                                    chorus_status="MISE_A_DISPOSITION")
        partner = invoice.with_user(self.ccas_processor)._chorus_create_partner("supplier")
        self.assertFalse(partner.company_id)

    # ------------------------------------------------------------------ 7. Chorus Pro screen
    def test_chorus_pro_screen_shows_the_users_company_only(self):
        Dashboard = self.env["chorus.pro.dashboard"].with_user(self.commune_reader)
        with self.assertRaises(AccessError):
            Dashboard.create({"company_id": self.ccas.id})
        dashboard = Dashboard.create({})
        self.assertEqual(dashboard.company_id, self.commune)
        with self.assertRaises(AccessError):
            dashboard.write({"company_id": self.ccas.id})
        dashboard.invalidate_recordset()
        self.assertEqual(dashboard.account_id, self.account)
        # Allowed companies sent by the client are checked by Odoo as well.
        with self.assertRaises(AccessError):
            Dashboard.with_context(allowed_company_ids=[self.ccas.id]).create({})
