"""chorus_pro.pes.acquit: the accountant's answers (acquittement, PES_Retour dépense).

The samples in ``tests/data/pes`` were written by hand from the 5.17 schemas (values invented);
the first test proves they are valid against them.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from chorus_pro.pes import (
    PesAnswerError,
    iter_pes_retour_pieces,
    parse_acquittement,
    parse_pes_retour,
)

try:
    from pes_helpers import (
        ACQUIT_V1_XSD, ACQUIT_V2_XSD, DATA_DIR, PES_RETOUR_XSD, assert_valid, require_schemas,
    )
except ModuleNotFoundError:  # tests/ became a package
    from tests.pes_helpers import (
        ACQUIT_V1_XSD, ACQUIT_V2_XSD, DATA_DIR, PES_RETOUR_XSD, assert_valid, require_schemas,
    )

ACCEPTED = DATA_DIR / "acquit_accepted.xml"
REJECTED = DATA_DIR / "acquit_rejected.xml"
FLOW_REJECTED = DATA_DIR / "acquit_flow_rejected.xml"
V1_REJECTED = DATA_DIR / "acquit_v1_rejected.xml"
RETOUR = DATA_DIR / "pes_retour_rejets.xml"


@pytest.mark.parametrize("sample,xsd", [
    (ACCEPTED, ACQUIT_V2_XSD), (REJECTED, ACQUIT_V2_XSD), (FLOW_REJECTED, ACQUIT_V2_XSD),
    (V1_REJECTED, ACQUIT_V1_XSD), (RETOUR, PES_RETOUR_XSD),
], ids=lambda value: getattr(value, "name", value))
def test_samples_are_valid_against_the_dgfip_schemas(sample, xsd):
    require_schemas()
    assert_valid(sample, xsd)


def test_accepted_flow():
    acquit = parse_acquittement(str(ACCEPTED))
    assert acquit.version == "2" and acquit.accepted
    assert acquit.header.file_name == "ACQ_PESALR1_12301_2026_01_7.xml"
    assert (acquit.header.id_post, acquit.header.cod_col, acquit.header.cod_bud) == (
        "034000", "123", "01")
    assert acquit.header.structure_date == date(2026, 3, 21)
    [verdict] = acquit.bordereaux()
    assert (verdict.exercice, verdict.number, verdict.accepted) == (2026, 7, True)
    assert [e.domain_label for e in verdict.elements] == ["Signature Bordereau", "Dépense"]
    assert verdict.messages == [] and verdict.rejected_pieces == {}
    assert acquit.rejected_files() == {} and acquit.flow_errors == []


def test_rejected_bordereau_with_reasons_per_piece_and_line():
    acquit = parse_acquittement(REJECTED.read_bytes())
    assert not acquit.accepted
    rejected = acquit.bordereau(7, 2026)
    accepted = acquit.bordereau(8)
    assert rejected.accepted is False and accepted.accepted is True
    assert acquit.bordereau(7, 2025) is None
    assert [e.code for e in rejected.elements[0].errors] == ["ERREUR_CUMUL_MONTANTS"]
    assert rejected.messages == [
        "Le montant cumulé du bordereau est incohérent avec le bordereau précédent",
        "Mandate 2: Le mandat 2 existe déjà pour l'exercice 2026",
        "Mandate 2, line 1: RIB du créancier invalide",
        "Mandate 3: A VAT amount is zero or negative",  # no label from Hélios: explained
    ]
    pieces = rejected.rejected_pieces
    assert sorted(pieces) == [2, 3]
    assert [e.code for e in pieces[2]] == ["ERREUR_DOUBLON_PIECE", "ERREUR_AUTRE"]
    assert pieces[2][0].label == "This mandate number was already received"
    files = acquit.rejected_files()
    assert list(files) == ["CPP202600000002F1"]
    assert files["CPP202600000002F1"][0].text == "PJ déjà intégrée"


def test_whole_flow_rejected():
    acquit = parse_acquittement(io.BytesIO(FLOW_REJECTED.read_bytes()))
    assert not acquit.accepted
    [flow_error] = acquit.flow_errors
    assert (flow_error.domain, flow_error.domain_label) == ("0", "Technique")
    assert flow_error.messages() == ["Le poste comptable 034000 est inconnu"]
    assert acquit.bordereau(7).messages == ["The bordereau's signature is invalid"]


def test_flat_v1_acquittement_is_grouped_like_v2():
    acquit = parse_acquittement(str(V1_REJECTED))
    assert acquit.version == "1"
    verdict = acquit.bordereau(7, 2026)
    assert not verdict.accepted
    assert verdict.messages == [
        "The yearly cumulative amount is wrong",
        "Mandate 2: Mandat déjà intégré",
        "Mandate 3, line 1: Other error",
    ]
    assert sorted(verdict.rejected_pieces) == [2, 3]


def test_tolerant_of_what_the_schemas_allow_and_a_bit_more():
    # No namespace, values as text, an unknown domain and anomaly, no Enveloppe details.
    acquit = parse_acquittement(
        b"<PES_ACQUIT><Enveloppe/><EnTetePES/><ACQUIT><EnTeteAcquit><IdVer V='2'/>"
        b"</EnTeteAcquit><ElementACQUIT><DomaineAck>42</DomaineAck><EtatAck>false</EtatAck>"
        b"<NumBord>12</NumBord><Erreur><NumAnoAck V='ERREUR_NOUVELLE'/></Erreur>"
        b"</ElementACQUIT><ElementACQUIT><DomaineAck V='5'/><EtatAck V='true'/>"
        b"</ElementACQUIT></ACQUIT></PES_ACQUIT>"
    )
    verdict = acquit.bordereau(12)
    assert verdict.accepted is False and verdict.exercice is None
    assert verdict.elements[0].domain_label == ""
    assert verdict.messages == ["ERREUR_NOUVELLE"]
    assert acquit.elements[1].accepted
    assert acquit.header.file_name is None


@pytest.mark.parametrize("data,message", [
    (b"not xml at all", "not readable XML"),
    (b"<PES_Aller/>", "not a PES acquittement"),
    (b"<PES_ACQUIT><Enveloppe/></PES_ACQUIT>", "no ACQUIT block"),
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><PES_ACQUIT>&e;</PES_ACQUIT>',
     "no ACQUIT block"),  # external entities are never resolved
])
def test_what_is_not_an_acquittement_is_refused_in_words(data, message):
    with pytest.raises(PesAnswerError, match=message):
        parse_acquittement(data)


def test_missing_file_is_refused_in_words(tmp_path):
    with pytest.raises(PesAnswerError, match="cannot be read"):
        parse_acquittement(str(tmp_path / "absent.xml"))


# ------------------------------------------------------------------ PES_Retour dépense
def test_pes_retour_gives_each_mandate_state_and_reasons():
    retour = parse_pes_retour(str(RETOUR))
    assert retour.kind == "01"
    assert retour.header.cod_col == "123"  # CodColl in the retour schemas
    assert [(p.number, p.state_label) for p in retour.pieces] == [
        (2, "Rejeté"), (3, "Prise en charge"), (4, "Rejeté")]
    rejected, taken, cancelled = retour.pieces
    assert (rejected.exercice, rejected.bordereau, rejected.bordereau_kind) == (2026, 7, "01")
    assert rejected.rejected and rejected.rejected_on == date(2026, 3, 24)
    assert rejected.reasons == [
        "R12-R31", "Pièce justificative illisible ; RIB à mettre à jour", "Line 1: R31"]
    # Rejected at the visa: may go again with the same number; after take-in-charge: not.
    assert rejected.may_be_sent_again_with_same_number is True
    assert cancelled.may_be_sent_again_with_same_number is False
    assert taken.may_be_sent_again_with_same_number is None
    assert taken.taken_on == date(2026, 3, 22)
    assert taken.paid_amount == Decimal("300.00")
    assert taken.lines[0].payments[0].paid_on == date(2026, 3, 24)
    assert rejected.lines[0].state_label == "Rejeté"
    assert rejected.lines[0].amount_vat == Decimal("341.56")
    assert [p.number for p in retour.rejected] == [2, 4]


def test_pes_retour_streamed_piece_by_piece():
    streamed = list(iter_pes_retour_pieces(str(RETOUR)))
    assert [(p.number, p.state, p.reasons) for p in streamed] == [
        (p.number, p.state, p.reasons) for p in parse_pes_retour(str(RETOUR)).pieces]
    with pytest.raises(PesAnswerError, match="not a PES_Retour"):
        list(iter_pes_retour_pieces(io.BytesIO(b"<PES_ACQUIT/>")))
    with pytest.raises(PesAnswerError, match="not a PES_Retour"):
        parse_pes_retour(ACCEPTED.read_bytes())
