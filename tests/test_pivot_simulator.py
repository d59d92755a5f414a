"""Cross-test: the simulator's PIVOT generator against the library's PIVOT parser.

For every invoice of a default simulator world, the PIVOT the simulator hands out must (1)
validate against the AIFE schema ``CPPFacturePivot_V2_02.xsd`` and (2) be read back by
:func:`chorus_pro.pivot.iter_pivot_invoices` into records equal to the world's own data —
identifiers, parties, bank details, amounts to the cent, VAT recap, lines, engagement, frame and
every embedded file byte for byte. A mismatch is a bug on one side or the other.

The files are built with :func:`chorus_pro.simulator.documents.build_pivot`, the function
``telecharger/groupe`` uses (no HTTP needed here; the integration tests cover the transport), so
that even the invoice whose download the API refuses is covered.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree

from chorus_pro.pivot import iter_pivot_invoices, validate_pivot
from chorus_pro.simulator import documents
from chorus_pro.simulator.generator import generate_world
from chorus_pro.simulator.world import World, frame_short_code
from chorus_pro.timeutil import PARIS

ANCHOR = date(2026, 3, 15)
SEED = 20260101  # the simulator's default seed: the world `make demo` shows
SCHEMA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "chorus-pivot"
PIVOT_XSD = SCHEMA_DIR / "CPPFacturePivot_V2_02.xsd"
PRODUCED_AT = datetime(2026, 3, 15, 10, 0, tzinfo=PARIS)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=SEED, anchor_date=ANCHOR)


@pytest.fixture(scope="module")
def schema_path() -> Path:
    if not PIVOT_XSD.exists():
        pytest.skip(f"!!! PIVOT XSD NOT FOUND at {PIVOT_XSD}: the simulator's PIVOT files are NOT "
                    "validated against the AIFE schema (it lives in ../shared/schemas/chorus-pivot"
                    " next to the repository) !!!")
    return PIVOT_XSD


@pytest.fixture(scope="module")
def cache():
    return documents.DocumentCache()


def build(world: World, invoices, cache) -> bytes:
    return documents.build_pivot(world, list(invoices), produced_at=PRODUCED_AT,
                                 flow_id="CPP20260315100000000001", cache=cache)


@pytest.fixture(scope="module")
def bundle(world, cache) -> bytes:
    return build(world, world.invoices.values(), cache)


def single_samples(world: World) -> list:
    """A few invoices downloaded alone: one of each notable kind."""
    return [world.first_tagged(tag) for tag in
            ("factored", "credit_note", "multi_attachments", "multi_vat", "pdf_only", "a2",
             "completed", "works", "xml_main")]


def assert_matches_world(world: World, parsed, cache) -> None:
    """Every field the PIVOT carries equals the simulator's data for that invoice."""
    invoice = world.invoices[parsed.chorus_id]
    context = f"{invoice.number} ({invoice.id})"
    supplier = world.supplier_of(invoice)
    payee = world.payee_of(invoice)
    structure = world.structures[invoice.structure_id]
    service = structure.service_by_code(invoice.service_code)

    assert parsed.version == "V2_02", context
    assert parsed.number == invoice.number, context
    assert parsed.redelivery == invoice.redelivery, context
    assert parsed.type_code == ("381" if invoice.is_credit_note else "380"), context
    assert parsed.is_credit_note == invoice.is_credit_note, context
    assert parsed.origin_invoice_number == invoice.origin_invoice_number, context
    assert parsed.frame == frame_short_code(invoice.frame), context
    assert parsed.issue_date == invoice.invoice_date, context
    assert parsed.delivery_date == invoice.delivery_date, context
    assert parsed.reception_date == invoice.deposit_date, context
    assert parsed.currency == invoice.currency, context
    assert (parsed.payment_mode_code, parsed.payment_mode_label) == \
        documents.PAYMENT_MODES[invoice.payment_mode], context

    # Amounts to the cent (Decimal equality: 12.5 == 12.50, never a float).
    assert parsed.amount_untaxed == invoice.amount_ht, context
    assert parsed.amount_total == invoice.amount_ttc, context
    assert parsed.amount_to_pay == invoice.amount_to_pay, context
    assert [(t.rate, t.base, t.amount) for t in parsed.taxes] == \
        [(v.rate, v.base, v.amount) for v in invoice.vat], context
    assert sum(t.amount for t in parsed.taxes) == invoice.amount_vat, context

    assert parsed.purchase_order == invoice.purchase_order, context
    assert parsed.contract == invoice.contract, context
    assert [(line.sequence, line.reference, line.quantity, line.price_unit, line.tax_rate,
             line.amount_untaxed) for line in parsed.lines] == \
        [(line.number, line.reference, line.quantity, line.unit_price, line.vat_rate,
          line.amount_ht) for line in invoice.lines], context

    assert parsed.supplier.identifier == supplier.siret, context
    assert parsed.supplier.identifier_type == "SIRET", context
    assert parsed.supplier.name == supplier.name, context
    assert parsed.supplier.country_code == "FR", context
    # ReferenceBancaire: the payee's account (the factor's when factored); Etablissement holds a
    # BIC in the simulator's files, so the parser must take it as the BIC, not as a bank name.
    assert parsed.bank is not None, context
    assert parsed.bank.account_type == "IBAN", context
    assert parsed.bank.account == payee.iban, context
    assert parsed.bank.bic == payee.bic, context
    assert parsed.bank.bank_name == "", context
    assert parsed.bank.holder == payee.name, context
    factor = world.factor_of(invoice)
    if factor is not None:
        assert parsed.bank.holder == factor.name != supplier.name, context

    assert parsed.debtor_identifier == structure.siret, context
    assert parsed.debtor_name == structure.name, context
    assert parsed.service_code == (service.code if service else ""), context
    assert parsed.service_name == (service.name if service else ""), context

    # Every attachment came zipped (as from the portal) and is read back unzipped, its MIME
    # type from its bytes: PDFs, and the UBL XML of an invoice deposited as a flow.
    assert len(parsed.attachments) == len(invoice.attachments), context
    for got, expected in zip(parsed.attachments, invoice.attachments):
        assert got.name == expected.name, context
        assert got.archive_member == expected.name, context
        assert got.type_code == expected.type_code, context
        if expected.type_code == "02":
            assert (got.original_name, got.category) == (expected.name, expected.category), \
                context
        assert got.content == documents.attachment_content(world, invoice, expected, cache), \
            (context, expected.name)
        if expected.is_xml:
            assert got.mime_type == documents.XML_MIME, context
            assert etree.fromstring(got.content).findtext(
                f"{{{documents.UBL_CBC}}}ID") == invoice.number, context
        else:
            assert got.mime_type == documents.PDF_MIME, context
            assert got.content.startswith(b"%PDF-"), context
    assert parsed.main_document is not None, context
    if "xml_main" in invoice.tags:
        assert parsed.main_document.mime_type == documents.XML_MIME, context
        assert parsed.main_pdf is None, context
    else:
        assert parsed.main_pdf is parsed.main_document, context
        assert parsed.main_document.content == documents.render_invoice_pdf(world, invoice), \
            context


def test_bundle_of_every_invoice_validates_against_the_xsd(bundle, schema_path):
    assert validate_pivot(bundle, schema_path) == []


def test_each_sample_invoice_alone_validates_against_the_xsd(world, cache, schema_path):
    for invoice in single_samples(world):
        assert validate_pivot(build(world, [invoice], cache), schema_path) == [], invoice.number


def test_bundle_of_every_invoice_parses_into_the_world_data(world, bundle, cache):
    parsed = list(iter_pivot_invoices(bundle))
    assert [p.chorus_id for p in parsed] == list(world.invoices)  # all of them, in order
    for invoice in parsed:
        assert_matches_world(world, invoice, cache)


def test_each_sample_invoice_alone_parses_into_the_world_data(world, cache):
    for invoice in single_samples(world):
        parsed = list(iter_pivot_invoices(build(world, [invoice], cache)))
        assert [p.chorus_id for p in parsed] == [invoice.id]
        assert_matches_world(world, parsed[0], cache)


def test_notable_invoices_carry_what_makes_them_notable(world, bundle):
    """The world has what the comparisons above are meant to exercise (so they cannot pass on
    a world without factored, structured, multi-VAT, credit-note or completed invoices)."""
    by_id = {p.chorus_id: p for p in iter_pivot_invoices(bundle)}
    factored = by_id[world.first_tagged("factored").id]
    assert factored.bank.holder == world.factors[0].name
    assert factored.bank.account == world.factors[0].iban
    assert len(by_id[world.first_tagged("multi_vat").id].taxes) == 3
    assert by_id[world.first_tagged("structured").id].lines
    assert not by_id[world.first_tagged("pdf_only").id].lines
    credit_note = by_id[world.first_tagged("credit_note").id]
    assert credit_note.is_credit_note and credit_note.origin_invoice_number
    assert by_id[world.first_tagged("completed").id].redelivery == "Complétée"
    assert by_id[world.first_tagged("a2").id].amount_to_pay == 0
    several = by_id[world.first_tagged("multi_attachments").id]
    assert [a.type_code for a in several.attachments].count("02") >= 3
    assert any(p.purchase_order and p.contract for p in by_id.values())
    xml_main = by_id[world.first_tagged("xml_main").id]
    assert xml_main.main_document.declared_mime_type == "application/xml"
    assert xml_main.main_document.name.endswith(".xml")


def test_every_attachment_is_a_zip_in_the_file(world, bundle):
    """The portal's shape: each PJ/Contenu is the base64 of a ZIP with one member named after
    the file (the parser above read them back unzipped)."""
    import base64
    import io
    import zipfile

    contents = etree.fromstring(bundle).iter("Contenu")
    count = 0
    for element in contents:
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(element.text)))
        assert len(archive.namelist()) == 1
        count += 1
    assert count == sum(len(invoice.attachments) for invoice in world.invoices.values())


def test_pdf_format_gives_the_portal_rendering_of_an_xml_invoice(world, cache):
    """Format PDF of an invoice deposited as UBL: Chorus's PDF rendering, named .pdf."""
    invoice = world.first_tagged("xml_main")
    content, kind = documents.build_pdf_bundle(world, [invoice], False, cache)
    assert kind == "pdf" and content.startswith(b"%PDF-")
    assert content == documents.render_invoice_pdf(world, invoice)
    assert documents.pdf_rendering_name(invoice.main_attachment).endswith(".pdf")


def test_malformed_pivot_fails_the_xsd_but_the_others_still_parse(world, cache, schema_path):
    """The simulator's ``malformed_pivot`` corruption is really invalid, and the parser's
    ``on_error="skip"`` reads the rest of the bundle."""
    victim = world.first_tagged("pdf_only")
    victim.corruption = "malformed_pivot"
    try:
        xml = build(world, [world.first_tagged("factored"), victim], documents.DocumentCache())
    finally:
        victim.corruption = ""
    assert validate_pivot(xml, schema_path)
    errors: list = []
    parsed = list(iter_pivot_invoices(xml, on_error="skip", errors=errors))
    assert [p.chorus_id for p in parsed] == [world.first_tagged("factored").id]
    assert [e.chorus_id for e in errors] == [victim.id]
    assert etree.fromstring(xml).find("CPPFactures").get("Compteur") == "2"
