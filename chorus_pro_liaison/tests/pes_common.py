# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared tools of the PES tests: a SoftHSM2 RGS** token, the DGFiP schemas, Debian's xmlsec1,
and the accountant's acquittement written for a bordereau.

The PES V2 schemas live outside the project (``shared/schemas/pes-v2``): ``$CHORUS_SHARED_DIR``,
else ``<repository>/../shared``, else ``/work/shared``; without them (or without xmlsec1, or
SoftHSM2) the checks that need them are skipped LOUDLY (the runner counts a skip as a failure).
"""

import base64
import functools
import os
import shutil
import subprocess
from pathlib import Path
from unittest import SkipTest
from xml.sax.saxutils import quoteattr

from lxml import etree


from chorus_pro import testing_softhsm
from chorus_pro.pes.signature import DS_NS, XADES_NS
from chorus_pro.testing_softhsm import TokenSpec
from chorus_pro.token import der_to_pem

from .common import skip_without_softhsm
from .mandate_common import MandateCase, MandateCommon

REPO_ROOT = Path(__file__).resolve().parents[2]
NS_ALLER = "{http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller}"
DS = "{%s}" % DS_NS
SIGNER = "odoo-pes-signer"
PIN_TOKEN = "odoo-pes-pin-guard"  # its own token: only the wrong-PIN test logs in there
KEY_LABEL = "rgs-signature"
PIN = "2580"
TOKEN_SPECS = (
    TokenSpec(SIGNER, pin=PIN, key_type="rsa", key_label=KEY_LABEL,
              common_name="Jeanne Ordonnatrice"),
    TokenSpec(PIN_TOKEN, pin="1357", key_type="rsa", key_label=KEY_LABEL),
)
COMMUNE_SIRET = "21739012900013"


def shared_dir():
    candidates = [os.environ.get("CHORUS_SHARED_DIR"), REPO_ROOT.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "schemas" / "pes-v2").is_dir():
            return Path(candidate)
    return Path(candidates[1])


PES_ALLER_XSD = shared_dir() / "schemas" / "pes-v2" / "PES_V2" / "Rev0" / "PES_Aller.xsd"
ACQUIT_XSD = PES_ALLER_XSD.with_name("PES_V2_Acquit_Autonome_V2.xsd")


@functools.lru_cache(maxsize=None)
def _schema(path):
    return etree.XMLSchema(etree.parse(path))


def parse_pes(path):
    return etree.parse(str(path), etree.XMLParser(huge_tree=True))


def v(element, path):
    found = element.find(path)
    assert found is not None, "no %s under %s" % (path, element.tag)
    return found.get("V")


class PesCommon(MandateCommon):
    """Mandates through the real steps, a budget with the accountant's identifiers, a SoftHSM2
    token on the company's Chorus Pro account, and helpers for each PES step."""

    service_fait_tags = MandateCommon.service_fait_tags + ("structured", "pdf_only")

    @classmethod
    def setUpClass(cls):
        skip_without_softhsm("PES signature tests")
        super().setUpClass()
        cls.tokens = testing_softhsm.shared_softhsm_tokens(TOKEN_SPECS)
        cls.account.write({
            "token_module_path": cls.tokens[SIGNER].module_path,
            "token_label": SIGNER,
            "token_key_label": KEY_LABEL,
        })
        cls.budget_ttc.write({
            "poste_comptable": "034000", "pes_id_coll": COMMUNE_SIRET, "pes_cod_col": "123",
        })
        cls.company.write({"city": "Saint-Exemple", "zip": "34000"})
        cls.signatory = cls.chorus_user("pes_signatory", "signatory")
        cls.reader = cls.chorus_user("pes_reader", "user")

    # ------------------------------------------------------------------ mandates
    def trust_supplier(self, invoice, trusted=True):
        partner, bank = super().trust_supplier(invoice, trusted=trusted)
        if not partner.street:
            # The accountant's register of creditors has their address.
            partner.write({"street": "%d avenue des Fournisseurs" % partner.id,
                           "zip": "34000", "city": "MONTPELLIER"})
        return partner, bank

    def mandate_now(self, invoices, budget=None, article=None):
        """"Mandater" (the run the screen starts) on ``invoices``; returns their mandates."""
        run = self.launch(invoices, budget=budget, article=article)
        self.assertEqual(set(run.mandate_request_ids.mapped("state")), {"done"},
                         self.run_report(run))
        return invoices.mandate_move_id

    def validated_bordereau(self, mandates):
        bordereau = mandates.chorus_pro_bordereau_id
        self.assertEqual(len(bordereau), 1)
        bordereau.with_user(self.mandating_user).action_validate()
        self.assertEqual(bordereau.state, "validated")
        return bordereau

    # ------------------------------------------------------------------ PES steps
    def generate(self, bordereau):
        bordereau.with_user(self.mandating_user).action_pes_generate()
        self.assertEqual(bordereau.state, "generated")
        return self.file_path(bordereau)

    def sign(self, bordereau, pin=PIN, user=None):
        wizard = self.env["chorus.pro.pes.sign"].with_user(user or self.signatory).create(
            {"bordereau_id": bordereau.id})
        return wizard.with_context(chorus_pro_pes_pin=pin).action_sign()

    def mark_sent(self, bordereau):
        bordereau.with_user(self.mandating_user).action_pes_mark_sent()
        self.assertEqual(bordereau.state, "sent")

    def import_acquittement(self, bordereau, xml, filename="ACQ.xml"):
        if xml.startswith("<?xml") and ACQUIT_XSD.is_file():
            # What the tests import is shaped as Hélios' acquittements are.
            schema = _schema(str(ACQUIT_XSD))
            tree = etree.fromstring(xml.encode("iso-8859-1")).getroottree()
            self.assertTrue(schema.validate(tree), schema.error_log)
        wizard = self.env["chorus.pro.pes.acquittement"].with_user(self.mandating_user).create({
            "bordereau_id": bordereau.id,
            "data": base64.b64encode(xml.encode("iso-8859-1")),
            "filename": filename,
        })
        return wizard.action_import()

    def send_and_accept(self, bordereau):
        if bordereau.state == "validated":
            self.generate(bordereau)
        if bordereau.state == "generated":
            self.sign(bordereau)
        self.mark_sent(bordereau)
        self.import_acquittement(bordereau, acquittement_xml(bordereau))
        self.assertEqual(bordereau.state, "accepted")

    def file_path(self, bordereau):
        attachment = bordereau.pes_attachment_id.sudo()
        self.assertTrue(attachment.store_fname, "the PES file is in the filestore")
        return Path(attachment._full_path(attachment.store_fname))

    # ------------------------------------------------------------------ independent checks
    def assert_valid_pes(self, path):
        if not PES_ALLER_XSD.is_file():
            raise SkipTest("!!! DGFiP PES V2 schemas not found at %s (set CHORUS_SHARED_DIR): "
                           "the generated PES is NOT validated !!!" % PES_ALLER_XSD)
        schema = _schema(str(PES_ALLER_XSD))
        if not schema.validate(parse_pes(path)):
            self.fail("PES file not valid against PES_Aller.xsd:\n%s" % schema.error_log)

    def assert_signature_verifies(self, path, signature_id):
        """Debian's xmlsec1, with the token's certificate as the only trusted one."""
        xmlsec1 = shutil.which("xmlsec1")
        if xmlsec1 is None:
            raise SkipTest("!!! xmlsec1 not installed (apt-get install xmlsec1): the PES "
                           "signature is NOT verified by an independent verifier !!!")
        certificate = Path(path).with_suffix(".pem")
        certificate.write_text(der_to_pem(self.tokens[SIGNER].certificate_der))
        self.addCleanup(certificate.unlink)
        return subprocess.run(
            [xmlsec1, "--verify", "--trusted-pem", str(certificate),
             "--id-attr:Id", "Bordereau",
             "--id-attr:Id", "%s:SignedProperties" % XADES_NS,
             "--id-attr:Id", "%s:Signature" % DS_NS,
             "--node-id", signature_id, str(path)],
            capture_output=True, text=True, timeout=120,
        )


def acquittement_xml(bordereau, *, accepted=True, bordereau_errors=(), piece_errors=None,
                     budget=None, number=None, flow_errors=None):
    """The accountant's acquittement (PES_V2_Acquit_Autonome_V2) of ``bordereau``: accepted,
    or rejected with ``bordereau_errors`` [(code, words)] and ``piece_errors``
    {mandate number: [(code, words)]}; or, with ``flow_errors`` [(code, words)], the whole file
    rejected by the technical checks (no bordereau named). ``number``: another bordereau
    number than ``bordereau``'s."""
    budget = budget or bordereau.budget_id

    def errors(items):
        return "".join(
            "<Erreur><NumAnoAck V=%s/>%s</Erreur>" % (
                quoteattr(code), "<LibelleAnoAck V=%s/>" % quoteattr(words) if words else "")
            for code, words in items
        )

    pieces = "".join(
        "<DetailPiece><NumPiece V=\"%d\"/>%s</DetailPiece>" % (number, errors(items))
        for number, items in (piece_errors or {}).items()
    )
    if flow_errors:
        elements = ('<ElementACQUIT><DomaineAck V="0"/><EtatAck V="0"/>%s</ElementACQUIT>'
                    % errors(flow_errors))
    else:
        values = {"number": number or bordereau.number, "exercice": bordereau.exercice,
                  "state": "1" if accepted else "0", "errors": errors(bordereau_errors),
                  "pieces": pieces}
        elements = (
            '<ElementACQUIT><DomaineAck V="3"/><EtatAck V="1"/><NumBord V="%(number)d"/>'
            '<ExerciceBord V="%(exercice)d"/></ElementACQUIT>'
            '<ElementACQUIT><DomaineAck V="5"/><EtatAck V="%(state)s"/><NumBord V="%(number)d"/>'
            '<ExerciceBord V="%(exercice)d"/>%(errors)s%(pieces)s</ElementACQUIT>'
        ) % values
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<n:PES_ACQUIT xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour/v2">'
        '<Enveloppe><Parametres><Version V="2"/><TypFic V="PESACQ"/>'
        '<NomFic V="ACQ_%(file)s"/></Parametres><Emetteur><Sigle V="HELIOS"/>'
        '<Adresse V="DGFIP"/></Emetteur></Enveloppe>'
        '<EnTetePES><DteStr V="2026-03-21"/><IdPost V="%(post)s"/><IdColl V="%(coll)s"/>'
        '<CodCol V="%(col)s"/><CodBud V="%(bud)s"/></EnTetePES>'
        '<ACQUIT><EnTeteAcquit><IdVer V="2"/></EnTeteAcquit>%(elements)s</ACQUIT></n:PES_ACQUIT>'
    ) % {
        "file": bordereau.pes_file_name or "PES.xml", "post": budget.poste_comptable or "034000",
        "coll": budget.pes_id_coll or COMMUNE_SIRET, "col": budget.pes_cod_col or "123",
        "bud": budget.code, "elements": elements,
    }


class PesCase(PesCommon, MandateCase):
    """A PES test class on one transaction, the simulator back to its world before each test."""
