"""chorus_pro.pes.codes: every code list is the 5.17 schema's, with its labels."""

from __future__ import annotations

import pytest
from lxml import etree

from chorus_pro.pes import codes

try:
    from pes_helpers import PES_DIR, require_schemas
except ModuleNotFoundError:  # tests/ became a package
    from tests.pes_helpers import PES_DIR, require_schemas

XS = "{http://www.w3.org/2001/XMLSchema}"

# (schema file under PES_V2/, XSD type name, our dict)
CODE_LISTS = [
    ("NS_Depense/r0/CommunDepense.xsd", "TTypBordAller", codes.TYP_BORD),
    ("NS_Depense/r0/CommunDepense.xsd", "TTypPce", codes.TYP_PCE),
    ("NS_Depense/r0/CommunDepense.xsd", "TNatPce", codes.NAT_PCE),
    ("NS_Depense/r0/CommunDepense.xsd", "TNatPceOrig", codes.NAT_PCE_ORIG),
    ("NS_Depense/r0/CommunDepense.xsd", "TCodePaiement", codes.MOD_REGL),
    ("NS_Depense/r0/CommunDepense.xsd", "TCodIntMor", codes.COD_INT_MOR),
    ("CommunPES.xsd", "TCatTiers", codes.CAT_TIERS),
    ("CommunPES.xsd", "TNatJur", codes.NAT_JUR),
    ("CommunPES.xsd", "TNatIdTiers", codes.NAT_ID_TIERS),
    ("CommunPES.xsd", "TPJ", codes.TYPE_PJ),
    ("Class_PJReference.xsd", "TSupport", codes.SUPPORT),
    ("Class_Adresse.xsd", "TTypAdr", codes.TYP_ADR),
    ("CommunAck.xsd", "TDomaineAck", codes.ACK_DOMAINS),
    ("RETOUR/NS_Depense/r0/CommunDepense_Retour.xsd", "TEtatPce", codes.ETAT_PCE),
    ("RETOUR/NS_Depense/r0/CommunDepense_Retour.xsd", "TEtatLigPce", codes.ETAT_LIG_PCE),
    ("RETOUR/NS_Depense/r0/CommunDepense_Retour.xsd", "TTypRestit", codes.TYP_RESTIT),
]


def enumeration(schema_file: str, type_name: str) -> dict:
    tree = etree.parse(str(PES_DIR / "PES_V2" / schema_file))
    for node in tree.iter(XS + "complexType", XS + "simpleType"):
        if node.get("name") == type_name:
            values = {}
            for item in node.iter(XS + "enumeration"):
                label = item.find(".//" + XS + "documentation")
                values[item.get("value")] = (label.text or "").strip() if label is not None else ""
            return values
    raise AssertionError("type %s not found in %s" % (type_name, schema_file))


@pytest.mark.parametrize("schema_file,type_name,ours", CODE_LISTS,
                         ids=[item[1] for item in CODE_LISTS])
def test_code_list_is_the_schema_one(schema_file, type_name, ours):
    require_schemas()
    assert ours == enumeration(schema_file, type_name)


def test_anomaly_codes_are_the_schema_ones():
    require_schemas()
    assert set(codes.ACK_ANOMALIES) == set(enumeration("CommunAck.xsd", "TNumAnoAck"))
    assert all(codes.ACK_ANOMALIES.values())


def test_rules_only_use_known_codes():
    for triplet in list(codes.KNOWN_TRIPLETS) + list(codes.TRIPLETS_NEEDING_ORIGIN):
        kind, piece_type, nature = triplet
        assert kind in codes.TYP_BORD_ALLOWED_ALLER
        assert piece_type in codes.TYP_PCE and nature in codes.NAT_PCE
    assert codes.MOD_REGL_NEEDING_ACCOUNT | codes.MOD_REGL_FORBIDDING_ACCOUNT <= set(codes.MOD_REGL)
    assert not codes.MOD_REGL_NEEDING_ACCOUNT & codes.MOD_REGL_FORBIDDING_ACCOUNT
    assert codes.NOMENCLATURES_WITH_FUNCTION <= set(codes.NOMENCLATURES)
    assert codes.NOMENCLATURES_WITH_OPERATION <= set(codes.NOMENCLATURES)
    assert codes.TYPE_PJ_DEPENSE in codes.TYPE_PJ_DEPENSE_DOMAIN


def _facet(type_name: str, facet: str, schema_file: str = "Simple_Type.xsd") -> str:
    tree = etree.parse(str(PES_DIR / "PES_V2" / schema_file))
    for node in tree.iter(XS + "simpleType"):
        if node.get("name") == type_name:
            found = node.find(".//" + XS + facet)
            return found.get("value")
    raise AssertionError(type_name)


@pytest.mark.parametrize("field,simple_type", [
    ("Obj", "V_Texte100"), ("Facture", "V_Texte20"), ("LibVir", "V_Texte70"),
    ("Nom", "V_Texte38"), ("Adr", "V_Texte38"), ("TitCpte", "V_Texte32"),
    ("LibBanc", "V_Texte24"), ("RefTiers", "V_Texte30"), ("IdUnique", "V_Alphanum50"),
    ("Description", "V_Texte250"), ("CodServ", "V_Texte10"), ("IdMarche", "V_Texte30"),
    ("IdTiers", "V_Alphanum80"),
])
def test_text_lengths_are_the_schema_ones(field, simple_type):
    require_schemas()
    assert codes.MAX_LENGTH[field] == int(_facet(simple_type, "maxLength"))
