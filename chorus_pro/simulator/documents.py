"""Files the simulator hands out: invoice PDFs (reportlab), the UBL XML of invoices deposited as a
flow, PIVOT XML (V2_02, each attachment zipped as the portal does), ZIP bundles.

Nothing here is stored in the world: documents are rendered from the invoice records when a
download asks for them, and kept in a bounded LRU cache (:class:`DocumentCache`). PDFs are
rendered with ``invariant=1`` so the same invoice always gives the same bytes.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import zipfile
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable, Optional

from lxml import etree

from .world import (
    CORRUPT_BROKEN_XML, CORRUPT_MALFORMED_PIVOT, CORRUPT_PATH_MEMBER, CORRUPT_ZIP_BOMB,
    PATH_MEMBER_NAME, ZIP_BOMB_SIZE, SimAttachment, SimInvoice, World, frame_short_code,
)

PIVOT_VERSION = "V2_02"
PDF_MIME = "application/pdf"
XML_MIME = "application/xml"
UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
UBL_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
UBL_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

FRAME_LABELS = {
    "A1": "Dépôt par un fournisseur d'une facture",
    "A2": "Facture déjà payée (carte d'achat)",
    "A5": "État d'acompte (marché de travaux)",
    "A8": "Décompte général et définitif (marché de travaux)",
}
PAYMENT_MODES = {  # JSON modePaiement -> PIVOT ModePaiement (code, label)
    "VIREMENT": ("30", "Virement"),
    "AUTRE": ("48", "Carte d'achat"),
    "CHEQUE": ("20", "Chèque"),
    "PRELEVEMENT": ("49", "Prélèvement"),
}


# ------------------------------------------------------------------------------------------
# Formatting helpers
# ------------------------------------------------------------------------------------------
def format_eur(value: Decimal) -> str:
    """``1234.5`` -> ``1 234,50 €`` (French layout, plain spaces: standard PDF fonts)."""
    text = f"{Decimal(value):,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} €"


def format_rate(rate: Decimal) -> str:
    text = f"{Decimal(rate).normalize():f}".replace(".", ",")
    return f"{text} %"


def format_date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def format_iban(iban: str) -> str:
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def _decimal_text(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _quantity_text(value: Decimal) -> str:
    text = f"{Decimal(value).normalize():f}"
    return text


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def document_title(invoice: SimInvoice) -> str:
    if invoice.is_credit_note:
        return "AVOIR"
    if invoice.works_type == "ETAT_ACOMPTE":
        return "ÉTAT D'ACOMPTE"
    if invoice.works_type == "DECOMPTE_GENERAL_DEFINITIF":
        return "DÉCOMPTE GÉNÉRAL ET DÉFINITIF"
    return "FACTURE"


# ------------------------------------------------------------------------------------------
# PDF rendering
# ------------------------------------------------------------------------------------------
class _Pdf:
    """Tiny text-layout helper over a reportlab canvas (one A4 page, top-down cursor)."""

    def __init__(self, title: str, author: str, subject: str):
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        self.buffer = io.BytesIO()
        self.width, self.height = A4
        self.canvas = canvas.Canvas(self.buffer, pagesize=A4, invariant=1, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author)
        self.canvas.setSubject(subject)
        self.canvas.setCreator("Simulateur Chorus Pro")
        self.left = 40
        self.y = self.height - 50

    def text(self, x: float, y: float, value: str, size: float = 9, bold: bool = False,
             align: str = "left") -> None:
        self.canvas.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        if align == "right":
            self.canvas.drawRightString(x, y, value)
        else:
            self.canvas.drawString(x, y, value)

    def lines(self, x: float, y: float, values: Iterable[str], size: float = 9,
              leading: float = 12, bold_first: bool = False) -> float:
        for position, value in enumerate(values):
            if value:
                self.text(x, y, value, size, bold=bold_first and position == 0)
                y -= leading
        return y

    def rule(self, y: float) -> None:
        self.canvas.setLineWidth(0.5)
        self.canvas.line(self.left, y, self.width - self.left, y)

    def new_page_if_needed(self, needed: float) -> None:
        if self.y - needed < 60:
            self.canvas.showPage()
            self.y = self.height - 50

    def finish(self) -> bytes:
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


def _party_blocks(pdf: _Pdf, world: World, invoice: SimInvoice) -> None:
    supplier = world.supplier_of(invoice)
    structure = world.structures[invoice.structure_id]
    service = structure.service_by_code(invoice.service_code)
    top = pdf.height - 50
    pdf.lines(pdf.left, top, [
        supplier.name,
        supplier.address.street,
        f"{supplier.address.zip} {supplier.address.city}",
        f"SIRET : {supplier.siret}",
        f"TVA intracommunautaire : {supplier.vat_number}",
        supplier.rcs,
        supplier.email,
    ], size=9, bold_first=True)
    x = pdf.width - 250
    title = document_title(invoice)
    pdf.text(x, top, title, size=16 if len(title) <= 16 else 11, bold=True)
    pdf.lines(x, top - 20, [
        f"N° {invoice.number}",
        f"Date : {format_date(invoice.invoice_date)}",
        f"Date de livraison : {format_date(invoice.delivery_date)}" if invoice.delivery_date
        else "",
        f"Date de dépôt Chorus Pro : {format_date(invoice.deposit_date)}",
        f"Échéance : {format_date(invoice.due_date)}",
    ], size=9)
    y = top - 110
    pdf.canvas.setLineWidth(0.5)
    pdf.canvas.rect(x - 6, y - 70, 222, 84)
    pdf.lines(x, y, [
        "Destinataire :",
        structure.name,
        f"Service : {service.name} ({service.code})" if service else "",
        structure.address.street,
        f"{structure.address.zip} {structure.address.city}",
        f"SIRET : {structure.siret}",
    ], size=9, bold_first=True)
    pdf.y = y - 95


def _references_block(pdf: _Pdf, invoice: SimInvoice) -> None:
    short = frame_short_code(invoice.frame)
    values = [
        f"Objet : {invoice.subject}",
        f"Engagement juridique (bon de commande) : {invoice.purchase_order}"
        if invoice.purchase_order else "",
        f"Marché : {invoice.contract}" if invoice.contract else "",
        f"Cadre de facturation : {short} - {FRAME_LABELS.get(short, invoice.frame)}",
        f"Avoir sur la facture n° {invoice.origin_invoice_number}"
        if invoice.origin_invoice_number else "",
    ]
    pdf.y = pdf.lines(pdf.left, pdf.y, values, size=9) - 6


def _lines_table(pdf: _Pdf, invoice: SimInvoice) -> None:
    columns = [(pdf.left, "Réf.", "left"), (pdf.left + 62, "Désignation", "left"),
               (330, "Qté", "right"), (365, "Unité", "left"), (450, "PU HT", "right"),
               (495, "TVA", "right"), (555, "Montant HT", "right")]
    pdf.rule(pdf.y + 10)
    for x, label, align in columns:
        pdf.text(x, pdf.y, label, size=8, bold=True, align=align)
    pdf.y -= 14
    for line in invoice.lines:
        pdf.new_page_if_needed(14)
        values = [line.reference, line.name[:52], _quantity_text(line.quantity).replace(".", ","),
                  line.unit_label, format_eur(line.unit_price), format_rate(line.vat_rate),
                  format_eur(line.amount_ht)]
        for (x, _label, align), value in zip(columns, values):
            pdf.text(x, pdf.y, value, size=8, align=align)
        pdf.y -= 12
    pdf.rule(pdf.y + 6)
    pdf.y -= 10


def _summary_block(pdf: _Pdf, invoice: SimInvoice) -> None:
    pdf.rule(pdf.y + 10)
    pdf.text(pdf.left, pdf.y, "Désignation", size=8, bold=True)
    pdf.text(555, pdf.y, "Montant HT", size=8, bold=True, align="right")
    pdf.y -= 14
    pdf.text(pdf.left, pdf.y, invoice.subject[:90], size=8)
    pdf.text(555, pdf.y, format_eur(invoice.amount_ht), size=8, align="right")
    pdf.y -= 12
    pdf.text(pdf.left, pdf.y, "Prestations réalisées conformément au bon de commande.", size=8)
    pdf.y -= 8
    pdf.rule(pdf.y)
    pdf.y -= 16


def _totals_block(pdf: _Pdf, invoice: SimInvoice) -> None:
    pdf.new_page_if_needed(120)
    pdf.text(pdf.left, pdf.y, "Récapitulatif TVA", size=9, bold=True)
    pdf.text(200, pdf.y, "Base HT", size=8, bold=True, align="right")
    pdf.text(290, pdf.y, "Montant TVA", size=8, bold=True, align="right")
    top = pdf.y
    y = pdf.y - 13
    for vat in invoice.vat:
        pdf.text(pdf.left, y, f"TVA {format_rate(vat.rate)}", size=8)
        pdf.text(200, y, format_eur(vat.base), size=8, align="right")
        pdf.text(290, y, format_eur(vat.amount), size=8, align="right")
        y -= 12
    totals = [("Total HT", invoice.amount_ht), ("Total TVA", invoice.amount_vat),
              ("Total TTC", invoice.amount_ttc), ("Net à payer", invoice.amount_to_pay)]
    ty = top
    for label, value in totals:
        bold = label == "Net à payer"
        pdf.text(440, ty, label, size=9, bold=bold)
        pdf.text(555, ty, format_eur(value), size=9, bold=bold, align="right")
        ty -= 13
    pdf.y = min(y, ty) - 10


def _payment_block(pdf: _Pdf, world: World, invoice: SimInvoice) -> None:
    payee = world.payee_of(invoice)
    factor = world.factor_of(invoice)
    pdf.new_page_if_needed(90)
    if invoice.frame.startswith("A2_"):
        values = ["Facture déjà réglée par carte d'achat : ne pas mandater.",
                  "Document transmis pour justification de la dépense."]
    else:
        values = [
            "Règlement par virement à 30 jours à compter de la réception de la facture.",
            f"IBAN : {format_iban(payee.iban)}",
            f"BIC : {payee.bic} ({payee.bank_name})",
            f"Titulaire du compte : {payee.name}",
        ]
    if factor is not None:
        values.insert(0, f"Pour être libératoire, le règlement doit être effectué à l'ordre de "
                         f"{factor.name},")
        values.insert(1, "qui le reçoit par subrogation dans le cadre d'un contrat d'affacturage.")
    pdf.text(pdf.left, pdf.y, "Conditions de règlement", size=9, bold=True)
    pdf.y = pdf.lines(pdf.left, pdf.y - 13, values, size=8.5) - 6
    pdf.lines(pdf.left, 70, [
        "En cas de retard de paiement : intérêts moratoires au taux de la BCE majoré de 8 points "
        "et indemnité forfaitaire",
        "pour frais de recouvrement de 40 € (articles L. 2192-13 et R. 2192-31 et suivants du "
        "code de la commande publique).",
    ], size=7, leading=9)


def render_invoice_pdf(world: World, invoice: SimInvoice) -> bytes:
    """The readable invoice (type 01 attachment): parties, references, lines or summary,
    VAT recap, totals, bank details."""
    supplier = world.supplier_of(invoice)
    pdf = _Pdf(f"{document_title(invoice).title()} {invoice.number}", supplier.name,
               invoice.subject)
    _party_blocks(pdf, world, invoice)
    _references_block(pdf, invoice)
    if invoice.lines:
        _lines_table(pdf, invoice)
    else:
        _summary_block(pdf, invoice)
    _totals_block(pdf, invoice)
    _payment_block(pdf, world, invoice)
    return pdf.finish()


COMPLEMENTARY_TEXT = {
    "delivery_note": ("BON DE LIVRAISON", [
        "Marchandises livrées et réceptionnées en bon état.",
        "Réserves : néant.",
    ]),
    "quote": ("DEVIS SIGNÉ - BON POUR ACCORD", [
        "Devis accepté par la collectivité, valant commande.",
        "Validité de l'offre : 3 mois.",
    ]),
    "acceptance_report": ("PROCÈS-VERBAL DE RÉCEPTION", [
        "Les prestations ont été réceptionnées sans réserve.",
        "Date d'effet de la réception : date de signature du présent procès-verbal.",
    ]),
    "timesheet": ("ATTACHEMENT DES TRAVAUX", [
        "Quantités constatées contradictoirement sur le chantier.",
        "Situation arrêtée à la date du présent document.",
    ]),
}


def render_invoice_ubl(world: World, invoice: SimInvoice) -> bytes:
    """The UBL 2.1 flow a supplier deposited (type 01 attachment of a ``DEPOT_FLUX`` invoice):
    parties, references, lines, VAT recap and totals, enough to be a plausible real file."""
    credit = invoice.is_credit_note
    root_ns = UBL_CREDIT_NOTE_NS if credit else UBL_INVOICE_NS
    cac, cbc = f"{{{UBL_CAC}}}", f"{{{UBL_CBC}}}"
    root = etree.Element(f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
                         nsmap={None: root_ns, "cac": UBL_CAC, "cbc": UBL_CBC})
    supplier = world.supplier_of(invoice)
    payee = world.payee_of(invoice)
    structure = world.structures[invoice.structure_id]

    def amount(parent, tag, value):
        _sub(parent, cbc + tag, _decimal_text(value), currencyID=invoice.currency)

    _sub(root, cbc + "CustomizationID", "urn:cen.eu:en16931:2017")
    _sub(root, cbc + "ID", invoice.number)
    _sub(root, cbc + "IssueDate", invoice.invoice_date.isoformat())
    if not credit:
        _sub(root, cbc + "DueDate", invoice.due_date.isoformat())
    _sub(root, cbc + ("CreditNoteTypeCode" if credit else "InvoiceTypeCode"),
         "381" if credit else "380")
    _sub(root, cbc + "DocumentCurrencyCode", invoice.currency)
    if invoice.purchase_order:
        _sub(_sub(root, cac + "OrderReference"), cbc + "ID", invoice.purchase_order)
    if invoice.origin_invoice_number:
        reference = _sub(_sub(root, cac + "BillingReference"), cac + "InvoiceDocumentReference")
        _sub(reference, cbc + "ID", invoice.origin_invoice_number)
    if invoice.contract:
        _sub(_sub(root, cac + "ContractDocumentReference"), cbc + "ID", invoice.contract)
    for role, name, siret, address in (
        ("AccountingSupplierParty", supplier.name, supplier.siret, supplier.address),
        ("AccountingCustomerParty", structure.name, structure.siret, structure.address),
    ):
        party = _sub(_sub(root, cac + role), cac + "Party")
        _sub(party, cbc + "EndpointID", siret, schemeID="0009")
        postal = _sub(party, cac + "PostalAddress")
        _sub(postal, cbc + "StreetName", address.street)
        _sub(postal, cbc + "CityName", address.city)
        _sub(postal, cbc + "PostalZone", address.zip)
        _sub(_sub(postal, cac + "Country"), cbc + "IdentificationCode", "FR")
        legal = _sub(party, cac + "PartyLegalEntity")
        _sub(legal, cbc + "RegistrationName", name)
        _sub(legal, cbc + "CompanyID", siret, schemeID="0009")
    means = _sub(root, cac + "PaymentMeans")
    _sub(means, cbc + "PaymentMeansCode", PAYMENT_MODES.get(invoice.payment_mode, ("30",))[0])
    account = _sub(means, cac + "PayeeFinancialAccount")
    _sub(account, cbc + "ID", payee.iban)
    _sub(account, cbc + "Name", payee.name)
    _sub(_sub(account, cac + "FinancialInstitutionBranch"), cbc + "ID", payee.bic)
    tax_total = _sub(root, cac + "TaxTotal")
    amount(tax_total, "TaxAmount", invoice.amount_vat)
    for vat in invoice.vat:
        subtotal = _sub(tax_total, cac + "TaxSubtotal")
        amount(subtotal, "TaxableAmount", vat.base)
        amount(subtotal, "TaxAmount", vat.amount)
        category = _sub(subtotal, cac + "TaxCategory")
        _sub(category, cbc + "ID", "S")
        _sub(category, cbc + "Percent", _decimal_text(vat.rate))
        _sub(_sub(category, cac + "TaxScheme"), cbc + "ID", "VAT")
    totals = _sub(root, cac + "LegalMonetaryTotal")
    amount(totals, "LineExtensionAmount", invoice.amount_ht)
    amount(totals, "TaxExclusiveAmount", invoice.amount_ht)
    amount(totals, "TaxInclusiveAmount", invoice.amount_ttc)
    amount(totals, "PayableAmount", invoice.amount_to_pay)
    line_tag = "CreditNoteLine" if credit else "InvoiceLine"
    for line in invoice.lines:
        row = _sub(root, cac + line_tag)
        _sub(row, cbc + "ID", line.number)
        _sub(row, cbc + ("CreditedQuantity" if credit else "InvoicedQuantity"),
             _quantity_text(line.quantity), unitCode=line.unit_code or "C62")
        amount(row, "LineExtensionAmount", line.amount_ht)
        item = _sub(row, cac + "Item")
        _sub(item, cbc + "Name", line.name)
        _sub(_sub(item, cac + "SellersItemIdentification"), cbc + "ID", line.reference)
        category = _sub(item, cac + "ClassifiedTaxCategory")
        _sub(category, cbc + "ID", "S")
        _sub(category, cbc + "Percent", _decimal_text(line.vat_rate))
        _sub(_sub(category, cac + "TaxScheme"), cbc + "ID", "VAT")
        amount(_sub(row, cac + "Price"), "PriceAmount", line.unit_price)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def pdf_rendering_name(attachment: SimAttachment) -> str:
    """The name of the PDF Chorus renders for a document deposited as XML."""
    return attachment.name.rsplit(".", 1)[0] + ".pdf" if attachment.is_xml else attachment.name


def render_attachment_pdf(world: World, invoice: SimInvoice, attachment: SimAttachment) -> bytes:
    """A small complementary document (delivery note, signed quote, acceptance report...)."""
    if attachment.type_code == "01":
        return render_invoice_pdf(world, invoice)
    supplier = world.supplier_of(invoice)
    structure = world.structures[invoice.structure_id]
    title, body = COMPLEMENTARY_TEXT.get(attachment.kind, (attachment.category.upper(), []))
    pdf = _Pdf(f"{attachment.category} - {invoice.number}", supplier.name, attachment.category)
    y = pdf.lines(pdf.left, pdf.y, [supplier.name, supplier.address.street,
                                    f"{supplier.address.zip} {supplier.address.city}",
                                    f"SIRET : {supplier.siret}"], bold_first=True)
    pdf.text(pdf.left, y - 20, title, size=15, bold=True)
    y = pdf.lines(pdf.left, y - 45, [
        f"Document n° {attachment.id}",
        f"Se rapporte à la facture n° {invoice.number} du {format_date(invoice.invoice_date)}",
        f"Client : {structure.name}",
        f"Engagement juridique : {invoice.purchase_order}" if invoice.purchase_order else "",
        f"Objet : {invoice.subject}",
    ], size=10, leading=14)
    y = pdf.lines(pdf.left, y - 10, body, size=10, leading=14)
    for line in invoice.lines[:8]:
        pdf.text(pdf.left + 10, y, f"- {line.name} : {_quantity_text(line.quantity)} "
                                   f"{line.unit_label}", size=9)
        y -= 12
    pdf.lines(pdf.left, y - 30, ["Signature et cachet :", "", "Pour la collectivité",
                                 "Pour l'entreprise"], size=9)
    return pdf.finish()


# ------------------------------------------------------------------------------------------
# Cache
# ------------------------------------------------------------------------------------------
class DocumentCache:
    """Thread-safe LRU cache of rendered files, bounded in entries and in bytes."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_render(self, key, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        content = render()  # outside the lock: rendering is the slow part
        with self._lock:
            if key not in self._items:
                self._items[key] = content
                self._bytes += len(content)
                while self._items and (len(self._items) > self.max_entries
                                       or self._bytes > self.max_bytes):
                    _old_key, old = self._items.popitem(last=False)
                    self._bytes -= len(old)
        return content

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


def attachment_content(world: World, invoice: SimInvoice, attachment: SimAttachment,
                       cache: Optional[DocumentCache] = None) -> bytes:
    """Bytes of one attachment as deposited (rendered or from the cache): a PDF, or the UBL XML
    of an invoice deposited as a flow."""
    def render() -> bytes:
        if attachment.is_xml:
            return render_invoice_ubl(world, invoice)
        return render_attachment_pdf(world, invoice, attachment)

    if cache is None:
        return render()
    return cache.get_or_render((invoice.id, attachment.id, invoice.number), render)


def attachment_pdf(world: World, invoice: SimInvoice, attachment: SimAttachment,
                   cache: Optional[DocumentCache] = None) -> bytes:
    """What format PDF gives for one attachment: the file itself, or Chorus's PDF rendering of
    an invoice deposited as XML."""
    if not attachment.is_xml:
        return attachment_content(world, invoice, attachment, cache)

    def render() -> bytes:
        return render_invoice_pdf(world, invoice)

    if cache is None:
        return render()
    return cache.get_or_render((invoice.id, attachment.id, invoice.number, "pdf"), render)


def zipped_attachment(world: World, invoice: SimInvoice, attachment: SimAttachment,
                      cache: Optional[DocumentCache] = None) -> bytes:
    """A PIVOT ``PJ/Contenu`` as the portal writes it: a ZIP holding the file under its name."""
    hostile = invoice.corruption in (CORRUPT_ZIP_BOMB, CORRUPT_PATH_MEMBER) \
        and attachment.type_code == "01"

    def render() -> bytes:
        buffer = io.BytesIO()
        when = datetime.combine(invoice.deposit_date, datetime.min.time())
        name, content = attachment.name, None
        if hostile and invoice.corruption == CORRUPT_ZIP_BOMB:
            content = bytes(ZIP_BOMB_SIZE)
        elif hostile:
            name = PATH_MEMBER_NAME
        if content is None:
            content = attachment_content(world, invoice, attachment, cache)
        with zipfile.ZipFile(buffer, "w") as archive:
            _zip_entry(archive, name, content, when)
        return buffer.getvalue()

    if cache is None or hostile:
        return render()
    return cache.get_or_render((invoice.id, attachment.id, invoice.number, "zip"), render)


# ------------------------------------------------------------------------------------------
# PIVOT
# ------------------------------------------------------------------------------------------
def _sub(parent, tag: str, text=None, **attributes):
    element = etree.SubElement(parent, tag, **attributes)
    if text is not None:
        element.text = str(text)
    return element


def _pivot_unit(parent, world: World, invoice: SimInvoice, position: int, contents) -> None:
    supplier = world.supplier_of(invoice)
    payee = world.payee_of(invoice)
    structure = world.structures[invoice.structure_id]
    service = structure.service_by_code(invoice.service_code)
    unit = _sub(parent, "CPPFacturePivotUnitaire", NumOrdre=str(position))

    fournisseur = _sub(unit, "Fournisseur")
    _sub(fournisseur, "TypeIdentifiant", "1")
    _sub(fournisseur, "Identifiant", supplier.siret)
    _sub(fournisseur, "RaisonSociale", supplier.name)
    _sub(fournisseur, "CodePays", "FR")
    bank = _sub(fournisseur, "ReferenceBancaire", Type="IBAN")
    _sub(bank, "Compte", payee.iban)
    _sub(bank, "Etablissement", payee.bic)
    _sub(bank, "RaisonSocialeEncaisseur", payee.name)
    _sub(fournisseur, "ModeEmission", {"DEPOT_PDF_API": "PDF", "SAISIE_API": "saisie"}.get(
        invoice.deposit_mode, "flux"))

    debiteur = _sub(unit, "Debiteur")
    _sub(debiteur, "TypeIdentifiant", "1")
    _sub(debiteur, "Identifiant", structure.siret)
    _sub(debiteur, "Nom", structure.name)
    if service:
        _sub(debiteur, "CodeService", service.code)
        _sub(debiteur, "NomService", service.name)

    malformed = invoice.corruption == CORRUPT_MALFORMED_PIVOT
    data = _sub(unit, "DonneesFacture")
    _sub(data, "Id", invoice.number)
    _sub(data, "IdCPRO", invoice.id)
    _sub(data, "Renvoi", invoice.redelivery or "Non")
    if invoice.origin_invoice_number:
        _sub(data, "IdFactureOrigine", invoice.origin_invoice_number[:20])
    # A malformed PIVOT: a type and an amount no schema accepts (well-formed XML though).
    _sub(data, "Type", "FAC" if malformed else ("381" if invoice.is_credit_note else "380"))
    _sub(data, "Cadre", frame_short_code(invoice.frame))
    _sub(data, "DateEmissionFacture", invoice.invoice_date.isoformat())
    if invoice.delivery_date:
        _sub(data, "DateLivraison", invoice.delivery_date.isoformat())
    code, label = PAYMENT_MODES.get(invoice.payment_mode, ("30", "Virement"))
    mode = _sub(data, "ModePaiement")
    _sub(mode, "Code", code)
    _sub(mode, "Libelle", label)
    _sub(data, "DateReception", invoice.deposit_date.isoformat())
    _sub(data, "Devise", invoice.currency)
    amounts = _sub(data, "Montants")
    _sub(amounts, "MontantHT", "1.234,56 EUR" if malformed else _decimal_text(invoice.amount_ht))
    _sub(amounts, "MontantTTC", _decimal_text(invoice.amount_ttc))
    _sub(amounts, "MontantNetAPayer", _decimal_text(invoice.amount_to_pay))
    taxes = _sub(data, "TVAs")
    for vat in invoice.vat:
        tva = _sub(taxes, "TVA")
        _sub(tva, "Taux", _decimal_text(vat.rate))
        _sub(tva, "BaseHt", _decimal_text(vat.base))
        _sub(tva, "MontantTVA", _decimal_text(vat.amount))
    if invoice.contract or invoice.purchase_order:
        engagement = _sub(data, "Engagement")
        if invoice.contract:
            _sub(engagement, "NumeroMarche", invoice.contract)
        if invoice.purchase_order:
            _sub(engagement, "NumeroEngagement", invoice.purchase_order)
    if invoice.lines:
        lines = _sub(data, "Lignes")
        for line in invoice.lines:
            ligne = _sub(lines, "Ligne", NumOrdre=str(line.number))
            _sub(ligne, "ReferenceProduit", line.reference)
            _sub(ligne, "PrixUnitaire", _decimal_text(line.unit_price))
            _sub(ligne, "Quantite", _quantity_text(line.quantity))
            _sub(ligne, "MontantHT", _decimal_text(line.amount_ht))
            _sub(ligne, "TauxTVA", _decimal_text(line.vat_rate))

    for order, attachment in enumerate(invoice.attachments, start=1):
        pj = _sub(unit, "PJ", NumOrdre=str(order))
        # Like the portal: the base64 of a ZIP holding the file, never the file itself.
        _sub(pj, "Contenu", base64.b64encode(contents(invoice, attachment)).decode("ascii"))
        _sub(pj, "NomPJ", attachment.name[:50])
        if attachment.type_code == "02":
            _sub(pj, "NomPJOrigine", attachment.name[:50])
            _sub(pj, "CategoriePJ", attachment.category[:50])
        _sub(pj, "TypePJ", attachment.type_code)
        _sub(pj, "MimeTypePJ", XML_MIME if attachment.is_xml else PDF_MIME)


def build_pivot(world: World, invoices: list[SimInvoice], *, produced_at: datetime,
                flow_id: str, cache: Optional[DocumentCache] = None) -> bytes:
    """One CPPFacturePivot (V2_02) file holding ``invoices`` with their embedded (zipped)
    attachments."""
    def contents(invoice, attachment):
        return zipped_attachment(world, invoice, attachment, cache)

    root = etree.Element("CPPFacturePivot", Version=PIVOT_VERSION)
    envelope = _sub(_sub(root, "Enveloppe"), "EnveloppeUnitaire", NumOrdre="1")
    parameters = _sub(envelope, "Parametres")
    for order, (code, value) in enumerate(
        (("DtPrd", produced_at.strftime("%Y-%m-%d %H:%M:%S")), ("IdFlx", flow_id)), start=1
    ):
        parameter = _sub(parameters, "ParametreIndiv", NumOrdre=f"{order:04d}")
        _sub(parameter, "Code", code)
        _sub(parameter, "Valeurparametre", value)
    partners = _sub(envelope, "Partenaires")
    first_structure = world.structures[invoices[0].structure_id]
    receiver = _sub(partners, "Recepteur")
    _sub(receiver, "Id", str(first_structure.id)[:8])
    _sub(receiver, "Libelle", first_structure.name)
    sender = _sub(partners, "Emetteur")
    _sub(sender, "Id", "CPP")
    _sub(sender, "Libelle", "CHORUS PRO")
    factures = _sub(root, "CPPFactures", Compteur=str(len(invoices)))
    for position, invoice in enumerate(invoices, start=1):
        _pivot_unit(factures, world, invoice, position, contents)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    for invoice in invoices:
        if invoice.corruption == CORRUPT_BROKEN_XML:
            # Not well-formed: an unescaped ampersand and an unclosed element.
            marker = f"<IdCPRO>{invoice.id}</IdCPRO>".encode()
            xml = xml.replace(marker, marker + "<Note>Commande R&D <urgent></Note>".encode(), 1)
    return xml


# ------------------------------------------------------------------------------------------
# PDF format bundles
# ------------------------------------------------------------------------------------------
def _zip_entry(archive: zipfile.ZipFile, name: str, content: bytes, when: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content)


def build_pdf_bundle(world: World, invoices: list[SimInvoice], with_complementary: bool,
                     cache: Optional[DocumentCache] = None) -> tuple[bytes, str]:
    """What ``format: PDF`` returns: ``(bytes, kind)`` with kind ``"pdf"`` or ``"zip"``.

    One invoice with only its main document -> that PDF; one invoice with complementary
    attachments requested -> a flat ZIP; several invoices -> a ZIP, one directory per invoice.
    An invoice deposited as XML comes as Chorus's PDF rendering of it.
    """
    def files_of(invoice):
        chosen = invoice.attachments if with_complementary else [invoice.main_attachment]
        return [(pdf_rendering_name(a), attachment_pdf(world, invoice, a, cache)) for a in chosen]

    if len(invoices) == 1:
        files = files_of(invoices[0])
        if len(files) == 1:
            return files[0][1], "pdf"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for invoice in invoices:
            when = datetime.combine(invoice.deposit_date, datetime.min.time())
            folder = "" if len(invoices) == 1 else f"{invoice.id}_{_safe_name(invoice.number)}/"
            seen = set()
            for name, content in files_of(invoice):
                entry = name if name not in seen else f"{len(seen)}_{name}"
                seen.add(entry)
                _zip_entry(archive, folder + entry, content, when)
    return buffer.getvalue(), "zip"
