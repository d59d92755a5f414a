"""PIVOT files in the shapes the real portal sends (issue 12): zipped attachments, no ``Version``,
a UBL main document, older V1_22 files, and hostile archives (zip bomb, path-like member names).

The samples in ``tests/data/pivot`` were written for these tests (fictitious companies) and
validate against the AIFE schemas; see the comment at the top of each.
"""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chorus_pro.pivot import (
    PivotError,
    UnpackLimits,
    iter_pivot_invoices,
    read_pivot_invoices,
    sniff_mime_type,
    unpack_zip,
    validate_pivot,
)
from chorus_pro.timeutil import PARIS

DATA_DIR = Path(__file__).resolve().parent / "data" / "pivot"
SCHEMA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "chorus-pivot"
REAL_SHAPES = DATA_DIR / "real_shapes_v2_02.xml"
OLD_V1_22 = DATA_DIR / "old_v1_22_without_version.xml"
HOSTILE = DATA_DIR / "hostile_bundle.xml"


def zipped(*members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def pivot_with(content: bytes, name="f.pdf", mime="application/pdf", *, version=True) -> bytes:
    root = '<CPPFacturePivot Version="V2_02">' if version else "<CPPFacturePivot>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{root}<Enveloppe/><CPPFactures>'
        "<CPPFacturePivotUnitaire><Fournisseur><Identifiant>55208131700018</Identifiant>"
        "</Fournisseur><DonneesFacture><Id>T-1</Id><IdCPRO>7</IdCPRO><Montants>"
        "<MontantTTC>12.00</MontantTTC></Montants></DonneesFacture>"
        f"<PJ><Contenu>{base64.b64encode(content).decode()}</Contenu><NomPJ>{name}</NomPJ>"
        f"<TypePJ>01</TypePJ><MimeTypePJ>{mime}</MimeTypePJ></PJ>"
        "</CPPFacturePivotUnitaire></CPPFactures></CPPFacturePivot>"
    ).encode()


@pytest.fixture(scope="module")
def schemas():
    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"AIFE PIVOT schemas not found at {SCHEMA_DIR}: samples NOT validated")
    return SCHEMA_DIR


@pytest.mark.parametrize("sample, xsd", [
    (REAL_SHAPES, "CPPFacturePivot_V2_02.xsd"),
    (OLD_V1_22, "CPPFacturePivot_V1_22.xsd"),
    (HOSTILE, "CPPFacturePivot_V2_02.xsd"),
])
def test_samples_are_valid_pivot_files(schemas, sample, xsd):
    assert validate_pivot(sample, schemas / xsd) == []


# --------------------------------------------------------------------------- real shapes


def test_real_shapes_sample_is_read_with_every_attachment_unzipped():
    first, second, third = read_pivot_invoices(REAL_SHAPES)
    # No Version attribute: the schema location names it. Envelope parameters are read.
    assert {p.version for p in (first, second, third)} == {"V2_02"}
    assert first.flow_id == "CPP20260302091407000042"
    assert first.produced_at == datetime(2026, 3, 2, 9, 14, 7, tzinfo=PARIS)
    assert (first.number, first.chorus_id, first.amount_total) == \
        ("FA-2026-0512", 98770512, Decimal("1200.00"))
    assert first.contract == ""  # <NumeroMarche/>
    assert first.purchase_order == "EJ2026-000311"
    assert first.service_code == ""  # <CodeService/>

    # A UBL main document: XML, not a PDF; the PDF rendering must be asked for.
    main = first.main_document
    assert main.mime_type == "application/xml" and main.declared_mime_type == "application/xml"
    assert main.content.startswith(b"<?xml") and b"<cbc:ID>FA-2026-0512</cbc:ID>" in main.content
    assert main.archive_member == "FA-2026-0512.xml" and main.name == "FA-2026-0512.xml"
    assert first.main_pdf is None
    # Trailing spaces trimmed from the names.
    delivery = first.attachments[1]
    assert (delivery.name, delivery.original_name) == \
        ("Bon de livraison BL-2026-0077.pdf", "Bon de livraison BL-2026-0077.pdf")
    assert delivery.content.startswith(b"%PDF-") and delivery.category == "Bon de livraison"

    # A PDF declared application/octet-stream is a PDF; a raw (unzipped) JPEG is kept as is.
    assert second.main_pdf is second.main_document
    assert second.main_document.mime_type == "application/pdf"
    assert second.main_document.declared_mime_type == "application/octet-stream"
    photo = second.attachments[1]
    assert photo.mime_type == "image/jpeg" and photo.archive_member == ""
    assert photo.content.startswith(b"\xff\xd8\xff")

    # One PJ zipping two files: each kept, named by its member (last path part, cleaned).
    assert [(a.name, a.type_code, a.mime_type) for a in third.attachments] == [
        ("FA-2026-0514.pdf", "01", "application/pdf"),
        ("photo chantier.png", "01", "image/png"),
        ("PV reception.pdf", "02", "application/pdf"),
    ]
    assert third.main_document.name == "FA-2026-0514.pdf"  # the PDF comes first


def test_old_v1_22_file_without_version_is_read():
    (invoice,) = read_pivot_invoices(OLD_V1_22)
    assert invoice.version == "V1_22"  # from xsi:noNamespaceSchemaLocation
    assert invoice.produced_at == datetime(2019, 6, 3, tzinfo=PARIS)  # date-only DtPrd
    assert invoice.flow_id == "CPP20190603-000017"
    assert invoice.chorus_id is None and invoice.redelivery == ""
    assert invoice.number == "2019-F-0311" and invoice.amount_total == Decimal("600.00")
    assert invoice.contract == ""
    # IdOriginal and CycleDeValidation do not disturb the attachment nor the invoice.
    assert invoice.main_pdf is not None and invoice.main_pdf.content.startswith(b"%PDF-")
    assert len(invoice.attachments) == 1


# --------------------------------------------------------------------------- hostile archives


def test_hostile_bundle_isolates_the_bomb_and_the_path_like_member():
    errors: list = []
    parsed = list(iter_pivot_invoices(HOSTILE, on_error="skip", errors=errors))
    assert [p.number for p in parsed] == ["FA-2026-0600", "FA-2026-0603"]
    assert all(p.main_pdf.content.startswith(b"%PDF-") for p in parsed)
    bomb, path = errors
    assert (bomb.chorus_id, bomb.invoice_number, bomb.position) == (98770601, "FA-2026-0601", 2)
    assert "zip bomb" in str(bomb) and "unpacks to more than" in str(bomb)
    assert (bomb.code, bomb.params["label"]) == ("zip_bomb", "FA-2026-0601.pdf")
    assert path.chorus_id == 98770602
    assert "../../etc/passwd" in str(path) and "outside the archive" in str(path)
    assert (path.code, path.params["member"]) == ("unsafe_name", "../../etc/passwd")


def test_hostile_bundle_raises_on_the_bomb_by_default():
    with pytest.raises(PivotError, match="zip bomb"):
        read_pivot_invoices(HOSTILE)


def test_the_declared_sizes_are_checked_before_inflating():
    content = zipped(("big.pdf", b"%PDF-" + bytes(3 * 1024 * 1024)))
    with pytest.raises(PivotError, match="unpacks to more than"):
        unpack_zip(content, "big.pdf", UnpackLimits(max_bytes=1024 * 1024))


def test_a_forged_declared_size_never_inflates_more_the_archive_is_damaged():
    content = bytearray(zipped(("lie.pdf", bytes(4 * 1024 * 1024))))
    # Patch the central directory's uncompressed size (offset 24 of the entry) to 10 bytes:
    # inflating stops at 10 bytes, whose checksum is then wrong.
    central = content.rfind(b"PK\x01\x02")
    content[central + 24:central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(PivotError) as caught:
        unpack_zip(bytes(content), "lie.pdf")
    assert caught.value.code == "damaged_archive"
    assert "lie.pdf" in str(caught.value)


def test_absolute_cap_applies_to_files_that_compress_normally():
    limits = UnpackLimits(max_bytes=2000, max_ratio=1000, ratio_floor=0)
    random_like = bytes((i * 7919) % 251 for i in range(3000))
    with pytest.raises(PivotError, match="unpacks to more than 2000 bytes"):
        unpack_zip(zipped(("a.bin", random_like)), "a", limits)


@pytest.mark.parametrize("member", [
    "../../etc/passwd", "/etc/passwd", "a/../../b.pdf", "..\\..\\windows\\win.ini",
    "C:\\temp\\x.pdf",
])
def test_member_names_leaving_the_archive_are_refused(member):
    with pytest.raises(PivotError, match="points outside the archive"):
        read_pivot_invoices(pivot_with(zipped((member, b"%PDF-1.4\n"))))


def test_member_names_are_labels_not_paths():
    (invoice,) = read_pivot_invoices(pivot_with(
        zipped(("dossier/sous dossier/Facture\x01 T-1.pdf  ", b"%PDF-1.4\n")), name=""
    ))
    assert invoice.main_document.name == "Facture T-1.pdf"
    assert invoice.main_document.archive_member == "Facture T-1.pdf"


@pytest.mark.parametrize("member, label", [
    ("facture\u202efdp.exe", "facturefdp.exe"),  # right-to-left override: shown "pdf.exe"
    ("Fac\u200bture.pdf", "Facture.pdf"),  # zero-width space
    ("Facture\tmars.pdf", "Facture mars.pdf"),
])
def test_member_names_lose_invisible_characters_like_any_stored_file_name(member, label):
    (invoice,) = read_pivot_invoices(pivot_with(zipped((member, b"%PDF-1.4\n")), name=""))
    assert invoice.main_document.name == invoice.main_document.archive_member == label
    assert unpack_zip(zipped(("1_F/" + member, b"x")), keep_folders=True)[0][0] == "1_F/" + label


def test_a_refused_member_name_is_shown_without_its_invisible_characters():
    with pytest.raises(PivotError) as caught:
        read_pivot_invoices(pivot_with(zipped(("../\u202eexe.pdf", b"%PDF-1.4\n"))))
    assert caught.value.params["member"] == "../?exe.pdf"


def test_damaged_encrypted_and_empty_archives_are_clear_errors():
    damaged = zipped(("f.pdf", b"%PDF-1.4\n" * 100))
    damaged = damaged[:40] + b"\x00" * 30 + damaged[70:]
    with pytest.raises(PivotError, match="damaged"):
        read_pivot_invoices(pivot_with(damaged))
    encrypted = bytearray(zipped(("f.pdf", b"%PDF-1.4\n")))
    encrypted[6] |= 0x1  # local header flag
    central = encrypted.rfind(b"PK\x01\x02")
    encrypted[central + 8] |= 0x1  # central directory flag
    with pytest.raises(PivotError, match="password-protected"):
        read_pivot_invoices(pivot_with(bytes(encrypted)))
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    # An empty archive starts with the end-of-directory record, not PK\x03\x04: kept raw.
    (invoice,) = read_pivot_invoices(pivot_with(empty.getvalue()))
    assert invoice.main_document.mime_type == "application/octet-stream"


def test_raw_content_is_still_accepted_without_version_attribute():
    (invoice,) = read_pivot_invoices(pivot_with(b"%PDF-1.7\nraw\n", version=False))
    assert invoice.version == "" and invoice.main_pdf.content == b"%PDF-1.7\nraw\n"


@pytest.mark.parametrize("content, declared, expected", [
    (b"%PDF-1.4", "", "application/pdf"),
    (b"%PDF-1.4", "application/octet-stream", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n....", "application/pdf", "image/png"),
    (b"\xff\xd8\xff\xe0", "", "image/jpeg"),
    (b"GIF89a", "", "image/gif"),
    (b"II*\x00", "", "image/tiff"),
    (b"\xef\xbb\xbf<?xml version='1.0'?><Invoice/>", "application/pdf", "application/xml"),
    (b"  <Invoice/>", "text/xml", "text/xml"),
    (b"PK\x03\x04....", "", "application/zip"),
    (b"PK\x03\x04....",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"plain words", "text/plain", "text/plain"),
    (b"plain words", "application/pdf", "application/octet-stream"),
    (b"", "", "application/octet-stream"),
])
def test_mime_type_comes_from_the_bytes(content, declared, expected):
    assert sniff_mime_type(content, declared) == expected


def test_one_reading_of_a_pdf_for_the_pivot_and_the_client():
    """A PDF with bytes before its header is a PDF for both (renderings and PIVOT files alike);
    a ZIP that stores a PDF uncompressed is a ZIP, not a PDF."""
    from chorus_pro.client import detect_kind
    from chorus_pro.pivot import is_pdf

    preceded = b"\r\n\x00junk" + b"%PDF-1.7\n%%EOF\n"
    assert is_pdf(preceded)
    assert sniff_mime_type(preceded) == "application/pdf"
    assert detect_kind(preceded) == "pdf"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("FA-1.pdf", b"%PDF-1.4\n%%EOF\n")
    stored = buffer.getvalue()
    assert b"%PDF-" in stored[:1024]
    assert not is_pdf(stored)
    assert sniff_mime_type(stored) == "application/zip"
    assert detect_kind(stored) == "zip"
    assert sniff_mime_type("\ufeff<Invoice/>".encode("utf-16")) == "application/xml"
