"""chorus_pro.pes.writer: a valid, streamed PES_Aller with its files (no signature here)."""

from __future__ import annotations

import base64
import dataclasses
import gc
import gzip
import io
import os
import tracemalloc
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from chorus_pro import dgp
from chorus_pro.pes import (
    Address,
    BankAccount,
    Bordereau,
    DgpBlock,
    Line,
    PesFile,
    PesFlow,
    PesWriteError,
    Piece,
    Tiers,
    codes,
    write_pes,
    write_pes_file,
)
from chorus_pro.pes.testing import reduction_of, sample_flow, sample_header, sample_suppliers
from chorus_pro.pes.writer import pes_bytes

try:
    from pes_helpers import assert_valid, parse, require_schemas, v
except ModuleNotFoundError:  # tests/ became a package
    from tests.pes_helpers import assert_valid, parse, require_schemas, v

NOW = datetime(2026, 3, 20, 23, 30, tzinfo=timezone.utc)  # already the 21st in Paris


def pieces_of(tree):
    return tree.getroot().findall("PES_DepenseAller/Bordereau/Piece")


# ------------------------------------------------------------------ schema
def test_importing_the_package_needs_no_token_library():
    import subprocess
    import sys

    code = ("import sys, chorus_pro.pes; "
            "print(sorted(m for m in ('pkcs11', 'cryptography') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.stdout.strip() == "[]"


def flow_variants(tmp_path):
    base = sample_flow(3, pj_dir=str(tmp_path), files_per_mandate=2)
    supplier = sample_suppliers(1)[0]
    person = Tiers(name="MARTIN", category="01", legal_nature="01", civility="Mme",
                   first_name="Claire", identifier="",
                   address=Address(street="3 impasse des Lilas", postal_code="34170",
                                   city="Castelnau-le-Lez", kind="1"),
                   bank_account=BankAccount(iban="FR7630001007941234567890185"))
    foreign = Tiers(name="LIEFERANT GMBH", identifier="DE129273398",
                    identifier_type=codes.NAT_ID_VAT, category="60", legal_nature="03",
                    address=Address(street="Hauptstrasse 1", postal_code="99999",
                                    city="10115 BERLIN", resident=False, country_code="109"),
                    bank_account=BankAccount(iban="DE89370400440532013000", bic="COBADEFFXXX"))
    mixed = Bordereau(exercice=2026, number=2, issue_date=date(2026, 3, 21), pieces=[
        Piece(number=10, object="Remboursement", lines=[
            Line(nature="6718", amount_ht=Decimal("35.50"), tiers=person),
            Line(nature="6188", amount_ht=Decimal("12.00"), tiers=supplier, payment_mode="02"),
        ]),
        Piece(number=11, object="Achat en Allemagne", lines=[
            Line(nature="2183", amount_ht=Decimal("900.00"), amount_vat=Decimal("180.00"),
                 intra_community_vat=True, tiers=foreign, payment_mode="06",
                 market_id="2026-MAPA-0012", invoice_amount_ht=Decimal("900.00"),
                 files=[PesFile(id_unique="LINEPJ1", name="rechnung.pdf", source=b"%PDF-1.7")]),
        ], piece_type="01", nature="02"),
    ], previous_cumul=Decimal("100.00"))
    by_function = sample_flow(2, header=sample_header(vote=codes.VOTE_FUNCTION))
    for piece in by_function.bordereaux[0].pieces:
        for line in piece.lines:
            line.function = "020"
            line.operation = "1201"
    return {
        "ordinary with files": base,
        "two bordereaux, person, foreign, cheque": dataclasses.replace(
            base, bordereaux=[base.bordereaux[0], mixed]),
        "reduction (TypBord 02)": dataclasses.replace(base, bordereaux=[
            reduction_of(base.bordereaux[0].pieces[0], number=4, amount=Decimal("10.00"))]),
        "voted by function": by_function,
        "not dematerialised": dataclasses.replace(sample_flow(1), dematerialised=False),
        "hospital (M21, FINESS)": sample_flow(1, header=sample_header(
            nomenclature="M21", fin_jur="340780477")),
    }


@pytest.mark.parametrize("variant", [
    "ordinary with files", "two bordereaux, person, foreign, cheque", "reduction (TypBord 02)",
    "voted by function", "not dematerialised", "hospital (M21, FINESS)",
])
def test_generated_files_are_valid_against_the_dgfip_schema(tmp_path, variant):
    require_schemas()
    flow = flow_variants(tmp_path)[variant]
    data = pes_bytes(flow, now=NOW)
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert_valid(data)


def test_header_and_fields_as_the_dgfip_expects(tmp_path):
    flow = flow_variants(tmp_path)["two bordereaux, person, foreign, cheque"]
    root = parse(pes_bytes(flow, now=NOW)).getroot()
    assert root.tag == "{%s}PES_Aller" % codes.NS_PES_ALLER
    assert root.nsmap == {"n": codes.NS_PES_ALLER}  # children unqualified
    assert v(root, "Enveloppe/Parametres/Version") == "2"
    assert v(root, "Enveloppe/Parametres/TypFic") == "PESALR1"
    assert v(root, "Enveloppe/Parametres/NomFic") == "PESALR1_12301_2026_01_1.xml"
    assert v(root, "EnTetePES/DteStr") == "2026-03-21"  # Paris date of NOW
    assert v(root, "EnTetePES/IdPost") == "034000"
    assert v(root, "EnTetePES/IdColl") == sample_header().id_coll
    assert (v(root, "EnTetePES/CodCol"), v(root, "EnTetePES/CodBud")) == ("123", "01")
    assert root.find("EnTetePES/FinJur") is None
    assert v(root, "PES_DepenseAller/EnTeteDepense/IdVer") == "2"
    assert v(root, "PES_DepenseAller/EnTeteDepense/InfoDematerialisee") == "1"
    bordereaux = root.findall("PES_DepenseAller/Bordereau")
    assert [b.get("Id") for b in bordereaux] == ["BORD-2026-01-1", "BORD-2026-01-2"]
    # No signature was asked for.
    assert not root.findall(".//{http://www.w3.org/2000/09/xmldsig#}Signature")

    refund, germany = bordereaux[1].findall("Piece")
    person_line, cheque_line = refund.findall("LigneDePiece")
    info = person_line.find("Tiers/InfoTiers")
    assert [child.tag for child in info] == ["CatTiers", "NatJur", "Civilite", "Nom", "Prenom"]
    assert (v(info, "Civilite"), v(info, "Prenom")) == ("Mme", "Claire")
    assert v(person_line, "Tiers/Adresse/TypAdr") == "1"
    # Payment by cheque: the bank account must not be sent (Hélios rejects it).
    assert v(cheque_line, "BlocLignePiece/InfoLignePce/ModRegl") == "02"
    assert cheque_line.find("Tiers/CpteBancaire") is None
    assert cheque_line.find("Tiers/InfoTiers/Civilite") is None
    line = germany.find("LigneDePiece")
    assert v(germany, "BlocPiece/InfoPce/NatPce") == "02"
    assert v(line, "BlocLignePiece/InfoLignePce/TVAIntraCom") == "1"
    assert v(line, "BlocLignePiece/InfoLignePce/PJRef/IdUnique") == "LINEPJ1"
    assert v(line, "BlocLignePiece/LiensIdent/IdMarche") == "2026-MAPA-0012"
    assert v(line, "Tiers/InfoTiers/IdTiers") == "DE129273398"
    assert v(line, "Tiers/InfoTiers/NatIdTiers") == "05"
    assert (v(line, "Tiers/Adresse/CodRes"), v(line, "Tiers/Adresse/CodPays")) == ("1", "109")
    assert (v(line, "Tiers/CpteBancaire/BIC"), v(line, "Tiers/CpteBancaire/IBAN")) == (
        "COBADEFFXXX", "DE89370400440532013000")
    assert v(line, "Tiers/CpteBancaire/TitCpte") == "LIEFERANT GMBH"


def test_reduction_names_the_reduced_mandate(tmp_path):
    flow = flow_variants(tmp_path)["reduction (TypBord 02)"]
    root = parse(pes_bytes(flow, now=NOW)).getroot()
    bordereau = root.find("PES_DepenseAller/Bordereau")
    assert v(bordereau, "BlocBordereau/TypBord") == "02"
    piece = bordereau.find("Piece")
    assert (v(piece, "BlocPiece/InfoPce/TypPce"), v(piece, "BlocPiece/InfoPce/NatPce")) == (
        "02", "06")
    attach = piece.find("LigneDePiece/BlocLignePiece/RattachPiece")
    assert [(child.tag, child.get("V")) for child in attach] == [
        ("NatPceOrig", "01"), ("ExerRat", "2026"), ("IdPceOrig", "1"), ("IdLigneOrig", "1")]
    assert v(piece, "LigneDePiece/BlocLignePiece/InfoLignePce/MtHT") == "10.00"


# ------------------------------------------------------------------ arithmetic
def test_bordereau_totals_count_and_yearly_cumul():
    supplier = sample_suppliers(1)[0]
    pieces = [
        Piece(number=41, object="a", lines=[
            Line(nature="6068", amount_ht=Decimal("1234.56"), amount_vat=Decimal("246.91"),
                 tiers=supplier),
            Line(nature="6068", amount_ht=Decimal("0.01"), tiers=supplier),
        ]),
        Piece(number=42, object="b", lines=[
            Line(nature="2183", amount_ht=Decimal("99999.99"), amount_vat=Decimal("19999.99"),
                 tiers=supplier),
        ]),
    ]
    bordereau = Bordereau(exercice=2026, number=12, issue_date=date(2026, 3, 20), pieces=pieces,
                          previous_cumul=Decimal("154320.00"))
    flow = PesFlow(header=sample_header(), bordereaux=[bordereau])
    out = io.BytesIO()
    result = write_pes(flow, out, now=NOW)
    bloc = parse(out.getvalue()).getroot().find("PES_DepenseAller/Bordereau/BlocBordereau")
    assert [(child.tag, child.get("V")) for child in bloc] == [
        ("Exer", "2026"), ("IdBord", "12"), ("DteBordEm", "2026-03-20"), ("TypBord", "01"),
        ("NbrPce", "2"),
        ("MtCumulAnnuel", "275801.46"),  # 154320.00 + 101234.56 + 20246.90
        ("MtBordHT", "101234.56"),       # 1234.56 + 0.01 + 99999.99
        ("MtBordTVA", "20246.90"),       # 246.91 + 19999.99
    ]
    totals = result.bordereaux[0].totals
    assert (totals.pieces, totals.lines) == (2, 3)
    assert totals.cumul == Decimal("275801.46")  # the next bordereau's previous_cumul
    assert (result.pieces, result.lines) == (2, 3)

    # Without VAT (budget that does not recover it: TTC amounts in MtHT) no MtBordTVA at all.
    for piece in pieces:
        for line in piece.lines:
            line.amount_vat = None
    out = io.BytesIO()
    write_pes(flow, out, now=NOW)
    bloc = parse(out.getvalue()).getroot().find("PES_DepenseAller/Bordereau/BlocBordereau")
    assert bloc.find("MtBordTVA") is None
    assert v(bloc, "MtCumulAnnuel") == "255554.56"
    assert not parse(out.getvalue()).getroot().findall(".//MtTVA")


def test_each_bordereau_has_its_own_totals_and_cumul(tmp_path):
    flow = flow_variants(tmp_path)["two bordereaux, person, foreign, cheque"]
    result = write_pes(flow, io.BytesIO(), now=NOW)
    first, second = result.bordereaux
    assert first.totals.pieces == 3 and second.totals.pieces == 2
    assert second.totals.amount_ht == Decimal("947.50")
    assert second.totals.amount_vat == Decimal("180.00")
    assert second.totals.cumul == Decimal("1227.50")


# ------------------------------------------------------------------ files
def test_pj_round_trip_gzip_then_base64(tmp_path):
    on_disk = tmp_path / "facture.pdf"
    on_disk.write_bytes(os.urandom(300_000) + b"%%EOF")
    opened = tmp_path / "devis.pdf"
    opened.write_bytes(b"%PDF-1.4 devis " * 5000)
    chunks = [b"%PDF-1.4 ", b"", b"bon de livraison " * 1000]
    files = [
        PesFile(id_unique="CPP1F1", name="facture.pdf", source=str(on_disk)),
        PesFile(id_unique="CPP1F2", name="devis.pdf", source=lambda: open(opened, "rb"),
                description="Devis signé"),
        PesFile(id_unique="CPP1F3", name="bl.jpg", mime_type="image/jpeg",
                source=lambda: iter(chunks)),
        PesFile(id_unique="CPP1F4", name="petit.txt", mime_type="text/plain", source=b"merci"),
        PesFile(id_unique="CPP1F1", name="facture.pdf", source=str(on_disk)),  # same, again
        PesFile(id_unique="PAPIER1", name="courrier.pdf", support="02"),  # reference only
    ]
    expected = {
        "CPP1F1": on_disk.read_bytes(), "CPP1F2": opened.read_bytes(),
        "CPP1F3": b"".join(chunks), "CPP1F4": b"merci",
    }
    supplier = sample_suppliers(1)[0]
    flow = PesFlow(header=sample_header(), bordereaux=[Bordereau(
        exercice=2026, number=1, issue_date=date(2026, 3, 20), pieces=[
            Piece(number=1, object="a", files=files[:3],
                  lines=[Line(nature="6068", amount_ht=Decimal("1.00"), tiers=supplier,
                              files=files[3:4])]),
            Piece(number=2, object="b", files=files[4:],
                  lines=[Line(nature="6068", amount_ht=Decimal("1.00"), tiers=supplier)]),
        ])])
    out = io.BytesIO()
    result = write_pes(flow, out, now=NOW, chunk_size=4096)
    root = parse(out.getvalue()).getroot()
    pjs = root.findall("PES_PJ/PJ")
    assert [v(pj, "IdUnique") for pj in pjs] == ["CPP1F1", "CPP1F2", "CPP1F3", "CPP1F4"]
    for pj in pjs:
        fichier = pj.find("Contenu/Fichier")
        raw = base64.b64decode(fichier.text, validate=True)
        assert raw[:2] == b"\x1f\x8b"  # a gzip member
        assert gzip.decompress(raw) == expected[v(pj, "IdUnique")]
    assert [pj.find("Contenu/Fichier").get("MIMEType") for pj in pjs] == [
        "application/pdf", "application/pdf", "image/jpeg", "text/plain"]
    assert v(pjs[1], "Description") == "Devis signé"
    assert v(pjs[0], "Description") == "facture.pdf"
    assert v(pjs[0], "TypePJ") == "003"
    assert v(root, "PES_PJ/EnTetePES_PJ/IdVer") == "1"
    # Every embedded file is referenced by IdUnique from its pièce or line.
    references = [v(ref, "IdUnique") for ref in root.iter("PJRef")]
    assert references == ["CPP1F1", "CPP1F2", "CPP1F3", "CPP1F4", "CPP1F1", "PAPIER1"]
    paper = [ref for ref in root.iter("PJRef") if v(ref, "IdUnique") == "PAPIER1"][0]
    assert v(paper, "Support") == "02"
    assert (result.files, result.file_bytes) == (4, sum(map(len, expected.values())))
    assert result.bytes_written == len(out.getvalue())


def test_sources_are_read_only_while_writing_and_once(tmp_path):
    calls = []

    def source():
        calls.append(1)
        return io.BytesIO(b"%PDF-1.4 lazily")

    shared = PesFile(id_unique="LAZY1", name="lazy.pdf", source=source)
    flow = sample_flow(2)
    for piece in flow.bordereaux[0].pieces:
        piece.files = [shared]
    from chorus_pro.pes import validate

    assert validate(flow) == [] and calls == []
    write_pes(flow, io.BytesIO(), now=NOW)
    assert calls == [1]


def test_unreadable_or_empty_file_stops_and_leaves_no_file(tmp_path):
    def broken():
        raise FileNotFoundError(2, "No such file or directory")

    target = tmp_path / "pes.xml"
    for source, message in ((broken, "could not be read: no such file or directory"),
                            (lambda: b"", "is empty")):
        flow = sample_flow(1)
        flow.bordereaux[0].pieces[0].files = [PesFile(id_unique="X1", name="x.pdf",
                                                      source=source)]
        with pytest.raises(PesWriteError, match=message):
            write_pes_file(flow, target, now=NOW)
        assert os.listdir(tmp_path) == []


def test_write_pes_file_replaces_the_target_only_when_complete(tmp_path):
    target = tmp_path / "pes.xml"
    target.write_bytes(b"previous")
    result = write_pes_file(sample_flow(2), target, now=NOW)
    assert target.read_bytes().startswith(b"<?xml")
    assert result.bytes_written == target.stat().st_size
    assert sorted(os.listdir(tmp_path)) == ["pes.xml"]


# ------------------------------------------------------------------ encoding
def test_text_outside_latin1_is_mapped_not_refused():
    require_schemas()
    supplier = dataclasses.replace(sample_suppliers(1)[0], name="Œuvres d’art – Ĳssel 漢字")
    piece = Piece(number=1, object="Facture n° 12 “été” 100 € …\nsuite", lines=[
        Line(nature="6068", amount_ht=Decimal("1.00"), tiers=supplier,
             transfer_label_1="Réf.\tFA-12")])
    flow = PesFlow(header=sample_header(), bordereaux=[Bordereau(
        exercice=2026, number=1, issue_date=date(2026, 3, 20), pieces=[piece])])
    data = pes_bytes(flow, now=NOW)
    assert b"&#" not in data  # no character references: plain ISO-8859-1
    data.decode("iso-8859-1")
    root = parse(data).getroot()
    assert v(root, ".//InfoPce/Obj") == "Facture n° 12 \"été\" 100 EUR ... suite"
    assert v(root, ".//InfoTiers/Nom") == "OEuvres d'art - IJssel ??"
    assert v(root, ".//LibVir1") == "Réf. FA-12"
    assert "n\xb0 12".encode("latin-1") in data
    assert_valid(data)


def test_long_texts_are_cut_to_their_pes_length():
    supplier = dataclasses.replace(sample_suppliers(1)[0], name="N" * 50)
    piece = Piece(number=1, object="O" * 150, files=[
        PesFile(id_unique="LONG1", name="x" * 120 + ".pdf", source=b"%PDF")], lines=[
        Line(nature="6068", amount_ht=Decimal("1.00"), tiers=supplier,
             invoice_number="F" * 30)])
    flow = PesFlow(header=sample_header(), bordereaux=[Bordereau(
        exercice=2026, number=1, issue_date=date(2026, 3, 20), pieces=[piece])])
    result = write_pes(flow, io.BytesIO(), now=NOW)
    assert {w.code for w in result.warnings} == {"text_cut", "invoice_number_cut"}
    root = parse(pes_bytes(flow, now=NOW)).getroot()
    assert len(v(root, ".//InfoPce/Obj")) == 100
    assert len(v(root, ".//InfoTiers/Nom")) == 38
    assert len(v(root, ".//InfoLignePce/Facture")) == 20
    name = v(root, "PES_PJ/PJ/NomPJ")
    assert len(name) == 100 and name.endswith(".pdf")  # the extension is kept


# ------------------------------------------------------------------ DGP
def test_dgp_block_comes_from_the_dgp_engine():
    result = dgp.compute(dgp.DgpInput(body="collectivite", mise_a_disposition=date(2026, 3, 2)))
    block = DgpBlock.from_dgp(result)
    assert (block.start, block.end, block.duration) == (date(2026, 3, 2), date(2026, 4, 1), 30)
    assert block.interest_code == "02"  # ECB rate + 8 points (R2192-31)
    # Rate that would apply if late: ECB rate in force on 1 April's half-year start (1 January).
    expected_rate = dgp.ecb_rate_on(date(2026, 1, 1)) + dgp.INTEREST_MARGIN
    assert block.interest_rate == expected_rate.quantize(Decimal("0.01"))
    no_rate = DgpBlock.from_dgp(result, rates=[(date(2030, 1, 1), Decimal("1"))])
    assert no_rate.interest_rate is None
    suspended = dgp.compute(dgp.DgpInput(body="collectivite", mise_a_disposition=date(2026, 3, 2),
                                         suspended=date(2026, 3, 10)))
    with pytest.raises(ValueError, match="suspended"):
        DgpBlock.from_dgp(suspended)

    flow = sample_flow(1)
    flow.bordereaux[0].pieces[0].dgp = block
    dgp_element = parse(pes_bytes(flow, now=NOW)).getroot().find(".//BlocPiece/DGP")
    assert [(child.tag, child.get("V")) for child in dgp_element] == [
        ("Dgp", "0"), ("DteDebDgp", "2026-03-02"), ("DteFinDgp", "2026-04-01"),
        ("DureeDgp", "30"), ("CodIntMor", "02"), ("TxIntMor", str(block.interest_rate)),
    ]


# ------------------------------------------------------------------ streaming
def _peak_python_memory(flow) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with open(os.devnull, "wb") as out:
            write_pes(flow, out, now=NOW)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


FILE_SIZE = 1024 * 1024


@pytest.fixture(scope="module")
def memory_flows(tmp_path_factory):
    small_dir = tmp_path_factory.mktemp("pj-n")
    large_dir = tmp_path_factory.mktemp("pj-4n")
    small = sample_flow(8, pj_dir=str(small_dir), files_per_mandate=2, file_size=FILE_SIZE)
    large = sample_flow(32, pj_dir=str(large_dir), files_per_mandate=2, file_size=FILE_SIZE)
    return small, large


def test_memory_stays_flat_when_mandates_and_files_grow(memory_flows):
    """N and 4N mandates with two 1 MiB PDFs each (16 MiB, then 64 MiB of files on disk): the
    peak of Python allocations while writing (zlib's state included) does not grow with N, and
    stays below the size of ONE file - no file, no bordereau, no base64 is ever held whole."""
    small, large = memory_flows
    peak_small = _peak_python_memory(small)
    peak_large = _peak_python_memory(large)
    assert peak_large - peak_small < 256 * 1024, (peak_small, peak_large)
    assert peak_large < FILE_SIZE, (peak_small, peak_large)


def test_memory_measure_sees_a_file_read_whole(memory_flows):
    """Control: the same measure catches a source that reads a whole file into memory."""
    small, _ = memory_flows
    piece = small.bordereaux[0].pieces[0]
    path = piece.files[0].source
    piece.files[0] = dataclasses.replace(piece.files[0], source=lambda: open(path, "rb").read())
    try:
        assert _peak_python_memory(small) > FILE_SIZE
    finally:
        piece.files[0] = dataclasses.replace(piece.files[0], source=path)


def test_optional_values_the_pes_refuses_are_left_out():
    """V_BaseAlphanum refuses ".", " ", "nc" and zeros only: such optional values are dropped
    (a file Hélios would reject for a placeholder is worse than no value)."""
    require_schemas()
    flow = sample_flow(1)
    piece = flow.bordereaux[0].pieces[0]
    piece.object = "nc"
    piece.lines[0].invoice_number = "."
    piece.lines[0].transfer_label_1 = "000"
    piece.files[0].description = "."
    data = pes_bytes(flow, now=NOW)
    assert_valid(data)
    root = parse(data).getroot()
    assert root.find(".//InfoPce/Obj") is None
    assert root.find(".//InfoLignePce/Facture") is None
    assert root.find(".//InfoLignePce/LibVir1") is None
    assert v(root, "PES_PJ/PJ/Description") == piece.files[0].name
