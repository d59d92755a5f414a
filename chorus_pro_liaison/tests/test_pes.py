# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""PES V2 from a Chorus invoice to the accountant's answer: generated (XSD-valid), signed on a
SoftHSM2 token (verified by xmlsec1), handed over, accepted; rejected then sent again in a new
bordereau; a credit note as a reduction bordereau; every problem at once; rights."""

import base64
import gzip
from decimal import Decimal

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from odoo.addons.chorus_pro_liaison.services.pes_messages import PROBLEM_TEMPLATES

from chorus_pro.pes.problems import MESSAGES

from .pes_common import (
    DS,
    NS_ALLER,
    PIN_TOKEN,
    PesCase,
    acquittement_xml,
    parse_pes,
    v,
)


@tagged("post_install", "-at_install", "chorus_pro")
class TestPesBordereau(PesCase):
    def test_from_chorus_invoice_to_accepted_signed_pes(self):
        invoices = self.ready_invoices(2)
        mandates = self.mandate_now(invoices)
        bordereau = self.validated_bordereau(mandates)
        self.assertFalse(mandates.chorus_pro_pes_piece_id)

        # Générer le flux PES: a file in the filestore, valid against the DGFiP schema.
        path = self.generate(bordereau)
        self.assert_valid_pes(path)
        root = parse_pes(path).getroot()
        self.assertEqual(root.tag, NS_ALLER + "PES_Aller")
        self.assertEqual(v(root, "EnTetePES/IdPost"), "034000")
        self.assertEqual(v(root, "EnTetePES/IdColl"), "21739012900013")
        self.assertEqual((v(root, "EnTetePES/CodCol"), v(root, "EnTetePES/CodBud")), ("123", "00"))
        element = root.find("PES_DepenseAller/Bordereau")
        bloc = element.find("BlocBordereau")
        self.assertEqual(v(bloc, "IdBord"), str(bordereau.number))
        self.assertEqual(v(bloc, "TypBord"), "01")
        self.assertEqual(v(bloc, "NbrPce"), "2")
        total = sum(Decimal("%.2f" % m.amount_total) for m in mandates)
        self.assertEqual(Decimal(v(bloc, "MtBordHT")), total, "no VAT recovery: amounts TTC")
        self.assertEqual(Decimal(v(bloc, "MtCumulAnnuel")), total, "first bordereau of the year")
        self.assertEqual(bordereau.pes_cumul, float(total))
        pieces = element.findall("Piece")
        self.assertEqual(sorted(int(v(p, "BlocPiece/InfoPce/IdPce")) for p in pieces),
                         sorted(mandates.mapped("chorus_pro_mandate_number")))
        first = mandates.sorted("chorus_pro_mandate_number")[0]
        piece = pieces[0]
        self.assertEqual(v(piece, "LigneDePiece/BlocLignePiece/InfoLignePce/Nature"), "6042")
        tiers = piece.find("LigneDePiece/Tiers")
        self.assertEqual(v(tiers, "InfoTiers/IdTiers"), first.partner_id.chorus_pro_siret)
        self.assertTrue(v(tiers, "Adresse/Ville"), "the supplier's address from Chorus Pro")
        self.assertEqual(v(tiers, "CpteBancaire/IBAN"), first.partner_bank_id.sanitized_acc_number)
        self.assertEqual(v(piece, "BlocPiece/DGP/DteFinDgp"), str(first.chorus_pro_dgp_due_date))
        # Every file of each mandate travels in PES_PJ, main document (the invoice PDF) first.
        refs = [v(ref, "IdUnique") for ref in piece.findall("BlocPiece/InfoPce/PJRef")]
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", first.id)])
        self.assertEqual(len(refs), len(attachments))
        pj = {v(p, "IdUnique"): p for p in root.findall("PES_PJ/PJ")}
        self.assertEqual(len(pj), sum(bordereau.pes_piece_ids.mapped("attachment_count")))
        main = gzip.decompress(base64.b64decode(pj[refs[0]].find("Contenu/Fichier").text))
        self.assertEqual(main, first.message_main_attachment_id.raw)
        self.assertTrue(main.startswith(b"%PDF"))
        # Each mandate shows its pièce.
        self.assertEqual(set(mandates.mapped("chorus_pro_pes_state")), {"generated"})
        self.assertEqual(first.chorus_pro_pes_piece_id.bordereau_id, bordereau)
        self.assertEqual(first.chorus_pro_pes_piece_id.number, first.chorus_pro_mandate_number)

        # Signer: RGS** key on the token, PIN asked, signature verified by xmlsec1.
        with self.assertRaises(AccessError):
            self.sign(bordereau, user=self.mandating_user)  # a signatory signs
        self.sign(bordereau)
        self.assertEqual(bordereau.state, "signed")
        self.assertEqual(bordereau.pes_signer, "Jeanne Ordonnatrice")
        self.assertEqual(bordereau.pes_signed_by_id, self.signatory)
        path = self.file_path(bordereau)
        self.assert_valid_pes(path)
        signature_id = parse_pes(path).getroot().find(
            "PES_DepenseAller/Bordereau/" + DS + "Signature").get("Id")
        checked = self.assert_signature_verifies(path, signature_id)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn("OK", checked.stdout + checked.stderr)
        self.assertEqual(v(parse_pes(path).getroot(), "PES_DepenseAller/EnTeteDepense/"
                                                       "InfoDematerialisee"), "1")
        # The PIN is stored nowhere: not a column of the window, not in any of its records.
        self.env.cr.execute("SELECT column_name FROM information_schema.columns "
                            "WHERE table_name = 'chorus_pro_pes_sign'")
        self.assertNotIn("pin", [row[0] for row in self.env.cr.fetchall()])

        # Handed over, then the acquittement: accepted.
        action = bordereau.with_user(self.reader).action_pes_download()
        self.assertIn(f"/web/content/{bordereau.pes_attachment_id.id}", action["url"])
        with self.assertRaises(AccessError):
            bordereau.with_user(self.reader).action_pes_mark_sent()
        self.mark_sent(bordereau)
        self.import_acquittement(bordereau, acquittement_xml(bordereau))
        self.assertEqual(bordereau.state, "accepted")
        self.assertTrue(bordereau.pes_answer_attachment_id)
        self.assertEqual(set(mandates.mapped("chorus_pro_pes_state")), {"accepted"})

        # The next bordereau of the year continues the yearly total.
        other = self.mandate_now(self.ready_invoices(1))
        second = self.validated_bordereau(other)
        self.assertEqual(second.number, bordereau.number + 1)
        path = self.generate(second)
        self.assertEqual(second.pes_previous_cumul, bordereau.pes_cumul)
        bloc = parse_pes(path).getroot().find("PES_DepenseAller/Bordereau/BlocBordereau")
        self.assertEqual(Decimal(v(bloc, "MtCumulAnnuel")),
                         total + Decimal("%.2f" % other.amount_total))

    def test_rejected_then_corrected_and_sent_again_in_a_new_bordereau(self):
        mandates = self.mandate_now(self.ready_invoices(2))
        bordereau = self.validated_bordereau(mandates)
        self.generate(bordereau)
        first_ids = set(bordereau.pes_piece_ids.mapped("file_ids_text"))
        self.sign(bordereau)
        self.mark_sent(bordereau)
        wrong = mandates.sorted("chorus_pro_mandate_number")[1]
        xml = acquittement_xml(
            bordereau, accepted=False,
            bordereau_errors=[("ERREUR_CUMUL_MONTANTS", "")],
            piece_errors={wrong.chorus_pro_mandate_number: [
                ("ERREUR_AUTRE", "Adresse du créancier inconnue à La Poste")]},
        )
        self.import_acquittement(bordereau, xml)
        self.assertEqual(bordereau.state, "rejected")
        self.assertIn("The yearly cumulative amount is wrong", bordereau.pes_rejection_reasons)
        self.assertIn("Adresse du créancier inconnue à La Poste", bordereau.pes_rejection_reasons)
        self.assertEqual(wrong.chorus_pro_pes_state, "rejected")
        self.assertIn("Adresse du créancier", wrong.chorus_pro_pes_reasons)
        self.assertEqual((mandates - wrong).chorus_pro_pes_state, "rejected",
                         "the whole bordereau is rejected")

        # Corrected (the supplier's address), then put in a new bordereau.
        wrong.partner_id.write({"street": "12 rue de la Poste", "zip": "34000",
                                "city": "SAINT-EXEMPLE"})
        action = bordereau.with_user(self.mandating_user).action_pes_resend()
        again = bordereau.pes_resent_bordereau_id
        self.assertEqual(action["res_id"], again.id)
        self.assertEqual(again.state, "draft")
        self.assertEqual(mandates.chorus_pro_bordereau_id, again)
        self.assertEqual(bordereau.mandate_count, 2, "the rejected bordereau shows what it held")
        with self.assertRaises(UserError):
            bordereau.with_user(self.mandating_user).action_pes_resend()
        again.with_user(self.mandating_user).action_validate()
        self.assertEqual(again.number, bordereau.number + 1)
        path = self.generate(again)
        self.assertEqual(again.pes_previous_cumul, 0.0, "a rejected bordereau is not counted")
        self.assertFalse(first_ids & set(again.pes_piece_ids.mapped("file_ids_text")),
                         "the files go under new identifiers")
        adresse = [tiers.find("Adresse") for tiers in parse_pes(path).getroot().iter("Tiers")
                   if v(tiers, "Adresse/Adr2") == "12 rue de la Poste"]
        self.assertTrue(adresse, "the corrected address is in the new file")
        self.assert_valid_pes(path)
        self.send_and_accept(again)
        self.assertEqual(wrong.chorus_pro_pes_state, "accepted")
        self.assertEqual(wrong.chorus_pro_pes_piece_ids.sorted("id").mapped("state"),
                         ["rejected", "accepted"], "both journeys stay visible on the mandate")

    def test_acquittement_that_does_not_fit_is_refused_or_rejects_the_whole_file(self):
        bordereau = self.validated_bordereau(self.mandate_now(self.ready_invoices(1)))
        self.generate(bordereau)
        with self.assertRaises(UserError):
            self.import_acquittement(bordereau, acquittement_xml(bordereau))  # not sent yet
        self.sign(bordereau)
        self.mark_sent(bordereau)
        with self.assertRaises(UserError) as refused:
            self.import_acquittement(bordereau, "not an acquittement")
        self.assertIn("not a PES acquittement", str(refused.exception))
        other_budget = self.budget_ht
        other_budget.pes_cod_col = "456"
        with self.assertRaises(UserError) as refused:
            self.import_acquittement(bordereau, acquittement_xml(bordereau, budget=other_budget))
        self.assertIn("456/01", str(refused.exception))
        with self.assertRaises(UserError) as refused:
            self.import_acquittement(bordereau, acquittement_xml(bordereau, number=99))
        self.assertIn("does not mention bordereau", str(refused.exception))
        self.assertEqual(bordereau.state, "sent")
        self.import_acquittement(bordereau, acquittement_xml(
            bordereau, flow_errors=[("ERREUR_SIGNATURE_INVALIDE", "")]))
        self.assertEqual(bordereau.state, "rejected")
        self.assertIn("The signature is invalid", bordereau.pes_rejection_reasons)
        self.assertIn("ACQ.xml", bordereau.pes_answer_attachment_id.name)

    def test_every_problem_listed_at_once_and_nothing_generated(self):
        invoices = self.ready_invoices(2)
        mandates = self.mandate_now(invoices)
        bordereau = self.validated_bordereau(mandates)
        # A budget without codique, an article without Nature, a creditor without address.
        self.budget_ttc.poste_comptable = False
        self.article_ttc.pes_nature = False
        creditor = mandates.sorted("chorus_pro_mandate_number")[0]
        creditor.partner_id.write({"street": False, "city": False, "zip": False})
        creditor.chorus_pro_invoice_id.sudo().write(
            {"supplier_street": False, "supplier_street2": False, "supplier_city": False,
             "supplier_zip": False})
        with self.assertRaises(UserError) as refused:
            bordereau.with_user(self.mandating_user).action_pes_generate()
        message = str(refused.exception)
        self.assertIn("The accounting office number (codique) is missing.", message)
        self.assertIn("The budget article has no account by nature (Nature).", message)
        self.assertIn(f"The creditor {creditor.partner_id.name} has no address.", message)
        self.assertIn(f"mandate n° {creditor.chorus_pro_mandate_number}", message)
        self.assertEqual(message.count("has no account by nature"), 1, "grouped, not repeated")
        self.assertEqual(bordereau.state, "validated")
        self.assertFalse(bordereau.pes_attachment_id)
        self.assertFalse(bordereau.pes_piece_ids)
        # The same in French, for a French user.
        self.env["res.lang"]._activate_lang("fr_FR")
        with self.assertRaises(UserError) as refused:
            bordereau.with_user(self.mandating_user).with_context(lang="fr_FR").action_pes_generate()
        message = str(refused.exception)
        self.assertIn("Le numéro du poste comptable (codique) est manquant.", message)
        self.assertIn("L'article budgétaire n'a pas de compte par nature (Nature).", message)
        self.assertIn(f"Le créancier {creditor.partner_id.name} n'a pas d'adresse.", message)

    def test_credit_note_goes_out_in_a_reduction_bordereau(self):
        origin = self.invoice("credit_note_origin")
        credit_note = self.Invoice.search([("invoice_type", "=", "credit_note"),
                                           ("origin_invoice_number", "=", origin.number)])
        self.trust_supplier(origin)
        mandate = self.mandate_now(origin)
        ordinary = self.validated_bordereau(mandate)
        self.mandate(credit_note)
        refund = credit_note.mandate_move_id
        self.assertEqual(refund.move_type, "in_refund")
        reduction = self.validated_bordereau(refund)
        self.assertEqual((reduction.kind, reduction.pes_type, reduction.number),
                         ("cancellation", "02", 1))
        # The mandate it reduces has not reached the accountant: said, nothing generated.
        with self.assertRaises(UserError) as refused:
            reduction.with_user(self.mandating_user).action_pes_generate()
        self.assertIn(f"reduces mandate n° {mandate.chorus_pro_mandate_number}",
                      str(refused.exception))
        self.send_and_accept(ordinary)
        path = self.generate(reduction)
        self.assert_valid_pes(path)
        element = parse_pes(path).getroot().find("PES_DepenseAller/Bordereau")
        self.assertEqual(v(element, "BlocBordereau/TypBord"), "02")
        info = element.find("Piece/BlocPiece/InfoPce")
        self.assertEqual((v(info, "TypPce"), v(info, "NatPce")), ("02", "06"))
        self.assertEqual(v(info, "IdPce"), str(refund.chorus_pro_mandate_number))
        attach = element.find("Piece/LigneDePiece/BlocLignePiece/RattachPiece")
        self.assertEqual(v(attach, "NatPceOrig"), "01")
        self.assertEqual(v(attach, "IdPceOrig"), str(mandate.chorus_pro_mandate_number))
        self.assertEqual(v(attach, "ExerRat"), str(mandate.chorus_pro_exercice))
        self.assertEqual(Decimal(v(element, "Piece/LigneDePiece/BlocLignePiece/InfoLignePce/MtHT")),
                         Decimal("%.2f" % credit_note.amount_total))
        self.assertEqual(Decimal(v(element, "BlocBordereau/MtCumulAnnuel")),
                         Decimal("%.2f" % credit_note.amount_total), "its own series")
        self.sign(reduction)
        self.assertEqual(reduction.state, "signed")

    def test_rights_companies_and_the_pin(self):
        mandates = self.mandate_now(self.ready_invoices(1))
        bordereau = self.validated_bordereau(mandates)
        with self.assertRaises(AccessError):
            bordereau.with_user(self.reader).action_pes_generate()
        with self.assertRaises(AccessError):
            bordereau.with_user(self.signatory).action_pes_generate()
        # Another company's officer cannot reach this bordereau, whatever ids they send.
        other_company = self.env["res.company"].create({"name": "CCAS de Saint-Exemple"})
        outsider = self.chorus_user("pes_outsider", "mandating", "manager",
                                    company=other_company)
        with self.assertRaises(AccessError):
            bordereau.with_user(outsider).action_pes_generate()
        with self.assertRaises(AccessError):
            self.env["chorus.pro.pes.sign"].with_user(outsider).create(
                {"bordereau_id": bordereau.id})
        self.generate(bordereau)
        with self.assertRaises(AccessError):
            bordereau.with_user(outsider).action_pes_download()
        with self.assertRaises(AccessError):
            self.env["chorus.pro.pes.piece"].with_user(outsider).browse(
                bordereau.pes_piece_ids.ids).read(["number"])
        with self.assertRaises(UserError):
            self.sign(bordereau, pin="")
        # The mandate shows its pièce to Chorus Pro users; a plain Invoicing user still opens it.
        self.assertEqual(Form(mandates.with_user(self.reader)).chorus_pro_pes_state, "generated")
        accountant = new_test_user(self.env, login="pes_accountant",
                                   groups="base.group_user,account.group_account_invoice",
                                   company_id=self.company.id)
        self.assertEqual(Form(mandates.with_user(accountant)).name, mandates.name)

        # A wrong PIN reaches the key once, is recorded, and is never presented again.
        fixture = self.tokens[PIN_TOKEN]
        fixture.login_once()
        self.account.token_label = PIN_TOKEN
        loader = self.count_token_access()
        error = self.sign_error(bordereau, "0000")
        self.assertIn("refused this PIN", error)
        self.assertEqual(loader.calls, 1)
        error = self.sign_error(bordereau, "0000")
        self.assertIn("already refused this PIN", error)
        self.assertEqual(loader.calls, 1, "the key was not touched again")
        self.assertEqual(bordereau.state, "generated")
        self.sign(bordereau, pin=fixture.pin)
        self.assertEqual(bordereau.state, "signed")
        self.assertEqual(loader.calls, 2)
        fixture.login_once()

    def test_problem_messages_follow_the_library(self):
        """Every code the library can report has its translatable sentence, word for word."""
        self.assertEqual(set(PROBLEM_TEMPLATES), set(MESSAGES))
        for code, template in PROBLEM_TEMPLATES.items():
            self.assertEqual(template._source, MESSAGES[code], code)

    # ------------------------------------------------------------------ helpers
    def count_token_access(self):
        from .test_rgs_key import CountingLoader

        loader = CountingLoader()
        self.patch(type(self.env["chorus.pro.account"]), "_token_library_loader",
                   lambda account: loader)
        return loader

    def sign_error(self, bordereau, pin):
        """The message of a refused signature. Caught without a savepoint: the refused PIN
        recorded by the key's guard stays, as it does in production (its own transaction)."""
        try:
            self.sign(bordereau, pin=pin)
        except UserError as error:
            return str(error)
        self.fail("the signature was not refused")
