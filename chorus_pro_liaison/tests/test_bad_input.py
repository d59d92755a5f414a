# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Bad input refused in words, or cleaned where cleaning is obviously right (issue 13, hole 8):
invisible and control characters and over-long motifs never reach Chorus Pro, budget article
numbers have the shape of a nature, invalid SIRETs and IBANs are neither stored nor matched,
file names lose their folders."""

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from chorus_pro.client import OP_PROCESS

from .two_companies_common import TwoCompaniesCase


@tagged("post_install", "-at_install", "chorus_pro")
class TestBadInput(TwoCompaniesCase):
    # ------------------------------------------------------------------ motifs
    def test_invisible_or_control_characters_in_a_motif_are_refused_by_name(self):
        invoice = self.commune_awaiting_invoice()
        as_processor = invoice.with_user(self.processor)
        for motif, named in (("Doublon\x00", r"U\+0000"), ("Dou\x07blon", r"U\+0007"),
                             ("Dou\u200bblon", "ZERO WIDTH SPACE"),
                             ("\u202eDoublon", "RIGHT-TO-LEFT OVERRIDE")):
            with self.assertRaisesRegex(UserError, named):
                as_processor.write({"decision_status": "REJETEE", "decision_motif": motif})
            with self.assertRaisesRegex(UserError, named):
                as_processor._chorus_push_status("REJETEE", motif=motif)
        self.assertFalse(invoice.push_ids)
        self.assertEqual(self.counters().get(OP_PROCESS, 0), 0)

    def test_a_motif_over_chorus_limit_is_refused_with_the_limit(self):
        invoice = self.commune_awaiting_invoice()
        motif = "Prestation non conforme au bon de commande. " * 7
        self.assertGreater(len(motif.strip()), 255)
        with self.assertRaisesRegex(UserError, "at most 255"):
            invoice.with_user(self.processor).write({"decision_motif": motif})
        self.assertFalse(invoice.decision_motif)
        with self.assertRaisesRegex(UserError, "at most 255"):
            invoice.with_user(self.processor)._chorus_push_status("REJETEE", motif=motif)
        self.assertEqual(self.counters().get(OP_PROCESS, 0), 0)
        # A motif at the limit goes through, as typed.
        invoice.with_user(self.processor).write({"decision_motif": "x" * 255})
        self.assertEqual(invoice.decision_motif, "x" * 255)

    def test_usual_motifs_are_checked_the_same_way(self):
        Motif = self.env["chorus.pro.motif"]
        with self.assertRaisesRegex(ValidationError, "at most 255"):
            Motif.create({"name": "Long", "text": "y" * 300})
        with self.assertRaisesRegex(ValidationError, "U\\+202E"):
            Motif.create({"name": "Caché", "text": "Refus\u202e"})

    # ------------------------------------------------------------------ budget articles
    def test_budget_article_numbers_have_the_shape_of_a_nature(self):
        Article = self.env["chorus.pro.budget.article"]
        account = self.article_ttc.account_id
        for code in ("60A2", "", "9" * 300, "0604", "6"):
            with self.assertRaisesRegex(ValidationError, "2 to 12 digits"):
                Article.create({"budget_id": self.budget_ttc.id, "code": code, "name": "X",
                                "account_id": account.id})
        with self.assertRaisesRegex(ValidationError, "2 to 12 digits"):
            self.article_ttc.write({"code": "60A2"})
        with self.assertRaisesRegex(ValidationError, "2 to 12 digits"):
            self.article_ttc.write({"pes_nature": "9" * 300})
        self.assertEqual(self.article_ttc.code, "6042")
        article = Article.create({"budget_id": self.budget_ttc.id, "code": " 60632 ",
                                  "name": "Fournitures de petit équipement",
                                  "account_id": account.id})
        self.assertEqual(article.code, "60632")

    # ------------------------------------------------------------------ SIRET and IBAN
    def test_invalid_iban_on_a_bank_account_is_refused(self):
        partner = self.env["res.partner"].create({"name": "Fournisseur", "is_company": True})
        with self.assertRaisesRegex(ValidationError, "not a valid IBAN"):
            self.env["res.partner.bank"].create(
                {"partner_id": partner.id, "acc_number": "FR7630001007941234567890100"})
        bank = self.env["res.partner.bank"].create(
            {"partner_id": partner.id, "acc_number": "FR7630001007941234567890185"})
        with self.assertRaisesRegex(ValidationError, "not a valid IBAN"):
            bank.write({"acc_number": "FR76 3000 1007 9412 3456 7890 186"})

    def test_partner_with_an_invalid_siret_is_not_matched(self):
        invoice = self.commune_awaiting_invoice()
        partner = self.env["res.partner"].create({
            "name": invoice.supplier_name, "is_company": True, "siret": "55208131700019",
        })
        match = self.env["chorus.pro.supplier.match"].with_user(self.processor).browse(
            invoice.with_user(self.processor).action_open_supplier_match()["res_id"])
        match.partner_id = partner
        self.assertIn("not valid", match.partner_identifier_warning)
        with self.assertRaisesRegex(UserError, "14 digits"):
            match.action_confirm()
        self.assertFalse(invoice.partner_id)

    def test_partner_with_an_invalid_iban_is_not_matched(self):
        invoice = self.commune_awaiting_invoice()
        partner = self.env["res.partner"].create({"name": "Fournisseur", "is_company": True})
        # An IBAN stored before the check existed (or imported by SQL).
        bank = self.env["res.partner.bank"].create(
            {"partner_id": partner.id, "acc_number": "FR7630001007941234567890185"})
        self.env.cr.execute("UPDATE res_partner_bank SET acc_number = %s WHERE id = %s",
                            ["FR7630001007941234567890186", bank.id])
        self.env.invalidate_all()
        with self.assertRaisesRegex(UserError, "IBAN is not valid"):
            invoice.with_user(self.processor)._chorus_confirm_match(partner)
        self.assertFalse(invoice.partner_id)

    # ------------------------------------------------------------------ file names
    def test_file_names_lose_their_folders_and_invisible_characters(self):
        invoice = self.invoice("multi_attachments")
        attachment = invoice.main_attachment_pdf_id
        as_processor = attachment.with_user(self.processor)
        as_processor.write({"name": "../../etc/passwd"})
        self.assertEqual(attachment.name, "passwd.pdf")
        as_processor.write({"name": "Facture\x00 mars\u202e"})
        self.assertEqual(attachment.name, "Facture mars.pdf")
        with self.assertRaisesRegex(UserError, "needs a name"):
            as_processor.write({"name": "../.."})
        self.assertEqual(attachment.name, "Facture mars.pdf")
