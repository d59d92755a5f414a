"""Streaming parser of Chorus Pro PIVOT invoice files (``CPPFacturePivot``).

``telecharger/groupe`` with ``format: PIVOT`` returns one XML file holding one or more invoices
(``CPPFactures/CPPFacturePivotUnitaire``), each with its attachments embedded in base64
(``PJ/Contenu``). A bundle can weigh tens of megabytes, so the file is read incrementally with
:func:`lxml.etree.iterparse`: each invoice is turned into a :class:`~chorus_pro.records.PivotInvoice`
as soon as its closing tag is read, then its element and the ones before it are freed. Memory stays
bounded by the largest single invoice, whatever the number of invoices in the file.

The parser is tolerant (namespace-agnostic, unknown elements ignored, optional elements default),
reads versions V1_22 and V2_02 alike, and safe with files from outside: no entity resolution, no
network access, no DTD. ``huge_tree`` is on because one base64 attachment (up to 10 MB of PDF per
Chorus rules) exceeds libxml2's default 10 MB text-node limit.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
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
from .timeutil import parse_date

_logger = logging.getLogger(__name__)

ROOT_TAG = "CPPFacturePivot"
UNIT_TAG = "CPPFacturePivotUnitaire"
ON_ERROR_CHOICES = ("raise", "skip")

PivotSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]

_ISO_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_BASE64_WHITESPACE = b" \t\r\n\f\v"


class PivotError(ValueError):
    """A PIVOT file, or one invoice in it, cannot be read.

    ``position`` is the 1-based rank of the invoice in the file, ``invoice_number`` its number
    (``DonneesFacture/Id``) and ``chorus_id`` its ``IdCPRO`` when they are known, ``line`` the XML
    line of a syntax error. Messages never quote attachment contents.
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
) -> Iterator[PivotInvoice]:
    """Yield one :class:`PivotInvoice` per ``CPPFacturePivotUnitaire`` of a PIVOT file, in order.

    ``source`` is a path, a binary file object (left open) or the file's bytes.

    ``on_error`` decides what happens to an invoice whose data cannot be read (missing number,
    supplier or total; a malformed amount, date or base64 attachment): ``"raise"`` (default) raises
    :class:`PivotError`; ``"skip"`` logs it, appends the :class:`PivotError` to ``errors`` when a
    list is given, and goes on with the next invoice, so that one bad invoice in a bundle does not
    block the others. A malformed XML file always raises :class:`PivotError`, but only once the
    invoices before the damaged spot have been yielded.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, not {on_error!r}")
    handle, owned = _open_source(source)
    try:
        yield from _iterate(handle, on_error, errors)
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


def _iterate(handle, on_error: str, errors: Optional[list]) -> Iterator[PivotInvoice]:
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
    position = 0
    last_number = ""
    root_seen = False
    try:
        for event, element in context:
            name = _local_name(element.tag)
            if not root_seen:
                root_seen = True
                _check_root(element, name)
                version = (element.get("Version") or "").strip()
                continue
            if event != "end" or name != UNIT_TAG:
                continue
            position += 1
            try:
                invoice = _build_invoice(element, version)
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
        raise PivotError(f"invalid decimal in {path}: {text[:40]!r}", code="invalid_decimal",
                         params={"path": path, "value": text[:40]})
    return value


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
        raise PivotError(f"invalid date in {path}: {text[:40]!r}", code="invalid_date",
                         params={"path": path, "value": text[:40]})
    return parsed


def _integer(element, path: str) -> Optional[int]:
    text = _text(element, path)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise PivotError(f"invalid integer in {path}: {text[:40]!r}", code="invalid_integer",
                         params={"path": path, "value": text[:40]}) from None


# --------------------------------------------------------------------------- record building


def _build_invoice(unit, version: str) -> PivotInvoice:
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
            _attachment(pj, rank) for rank, pj in enumerate(_children(unit, "PJ"), 1)
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


def _attachment(pj, rank: int) -> PivotAttachment:
    name = _text(pj, "NomPJ")
    return PivotAttachment(
        name=name,
        original_name=_text(pj, "NomPJOrigine"),
        category=_text(pj, "CategoriePJ"),
        type_code=_text(pj, "TypePJ"),
        mime_type=_text(pj, "MimeTypePJ"),
        content=_decode_content(_child(pj, "Contenu"), name or f"#{rank}"),
    )


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
