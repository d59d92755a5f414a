# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Numbering per budget and exercice without gaps, bordereaux and their printout, rights."""

import io

from PyPDF2 import PdfFileReader

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged


from .mandate_common import MandateCase

from chorus_pro.timeutil import paris_today


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateNumberingAndBordereau(MandateCase):
    service_fait_tags = MandateCase.service_fait_tags + ("structured", "pdf_only")

    def ready_invoices(self, count):
        """``count`` invoices certified Service fait, suppliers trusted (mandated ones are
        searched too: only ``mandate_ready`` decides)."""
        return super().ready_invoices(count, include_mandated=True)

    def deposit_ready(self, made_available):
        """A new invoice made available at ``made_available``, certified, supplier trusted."""
        deposited = self.sim.admin.deposit(status_datetime=made_available, supplier_index=2,
                                           amount_ht="800.00", vat_rate=20)
        self.sim.admin.move(deposited["idFacture"], "SERVICE_FAIT", at=made_available)
        self.account.last_sync_at = False
        self.sync_run()
        invoice = self.Invoice.search([("chorus_id", "=", deposited["idFacture"])])
        self.trust_supplier(invoice)
        self.assertTrue(invoice.mandate_ready, invoice.mandate_blocking_reason)
        return invoice

    def test_previous_exercice_only_during_the_closing_period(self):
        from datetime import date

        from odoo.addons.chorus_pro_liaison.wizards.chorus_pro_mandate_wizard import exercice_choices

        self.assertEqual(exercice_choices(date(2027, 1, 31)), [2027, 2026])
        self.assertEqual(exercice_choices(date(2027, 2, 1)), [2027])
        Wizard = self.env["chorus.pro.mandate.wizard"]
        this_year = paris_today().year
        self.assertEqual(Wizard._accounting_date_for(this_year), paris_today())
        self.assertEqual(Wizard._accounting_date_for(this_year - 1), date(this_year - 1, 12, 31))
        offered = [int(value) for value, _label in Wizard._exercice_selection()]
        self.assertEqual(offered, exercice_choices(paris_today()))

    def test_numbering_per_budget_and_exercice_without_gaps(self):
        invoices = self.ready_invoices(6)
        year = paris_today().year
        blocked = self.invoice("rejected")
        # Budget principal: 3 mandates, with a stopped invoice in the middle (no number used).
        run = self.launch([invoices[0], blocked, invoices[1], invoices[2]], self.budget_ttc,
                          self.article_ttc, year)
        self.assertEqual(run.mandate_request_ids.mapped("state"), ["done", "blocked", "done", "done"])
        numbers = [i.mandate_move_id.chorus_pro_mandate_number for i in invoices[:3]]
        self.assertEqual(numbers, [1, 2, 3])
        # Another budget has its own series.
        self.launch([invoices[3]], self.budget_ht, self.article_ht, year)
        self.assertEqual(invoices[3].mandate_move_id.chorus_pro_mandate_number, 1)
        # The previous exercice (closing period) has its own series; its mandates are dated
        # 31 December; an invoice of this year cannot be charged to it.
        run = self.launch([invoices[4]], self.budget_ttc, self.article_ttc, year - 1)
        self.assertEqual(run.mandate_request_ids.state, "blocked")
        self.assertIn(f"cannot be charged to exercice {year - 1}", run.mandate_request_ids.message)
        december = self.deposit_ready(f"{year - 1}-12-15T10:00:00+01:00")
        self.launch([december], self.budget_ttc, self.article_ttc, year - 1)
        previous = december.mandate_move_id
        self.assertEqual((previous.chorus_pro_exercice, previous.chorus_pro_mandate_number), (year - 1, 1))
        self.assertEqual(str(previous.date), f"{year - 1}-12-31")
        self.launch([invoices[5], invoices[4]], self.budget_ttc, self.article_ttc, year)
        self.assertEqual(invoices[5].mandate_move_id.chorus_pro_mandate_number, 4)
        self.assertEqual(invoices[4].mandate_move_id.chorus_pro_mandate_number, 5)
        # A number taken by a transaction that fails is given back: no gap.
        with self.assertRaises(UserError), self.env.cr.savepoint():
            self.budget_ttc._next_number(year, "mandate")
            raise UserError("posting failed")
        self.assertEqual(self.budget_ttc._next_number(year, "mandate"), 6)
        # Numbers taken together (a chunk of mandates validated at once) too.
        with self.assertRaises(UserError), self.env.cr.savepoint():
            self.assertEqual(self.budget_ttc._next_numbers(year, "mandate", 3), [7, 8, 9])
            raise UserError("posting failed")
        self.assertEqual(self.budget_ttc._next_numbers(year, "mandate", 2), [7, 8])
        # The number is distinct from the journal entry's name, and never reused or deleted.
        move = invoices[0].mandate_move_id
        self.assertNotEqual(move.name, str(move.chorus_pro_mandate_number))
        with self.assertRaises(UserError):
            move.button_cancel()
        with self.assertRaises(UserError):
            move.with_user(self.mandating_user).button_draft()  # Chorus already knows it

    def test_bordereau_gathers_validates_and_prints(self):
        invoices = self.ready_invoices(3)
        year = paris_today().year
        self.launch(invoices[:2], self.budget_ttc, self.article_ttc, year)
        mandates = invoices[:2].mandate_move_id
        bordereau = mandates.chorus_pro_bordereau_id
        self.assertEqual(len(bordereau), 1)
        self.assertEqual((bordereau.state, bordereau.number, bordereau.exercice), ("draft", 0, year))
        self.assertEqual(bordereau.mandate_count, 2)
        self.assertAlmostEqual(bordereau.amount_total, sum(mandates.mapped("amount_total")))
        self.assertAlmostEqual(bordereau.amount_untaxed, sum(mandates.mapped("amount_untaxed")))
        self.assertEqual(bordereau.amount_tax, 0.0, "budget without VAT recovery")
        # Validated: numbered, frozen; the next mandates open a new bordereau.
        with self.assertRaises(UserError):
            bordereau.with_user(self.chorus_user("chorus_reader", "user")).action_validate()
        bordereau.with_user(self.mandating_user).action_validate()
        self.assertEqual((bordereau.state, bordereau.number), ("validated", 1))
        self.assertAlmostEqual(bordereau.amount_cumulative, bordereau.amount_untaxed)
        with self.assertRaises(UserError):
            mandates[0].with_user(self.mandating_user).button_draft()
        self.launch(invoices[2:3], self.budget_ttc, self.article_ttc, year)
        second = invoices[2].mandate_move_id.chorus_pro_bordereau_id
        self.assertNotEqual(second, bordereau)
        second.with_user(self.mandating_user).action_validate()
        self.assertEqual(second.number, 2)
        self.assertAlmostEqual(second.amount_cumulative, bordereau.amount_untaxed + second.amount_untaxed)
        # Printed for signature: every mandate, its creditor and the totals. (wkhtmltopdf would
        # fetch the styles from this very server, which waits for the test: point it elsewhere.)
        self.env["ir.config_parameter"].sudo().set_param("report.url", "http://127.0.0.1:9")
        Report = self.env["ir.actions.report"]
        html = str(Report._render_qweb_html("chorus_pro_liaison.report_bordereau", bordereau.ids)[0])
        for mandate in mandates:
            self.assertIn(mandate.partner_id.name, html)
            self.assertIn(mandate.ref, html)
        self.assertIn("orders payment", html)
        pdf, kind = Report.with_context(force_report_rendering=True)._render_qweb_pdf(
            "chorus_pro_liaison.report_bordereau", bordereau.ids)
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        text = "".join(page.extractText() for page in PdfFileReader(io.BytesIO(pdf)).pages)
        compact = "".join(text.split())
        self.assertIn("Bordereau", text)
        for mandate in mandates:
            self.assertIn("".join(mandate.ref.split()), compact)
        action = bordereau.action_print()
        self.assertEqual(action["report_name"], "chorus_pro_liaison.report_bordereau")

    def test_vat_regime_cannot_be_got_wrong(self):
        invoice = self.ready_invoices(1)
        self.account.mandate_auto_post = False
        self.launch(invoice, self.budget_ttc, self.article_ttc, paris_today().year)
        move = invoice.mandate_move_id
        # Someone adds deductible VAT on a mandate of a budget that does not recover it.
        move.invoice_line_ids[0].tax_ids = self.taxes[20.0]
        with self.assertRaisesRegex(UserError, "does not recover VAT|differ"):
            move.with_user(self.mandating_user).action_post()
        move.invoice_line_ids[0].tax_ids = False
        move.with_user(self.mandating_user).action_post()
        self.assertEqual(move.state, "posted")
        # Once mandates exist, the budget's VAT regime is frozen.
        with self.assertRaisesRegex(UserError, "VAT regime"):
            self.budget_ttc.vat_recovering = True
        # A VAT-recovering budget without the purchase tax of a rate says so, nothing created.
        self.taxes[20.0].active = False
        other = self.ready_invoices(2)[1]
        self.assertTrue(other.tax_ids.filtered(lambda t: t.rate == 20.0))
        run = self.launch(other, self.budget_ht, self.article_ht, paris_today().year)
        self.assertEqual(run.mandate_request_ids.state, "blocked")
        self.assertIn("no purchase tax at 20", run.mandate_request_ids.message)
        self.assertFalse(other.mandate_move_id)

    def test_rights_and_companies(self):
        invoice = self.ready_invoices(1)
        processor = self.chorus_user("chorus_processor_m", "processor")
        with self.assertRaises(UserError):
            self.env["chorus.pro.mandate.wizard"].with_user(processor)._open(invoice)
        with self.assertRaises(AccessError):
            self.env["chorus.pro.budget"].with_user(self.mandating_user).create(
                {"name": "Budget pirate", "code": "99"})
        other_company = self.env["res.company"].create({"name": "CCAS de Saint-Exemple"})
        outsider = self.chorus_user("chorus_outsider", "mandating", company=other_company)
        self.assertFalse(self.env["chorus.pro.budget"].with_user(outsider).search([]))
        self.mandate(invoice)
        self.assertFalse(self.env["chorus.pro.bordereau"].with_user(outsider).search([]))
        self.assertTrue(self.env["chorus.pro.bordereau"].with_user(self.mandating_user).search([]))

    def test_large_selection_runs_in_the_background(self):
        invoices = self.ready_invoices(3)
        self.account.mandate_background_threshold = 2
        wizard = self.open_screen(invoices, budget_id=self.budget_ttc.id, article_id=self.article_ttc.id)
        self.assertEqual(wizard.selected_count, 3)
        action = wizard.action_mandate()
        run = self.env["chorus.pro.run"].browse(action["res_id"])
        self.assertEqual((action["res_model"], run.state, run.run_type), ("chorus.pro.run", "queued", "mandate"))
        self.assertFalse(invoices.mandate_move_id)
        cron = self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_jobs")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self.env["chorus.pro.run"]._cron_process_queue()
        self.assertEqual(run.state, "done", run.summary)
        self.assertEqual((run.done, run.total, run.count_mandates, run.count_pushed), (3, 3, 3, 3))
        self.assertEqual(len(invoices.mandate_move_id), 3)
        self.assertEqual(invoices.mandate_move_id.chorus_pro_mandated_by_id, self.mandating_user)
        self.assertEqual(invoices.mandate_move_id.create_uid, self.mandating_user)
        self.assertEqual(self.traiter_calls(), 3)

    def test_chorus_pro_screen_step_4(self):
        invoices = self.ready_invoices(2)
        dashboard = self.env["chorus.pro.dashboard"].with_user(self.mandating_user).create({})
        to_mandate = self.Invoice.search(self.Invoice._to_mandate_domain())
        self.assertEqual(dashboard.count_to_mandate, len(to_mandate.filtered("mandate_ready")))
        self.assertEqual(dashboard.count_mandate_blocked,
                         len(to_mandate) - dashboard.count_to_mandate)
        self.assertGreaterEqual(dashboard.count_to_mandate, 2)
        action = dashboard.action_open_mandate_screen()
        screen = self.env["chorus.pro.mandate.wizard"].browse(action["res_id"])
        self.assertEqual(set(screen.ready_line_ids.invoice_id.ids) & set(invoices.ids), set(invoices.ids))
        listed = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_to_mandate_action")
        self.assertEqual(dashboard.action_open_to_mandate()["id"], listed["id"])
        self.mandate(invoices)
        dashboard = self.env["chorus.pro.dashboard"].with_user(self.mandating_user).create({})
        self.assertEqual(dashboard.count_open_bordereaux, 1)

    def test_demo_budgets_follow_the_chart(self):
        Budget = self.env["chorus.pro.budget"]
        company = self.env["res.company"].create({"name": "Commune de Démo"})
        self.env["account.account"].create({"code": "604000", "name": "Achats d'études et prestations",
                                            "account_type": "expense", "company_ids": [(4, company.id)]})
        Budget._create_demo_data(company)
        principal = Budget.search([("company_id", "=", company.id), ("code", "=", "00")])
        annexe = Budget.search([("company_id", "=", company.id), ("code", "=", "01")])
        self.assertEqual(principal.name, "Budget principal")
        self.assertFalse(principal.vat_recovering)
        self.assertTrue(annexe.vat_recovering)
        codes = set(principal.article_ids.mapped("code"))
        self.assertTrue({"6042", "60611", "60612", "6064", "615221", "2313"} <= codes)
        # The chart's own account when it has one for the nature, else a new one.
        services = principal.article_ids.filtered(lambda a: a.code == "6042")
        self.assertEqual(services.account_id.with_company(company).code, "604000")
        construction = principal.article_ids.filtered(lambda a: a.code == "2313")
        self.assertEqual(construction.account_id.with_company(company).code, "231300")
        self.assertEqual(construction.account_id.account_type, "asset_fixed")
        self.assertEqual(annexe.article_ids.company_id, company)
        count = self.env["chorus.pro.budget.article"].search_count([])
        Budget._create_demo_data(company)
        self.assertEqual(self.env["chorus.pro.budget.article"].search_count([]), count, "idempotent")
