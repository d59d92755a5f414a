"""Typed, neutral records for what Chorus Pro tells us.

Everything that comes out of the client (JSON answers) or of the PIVOT parser (XML files) is turned
into these small dataclasses before anything else touches it. They carry no Odoo notion: the addon
maps them to its models. Amounts are ``Decimal``, dates ``date``, timestamps timezone-aware
``datetime`` (Chorus gives Paris local times; see :mod:`chorus_pro.timeutil`).

Parsing is tolerant: unknown fields are ignored, optional fields may be missing (``None`` or empty
string / empty list), so a new field on the Chorus side never breaks a sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Optional

# Chorus supplier identifier types (JSON ``typeIdentifiantFournisseur``). The PIVOT uses digits
# 1..7 for the same list; :data:`PIVOT_IDENTIFIER_TYPES` maps them.
IDENTIFIER_TYPES = (
    "SIRET",
    "UE_HORS_FRANCE",
    "HORS_UE",
    "RIDET",
    "TAHITI",
    "EN_COURS_IMMATRICULATION",
    "PARTICULIER",
    "AUTRE",
)
PIVOT_IDENTIFIER_TYPES = {
    "1": "SIRET",
    "2": "UE_HORS_FRANCE",
    "3": "HORS_UE",
    "4": "RIDET",
    "5": "TAHITI",
    "6": "EN_COURS_IMMATRICULATION",
    "7": "PARTICULIER",
}


@dataclass
class Page:
    """Pagination data of one search answer."""

    current: int = 1
    pages: int = 1
    per_page: int = 0
    total: int = 0


@dataclass
class InvoiceHeader:
    """What a search item and the consult answer both say of an invoice (the base of
    :class:`InvoiceSummary` and :class:`InvoiceDetail`)."""

    chorus_id: int
    number: str = ""
    status: str = ""
    invoice_type: str = ""  # FACTURE | AVOIR | ACOMPTE (or a works-invoice type)
    invoice_date: Optional[date] = None
    deposit_date: Optional[date] = None
    currency: str = "EUR"
    amount_untaxed: Optional[Decimal] = None
    amount_total: Optional[Decimal] = None
    amount_to_pay: Optional[Decimal] = None
    recipient_id: Optional[int] = None
    recipient_code: str = ""
    recipient_name: str = ""
    service_id: Optional[int] = None
    service_code: str = ""
    service_name: str = ""
    purchase_order: str = ""  # numeroBonCommande (engagement juridique)
    contract: str = ""  # numeroMarche
    works_type: str = ""  # typeFactureTravaux


@dataclass
class InvoiceSummary(InvoiceHeader):
    """One item of ``rechercher/recipiendaire`` (or of ``facturesTravaux/rechercher``)."""

    payment_request_type: str = "FACTURE"  # FACTURE | FACTURE_TRAVAUX
    status_datetime: Optional[datetime] = None
    status_comment: str = ""
    supplier_code: str = ""
    supplier_identifier_type: str = ""
    supplier_name: str = ""
    downloaded: Optional[bool] = None  # factureTelechargeeParDestinataire
    size: Optional[int] = None  # taille, bytes, when recupererTaille was asked


@dataclass
class Address:
    street: str = ""
    street2: str = ""
    zip: str = ""
    city: str = ""
    country_code: str = ""
    country_name: str = ""


@dataclass
class Supplier:
    """The supplier as Chorus knows it."""

    identifier: str = ""  # codeFournisseur: SIRET for French companies
    identifier_type: str = ""  # one of IDENTIFIER_TYPES
    name: str = ""
    chorus_id: Optional[int] = None  # idFournisseur (technical id)
    service_code: str = ""
    service_name: str = ""
    rcs: str = ""
    country_code: str = ""
    address: Address = field(default_factory=Address)


@dataclass
class BankDetails:
    """Bank account the invoice asks to be paid on (may belong to a factor)."""

    account_type: str = "IBAN"  # IBAN | RIB
    account: str = ""  # compact, upper case (IBAN) or RIB digits; validated by the addon
    bic: str = ""
    holder: str = ""  # account holder ("RaisonSocialeEncaisseur") when given
    bank_name: str = ""
    label: str = ""
    chorus_id: Optional[int] = None


@dataclass
class Factor:
    """Factoring company (affactureur) the money goes to."""

    identifier: str = ""
    identifier_type: str = ""
    name: str = ""
    country_code: str = ""
    chorus_id: Optional[int] = None


@dataclass
class TaxLine:
    """VAT recap line: one per rate."""

    rate: Optional[Decimal] = None  # percent, e.g. Decimal("20")
    base: Decimal = Decimal("0")
    amount: Decimal = Decimal("0")
    code: str = ""


@dataclass
class InvoiceLine:
    """A line of a structured invoice."""

    sequence: int = 0
    reference: str = ""
    name: str = ""
    quantity: Decimal = Decimal("1")
    unit_code: str = ""
    price_unit: Decimal = Decimal("0")
    discount_amount: Decimal = Decimal("0")
    tax_rate: Optional[Decimal] = None
    amount_untaxed: Decimal = Decimal("0")
    amount_tax: Optional[Decimal] = None
    amount_total: Optional[Decimal] = None


@dataclass
class AttachmentInfo:
    """Attachment metadata from the consult answer (content comes with the download)."""

    chorus_id: Optional[int] = None
    name: str = ""
    extension: str = ""
    type_code: str = ""  # 01 invoice, 02 complementary (other codes possible)
    type_label: str = ""


@dataclass
class InvoiceDetail(InvoiceHeader):
    """``consulter/recipiendaire`` answer."""

    deposit_mode: str = ""
    supplier_comment: str = ""
    frame: str = ""  # codeCadreFacturation, e.g. A1_FACTURE_FOURNISSEUR
    recipient_is_state: Optional[bool] = None
    supplier: Supplier = field(default_factory=Supplier)
    bank: Optional[BankDetails] = None
    factor: Optional[Factor] = None
    created_at: Optional[datetime] = None
    due_date: Optional[date] = None
    payment_mode: str = ""
    vat_type: str = ""
    origin_invoice_number: str = ""
    mandate_number: str = ""  # numeroDpMandat
    attachments_total_size: Optional[int] = None
    amount_tax: Optional[Decimal] = None
    taxes: list[TaxLine] = field(default_factory=list)
    lines: list[InvoiceLine] = field(default_factory=list)
    attachments: list[AttachmentInfo] = field(default_factory=list)


@dataclass
class StatusEvent:
    """One entry of the status history."""

    code: str
    at: Optional[datetime] = None
    comment: str = ""
    chorus_id: Optional[int] = None  # histoStatutId
    user_name: str = ""


@dataclass
class StatusHistory:
    """``consulter/historique`` answer. ``events`` is sorted oldest first."""

    chorus_id: int
    number: str = ""
    current_status: str = ""
    events: list[StatusEvent] = field(default_factory=list)

    def first(self, code: str) -> Optional[StatusEvent]:
        return next((e for e in self.events if e.code == code), None)

    def last(self, code: str) -> Optional[StatusEvent]:
        return next((e for e in reversed(self.events) if e.code == code), None)

    def count(self, code: str) -> int:
        return sum(1 for e in self.events if e.code == code)


@dataclass
class StatusChangeResult:
    """``traiter/recue`` answer.

    ``request_body`` / ``response_body`` are the exact bytes sent to and received from Chorus
    (evidence the addon signs and keeps).
    """

    chorus_id: int
    number: str = ""
    new_status: str = ""
    processing_date: Optional[date] = None
    return_code: int = 0
    label: str = ""
    request_body: bytes = field(default=b"", repr=False)
    response_body: bytes = field(default=b"", repr=False)


@dataclass
class Structure:
    chorus_id: int
    identifier: str = ""
    identifier_type: str = "SIRET"
    name: str = ""
    status: str = ""  # ACTIF | INACTIF ("ACTIVE" / "INACTIVE" answers are read as these)

    @property
    def is_active(self) -> bool:
        return self.status in ("", "ACTIF")


@dataclass
class StructureDetail:
    chorus_id: int
    identifier: str = ""
    identifier_type: str = ""
    name: str = ""
    label: str = ""
    email: str = ""
    vat_number: str = ""
    public_or_private: str = ""
    password_expiry_date: Optional[date] = None  # dateExpirationMotPasseCompteTech, when filled
    address: Address = field(default_factory=Address)
    parameters: dict = field(default_factory=dict)


@dataclass
class Service:
    chorus_id: int
    code: str = ""
    name: str = ""
    active: bool = True
    status: str = ""


@dataclass
class PivotAttachment:
    """An attachment embedded in a PIVOT file (``PJ``)."""

    name: str = ""
    original_name: str = ""
    category: str = ""
    type_code: str = ""  # 01 invoice / credit note, 02 complementary
    mime_type: str = ""  # decided from the bytes (see chorus_pro.pivot.sniff_mime_type)
    content: bytes = b""  # the file itself, unzipped when Chorus sent it zipped
    declared_mime_type: str = ""  # MimeTypePJ as written in the file
    archive_member: str = ""  # the (cleaned) name of the file in the ZIP Chorus wrapped it in

    @property
    def is_pdf(self) -> bool:
        return self.mime_type == "application/pdf"

    @property
    def is_main_document(self) -> bool:
        return self.type_code == "01"


@dataclass
class PivotInvoice:
    """One ``CPPFacturePivotUnitaire`` of a PIVOT file."""

    number: str = ""
    chorus_id: Optional[int] = None  # IdCPRO (V2_02+)
    redelivery: str = ""  # Renvoi: Non | Complétée | Recyclée
    origin_invoice_number: str = ""
    type_code: str = "380"  # 380 invoice, 381 credit note
    frame: str = ""  # short code A1..A25
    issue_date: Optional[date] = None
    delivery_date: Optional[date] = None
    reception_date: Optional[date] = None
    currency: str = "EUR"
    payment_mode_code: str = ""
    payment_mode_label: str = ""
    amount_untaxed: Optional[Decimal] = None
    amount_total: Optional[Decimal] = None
    amount_to_pay: Optional[Decimal] = None
    taxes: list[TaxLine] = field(default_factory=list)
    purchase_order: str = ""  # Engagement/NumeroEngagement
    contract: str = ""  # Engagement/NumeroMarche
    lines: list[InvoiceLine] = field(default_factory=list)
    supplier: Supplier = field(default_factory=Supplier)
    emission_mode: str = ""
    bank: Optional[BankDetails] = None
    debtor_identifier: str = ""
    debtor_name: str = ""
    service_code: str = ""
    service_name: str = ""
    attachments: list[PivotAttachment] = field(default_factory=list)
    version: str = ""  # PIVOT format version (V2_02, V1_22...)
    flow_id: str = ""  # envelope parameter IdFlx
    produced_at: Optional[datetime] = None  # envelope parameter DtPrd (a date alone: midnight)

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == "381"

    @property
    def main_document(self) -> Optional[PivotAttachment]:
        """The type 01 attachment, a PDF one first; it is the supplier's XML (UBL, CII, PIVOT)
        when the invoice was deposited as structured data."""
        mains = [a for a in self.attachments if a.is_main_document]
        mains.sort(key=lambda a: 0 if a.is_pdf else 1)
        return mains[0] if mains else None

    @property
    def main_pdf(self) -> Optional[PivotAttachment]:
        """The type 01 attachment that really is a PDF, or ``None`` (then ask Chorus for its
        PDF rendering: ``download_invoice_pdf``)."""
        main = self.main_document
        return main if main is not None and main.is_pdf else None


@dataclass
class DownloadedFile:
    """What ``telecharger/groupe`` returned, decoded, with its detected kind.

    ``path`` points to a temporary file holding the decoded bytes (so that big bundles never sit
    in memory); the caller owns it and should call :meth:`cleanup`.
    """

    kind: str  # "pdf" | "zip" | "xml" | "unknown"
    path: str
    size: int

    def read(self) -> bytes:
        with open(self.path, "rb") as handle:
            return handle.read()

    def cleanup(self) -> None:
        import os

        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
