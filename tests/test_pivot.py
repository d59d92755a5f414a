"""PIVOT parser: field mapping on hand-written samples, XSD validation, errors, bounded memory."""

import base64
import hashlib
import os
import re
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from chorus_pro import pivot
from chorus_pro.pivot import PivotError, iter_pivot_invoices, read_pivot_invoices, validate_pivot

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT.parent / "shared" / "schemas" / "chorus-pivot"
DATA_DIR = Path(__file__).resolve().parent / "data" / "pivot"
BUNDLE_V2 = DATA_DIR / "bundle_v2_02.xml"
INVOICES_V1 = DATA_DIR / "invoices_v1_22.xml"

# Attachment contents embedded (base64) in the sample files.
CONTENT_FA_0042 = b"%PDF-1.4\n% Facture FA-2026-0042 ENTREPRISE DUPONT SAS\n%%EOF\n"
CONTENT_FA_0107 = b"%PDF-1.4\n% Facture FA-2026-0107\n%%EOF\n"
CONTENT_DEVIS = b"%PDF-1.4\n% Devis D-2026-031\n%%EOF\n"
CONTENT_BL_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(range(64)) + b"\xff\xd9"
CONTENT_AV_0005 = b"%PDF-1.4\n% Avoir AV-2026-0005\n%%EOF\n"
CONTENT_FA_0311 = b"%PDF-1.4\n% Facture FA-2026-0311\n%%EOF\n"
CONTENT_SUBROGATION = b"%PDF-1.4\n% Attestation de subrogation BNP PARIBAS FACTOR\n%%EOF\n"
CONTENT_V1_1187 = b"%PDF-1.4\n% Facture 2021-F-1187\n%%EOF\n"
CONTENT_V1_7781 = b"%PDF-1.4\n% Invoice BE-2021-7781\n%%EOF\n"


@pytest.fixture(scope="module")
def schema_dir():
    if not SCHEMA_DIR.is_dir():
        pytest.skip(
            f"AIFE PIVOT schemas folder not found at {SCHEMA_DIR}: XSD validation of the PIVOT "
            "samples is NOT tested (expected ../shared/schemas/chorus-pivot from the repo root)"
        )
    return SCHEMA_DIR


def _minimal_unit(number="MIN-0001", extra_data="", amounts=None, pj=None, supplier_id="55208131700018"):
    amounts = amounts or "<MontantHT>10.00</MontantHT><MontantTTC>12.00</MontantTTC><MontantNetAPayer>12.00</MontantNetAPayer>"
    pj = pj if pj is not None else (
        "<PJ><Contenu>JVBERi0=</Contenu><NomPJ>min.pdf</NomPJ><TypePJ>01</TypePJ>"
        "<MimeTypePJ>application/pdf</MimeTypePJ></PJ>"
    )
    return (
        "<CPPFacturePivotUnitaire>"
        f"<Fournisseur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>{supplier_id}</Identifiant>"
        "<RaisonSociale>ENTREPRISE DUPONT SAS</RaisonSociale><CodePays>FR</CodePays>"
        "<ModeEmission>flux</ModeEmission></Fournisseur>"
        "<Debiteur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>21730028400015</Identifiant></Debiteur>"
        f"<DonneesFacture><Id>{number}</Id><Type>380</Type><Cadre>A1</Cadre>"
        "<DateEmissionFacture>2026-03-01</DateEmissionFacture><ModePaiement><Code>30</Code></ModePaiement>"
        f"<DateReception>2026-03-02</DateReception><Devise>EUR</Devise><Montants>{amounts}</Montants>"
        f"{extra_data}</DonneesFacture>{pj}</CPPFacturePivotUnitaire>"
    )


def _file(*units, version="V2_02"):
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><CPPFacturePivot Version="{version}">'
        "<Enveloppe/><CPPFactures>" + "".join(units) + "</CPPFactures></CPPFacturePivot>"
    ).encode("utf-8")


# --------------------------------------------------------------------------- XSD


@pytest.mark.parametrize(
    "sample, xsd",
    [(BUNDLE_V2, "CPPFacturePivot_V2_02.xsd"), (INVOICES_V1, "CPPFacturePivot_V1_22.xsd")],
)
def test_samples_are_valid_against_their_schema(schema_dir, sample, xsd):
    assert validate_pivot(sample, schema_dir / xsd) == []


def test_validate_pivot_reports_schema_errors(schema_dir):
    # V2_02 elements are unknown to V1_22: the validator must say so, with line numbers.
    errors = validate_pivot(BUNDLE_V2, schema_dir / "CPPFacturePivot_V1_22.xsd")
    assert errors and all(re.match(r"^line \d+: ", error) for error in errors)
    assert any("IdCPRO" in error for error in errors)
    assert any("NomPJOrigine" in error for error in errors)
    # A missing mandatory element (the invoice total) is reported too.
    broken = BUNDLE_V2.read_bytes().replace(b"<MontantTTC>1200.00</MontantTTC>", b"", 1)
    errors = validate_pivot(broken, schema_dir / "CPPFacturePivot_V2_02.xsd")
    assert len(errors) == 1 and "MontantNetAPayer" in errors[0]


def test_validate_pivot_reports_syntax_errors(schema_dir):
    errors = validate_pivot(b"<CPPFacturePivot><Enveloppe></CPPFacturePivot>", schema_dir / "CPPFacturePivot_V2_02.xsd")
    assert len(errors) == 1 and errors[0].startswith("line 1: ")


# --------------------------------------------------------------------------- field mapping


def test_v2_02_bundle_every_field():
    invoices = read_pivot_invoices(BUNDLE_V2)
    assert [i.number for i in invoices] == ["FA-2026-0042", "FA-2026-0107", "AV-2026-0005", "FA-2026-0311"]
    assert {i.version for i in invoices} == {"V2_02"}

    plain, structured, credit_note, factored = invoices

    # 1. Plain invoice, paid on the supplier's own IBAN (given with spaces in the file).
    assert plain.chorus_id == 98765432
    assert plain.redelivery == "Non"
    assert plain.origin_invoice_number == ""
    assert plain.type_code == "380" and not plain.is_credit_note
    assert plain.frame == "A1"
    assert plain.issue_date == date(2026, 2, 26)
    assert plain.delivery_date == date(2026, 2, 20)
    assert plain.reception_date == date(2026, 3, 2)
    assert plain.currency == "EUR"
    assert (plain.payment_mode_code, plain.payment_mode_label) == ("30", "Virement")
    assert plain.amount_untaxed == Decimal("1000.00")
    assert plain.amount_total == Decimal("1200.00")
    assert plain.amount_to_pay == Decimal("1200.00")
    assert [(t.rate, t.base, t.amount) for t in plain.taxes] == [
        (Decimal("20.00"), Decimal("1000.00"), Decimal("200.00"))
    ]
    assert plain.contract == "2025-MAPA-017"
    assert plain.purchase_order == "EJ2026-000118"
    assert plain.lines == []
    supplier, bank = plain.supplier, plain.bank
    assert (supplier.identifier, supplier.identifier_type, supplier.name, supplier.country_code) == (
        "55208131700018", "SIRET", "ENTREPRISE DUPONT SAS", "FR")
    assert plain.emission_mode == "flux"
    assert (bank.account_type, bank.account, bank.bank_name, bank.holder) == (
        "IBAN", "FR7630001007941234567890185", "Banque de France", "")
    assert plain.debtor_identifier == "21730028400015"
    assert plain.debtor_name == "COMMUNE DE SAINT-ALBAN-LEYSSE"
    assert (plain.service_code, plain.service_name) == ("SERV-TECH", "Services techniques")
    assert len(plain.attachments) == 1
    pdf = plain.attachments[0]
    assert (pdf.name, pdf.original_name, pdf.category, pdf.type_code, pdf.mime_type) == (
        "FA-2026-0042.pdf", "", "", "01", "application/pdf"
    )
    assert pdf.content == CONTENT_FA_0042
    assert plain.main_document is pdf

    # 2. Structured invoice: two VAT rates, three lines, three attachments (one wrapped base64).
    assert structured.chorus_id == 98765501
    assert structured.redelivery == "Complétée"
    assert structured.delivery_date is None
    assert structured.reception_date == date(2026, 3, 5)
    assert structured.amount_untaxed == Decimal("2450.00")
    assert structured.amount_total == Decimal("2874.75")
    assert structured.amount_to_pay == Decimal("2874.75")
    assert [(t.rate, t.base, t.amount) for t in structured.taxes] == [
        (Decimal("20.00"), Decimal("2000.00"), Decimal("400.00")),
        (Decimal("5.50"), Decimal("450.00"), Decimal("24.75")),
    ]
    assert structured.contract == ""
    assert structured.purchase_order == "EJ2026-000231"
    assert [
        (l.sequence, l.reference, l.name, l.price_unit, l.quantity, l.amount_untaxed, l.tax_rate)
        for l in structured.lines
    ] == [
        (1, "RAMETTE-A4-80G", "RAMETTE-A4-80G", Decimal("4.50"), Decimal("400"), Decimal("1800.00"), Decimal("20.00")),
        (2, "LIVRE-JEUNESSE", "LIVRE-JEUNESSE", Decimal("15.00"), Decimal("30"), Decimal("450.00"), Decimal("5.50")),
        (3, "FRAIS-LIVRAISON", "FRAIS-LIVRAISON", Decimal("200.00"), Decimal("1"), Decimal("200.00"), Decimal("20.00")),
    ]
    assert sum(l.amount_untaxed for l in structured.lines) == structured.amount_untaxed
    assert structured.supplier.identifier == "43219876000022"
    assert structured.supplier.name == "LIBRAIRIE PAPETERIE DES ALPES SARL"
    assert structured.emission_mode == "saisie"
    assert structured.bank.account == "FR1420041010050500013M02606"  # lower case, spaces in file
    assert structured.bank.bank_name == "La Banque Postale"
    assert (structured.service_code, structured.service_name) == ("MEDIATHEQUE", "Médiathèque municipale")
    assert [
        (a.name, a.original_name, a.category, a.type_code, a.mime_type, a.content)
        for a in structured.attachments
    ] == [
        ("FA-2026-0107.pdf", "", "", "01", "application/pdf", CONTENT_FA_0107),
        ("PJ02-D-2026-031.pdf", "devis signé mars.pdf", "Devis", "02", "application/pdf", CONTENT_DEVIS),
        ("PJ03-BL-2026-0107.jpg", "bon de livraison.jpg", "Bon de livraison", "02", "image/jpeg", CONTENT_BL_JPEG),
    ]
    assert structured.main_document.name == "FA-2026-0107.pdf"

    # 3. Credit note on invoice 1, no bank reference, no payment label.
    assert credit_note.type_code == "381" and credit_note.is_credit_note
    assert credit_note.chorus_id == 98765577
    assert credit_note.origin_invoice_number == "FA-2026-0042"
    assert credit_note.issue_date == date(2026, 3, 4)
    assert (credit_note.payment_mode_code, credit_note.payment_mode_label) == ("30", "")
    assert credit_note.amount_total == Decimal("120.00")
    assert credit_note.bank is None
    assert credit_note.emission_mode == "PDF"
    assert credit_note.contract == "2025-MAPA-017"
    assert credit_note.main_document.content == CONTENT_AV_0005

    # 4. Factored invoice: the money goes to the factor named in RaisonSocialeEncaisseur.
    assert factored.supplier.name == "TRANSPORTS MARTIN ET FILS"
    assert factored.supplier.identifier == "81234567600017"
    assert factored.redelivery == "Recyclée"
    assert factored.bank.holder == "BNP PARIBAS FACTOR"
    assert factored.bank.bank_name == "BNP Paribas"
    assert factored.bank.account == "FR7630004000031234567890143"
    assert factored.delivery_date == date(2026, 3, 4)
    assert factored.reception_date == date(2026, 3, 6)
    assert factored.amount_total == Decimal("6000.00")
    assert factored.purchase_order == "EJ2026-000305" and factored.contract == ""
    assert (factored.debtor_name, factored.service_code, factored.service_name) == (
        "COMMUNE DE SAINT-ALBAN-LEYSSE", "", ""
    )
    assert [(a.type_code, a.category, a.content) for a in factored.attachments] == [
        ("01", "", CONTENT_FA_0311),
        ("02", "Subrogation", CONTENT_SUBROGATION),
    ]


def test_v1_22_file_every_field():
    first, second = read_pivot_invoices(INVOICES_V1)
    assert first.version == second.version == "V1_22"

    assert first.number == "2021-F-1187"
    assert first.chorus_id is None  # IdCPRO only exists since V2_02
    assert first.redelivery == ""
    assert first.delivery_date is None
    assert first.origin_invoice_number == "SCAN-000451"
    assert first.type_code == "380" and first.frame == "A1"
    assert first.issue_date == date(2021, 11, 15)
    assert first.reception_date == date(2021, 11, 17)
    assert (first.payment_mode_code, first.payment_mode_label) == ("42", "Paiement sur compte bancaire")
    assert (first.amount_untaxed, first.amount_total, first.amount_to_pay) == (
        Decimal("3410.00"), Decimal("3597.55"), Decimal("3597.55")
    )
    assert [(t.rate, t.base, t.amount) for t in first.taxes] == [
        (Decimal("5.5"), Decimal("3410.00"), Decimal("187.55"))
    ]
    assert (first.contract, first.purchase_order) == ("AO-2019-PHA-04", "BC-2021-07712")
    assert (first.supplier.identifier_type, first.supplier.identifier, first.supplier.name) == (
        "SIRET", "38012986600642", "LABORATOIRES ALPINS SA")
    assert first.emission_mode == "numérisation"
    assert (first.bank.account_type, first.bank.account, first.bank.bank_name) == (
        "RIB", "30002005500000157845Z02", "Crédit Lyonnais")
    assert first.debtor_identifier == "26730000200016"
    assert first.debtor_name == "CENTRE HOSPITALIER METROPOLE SAVOIE"
    assert (first.service_code, first.service_name) == ("PHARMACIE", "Pharmacie à usage intérieur")
    assert [(a.name, a.original_name, a.category, a.type_code, a.mime_type, a.content) for a in first.attachments] == [
        ("2021-F-1187.pdf", "", "", "01", "application/pdf", CONTENT_V1_1187)
    ]

    assert second.number == "BE-2021-7781"
    assert second.supplier.identifier_type == "UE_HORS_FRANCE"
    assert second.supplier.identifier == "BE0403170701"
    assert second.supplier.country_code == "BE"
    assert second.bank.account_type == "IBAN" and second.bank.account == "BE71096123456769"
    assert second.bank.bank_name == "" and second.bank.holder == ""
    assert second.taxes == []
    assert (second.contract, second.purchase_order) == ("", "")
    assert (second.debtor_name, second.service_code) == ("", "")
    assert [(l.sequence, l.reference, l.price_unit, l.quantity, l.amount_untaxed, l.tax_rate) for l in second.lines] == [
        (1, "GANTS-NITRILE-M", Decimal("7.80"), Decimal("100"), Decimal("780.00"), None)
    ]
    assert second.attachments[0].content == CONTENT_V1_7781


def _namespaced_copy(raw: bytes, namespace: str) -> bytes:
    tree = etree.fromstring(raw)
    for element in tree.iter(etree.Element):
        element.tag = f"{{{namespace}}}{etree.QName(element).localname}"
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def test_namespace_qualified_files_parse_the_same():
    raw = BUNDLE_V2.read_bytes()
    expected = read_pivot_invoices(raw)

    default_ns = raw.replace(
        b'<CPPFacturePivot Version="V2_02">',
        b'<CPPFacturePivot xmlns="http://chorus-pro.gouv.fr/cpp/pivot" Version="V2_02">',
    )
    assert b'xmlns="http://chorus-pro.gouv.fr/cpp/pivot"' in default_ns
    assert etree.QName(etree.fromstring(default_ns)).namespace == "http://chorus-pro.gouv.fr/cpp/pivot"
    assert read_pivot_invoices(default_ns) == expected

    prefixed = _namespaced_copy(raw, "urn:example:pivot")
    assert b"<ns0:CPPFacturePivotUnitaire" in prefixed
    assert read_pivot_invoices(prefixed) == expected


def test_unknown_elements_ignored_and_optional_elements_default():
    extra = "<ElementFutur><Sous>valeur</Sous></ElementFutur>"
    unit = _minimal_unit(extra_data=extra).replace(
        "<ModeEmission>", "<ChampInconnu>x</ChampInconnu><ModeEmission>"
    )
    (invoice,) = read_pivot_invoices(_file(unit))
    assert invoice.number == "MIN-0001"
    assert invoice.chorus_id is None and invoice.redelivery == ""
    assert invoice.taxes == [] and invoice.lines == []
    assert invoice.purchase_order == "" and invoice.contract == ""
    assert invoice.bank is None
    assert invoice.debtor_name == "" and invoice.service_code == ""
    assert invoice.payment_mode_label == ""
    assert invoice.attachments[0].content == b"%PDF-"

    # Without Type / Devise / amounts other than TTC, defaults apply.
    bare = _minimal_unit(amounts="<MontantTTC>12.00</MontantTTC>").replace("<Type>380</Type>", "").replace(
        "<Devise>EUR</Devise>", ""
    )
    (invoice,) = read_pivot_invoices(_file(bare))
    assert invoice.type_code == "380" and invoice.currency == "EUR"
    assert invoice.amount_untaxed is None and invoice.amount_to_pay is None
    assert invoice.amount_total == Decimal("12.00")


def test_dates_with_time_zone_and_empty_bank_reference():
    unit = _minimal_unit().replace(
        "<DateReception>2026-03-02</DateReception>", "<DateReception>2026-03-02+01:00</DateReception>"
    ).replace("<ModeEmission>", '<ReferenceBancaire Type="IBAN"/><ModeEmission>')
    (invoice,) = read_pivot_invoices(_file(unit))
    assert invoice.reception_date == date(2026, 3, 2)
    assert invoice.bank is None


def test_sources_path_str_file_object_and_bytes():
    by_path = read_pivot_invoices(BUNDLE_V2)
    assert read_pivot_invoices(str(BUNDLE_V2)) == by_path
    assert read_pivot_invoices(BUNDLE_V2.read_bytes()) == by_path
    with open(BUNDLE_V2, "rb") as handle:
        assert read_pivot_invoices(handle) == by_path
        assert not handle.closed  # the caller's file stays the caller's
    with pytest.raises(TypeError):
        read_pivot_invoices(12)


def test_stopping_early_closes_the_file(monkeypatch):
    opened = []
    real_open = open

    def spy_open(*args, **kwargs):
        handle = real_open(*args, **kwargs)
        opened.append(handle)
        return handle

    monkeypatch.setattr("builtins.open", spy_open)
    iterator = iter_pivot_invoices(BUNDLE_V2)
    assert next(iterator).number == "FA-2026-0042"
    iterator.close()
    assert opened and all(handle.closed for handle in opened)


# --------------------------------------------------------------------------- errors


def test_syntax_error_mid_file_yields_invoices_before_then_raises():
    raw = BUNDLE_V2.read_bytes().replace(b"<Id>AV-2026-0005</Id>", b"<Id>AV-2026-0005</Idd>")
    for on_error in ("raise", "skip"):
        seen = []
        with pytest.raises(PivotError) as caught:
            for invoice in iter_pivot_invoices(raw, on_error=on_error):
                seen.append(invoice.number)
        assert seen == ["FA-2026-0042", "FA-2026-0107"]
        error = caught.value
        assert isinstance(error, ValueError)
        assert error.position == 3
        assert error.line == raw[: raw.index(b"</Idd>")].count(b"\n") + 1
        assert "malformed XML" in str(error) and "FA-2026-0107" in str(error)
        assert f"line {error.line}" in str(error)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"", "malformed XML"),
        (b"not xml at all", "malformed XML"),
        (b"<html><body>Service indisponible</body></html>", "root element is <html>"),
        (b'<?xml version="1.0"?><CPPStatutPivot/>', "root element is <CPPStatutPivot>"),
    ],
)
def test_not_a_pivot_file(raw, fragment):
    with pytest.raises(PivotError) as caught:
        read_pivot_invoices(raw)
    assert fragment in str(caught.value)


def test_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    raw = _file(_minimal_unit(number="&xxe;")).replace(
        b"<CPPFacturePivot ",
        f'<!DOCTYPE CPPFacturePivot [<!ENTITY xxe SYSTEM "file://{secret}">]><CPPFacturePivot '.encode(),
    )
    with pytest.raises(PivotError) as caught:
        read_pivot_invoices(raw)
    assert "DOCTYPE" in str(caught.value)
    assert "TOP-SECRET" not in str(caught.value)


def _bundle_with_bad_second_invoice(old: bytes, new: bytes) -> bytes:
    raw = BUNDLE_V2.read_bytes()
    assert raw.count(old) >= 1
    second = raw.index(b'<CPPFacturePivotUnitaire NumOrdre="2">')
    position = raw.index(old, second)
    return raw[:position] + new + raw[position + len(old):]


@pytest.mark.parametrize(
    "old, new, reason",
    [
        (b"<Id>FA-2026-0107</Id>", b"<Id></Id>", "missing invoice number"),
        (b"<MontantTTC>2874.75</MontantTTC>", b"", "missing amount Montants/MontantTTC"),
        (b"<MontantTTC>2874.75</MontantTTC>", b"<MontantTTC>2874,75</MontantTTC>", "invalid decimal in Montants/MontantTTC"),
        (b"<Identifiant>43219876000022</Identifiant>", b"<Identifiant/>", "missing supplier identifier"),
        (b"<DateReception>2026-03-05</DateReception>", b"<DateReception>2026-02-30</DateReception>", "invalid date in DateReception"),
        (b"<IdCPRO>98765501</IdCPRO>", b"<IdCPRO>98765501x</IdCPRO>", "invalid integer in IdCPRO"),
        (b"<Contenu>", b"<Contenu>@@not-base64@@", "content is not valid base64"),
        (b"<Contenu>", "<Contenu>é".encode(), "content is not base64"),
    ],
)
def test_bad_invoice_raises_or_is_skipped(old, new, reason):
    raw = _bundle_with_bad_second_invoice(old, new)

    seen = []
    with pytest.raises(PivotError) as caught:
        for invoice in iter_pivot_invoices(raw):
            seen.append(invoice.number)
    assert seen == ["FA-2026-0042"]
    error = caught.value
    assert error.position == 2
    assert reason in str(error)
    assert "invoice #2" in str(error)
    if reason != "missing invoice number":
        assert error.invoice_number == "FA-2026-0107"
        assert "FA-2026-0107" in str(error)
    assert error.line and error.line > 1

    errors = []
    kept = [i.number for i in iter_pivot_invoices(raw, on_error="skip", errors=errors)]
    assert kept == ["FA-2026-0042", "AV-2026-0005", "FA-2026-0311"]
    assert len(errors) == 1 and errors[0].position == 2 and reason in str(errors[0])


def test_on_error_must_be_known():
    with pytest.raises(ValueError):
        read_pivot_invoices(BUNDLE_V2, on_error="ignore")


# --------------------------------------------------------------------------- size


BIG_INVOICES = 200
BIG_ATTACHMENT = 200_000


def _big_content(index: int) -> bytes:
    seed = hashlib.sha256(str(index).encode()).digest()
    return (seed * (BIG_ATTACHMENT // len(seed) + 1))[:BIG_ATTACHMENT]


@pytest.fixture(scope="module")
def big_pivot_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pivot") / "big.xml"
    with open(path, "wb") as handle:
        handle.write(b'<?xml version="1.0" encoding="UTF-8"?><CPPFacturePivot Version="V2_02"><Enveloppe/><CPPFactures>')
        for index in range(BIG_INVOICES):
            pj = (
                "<PJ><Contenu>" + base64.b64encode(_big_content(index)).decode() + "</Contenu>"
                f"<NomPJ>BIG-{index:05d}.pdf</NomPJ><TypePJ>01</TypePJ><MimeTypePJ>application/pdf</MimeTypePJ></PJ>"
            )
            handle.write(_minimal_unit(number=f"BIG-{index:05d}", pj=pj).encode())
        handle.write(b"</CPPFactures></CPPFacturePivot>")
    yield path
    path.unlink()


def _resident_bytes():
    # tracemalloc does not see libxml2's own allocations (the tree): resident memory does.
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _parse_measuring(path):
    """Parse ``path``, check every invoice, return (peak traced, peak resident growth)."""
    count = 0
    tracemalloc.start()
    try:
        baseline = _resident_bytes()
        resident_growth = 0
        for invoice in iter_pivot_invoices(path):
            assert invoice.number == f"BIG-{count:05d}"
            assert invoice.attachments[0].content == _big_content(count)
            count += 1
            resident_growth = max(resident_growth, _resident_bytes() - baseline)
        invoice = None
        traced_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == BIG_INVOICES
    return traced_peak, resident_growth


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc to measure memory")
def test_big_bundle_parsed_with_bounded_memory(big_pivot_file):
    size = big_pivot_file.stat().st_size
    assert size > BIG_INVOICES * BIG_ATTACHMENT  # > 40 MB on disk
    traced_peak, resident_growth = _parse_measuring(big_pivot_file)
    # One invoice at a time: about one attachment (decoded + base64 text), far from the file size.
    assert traced_peak < size / 10, (traced_peak, size)
    assert resident_growth < size / 4, (resident_growth, size)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc to measure memory")
def test_memory_probe_catches_a_parser_that_keeps_the_tree(big_pivot_file, monkeypatch):
    # Control for the test above: without freeing parsed invoices, the probe must see the growth.
    monkeypatch.setattr(pivot, "_release", lambda element: None)
    size = big_pivot_file.stat().st_size
    _traced_peak, resident_growth = _parse_measuring(big_pivot_file)
    assert resident_growth > size / 4, (resident_growth, size)


def test_attachment_over_libxml2_default_text_limit(tmp_path):
    content = os.urandom(8 * 1024 * 1024)  # base64: ~11.2 MB, over libxml2's 10 MB text-node limit
    pj = (
        "<PJ><Contenu>" + base64.b64encode(content).decode() + "</Contenu><NomPJ>gros.pdf</NomPJ>"
        "<TypePJ>01</TypePJ><MimeTypePJ>application/pdf</MimeTypePJ></PJ>"
    )
    path = tmp_path / "huge.xml"
    path.write_bytes(_file(_minimal_unit(number="HUGE-1", pj=pj)))
    # Without huge_tree, lxml refuses this file: the option is what makes it work.
    with pytest.raises(etree.XMLSyntaxError):
        for _event, _element in etree.iterparse(str(path)):
            pass
    (invoice,) = read_pivot_invoices(path)
    assert invoice.attachments[0].content == content


def test_error_message_never_quotes_attachment_content():
    raw = _bundle_with_bad_second_invoice(b"<Contenu>", b"<Contenu>SECRETPAYLOAD%%%")
    with pytest.raises(PivotError) as caught:
        read_pivot_invoices(raw)
    assert "SECRETPAYLOAD" not in str(caught.value)
    assert "FA-2026-0107.pdf" in str(caught.value)


def test_pivot_error_message_shape():
    error = PivotError("missing amount", position=3, invoice_number="FA-1", chorus_id=42, line=7)
    assert str(error) == "PIVOT invoice #3, number FA-1, IdCPRO 42, line 7: missing amount"
    assert str(PivotError("bad")) == "PIVOT: bad"
