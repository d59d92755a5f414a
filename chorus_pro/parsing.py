"""Pure functions turning Chorus Pro JSON answers into the records of :mod:`chorus_pro.records`.

No HTTP here: every function takes the decoded JSON (``dict`` / ``list``) and returns records, so
the parsing is unit-tested on its own and reused by anything that stores raw answers.

Parsing is tolerant on purpose (``chorus-pro-api.md`` §10): unknown fields are ignored, optional
fields may be missing or ``null``, a single object is accepted where a list is expected, numbers may
come as JSON numbers or strings. Amounts become ``Decimal`` through ``str(value)`` so that a float
such as ``1200.1`` gives ``Decimal("1200.1")`` and not the binary noise of ``Decimal(1200.1)``;
dates become ``date`` and timestamps aware ``datetime`` (Paris time) via :mod:`chorus_pro.timeutil`.

Only a missing invoice identifier in a search item is fatal for that item
(:func:`parse_invoice_summary` raises :class:`ValueError`); single-object answers accept the
identifier the caller asked for as a fallback.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Optional

from .identifiers import compact_iban, is_valid_iban
from .records import (
    Address,
    AttachmentInfo,
    BankDetails,
    Factor,
    InvoiceDetail,
    InvoiceLine,
    InvoiceSummary,
    Page,
    Service,
    StatusChangeResult,
    StatusEvent,
    StatusHistory,
    Structure,
    StructureDetail,
    Supplier,
    TaxLine,
)
from .timeutil import parse_date, parse_datetime

__all__ = [
    "as_list",
    "as_dict",
    "nested_list",
    "to_decimal",
    "to_int",
    "to_text",
    "to_bool",
    "parse_page",
    "parse_invoice_summary",
    "parse_works_invoice_summary",
    "parse_invoice_detail",
    "parse_bank_details",
    "parse_factor",
    "parse_status_history",
    "parse_status_change",
    "parse_possible_statuses",
    "parse_structure",
    "parse_structure_detail",
    "structure_status",
    "parse_service",
    "parse_vat_rates",
]

# ---------------------------------------------------------------------------------------------
# Scalars


def as_list(value) -> list:
    """A list whatever Chorus sent: ``None``/``""`` → ``[]``, one object → ``[object]``."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def nested_list(container, *keys) -> list:
    """Items of a wrapped list such as ``{"lignePoste": [...]}``.

    Chorus wraps most lists in an object that also carries paging figures; the bare list (or a
    single object under the key) is accepted too. Non-object items are dropped.
    """
    if container is None:
        return []
    if isinstance(container, dict):
        for key in keys:
            if key in container:
                return [item for item in as_list(container[key]) if isinstance(item, dict)]
        return []
    return [item for item in as_list(container) if isinstance(item, dict)]


def _first(data: dict, *keys) -> Any:
    """The first value among ``keys`` that is neither missing, ``None`` nor an empty string."""
    for key in keys:
        value = data.get(key)
        if value is not None and value != "":
            return value
    return None


def _identifier(value, fallback: Optional[int], refusal: str) -> int:
    """The Chorus id an answer gives, else the one the caller asked about; none: ``refusal``."""
    identifier = to_int(value)
    if identifier is None:
        identifier = fallback
    if identifier is None:
        raise ValueError(refusal)
    return identifier


def to_decimal(value) -> Optional[Decimal]:
    """An exact ``Decimal`` from a JSON number or string ("1 200,50" accepted), else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # str() gives the shortest repr that round-trips: 1200.1 -> "1200.1", no binary noise.
        text = str(value)
    else:
        text = str(value).strip()
        text = re.sub(r"[\s\u00a0\u202f]", "", text)
        if "," in text and "." not in text:
            text = text.replace(",", ".")
    if not text:
        return None
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def to_int(value) -> Optional[int]:
    """An ``int`` from a JSON number or a numeric string; ``None`` for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = to_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def to_text(value) -> str:
    """A stripped string; ``""`` for ``None``. Numbers (e.g. a numeric invoice number) as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


_TRUE = frozenset({"true", "oui", "yes", "o", "y", "1"})
_FALSE = frozenset({"false", "non", "no", "n", "0"})


def to_bool(value) -> Optional[bool]:
    """``True``/``False`` from a JSON boolean, ``"OUI"``/``"NON"``, ``"true"``/``"false"``, 1/0."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _decimal_or(value, default: Decimal) -> Decimal:
    number = to_decimal(value)
    return default if number is None else number


def as_dict(value) -> dict:
    """``value`` when it is a JSON object, else ``{}`` (for optional nested blocks)."""
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------------------------------------
# Pagination


def parse_page(data: dict) -> Optional[Page]:
    """Paging figures of a search answer, or ``None`` when ``pageCourante``/``pages`` are missing.

    ``rechercher/recipiendaire`` puts them at the top level; the other searches inside
    ``parametresRetour`` (``chorus-pro-api.md`` §3). Both places are looked at for every search.
    """
    for source in (data, as_dict(data.get("parametresRetour"))):
        current = to_int(source.get("pageCourante"))
        pages = to_int(source.get("pages"))
        if current is not None and pages is not None:
            return Page(
                current=current,
                pages=pages,
                per_page=to_int(source.get("nbResultatsParPage")) or 0,
                total=to_int(source.get("total")) or 0,
            )
    return None


# ---------------------------------------------------------------------------------------------
# Invoices: search items


def parse_invoice_summary(item: dict, *, payment_request_type: str = "FACTURE") -> InvoiceSummary:
    """One item of ``rechercher/recipiendaire`` (works-invoice names accepted as well).

    Raises :class:`ValueError` when the item carries no invoice identifier at all.
    """
    if not isinstance(item, dict):
        raise ValueError("search item is not an object")
    chorus_id = to_int(_first(item, "idFacture", "idFactureTravaux", "identifiantFactureCPP"))
    if chorus_id is None:
        raise ValueError("search item without invoice identifier")
    works_type = to_text(item.get("typeFactureTravaux"))
    return InvoiceSummary(
        chorus_id=chorus_id,
        number=to_text(_first(item, "numeroFacture", "numeroFactureTravaux")),
        payment_request_type=to_text(item.get("typeDemandePaiement")) or payment_request_type,
        invoice_type=to_text(item.get("typeFacture")) or works_type,
        status=to_text(
            _first(item, "statut", "statutFacture", "statutFactureTravaux", "statutCourant")
        ),
        status_datetime=parse_datetime(item.get("dateHeureEtatCourant")),
        status_comment=to_text(item.get("commentaireEtatCourant")),
        invoice_date=parse_date(_first(item, "dateFacture", "dateFactureTravaux")),
        deposit_date=parse_date(item.get("dateDepot")),
        currency=to_text(_first(item, "devise", "codeDevise", "codeDeviseFacture")) or "EUR",
        amount_untaxed=to_decimal(_first(item, "montantHT", "montantHt", "montantHtTotal")),
        amount_total=to_decimal(_first(item, "montantTTC", "montantTtc", "montantTtcTotal")),
        amount_to_pay=to_decimal(_first(item, "montantAPayer", "montantApayer")),
        recipient_id=to_int(item.get("idDestinataire")),
        recipient_code=to_text(_first(item, "codeDestinataire", "identifiantDestinataire")),
        recipient_name=to_text(_first(item, "designationDestinataire", "libelleDestinataire")),
        service_id=to_int(item.get("idServiceExecutant")),
        # Works invoices may name the service identifiantServiceExecutant (real answers).
        service_code=to_text(_first(item, "codeServiceExecutant", "identifiantServiceExecutant")),
        service_name=to_text(_first(item, "nomServiceExecutant", "libelleServiceExecutant")),
        supplier_code=to_text(_first(item, "codeFournisseur", "identifiantFournisseur")),
        supplier_identifier_type=to_text(item.get("typeIdentifiantFournisseur")),
        supplier_name=to_text(item.get("designationFournisseur")),
        purchase_order=to_text(_first(item, "numeroBonCommande", "numeroEngagement")),
        contract=to_text(item.get("numeroMarche")),
        downloaded=to_bool(
            _first(item, "factureTelechargeeParDestinataire", "flagTelecharge", "telechargee")
        ),
        size=to_int(item.get("taille")),
        works_type=works_type,
    )


def parse_works_invoice_summary(item: dict) -> InvoiceSummary:
    """One item of ``facturesTravaux/v1/rechercher`` (``idFactureTravaux``…).

    The plain-invoice names are accepted too; ``payment_request_type`` is always
    ``FACTURE_TRAVAUX``.
    """
    summary = parse_invoice_summary(item, payment_request_type="FACTURE_TRAVAUX")
    summary.payment_request_type = "FACTURE_TRAVAUX"
    return summary


# ---------------------------------------------------------------------------------------------
# Invoices: consult


_FULL_IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")


def _compact(value) -> str:
    return re.sub(r"[\s.\-\u00a0\u202f]+", "", to_text(value)).upper()


def _account_candidates(account: str, iban_key: str, country: str, bban: str) -> list[str]:
    """Possible full account numbers, most likely first (see :func:`parse_bank_details`)."""
    candidates = [account]
    if iban_key:
        prefixes = []
        if re.fullmatch(r"[A-Z]{2}\d{2}", iban_key):
            prefixes.append(iban_key)
        elif re.fullmatch(r"\d{2}", iban_key) and country:
            prefixes.append(country + iban_key)
        for prefix in prefixes:
            if not account.startswith(prefix):
                candidates.append(prefix + account)
            if bban and bban != account:
                candidates.append(prefix + bban)
    if bban and bban != account:
        candidates.append(bban)
    return [candidate for candidate in candidates if candidate]


def parse_bank_details(supplier: dict) -> Optional[BankDetails]:
    """Bank details of the ``fournisseur`` block of ``consulter/recipiendaire``; ``None`` if absent.

    How Chorus splits an IBAN between ``coordBancairesFournisseurCompteBancaire`` and
    ``coordBancairesFournisseurCleIban`` is [unconfirmed] (doc §10.6). Rule: strip separators and
    upper-case; when the account already looks like a full IBAN (country + check digits + BBAN)
    it is kept as is; otherwise the candidates "CleIban (``FR76``) + account", "country code +
    CleIban (``76``) + account" and the same with a BBAN rebuilt from bank code, branch code,
    account and RIB key are tried, and the first one with a valid IBAN checksum wins. A French
    RIB (type ``RIB``) is rebuilt as bank code + branch code + account + RIB key. When nothing
    validates, the compacted account is returned unchanged: the addon validates and flags it.
    """
    if not isinstance(supplier, dict):
        return None
    account = _compact(
        _first(supplier, "coordBancairesFournisseurCompteBancaire", "coordBancairesCompteBancaire")
    )
    iban_key = _compact(
        _first(supplier, "coordBancairesFournisseurCleIban", "coordBancairesCleIban")
    )
    bank_code = _compact(
        _first(supplier, "coordBancairesFournisseurCodeBanque", "coordBancairesCodeBanque")
    )
    branch_code = _compact(
        _first(supplier, "coordBancairesCodeGuichet", "coordBancairesFournisseurCodeGuichet")
    )
    rib_key = _compact(_first(supplier, "coordBancairesFournisseurCleRib", "coordBancairesCleRib"))
    country = _compact(
        _first(supplier, "coordBancairesFournisseurCodePays", "coordBancairesCodePays")
    )
    bic = _compact(
        _first(supplier, "coordBancairesBicSwift", "coordBancairesFournisseurBicSwift")
    )
    chorus_id = to_int(_first(supplier, "coordBancairesFournisseurId", "coordBancairesId"))
    label = to_text(_first(supplier, "coordBancairesFournisseurLibelle", "coordBancairesLibelle"))
    account_type = _compact(
        _first(supplier, "coordBancairesFournisseurType", "coordBancairesType")
    )
    if not (account or iban_key or bank_code or bic or chorus_id):
        return None

    bban = ""
    if bank_code and branch_code and account and len(account) <= 11:
        bban = bank_code + branch_code + account + rib_key
    if _FULL_IBAN_RE.match(account) and is_valid_iban(account):
        normalised = account
    else:
        candidates = _account_candidates(account, iban_key, country, bban)
        normalised = next(
            (candidate for candidate in candidates if is_valid_iban(candidate)),
            bban if account_type == "RIB" and bban else account,
        )
    if not account_type:
        account_type = "IBAN" if _FULL_IBAN_RE.match(normalised) else ("RIB" if bban else "IBAN")
    if account_type == "IBAN":
        normalised = compact_iban(normalised) or normalised
    return BankDetails(
        account_type=account_type,
        account=normalised,
        bic=bic,
        label=label,
        chorus_id=chorus_id,
    )


def parse_factor(block: dict) -> Optional[Factor]:
    """The factoring company (``affactureur`` object); ``None`` when absent or empty."""
    if not isinstance(block, dict):
        return None
    factor = Factor(
        identifier=to_text(block.get("affactureurCode")),
        identifier_type=to_text(block.get("affactureurTypeIdentifiant")),
        name=to_text(block.get("affactureurRaisonSociale")),
        country_code=to_text(block.get("affactureurCodePays")),
        chorus_id=to_int(block.get("affactureurId")) or None,
    )
    if not (factor.identifier or factor.name or factor.chorus_id):
        return None
    return factor


def _address(data: dict, prefix: str) -> Address:
    complements = [
        to_text(data.get(f"{prefix}Complement1")),
        to_text(data.get(f"{prefix}Complement2")),
    ]
    return Address(
        street=to_text(data.get(f"{prefix}Detail")),
        street2=", ".join(part for part in complements if part),
        zip=to_text(data.get(f"{prefix}CodePostal")),
        city=to_text(data.get(f"{prefix}Ville")),
        country_code=to_text(data.get(f"{prefix}CodePays")),
        country_name=to_text(data.get(f"{prefix}LibellePays")),
    )


def _tax_line(item: dict) -> TaxLine:
    rate = to_decimal(item.get("ligneTvaTauxRefValeur"))
    if rate is None:
        rate = to_decimal(item.get("ligneTvaTauxManuel"))
    return TaxLine(
        rate=rate,
        base=_decimal_or(item.get("ligneTvaMontantBaseHtParTaux"), Decimal("0")),
        amount=_decimal_or(item.get("ligneTvaMontantTvaParTaux"), Decimal("0")),
        code=to_text(item.get("ligneTvaTauxRefCode")),
    )


def _invoice_line(item: dict, position: int) -> InvoiceLine:
    # lignePosteTauxTva is a string (a rate or a rate code); the manual rate is a number.
    tax_rate = to_decimal(item.get("lignePosteTauxTva"))
    if tax_rate is None:
        tax_rate = to_decimal(item.get("lignePosteTauxTvaManuel"))
    return InvoiceLine(
        sequence=to_int(item.get("lignePosteNumero")) or position,
        reference=to_text(item.get("lignePosteReference")),
        name=to_text(item.get("lignePosteDenomination")),
        quantity=_decimal_or(item.get("lignePosteQuantite"), Decimal("1")),
        unit_code=to_text(item.get("lignePosteUniteCode")),
        price_unit=_decimal_or(item.get("lignePosteMontantUnitaireHT"), Decimal("0")),
        discount_amount=_decimal_or(item.get("lignePosteMontantRemiseHT"), Decimal("0")),
        tax_rate=tax_rate,
        amount_untaxed=_decimal_or(item.get("lignePosteMontantHtApresRemise"), Decimal("0")),
        amount_tax=to_decimal(item.get("lignePosteMontantTva")),
        amount_total=to_decimal(item.get("lignePosteMontantTtcApresRemise")),
    )


def _attachment(item: dict) -> AttachmentInfo:
    return AttachmentInfo(
        chorus_id=to_int(item.get("pieceJointeId")),
        name=to_text(item.get("pieceJointeDesignation")),
        extension=to_text(item.get("pieceJointeExtension")),
        type_code=to_text(item.get("pieceJointeTypeCode")),
        type_label=to_text(item.get("pieceJointeTypeLibelle")),
    )


def invoice_line_items(invoice: dict) -> list:
    """Raw ``lignePoste`` objects of a ``facture`` object (used to merge extra pages)."""
    return nested_list(invoice.get("lignesDePoste"), "lignePoste", "lignesPoste")


def attachment_items(invoice: dict) -> list:
    """Raw ``pieceJointe`` objects of a ``facture`` object (used to merge extra pages)."""
    return nested_list(invoice.get("listeDesPiecesJointes"), "pieceJointe", "piecesJointes")


def tax_items(invoice: dict) -> list:
    """Raw ``ligneTva`` objects of a ``facture`` object (used to merge extra pages)."""
    return nested_list(invoice.get("recapitulatifDeTva"), "ligneTva", "lignesTva")


def parse_invoice_detail(data: dict, *, chorus_id: Optional[int] = None) -> InvoiceDetail:
    """The ``consulter/recipiendaire`` answer (the whole answer or its ``facture`` object).

    ``chorus_id`` (the id that was asked for) is used when the answer does not repeat it.
    """
    invoice = data["facture"] if isinstance(data.get("facture"), dict) else as_dict(data)
    frame_block = invoice.get("cadreDeFacturation")
    frame = (
        to_text(frame_block.get("codeCadreFacturation"))
        if isinstance(frame_block, dict)
        else to_text(frame_block)
    )
    recipient = as_dict(invoice.get("destinataire"))
    supplier_block = as_dict(invoice.get("fournisseur"))
    references = as_dict(invoice.get("references"))
    totals = as_dict(invoice.get("montantTotal"))

    supplier_address = _address(supplier_block, "adresseFournisseur")
    supplier = _supplier(supplier_block, supplier_address)
    factor = parse_factor(supplier_block.get("affactureur")) or parse_factor(
        invoice.get("affactureur")
    )
    identifier = _identifier(_first(invoice, "identifiantFactureCPP", "idFacture"), chorus_id,
                             "invoice answer without invoice identifier")

    return InvoiceDetail(
        chorus_id=identifier,
        number=to_text(invoice.get("numeroFacture")),
        status=to_text(_first(invoice, "statutFacture", "statut", "statutCourant")),
        deposit_mode=to_text(invoice.get("modeDepot")),
        supplier_comment=to_text(invoice.get("commentaire")),
        frame=frame,
        recipient_id=to_int(recipient.get("idDestinataire")),
        recipient_code=to_text(recipient.get("codeDestinataire")),
        recipient_name=to_text(
            _first(recipient, "libelleDestinataire", "designationDestinataire")
        ),
        service_id=to_int(recipient.get("idServiceExecutant")),
        service_code=to_text(
            _first(recipient, "codeServiceExecutant", "identifiantServiceExecutant")
        ),
        service_name=to_text(
            _first(recipient, "libelleServiceExecutant", "nomServiceExecutant")
        ),
        recipient_is_state=to_bool(recipient.get("destinataireEtat")),
        supplier=supplier,
        bank=parse_bank_details(supplier_block),
        factor=factor,
        currency=to_text(_first(references, "codeDeviseFacture", "devise")) or "EUR",
        invoice_date=parse_date(references.get("dateFacture")),
        deposit_date=parse_date(references.get("dateDepot")),
        created_at=parse_datetime(references.get("dateCreationFacture")),
        due_date=parse_date(references.get("dateEcheancePaiement")),
        payment_mode=to_text(references.get("modePaiement")),
        invoice_type=to_text(references.get("typeFacture")),
        vat_type=to_text(references.get("typeTva")),
        purchase_order=to_text(references.get("numeroBonCommande")),
        contract=to_text(references.get("numeroMarche")),
        origin_invoice_number=to_text(references.get("numeroFactureOrigine")),
        mandate_number=to_text(_first(references, "numeroDpMandat", "numeroDPMandat")),
        works_type=to_text(references.get("typeFactureTravaux")),
        attachments_total_size=to_int(references.get("tailleTotalePiecesJointes")),
        amount_untaxed=to_decimal(_first(totals, "montantHtTotal", "montantHT")),
        amount_tax=to_decimal(_first(totals, "montantTVA", "montantTva")),
        amount_total=to_decimal(_first(totals, "montantTtcTotal", "montantTTC")),
        amount_to_pay=to_decimal(_first(totals, "montantAPayer", "montantApayer")),
        taxes=[_tax_line(item) for item in tax_items(invoice)],
        lines=[
            _invoice_line(item, position)
            for position, item in enumerate(invoice_line_items(invoice), start=1)
        ],
        attachments=[_attachment(item) for item in attachment_items(invoice)],
    )


def _supplier(block: dict, address: Address) -> Supplier:
    return Supplier(
        identifier=to_text(_first(block, "codeFournisseur", "identifiantFournisseur")),
        identifier_type=to_text(block.get("typeIdentifiantFournisseur")),
        name=to_text(_first(block, "designationFournisseur", "raisonSocialeFournisseur")),
        chorus_id=to_int(block.get("idFournisseur")),
        service_code=to_text(block.get("codeServiceFournisseur")),
        service_name=to_text(
            _first(block, "libelleServiceFournisseur", "nomServiceFournisseur")
        ),
        rcs=to_text(block.get("numeroRcsFournisseur")),
        country_code=address.country_code,
        address=address,
    )


# ---------------------------------------------------------------------------------------------
# History, status change, status reference

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _ordered_oldest_first(events: list[StatusEvent]) -> list[StatusEvent]:
    """Events sorted oldest first whatever order Chorus used.

    History dates have minute resolution (``"YYYY-MM-DD HH:MM"``), so two changes in the same
    minute tie on date: the history id breaks the tie; without ids, the original order is kept
    (reversed first when Chorus listed newest first, its default).
    """
    dated = [event.at for event in events if event.at is not None]
    ids = [event.chorus_id for event in events if event.chorus_id is not None]
    newest_first = (len(dated) >= 2 and dated[0] > dated[-1]) or (
        len(dated) < 2 and len(ids) >= 2 and ids[0] > ids[-1]
    )
    if newest_first:
        events = list(reversed(events))
    # sorted() is stable: events tying on (date, id) keep the order established above.
    return sorted(
        events,
        key=lambda event: (
            event.at or _EPOCH,
            event.chorus_id if event.chorus_id is not None else 0,
        ),
    )


def parse_status_history(data: dict, *, chorus_id: Optional[int] = None) -> StatusHistory:
    """The ``consulter/historique`` answer: events oldest first, current status.

    ``current_status`` is ``statutCourantCode``; when missing, the code of the latest event.
    """
    block = data.get("historiquesDesStatuts")
    events = []
    for item in nested_list(block, "histoStatut", "histoStatuts"):
        code = to_text(_first(item, "histoStatutCode", "statut", "code"))
        if not code:
            continue
        names = [
            to_text(item.get("histoStatutUtilisateurPrenom")),
            to_text(item.get("histoStatutUtilisateurNom")),
        ]
        events.append(
            StatusEvent(
                code=code,
                at=parse_datetime(item.get("histoStatutDatePassage")),
                comment=to_text(item.get("histoStatutCommentaire")),
                chorus_id=to_int(item.get("histoStatutId")),
                user_name=" ".join(name for name in names if name),
            )
        )
    events = _ordered_oldest_first(events)
    identifier = _identifier(data.get("idFacture"), chorus_id,
                             "history answer without invoice identifier")
    current = to_text(data.get("statutCourantCode")) or (events[-1].code if events else "")
    return StatusHistory(
        chorus_id=identifier,
        number=to_text(data.get("numeroFacture")),
        current_status=current,
        events=events,
    )


def parse_status_change(
    data: dict, *, chorus_id: Optional[int] = None, new_status: str = ""
) -> StatusChangeResult:
    """The ``traiter/recue`` answer (``idFacture``, ``numeroFacture``, ``dateTraitement``…)."""
    identifier = _identifier(data.get("idFacture"), chorus_id,
                             "status change answer without invoice identifier")
    return StatusChangeResult(
        chorus_id=identifier,
        number=to_text(data.get("numeroFacture")),
        new_status=to_text(_first(data, "nouveauStatut", "statutFacture", "statut")) or new_status,
        processing_date=parse_date(data.get("dateTraitement")),
        return_code=to_int(data.get("codeRetour")) or 0,
        label=to_text(data.get("libelle")),
    )


def parse_possible_statuses(data: dict) -> list[str]:
    """Status codes of ``recuperer/etats/traitement``, in Chorus's order, without duplicates."""
    raw = data.get("listeStatutsPossiblesPourTraitement")
    if isinstance(raw, dict) and not any(
        key in raw for key in ("statutPossiblePourTraitement", "statut", "code")
    ):
        raw = next(iter(raw.values()), None)
    codes = []
    for item in as_list(raw):
        if isinstance(item, dict):
            code = to_text(_first(item, "statutPossiblePourTraitement", "statut", "code"))
        else:
            code = to_text(item)
        if code and code not in codes:
            codes.append(code)
    return codes


# ---------------------------------------------------------------------------------------------
# Structures, services, reference data


def parse_structure(item: dict) -> Structure:
    """An item of ``listeStructures`` (structures search or active structures of the user)."""
    if not isinstance(item, dict):
        raise ValueError("structure item is not an object")
    chorus_id = to_int(_first(item, "idStructureCPP", "idStructure"))
    if chorus_id is None:
        raise ValueError("structure item without idStructureCPP")
    return Structure(
        chorus_id=chorus_id,
        identifier=to_text(_first(item, "identifiantStructure", "identifiant")),
        identifier_type=to_text(_first(item, "typeIdentifiantStructure", "typeIdentifiant"))
        or "SIRET",
        name=to_text(
            _first(
                item,
                "designationStructure",
                "raisonSocialeStructure",
                "libelleStructure",
                "designation",
            )
        ),
        status=structure_status(_first(item, "statut", "statutStructure")),
    )


# Chorus writes a structure's or a service's state in French or in English depending on the
# answer (``ACTIF`` / ``ACTIVE``): one spelling is kept.
_STATUS_SPELLINGS = {"ACTIVE": "ACTIF", "INACTIVE": "INACTIF"}


def structure_status(value) -> str:
    """``ACTIF`` / ``INACTIF`` whatever the spelling (``ACTIVE``, ``actif``...); other codes as
    they came, upper case."""
    code = to_text(value).upper()
    return _STATUS_SPELLINGS.get(code, code)


def parse_structure_detail(data: dict, *, chorus_id: Optional[int] = None) -> StructureDetail:
    """The ``structures/v1/consulter`` answer.

    ``password_expiry_date`` comes from ``dateExpirationMotPasseCompteTech`` when Chorus fills it
    (doc §10.7: unconfirmed for public structures; ``None`` otherwise).
    """
    info = as_dict(data.get("informationGenerales") or data.get("informationsGenerales"))
    address_block = as_dict(data.get("adressePostaleDuSiege") or data.get("adressePostale"))
    identifier = _identifier(_first(info, "idStructureCPP", "idStructure"), chorus_id,
                             "structure answer without idStructureCPP")
    name = to_text(info.get("raisonSocialeStructure"))
    if not name:
        name = " ".join(
            part
            for part in (to_text(info.get("prenomStructure")), to_text(info.get("nomStructure")))
            if part
        )
    country = to_text(_first(address_block, "codePays", "pays"))
    complements = [
        to_text(address_block.get("complementAdresse1")),
        to_text(address_block.get("complementAdresse2")),
    ]
    address = Address(
        street=to_text(_first(address_block, "adresse", "ligneAdresse1")),
        street2=", ".join(part for part in complements if part),
        zip=to_text(address_block.get("codePostal")),
        city=to_text(address_block.get("ville")),
        country_code=country if re.fullmatch(r"[A-Za-z]{2}", country) else "",
        country_name=to_text(address_block.get("libellePays"))
        or ("" if re.fullmatch(r"[A-Za-z]{2}", country) else country),
    )
    parameters = data.get("parametres")
    return StructureDetail(
        chorus_id=identifier,
        identifier=to_text(info.get("identifiantStructure")),
        identifier_type=to_text(info.get("typeIdentifiantStructure")),
        name=name,
        label=to_text(info.get("libelleStructure")),
        email=to_text(info.get("emailStructure")),
        vat_number=to_text(info.get("numeroTVA")),
        public_or_private=to_text(info.get("structurePriveePublique")),
        password_expiry_date=parse_date(info.get("dateExpirationMotPasseCompteTech")),
        address=address,
        parameters=dict(parameters) if isinstance(parameters, dict) else {},
    )


def parse_service(item: dict) -> Service:
    """An item of ``listeServices`` (``structures/v1/rechercher/services``)."""
    if not isinstance(item, dict):
        raise ValueError("service item is not an object")
    chorus_id = to_int(_first(item, "idService", "idServiceExecutant"))
    if chorus_id is None:
        raise ValueError("service item without idService")
    active = to_bool(item.get("estActif"))
    status = structure_status(item.get("statutService"))
    if active is None and status in ("ACTIF", "INACTIF"):
        active = status == "ACTIF"
    return Service(
        chorus_id=chorus_id,
        code=to_text(item.get("codeService")),
        name=to_text(_first(item, "libelleService", "nomService")),
        active=True if active is None else active,
        status=status,
    )


def parse_vat_rates(data: dict) -> list[dict]:
    """``recuperer/tauxtva`` as ``[{"code": "TVA20", "label": …, "rate": Decimal("20")}, …]``."""
    rates = []
    for item in nested_list(data.get("listeTauxTva"), "tauxTva"):
        rates.append(
            {
                "code": to_text(item.get("codeTauxTva")),
                "label": to_text(item.get("libelleTauxTva")),
                "rate": to_decimal(item.get("valeurTauxTva")),
            }
        )
    return rates


def parse_items(items: Iterable, parser) -> tuple[list, int]:
    """Apply ``parser`` to every item, skipping unusable ones; returns (records, skipped count)."""
    parsed, skipped = [], 0
    for item in items:
        try:
            parsed.append(parser(item))
        except ValueError:
            skipped += 1
    return parsed, skipped
