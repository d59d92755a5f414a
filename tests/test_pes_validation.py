"""chorus_pro.pes.validation: every problem at once, in words, before anything is generated."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from decimal import Decimal

import pytest

from chorus_pro.pes import (
    Address,
    BankAccount,
    Bordereau,
    DgpBlock,
    Line,
    OriginRef,
    PesFile,
    PesFlow,
    PesValidationError,
    Piece,
    Tiers,
    has_errors,
    validate,
    write_pes,
)
from chorus_pro.pes import codes
from chorus_pro.pes.testing import reduction_of, sample_flow, sample_header, sample_suppliers

VALID_IBAN = "FR7630001007941234567890185"


def codes_of(problems, severity=None):
    return sorted(p.code for p in problems if severity is None or p.severity == severity)


def one_line_flow(*, line=None, tiers=None, piece=None, header=None, **bordereau_options):
    tiers = tiers or sample_suppliers(1)[0]
    line = line or Line(nature="6068", amount_ht=Decimal("100.00"), tiers=tiers)
    piece = piece or Piece(number=7, lines=[line], object="Facture test")
    bordereau = Bordereau(exercice=2026, number=3, issue_date=date(2026, 3, 20),
                          pieces=[piece], **bordereau_options)
    return PesFlow(header=header or sample_header(), bordereaux=[bordereau])


def test_sample_flow_has_no_problem(tmp_path):
    flow = sample_flow(5, pj_dir=str(tmp_path), files_per_mandate=2)
    assert validate(flow) == []


def test_every_problem_is_listed_at_once():
    """A budget and a bordereau with a dozen mistakes: all are reported, none hides another."""
    header = sample_header(id_post="", id_coll="21739012900014", cod_col="12",
                           cod_bud="1", vote=codes.VOTE_FUNCTION)
    no_address = Tiers(name="SANS ADRESSE SARL", identifier="55208131700018",
                       bank_account=BankAccount(iban=VALID_IBAN))
    bad_iban = Tiers(name="MAUVAIS IBAN SA", identifier="55208131700019",
                     address=Address(street="1 rue X", postal_code="7500", city="Paris"),
                     bank_account=BankAccount(iban="FR7630001007941234567890186"))
    no_account = Tiers(name="SANS COMPTE SAS", identifier="55208131700018",
                       address=Address(street="2 rue Y", postal_code="75001", city="Paris"))
    pieces = [
        Piece(number=1, object="Article sans nature", lines=[
            Line(nature="", amount_ht=Decimal("10.00"), tiers=no_address),
        ]),
        Piece(number=2, object="IBAN faux", lines=[
            Line(nature="6068", function="020", amount_ht=Decimal("-5.00"), tiers=bad_iban),
        ]),
        Piece(number=2, object="", lines=[
            Line(nature="6068", function="020", amount_ht=Decimal("1.234"), tiers=no_account),
            Line(nature="6068", function="020", amount_ht=Decimal("1.00"), tiers=None),
        ], files=[PesFile(id_unique="PJ-1", name="facture", source=b"x")]),
    ]
    flow = PesFlow(header=header, bordereaux=[
        Bordereau(exercice=2026, number=0, issue_date=date(2026, 3, 20), pieces=pieces)
    ])
    problems = validate(flow)
    assert has_errors(problems)
    assert codes_of(problems, "error") == sorted([
        "codique_missing",
        "collectivity_siret_invalid",
        "cod_col_invalid",
        "cod_bud_invalid",
        "bordereau_number_invalid",
        "nature_missing",            # article without Nature
        "function_missing",          # voted by function, line 1 of mandate 1 has none
        "address_missing",           # creditor without address
        "amount_invalid",            # negative
        "tiers_siret_invalid",       # invalid SIRET
        "address_postal_code_invalid",
        "iban_invalid",              # invalid IBAN
        "piece_duplicate",
        "file_extension_invalid",
        "file_id_invalid",
        "amount_invalid",            # three decimals
        "bank_account_missing",      # transfer without bank account
        "tiers_missing",
    ])
    assert codes_of(problems, "warning") == ["object_missing"]
    by_code = {p.code: p for p in problems}
    assert by_code["address_missing"].message == "The creditor SANS ADRESSE SARL has no address."
    assert str(by_code["nature_missing"]) == (
        "Bordereau 0, mandate 1, line 1: The budget article has no account by nature (Nature)."
    )
    assert (by_code["iban_invalid"].piece, by_code["iban_invalid"].line) == (2, 1)
    # Never a full IBAN in a message (masked: country, check digits, last four).
    assert "30001007941234567890186" not in by_code["iban_invalid"].message
    assert "FR76 •••• •••• 0186" in by_code["iban_invalid"].message
    assert by_code["codique_missing"].where == "" and by_code["codique_missing"].field == "IdPost"


def test_writer_refuses_a_flow_with_errors_and_writes_nothing():
    flow = one_line_flow(line=Line(nature="", amount_ht=Decimal("1.00"),
                                   tiers=sample_suppliers(1)[0]))
    out = io.BytesIO()
    with pytest.raises(PesValidationError) as raised:
        write_pes(flow, out)
    assert out.getvalue() == b""
    assert [p.code for p in raised.value.errors] == ["nature_missing"]
    assert "account by nature" in str(raised.value)


@pytest.mark.parametrize("header_options,code", [
    (dict(id_post="12345"), "codique_invalid"),
    (dict(id_post="02a1234"), "codique_invalid"),
    (dict(id_coll=""), "collectivity_siret_missing"),
    (dict(nomenclature="M99"), "nomenclature_unknown"),
    (dict(vote="both"), "vote_unknown"),
    (dict(nomenclature="M49", vote=codes.VOTE_FUNCTION), "vote_function_not_allowed"),
    (dict(nomenclature="M21"), "finess_missing"),
    (dict(fin_jur="340780477"), "finess_forbidden"),
])
def test_header_problems(header_options, code):
    assert codes_of(validate(one_line_flow(header=sample_header(**header_options)))) == [code]


def test_codique_of_corsica_is_accepted():
    assert validate(one_line_flow(header=sample_header(id_post="02A1234"))) == []


def test_function_rules_follow_the_vote():
    line = Line(nature="6068", function="020", amount_ht=Decimal("1.00"),
                tiers=sample_suppliers(1)[0])
    by_nature = validate(one_line_flow(line=line))
    assert codes_of(by_nature) == ["function_not_allowed"]
    functional = sample_header(vote=codes.VOTE_NATURE_FUNCTIONAL)
    assert validate(one_line_flow(line=line, header=functional)) == []
    in_m49 = sample_header(nomenclature="M49")
    assert codes_of(validate(one_line_flow(line=line, header=in_m49))) == ["function_not_allowed"]
    operation = dataclasses.replace(line, function="", operation="1200")
    assert validate(one_line_flow(line=operation)) == []
    m21 = sample_header(nomenclature="M21", fin_jur="340780477")
    assert codes_of(validate(one_line_flow(line=operation, header=m21))) == [
        "operation_not_allowed"
    ]


def test_payment_mode_decides_whether_a_bank_account_is_needed():
    supplier = dataclasses.replace(sample_suppliers(1)[0], bank_account=None)
    for mode, expected in (("03", ["bank_account_missing"]), ("05", ["bank_account_missing"]),
                           ("02", []), ("06", []), ("99", ["payment_mode_unknown"])):
        line = Line(nature="6068", amount_ht=Decimal("1.00"), tiers=supplier, payment_mode=mode)
        assert codes_of(validate(one_line_flow(line=line))) == expected, mode


def test_foreign_account_needs_a_bic_and_foreign_address_a_country():
    tiers = Tiers(
        name="LIEFERANT GMBH", identifier="DE129273398", identifier_type=codes.NAT_ID_VAT,
        address=Address(street="Hauptstrasse 1", postal_code="99999", city="10115 BERLIN",
                        resident=False),
        bank_account=BankAccount(iban="DE89370400440532013000"),
    )
    problems = validate(one_line_flow(tiers=tiers))
    assert codes_of(problems) == ["address_country_missing", "bic_missing"]
    fixed = dataclasses.replace(
        tiers,
        address=dataclasses.replace(tiers.address, country_code="109"),
        bank_account=BankAccount(iban="DE89370400440532013000", bic="COBADEFFXXX"),
    )
    assert validate(one_line_flow(tiers=fixed)) == []
    wrong_bic = dataclasses.replace(fixed, bank_account=BankAccount(
        iban="DE89370400440532013000", bic="cobadeff"))
    assert codes_of(validate(one_line_flow(tiers=wrong_bic))) == []  # compacted to upper case
    wrong_bic = dataclasses.replace(fixed, bank_account=BankAccount(
        iban="DE89370400440532013000", bic="CO1ADEFF"))
    assert codes_of(validate(one_line_flow(tiers=wrong_bic))) == ["bic_invalid"]


def test_natural_person_needs_civility_and_first_name():
    person = dataclasses.replace(sample_suppliers(1)[0], category="01", legal_nature="01",
                                 identifier="", name="MARTIN")
    problems = validate(one_line_flow(tiers=person))
    assert codes_of(problems, "error") == ["tiers_person_fields_missing"]
    assert codes_of(problems, "warning") == ["tiers_identifier_missing"]
    complete = dataclasses.replace(person, civility="Mme", first_name="Claire")
    assert codes_of(validate(one_line_flow(tiers=complete)), "error") == []


@pytest.mark.parametrize("kind,value,valid", [
    (codes.NAT_ID_SIREN, "552081317", True),
    (codes.NAT_ID_SIREN, "552081318", False),
    (codes.NAT_ID_FINESS, "340780477", True),
    (codes.NAT_ID_FINESS, "34078047", False),
    (codes.NAT_ID_VAT, "FR40303265045", True),
    (codes.NAT_ID_VAT, "FR4", False),
    (codes.NAT_ID_RIDET, "1234567", False),
    (codes.NAT_ID_FRWF, "FRWF1234", True),
    (codes.NAT_ID_FRWF, "XXWF1234", False),
    (codes.NAT_ID_PENDING, "ENCOURS", True),
    ("13", "123", False),
])
def test_identifier_rules_per_type(kind, value, valid):
    tiers = dataclasses.replace(sample_suppliers(1)[0], identifier=value, identifier_type=kind)
    assert (codes_of(validate(one_line_flow(tiers=tiers))) == []) is valid


def test_identifiers_reserved_to_persons_and_hospitals():
    nfp = dataclasses.replace(sample_suppliers(1)[0], identifier="1234567890123",
                              identifier_type=codes.NAT_ID_NFP)
    assert codes_of(validate(one_line_flow(tiers=nfp))) == ["tiers_identifier_invalid"]
    nir = dataclasses.replace(nfp, identifier="180017512345678", identifier_type=codes.NAT_ID_NIR,
                              category="01", civility="M.", first_name="Paul")
    assert codes_of(validate(one_line_flow(tiers=nir))) == ["tiers_identifier_invalid"]


def test_amount_rules():
    supplier = sample_suppliers(1)[0]
    for amount, reason in ((Decimal("0.001"), "too_many_decimals"),
                           (Decimal("-1"), "negative"),
                           (Decimal("1000000000000.00"), "too_large"),
                           ("abc", "not_a_number"),
                           (None, "missing")):
        line = Line(nature="6068", amount_ht=amount, tiers=supplier)
        problems = validate(one_line_flow(line=line))
        assert [(p.code, p.params["reason"]) for p in problems] == [("amount_invalid", reason)]
    zero = Line(nature="6068", amount_ht=Decimal("0.00"), tiers=supplier)
    assert codes_of(validate(one_line_flow(line=zero))) == ["cumul_not_positive"]
    assert validate(one_line_flow(line=zero, previous_cumul=Decimal("10.00"))) == []


def test_texts_that_will_be_cut_are_warnings_not_errors():
    supplier = sample_suppliers(1)[0]
    supplier = dataclasses.replace(
        supplier, name="X" * 45,
        bank_account=dataclasses.replace(supplier.bank_account, holder=""),  # the name, cut
    )
    line = Line(nature="6068", amount_ht=Decimal("1.00"), tiers=supplier,
                invoice_number="INV-" + "9" * 30, transfer_label_1="L" * 80)
    piece = Piece(number=1, lines=[line], object="O" * 120)
    problems = validate(one_line_flow(piece=piece))
    assert not has_errors(problems)
    assert sorted((p.code, p.field) for p in problems) == [
        ("invoice_number_cut", "Facture"),
        ("text_cut", "LibVir1"), ("text_cut", "Nom"), ("text_cut", "Obj"), ("text_cut", "TitCpte"),
    ]
    name_only_dots = dataclasses.replace(supplier, name=" . ")
    assert "tiers_name_missing" in codes_of(validate(one_line_flow(tiers=name_only_dots)))


def test_triplets_and_reductions():
    flow = sample_flow(2)
    original = flow.bordereaux[0].pieces[0]
    reduction = reduction_of(original, number=3, amount=Decimal("10.00"), bordereau_number=1)
    flow = dataclasses.replace(flow, bordereaux=[reduction])
    assert validate(flow) == []
    # The reduced mandate must be named on every line.
    without_origin = dataclasses.replace(reduction.pieces[0], origin=None)
    flow2 = dataclasses.replace(flow, bordereaux=[dataclasses.replace(
        reduction, pieces=[without_origin])])
    assert codes_of(validate(flow2)) == ["origin_missing"]
    # ... of the same exercice.
    old = dataclasses.replace(reduction.pieces[0], origin=OriginRef(exercice=2025, piece_number=1))
    flow3 = dataclasses.replace(flow, bordereaux=[dataclasses.replace(reduction, pieces=[old])])
    assert codes_of(validate(flow3)) == ["origin_invalid"]
    # A reduction in an ordinary bordereau, an ordinary mandate in a reduction bordereau.
    misplaced = dataclasses.replace(reduction, kind="01")
    assert codes_of(validate(dataclasses.replace(flow, bordereaux=[misplaced]))) == [
        "triplet_mismatch"]
    ordinary_in_reduction = dataclasses.replace(
        flow.bordereaux[0], pieces=[dataclasses.replace(original, origin=None)])
    ordinary_in_reduction = dataclasses.replace(ordinary_in_reduction, kind="02")
    assert codes_of(validate(dataclasses.replace(flow, bordereaux=[ordinary_in_reduction]))) == [
        "triplet_mismatch"]
    # An unusual but possible combination is only a warning.
    unusual = dataclasses.replace(original, piece_type="08", nature="01")
    flow4 = dataclasses.replace(flow, bordereaux=[dataclasses.replace(
        sample_flow(1).bordereaux[0], pieces=[unusual])])
    assert codes_of(validate(flow4), "warning") == ["triplet_unknown"]
    assert not has_errors(validate(flow4))


def test_dgp_block_rules():
    dgp = DgpBlock(start=date(2026, 3, 2), end=date(2026, 2, 1), duration=130,
                   interest_code="09", interest_rate=Decimal("100"))
    piece = Piece(number=1, lines=[Line(nature="6068", amount_ht=Decimal("1.00"),
                                        tiers=sample_suppliers(1)[0])], object="x", dgp=dgp)
    problems = validate(one_line_flow(piece=piece))
    assert codes_of(problems) == ["dgp_invalid"] * 4
    assert {p.params["reason"] for p in problems} == {
        "it ends before it starts", "its duration must be 1 to 99 days",
        "the interest code '09' is unknown",
        "the interest rate must be above 0 and below 100, two decimals",
    }


def test_files_are_checked_on_disk_and_by_identifier(tmp_path):
    empty = tmp_path / "vide.pdf"
    empty.write_bytes(b"")
    present = tmp_path / "ok.pdf"
    present.write_bytes(b"%PDF")
    files = [
        PesFile(id_unique="A1", name="absent.pdf", source=str(tmp_path / "absent.pdf")),
        PesFile(id_unique="A2", name="vide.pdf", source=str(empty)),
        PesFile(id_unique="A3", name="ok.pdf", source=str(present)),
        PesFile(id_unique="A3", name="ok.pdf", source=str(present)),   # same file twice: fine
        PesFile(id_unique="A3", name="autre.pdf", source=b"%PDF"),     # another file, same id
        PesFile(id_unique="A4", name="x.pdf", source=b"%PDF", mime_type=""),
        PesFile(id_unique="A5", name="x.pdf", source=b"%PDF", type_pj="099"),
        PesFile(id_unique="A7", name="x.pdf", source=b"%PDF", mime_type="application/\npdf"),
        PesFile(id_unique="A6", name="papier.pdf", support="02"),       # reference only
    ]
    piece = Piece(number=1, object="x", files=files, lines=[
        Line(nature="6068", amount_ht=Decimal("1.00"), tiers=sample_suppliers(1)[0])])
    problems = validate(one_line_flow(piece=piece))
    assert codes_of(problems) == sorted([
        "file_not_found", "file_empty", "file_id_duplicate", "file_mime_missing",
        "file_type_unknown", "file_mime_invalid",
    ])
    assert validate(one_line_flow(piece=piece), check_files=False) != problems


def test_bordereau_level_rules():
    flow = sample_flow(1)
    bordereau = flow.bordereaux[0]
    twice = dataclasses.replace(flow, bordereaux=[bordereau, bordereau])
    assert codes_of(validate(twice)) == ["bordereau_duplicate", "bordereau_id_duplicate",
                                         "piece_duplicate"]
    empty = dataclasses.replace(bordereau, pieces=[], kind="03", xml_id="1-bad id")
    assert codes_of(validate(dataclasses.replace(flow, bordereaux=[empty]))) == [
        "bordereau_empty", "bordereau_id_invalid", "bordereau_kind_invalid", "cumul_not_positive"]
    assert codes_of(validate(dataclasses.replace(flow, bordereaux=[]))) == ["no_bordereau"]
