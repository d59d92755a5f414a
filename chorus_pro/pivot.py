"""Streaming parser of Chorus Pro PIVOT invoice files (``CPPFacturePivot``).

``telecharger/groupe`` with ``format: PIVOT`` returns one XML file holding one or more invoices
(``CPPFactures/CPPFacturePivotUnitaire``), each with its attachments embedded in base64
(``PJ/Contenu``). A bundle can weigh tens of megabytes, so the file is read incrementally with
:func:`lxml.etree.iterparse`: each invoice is turned into a :class:`~chorus_pro.records.PivotInvoice`
as soon as its closing tag is read, then its element and the ones before it are freed. Memory stays
bounded by the largest single invoice, whatever the number of invoices in the file.

The parser is tolerant (namespace-agnostic, unknown elements ignored, optional elements default),
reads versions V1_22 and V2_02 alike (older files name their version only in
``xsi:noNamespaceSchemaLocation``), and safe with files from outside: no entity resolution, no
network access, no DTD. ``huge_tree`` is on because one base64 attachment (up to 10 MB of PDF per
Chorus rules) exceeds libxml2's default 10 MB text-node limit.

Attachments: the portal sends each ``PJ/Contenu`` as the base64 of a ZIP archive holding the file
(one member, its original name). The archive is opened in memory, never on disk: member names are
only labels (a name that tries to leave the archive, ``../x`` or ``/etc/x``, is refused), the
unpacked size is capped in absolute terms and relative to the packed size (a zip bomb makes that
invoice unreadable, not the bundle), and raw (unzipped) content is accepted as well. The MIME type
is decided from the bytes (:func:`sniff_mime_type`), ``MimeTypePJ`` only completing it.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import BinaryIO, Iterator, Optional, Union

from lxml import etree

from .identifiers import compact_bic, compact_iban, is_valid_bic
from .records import (
    IDENTIFIER_TYPES,
    PIVOT_IDENTIFIER_TYPES,
    BankDetails,
    InvoiceLine,
    PivotAttachment,
    PivotInvoice,
    Supplier,
    TaxLine,
)
from .text import clean_file_name
from .timeutil import parse_date, parse_datetime

_logger = logging.getLogger(__name__)

ROOT_TAG = "CPPFacturePivot"
UNIT_TAG = "CPPFacturePivotUnitaire"
ON_ERROR_CHOICES = ("raise", "skip")

PivotSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]

_ISO_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_BASE64_WHITESPACE = b" \t\r\n\f\v"
_SCHEMA_VERSION_RE = re.compile(r"V\d+_\d+", re.IGNORECASE)
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

ZIP_MAGIC = b"PK\x03\x04"
# One attachment unpacked may weigh at most this much (Chorus caps a file at 10 MB)...
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
# ...and at most this many times its packed size once past UNPACK_RATIO_FLOOR (real PDFs and XML
# compress 2 to 20 times; a zip bomb, thousands of times).
MAX_UNPACK_RATIO = 200
UNPACK_RATIO_FLOOR = 1024 * 1024


@dataclass(frozen=True)
class UnpackLimits:
    """How much a zipped attachment may unpack to (see the module docstring)."""

    max_bytes: int = MAX_UNPACKED_BYTES
    max_ratio: int = MAX_UNPACK_RATIO
    ratio_floor: int = UNPACK_RATIO_FLOOR

    def budget(self, packed_size: int) -> int:
        return min(self.max_bytes, max(self.ratio_floor, packed_size * self.max_ratio))


DEFAULT_LIMITS = UnpackLimits()


# PivotError codes of a zipped attachment refused (params: "label", the attachment's name, and
# "member", the offending name in its archive, for CODE_UNSAFE_NAME).
CODE_ZIP_BOMB = "zip_bomb"  # it would unpack to far more than a real file
CODE_UNSAFE_NAME = "unsafe_name"  # a member named like a path out of the archive
CODE_DAMAGED_ARCHIVE = "damaged_archive"  # a damaged, empty or encrypted archive


class PivotError(ValueError):
    """A PIVOT file, or one invoice in it, cannot be read.

    ``position`` is the 1-based rank of the invoice in the file, ``invoice_number`` its number
    (``DonneesFacture/Id``) and ``chorus_id`` its ``IdCPRO`` when they are known, ``line`` the XML
    line of a syntax error. ``code`` and ``params`` say what went wrong for a caller writing it
    in its user's words (``CODE_*`` for a zipped attachment refused). Messages never quote
    attachment contents.
    """

    def __init__(
        self,
        reason: str,
        *,
        position: Optional[int] = None,
        invoice_number: str = "",
        chorus_id: Optional[int] = None,
        line: Optional[int] = None,
        code: str = "",
        params: Optional[dict] = None,
    ):
        super().__init__(reason)
        self.reason = reason
        # What went wrong as a key and its values, for a caller writing it in its user's words.
        self.code = code
        self.params = dict(params or {})
        self.position = position
        self.invoice_number = invoice_number
        self.chorus_id = chorus_id
        self.line = line

    def __str__(self) -> str:
        where = []
        if self.position:
            where.append(f"invoice #{self.position}")
        if self.invoice_number:
            where.append(f"number {self.invoice_number}")
        if self.chorus_id:
            where.append(f"IdCPRO {self.chorus_id}")
        if self.line:
            where.append(f"line {self.line}")
        prefix = f"PIVOT {', '.join(where)}" if where else "PIVOT"
        return f"{prefix}: {self.reason}"


def iter_pivot_invoices(
    source: PivotSource,
    *,
    on_error: str = "raise",
    errors: Optional[list] = None,
    limits: UnpackLimits = DEFAULT_LIMITS,
) -> Iterator[PivotInvoice]:
    """Yield one :class:`PivotInvoice` per ``CPPFacturePivotUnitaire`` of a PIVOT file, in order.

    ``source`` is a path, a binary file object (left open) or the file's bytes.

    ``on_error`` decides what happens to an invoice whose data cannot be read (missing number,
    supplier or total; a malformed amount, date or base64 attachment): ``"raise"`` (default) raises
    :class:`PivotError`; ``"skip"`` logs it, appends the :class:`PivotError` to ``errors`` when a
    list is given, and goes on with the next invoice, so that one bad invoice in a bundle does not
    block the others. A zipped attachment that cannot be unpacked safely (zip bomb, a member
    named like a path out of the archive, a damaged archive) makes its invoice unreadable the
    same way. A malformed XML file always raises :class:`PivotError`, but only once the
    invoices before the damaged spot have been yielded. ``limits`` caps unpacked attachments.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, not {on_error!r}")
    handle, owned = _open_source(source)
    try:
        yield from _iterate(handle, on_error, errors, limits)
    finally:
        if owned:
            handle.close()


def read_pivot_invoices(source: PivotSource, **kwargs) -> list:
    """All invoices of a (small) PIVOT file as a list; see :func:`iter_pivot_invoices`."""
    return list(iter_pivot_invoices(source, **kwargs))


def validate_pivot(source: PivotSource, xsd_path: Union[str, "os.PathLike[str]"]) -> list:
    """Validate a PIVOT file against an AIFE XSD; return the errors (empty list when valid).

    Each error reads ``"line N: message"``. Unlike the parser, validation loads the whole document
    (XML Schema needs it): meant for tests, the simulator and diagnostics, not for the sync path.
    """
    schema = etree.XMLSchema(etree.parse(os.fspath(xsd_path)))
    parser = _make_parser()
    handle, owned = _open_source(source)
    try:
        document = etree.parse(handle, parser)
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.msg}"]
    finally:
        if owned:
            handle.close()
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


# --------------------------------------------------------------------------- streaming


def _make_parser() -> etree.XMLParser:
    return etree.XMLParser(
        huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False
    )


def _open_source(source) -> tuple:
    """A binary file object for ``source`` and whether we must close it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True
    if hasattr(source, "read"):
        return source, False
    raise TypeError(f"unsupported PIVOT source: {type(source).__name__}")


def _iterate(handle, on_error: str, errors: Optional[list],
             limits: UnpackLimits = DEFAULT_LIMITS) -> Iterator[PivotInvoice]:
    context = etree.iterparse(
        handle,
        events=("start", "end"),
        huge_tree=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    version = ""
    envelope = {}
    position = 0
    last_number = ""
    root_seen = False
    try:
        for event, element in context:
            name = _local_name(element.tag)
            if not root_seen:
                root_seen = True
                _check_root(element, name)
                version = root_version(element)
                continue
            if event == "end" and name == "Enveloppe":
                envelope = _envelope_parameters(element)
                continue
            if event != "end" or name != UNIT_TAG:
                continue
            position += 1
            try:
                invoice = _build_invoice(element, version, limits)
                invoice.flow_id = envelope.get("IdFlx", "")
                invoice.produced_at = parse_datetime(envelope.get("DtPrd") or None)
            except PivotError as exc:
                exc.position = position
                exc.line = exc.line or element.sourceline
                if on_error == "raise":
                    raise
                _logger.warning("Skipping unreadable invoice in PIVOT file: %s", exc)
                if errors is not None:
                    errors.append(exc)
                invoice = None
            finally:
                _release(element)
            if invoice is not None:
                last_number = invoice.number
                yield invoice
    except etree.XMLSyntaxError as exc:
        read = f"{position} invoice(s) read before it"
        if last_number:
            read += f", the last one {last_number}"
        raise PivotError(
            f"malformed XML ({exc.msg}); {read}",
            position=position + 1 if root_seen else None,
            line=exc.lineno,
            code="malformed_xml",
            params={"detail": exc.msg, "read": position, "last": last_number or ""},
        ) from exc


def _check_root(root, name: str) -> None:
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        # A PIVOT file never carries a DTD; one in a file from outside is an attack or a mistake.
        raise PivotError("DOCTYPE declarations are not allowed in a PIVOT file", code="doctype")
    if name != ROOT_TAG:
        raise PivotError(f"not a PIVOT invoice file: root element is <{name}>, not <{ROOT_TAG}>",
                         code="not_pivot", params={"root": name})


def root_version(root) -> str:
    """The PIVOT version: the root's ``Version``, else the one the schema location names
    (``CPPFacturePivot_V1_22.xsd``: older files carry no ``Version``)."""
    version = (root.get("Version") or "").strip()
    if version:
        return version
    for attribute in ("noNamespaceSchemaLocation", "schemaLocation"):
        location = root.get(f"{{{XSI_NAMESPACE}}}{attribute}") or ""
        match = _SCHEMA_VERSION_RE.search(location)
        if match:
            return match.group(0).upper()
    return ""


def _envelope_parameters(envelope) -> dict:
    """``{Code: Valeurparametre}`` of the envelope (DtPrd, IdFlx...)."""
    found = {}
    for unit in _children(envelope, "EnveloppeUnitaire"):
        for parameter in _children(_child(unit, "Parametres"), "ParametreIndiv"):
            code = _text(parameter, "Code")
            if code and code not in found:
                found[code] = _text(parameter, "Valeurparametre")
    return found


def _release(element) -> None:
    """Free a parsed invoice and everything read before it (keeps memory flat)."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is None:
        return
    while element.getprevious() is not None:
        del parent[0]


# --------------------------------------------------------------------------- element helpers


def _local_name(tag) -> str:
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return tag.rpartition("}")[2]


def _child(element, name: str):
    if element is None:
        return None
    for child in element:
        if _local_name(child.tag) == name:
            return child
    return None


def _children(element, name: str) -> list:
    if element is None:
        return []
    return [child for child in element if _local_name(child.tag) == name]


def _find(element, path: str):
    for name in path.split("/"):
        element = _child(element, name)
        if element is None:
            return None
    return element


def _text(element, path: str) -> str:
    found = _find(element, path)
    if found is None or found.text is None:
        return ""
    return found.text.strip()


def _decimal(element, path: str, *, required: bool = False) -> Optional[Decimal]:
    text = _text(element, path)
    if not text:
        if required:
            raise PivotError(f"missing amount {path}", code="missing_amount", params={"path": path})
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise _invalid_value("decimal", path, text)
    return value



def _invalid_value(kind: str, path: str, text: str) -> PivotError:
    """The refusal of a value that is not the ``kind`` (decimal, date, integer) it must be."""
    return PivotError(f"invalid {kind} in {path}: {text[:40]!r}", code=f"invalid_{kind}",
                      params={"path": path, "value": text[:40]})


def _date(element, path: str) -> Optional[date]:
    text = _text(element, path)
    if not text:
        return None
    # xs:date may carry a time-zone suffix ("2026-03-02+01:00", "2026-03-02Z"): the calendar date
    # is what matters.
    match = _ISO_DATE_RE.match(text)
    parsed = None
    if match:
        try:
            parsed = date.fromisoformat(match.group(1))
        except ValueError:
            parsed = None
    else:
        parsed = parse_date(text)
    if parsed is None:
        raise _invalid_value("date", path, text)
    return parsed


def _integer(element, path: str) -> Optional[int]:
    text = _text(element, path)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise _invalid_value("integer", path, text) from None


# --------------------------------------------------------------------------- record building


def _build_invoice(unit, version: str, limits: UnpackLimits = DEFAULT_LIMITS) -> PivotInvoice:
    data = _child(unit, "DonneesFacture")
    if data is None:
        raise PivotError("missing DonneesFacture", code="missing_data")
    number = _text(data, "Id")
    if not number:
        raise PivotError("missing invoice number (DonneesFacture/Id)", code="missing_number")
    chorus_id = None
    try:
        chorus_id = _integer(data, "IdCPRO")
        invoice = PivotInvoice(
            number=number,
            chorus_id=chorus_id,
            redelivery=_text(data, "Renvoi"),
            origin_invoice_number=_text(data, "IdFactureOrigine"),
            type_code=_text(data, "Type") or "380",
            frame=_text(data, "Cadre"),
            issue_date=_date(data, "DateEmissionFacture"),
            delivery_date=_date(data, "DateLivraison"),
            reception_date=_date(data, "DateReception"),
            currency=_text(data, "Devise") or "EUR",
            payment_mode_code=_text(data, "ModePaiement/Code"),
            payment_mode_label=_text(data, "ModePaiement/Libelle"),
            amount_untaxed=_decimal(data, "Montants/MontantHT"),
            amount_total=_decimal(data, "Montants/MontantTTC", required=True),
            amount_to_pay=_decimal(data, "Montants/MontantNetAPayer"),
            taxes=[_tax_line(tva) for tva in _children(_child(data, "TVAs"), "TVA")],
            purchase_order=_text(data, "Engagement/NumeroEngagement"),
            contract=_text(data, "Engagement/NumeroMarche"),
            lines=[
                _invoice_line(line, rank)
                for rank, line in enumerate(_children(_child(data, "Lignes"), "Ligne"), 1)
            ],
            version=version,
        )
        _fill_supplier(invoice, _child(unit, "Fournisseur"))
        _fill_debtor(invoice, _child(unit, "Debiteur"))
        invoice.attachments = [
            attachment
            for rank, pj in enumerate(_children(unit, "PJ"), 1)
            for attachment in _attachments(pj, rank, limits)
        ]
    except PivotError as exc:
        exc.invoice_number = exc.invoice_number or number
        exc.chorus_id = exc.chorus_id or chorus_id
        raise
    return invoice


def _fill_supplier(invoice: PivotInvoice, supplier_element) -> None:
    identifier = _text(supplier_element, "Identifiant")
    if not identifier:
        raise PivotError("missing supplier identifier (Fournisseur/Identifiant)",
                         code="missing_supplier_identifier")
    invoice.supplier = Supplier(
        identifier=identifier,
        identifier_type=_identifier_type(_text(supplier_element, "TypeIdentifiant")),
        name=_text(supplier_element, "RaisonSociale"),
        country_code=_text(supplier_element, "CodePays").upper(),
    )
    invoice.emission_mode = _text(supplier_element, "ModeEmission")
    invoice.bank = _bank_details(_child(supplier_element, "ReferenceBancaire"))


def _identifier_type(code: str) -> str:
    if not code:
        return ""
    if code in PIVOT_IDENTIFIER_TYPES:
        return PIVOT_IDENTIFIER_TYPES[code]
    # Tolerate a name instead of a digit; anything else is a type this version does not know.
    return code.upper() if code.upper() in IDENTIFIER_TYPES else "AUTRE"


def _bank_details(reference) -> Optional[BankDetails]:
    if reference is None:
        return None
    account = _text(reference, "Compte")
    establishment = _text(reference, "Etablissement")
    holder = _text(reference, "RaisonSocialeEncaisseur")
    if not (account or establishment or holder):
        return None
    # "Etablissement" is not documented [unconfirmed]: files seen carry the BIC there, others
    # may carry the bank's name. A value shaped like a BIC is taken as the BIC.
    is_bic = bool(establishment) and is_valid_bic(establishment)
    return BankDetails(
        account_type=(reference.get("Type") or "IBAN").strip().upper() or "IBAN",
        account=compact_iban(account),
        bic=compact_bic(establishment) if is_bic else "",
        bank_name="" if is_bic else establishment,
        holder=holder,
    )


def _fill_debtor(invoice: PivotInvoice, debtor) -> None:
    invoice.debtor_identifier = _text(debtor, "Identifiant")
    invoice.debtor_name = _text(debtor, "Nom")
    invoice.service_code = _text(debtor, "CodeService")
    invoice.service_name = _text(debtor, "NomService")


def _tax_line(tva) -> TaxLine:
    return TaxLine(
        rate=_decimal(tva, "Taux"),
        base=_decimal(tva, "BaseHt") or Decimal("0"),
        amount=_decimal(tva, "MontantTVA") or Decimal("0"),
    )


def _invoice_line(line, rank: int) -> InvoiceLine:
    order = (line.get("NumOrdre") or "").strip()
    try:
        sequence = int(order) if order else rank
    except ValueError:
        raise PivotError(f"invalid Ligne/@NumOrdre: {order[:20]!r}", code="invalid_line_order",
                         params={"value": order[:20]}) from None
    reference = _text(line, "ReferenceProduit")
    quantity = _decimal(line, "Quantite")
    return InvoiceLine(
        sequence=sequence,
        reference=reference,
        # PIVOT lines carry no label: the product reference is the only text there is.
        name=reference,
        quantity=Decimal("1") if quantity is None else quantity,
        price_unit=_decimal(line, "PrixUnitaire") or Decimal("0"),
        tax_rate=_decimal(line, "TauxTVA"),
        amount_untaxed=_decimal(line, "MontantHT") or Decimal("0"),
    )


def _attachments(pj, rank: int, limits: UnpackLimits) -> list:
    """The file(s) of one ``PJ``: one, or one per member when Chorus zipped several."""
    name = _text(pj, "NomPJ")
    label = name or f"#{rank}"
    declared = _text(pj, "MimeTypePJ").lower()
    common = {
        "category": _text(pj, "CategoriePJ"),
        "type_code": _text(pj, "TypePJ"),
        "declared_mime_type": declared,
    }
    content = _decode_content(_child(pj, "Contenu"), label)
    members = unpack_zip(content, label, limits) if content.startswith(ZIP_MAGIC) else None
    if members is None:
        return [PivotAttachment(
            name=name, original_name=_text(pj, "NomPJOrigine"), content=content,
            mime_type=sniff_mime_type(content, declared), **common,
        )]
    if len(members) == 1:
        member, data = members[0]
        return [PivotAttachment(
            name=name or member, original_name=_text(pj, "NomPJOrigine") or member,
            content=data, mime_type=sniff_mime_type(data, declared), archive_member=member,
            **common,
        )]
    # Several files in one PJ: each kept under its own name; MimeTypePJ cannot speak for all.
    return [
        PivotAttachment(name=member, original_name=member, content=data,
                        mime_type=sniff_mime_type(data), archive_member=member, **common)
        for member, data in members
    ]


def unpack_zip(content: bytes, label: str = "", limits: UnpackLimits = DEFAULT_LIMITS, *,
               keep_folders: bool = False) -> list:
    """``[(name, bytes)]`` of the files of a zipped attachment, in archive order.

    Raises :class:`PivotError` for a damaged or encrypted archive, a member named like a path
    out of the archive, or more unpacked bytes than ``limits`` allow for this packed size (the
    sizes the archive declares are checked before anything is inflated; ``zipfile`` never
    inflates more than a member declares, and a member that lies about its size fails its CRC
    check: damaged). Names are cleaned labels (the last path part, no control characters, no
    surrounding spaces), never used as paths; with ``keep_folders`` they keep their (cleaned)
    folders, ``"98765432_FA-1/FA-1.pdf"``, as labels still (a bundle of several invoices)."""
    label = label or "attachment"
    budget = limits.budget(len(content))
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise PivotError(f"attachment {label}: the ZIP archive is damaged",
                         code=CODE_DAMAGED_ARCHIVE, params={"label": label}) from None
    if not members:
        raise PivotError(f"attachment {label}: the ZIP archive is empty",
                         code=CODE_DAMAGED_ARCHIVE, params={"label": label})
    names = [_member_name(info.filename, label, keep_folders) for info in members]
    if sum(info.file_size for info in members) > budget:
        raise _too_big(label, len(content), budget)
    files = []
    for info, name in zip(members, names):
        if info.flag_bits & 0x1:
            raise PivotError(f"attachment {label}: the ZIP archive is password-protected",
                             code=CODE_DAMAGED_ARCHIVE, params={"label": label})
        try:
            # Bounded by the declared size checked above: zipfile reads no further.
            data = archive.read(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
                zlib.error, ValueError):
            raise PivotError(f"attachment {label}: the ZIP archive is damaged",
                             code=CODE_DAMAGED_ARCHIVE, params={"label": label}) from None
        files.append((name or label, data))
    return files


def _too_big(label: str, packed: int, budget: int) -> PivotError:
    return PivotError(
        f"attachment {label}: refused, its ZIP archive ({packed} bytes) unpacks to more than "
        f"{budget} bytes (a zip bomb or a damaged file)",
        code=CODE_ZIP_BOMB, params={"label": label},
    )


def _member_name(raw: str, label: str, keep_folders: bool = False) -> str:
    """The label of a ZIP member: its last path part (its path with ``keep_folders``), cleaned;
    a name trying to leave the archive (``..``, an absolute path, a drive) is refused."""
    text = raw.replace("\\", "/")
    parts = [part.strip() for part in text.split("/")]
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or ".." in parts:
        # Shown, never used: what cannot be printed (controls, bidirectional marks) as "?".
        shown = "".join(char if char.isprintable() else "?" for char in raw)[:80]
        raise PivotError(
            f"attachment {label}: refused, its ZIP archive holds a file named {shown!r} that "
            "points outside the archive",
            code=CODE_UNSAFE_NAME, params={"label": label, "member": shown},
        )
    # Each part cleaned like any file name we store (chorus_pro.text): no control, zero-width
    # or bidirectional characters ("facture\u202efdp.exe" would read "factureexe.pdf").
    cleaned = [clean_file_name(part, default="") for part in parts]
    if keep_folders:
        return "/".join(part for part in cleaned if part)
    return cleaned[-1]


_ZIP_BASED_TYPES = ("zip", "openxmlformats", "opendocument", "oasis", "epub")


def is_pdf(content: bytes) -> bool:
    """A PDF, as readers take it: its ``%PDF-`` header within the first 1024 bytes (some
    producers write a few bytes before it); never a ZIP, whose stored member may be a PDF."""
    return not content.startswith(ZIP_MAGIC) and b"%PDF-" in content[:1024]


def _looks_like_xml(head: bytes) -> bool:
    """Text starting with ``<`` once its byte-order mark (UTF-8 or UTF-16) and blanks are off."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
    return head.lstrip(b" \t\r\n").startswith(b"<")


def sniff_mime_type(content: bytes, declared: str = "") -> str:
    """The MIME type of a file from its first bytes; ``declared`` (``MimeTypePJ``) is kept when
    the bytes agree with it or say nothing (a ZIP-based office file stays what it said)."""
    declared = (declared or "").strip().lower()
    head = content[:1024]
    if is_pdf(head):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(ZIP_MAGIC):
        return declared if any(kind in declared for kind in _ZIP_BASED_TYPES) else \
            "application/zip"
    if _looks_like_xml(head):
        return declared if "xml" in declared else "application/xml"
    if not declared or declared in ("application/pdf", "application/xml", "text/xml",
                                    "application/zip") or declared.startswith("image/"):
        # Nothing recognisable, or bytes contradicting what was declared.
        return "application/octet-stream"
    return declared


def _decode_content(element, label: str) -> bytes:
    if element is None or not element.text:
        return b""
    try:
        data = element.text.encode("ascii")
    except UnicodeEncodeError:
        raise PivotError(f"attachment {label}: content is not base64", code="not_base64",
                         params={"label": label}) from None
    # Base64 in XML is often wrapped at 76 columns; only whitespace is tolerated in between.
    data = data.translate(None, _BASE64_WHITESPACE)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise PivotError(f"attachment {label}: content is not valid base64", code="not_base64",
                         params={"label": label}) from None
