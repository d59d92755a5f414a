"""Typed data of the simulated Chorus Pro world: structures, suppliers, invoices, history.

Everything the simulator serves comes from one :class:`World` object. It is built by
:func:`chorus_pro.simulator.generator.generate_world` (deterministic for a given seed and anchor
date), mutated by the API (``traiter/recue``, downloads) and the admin interface, and saved to /
loaded from JSON for ``--state``. Documents (PDF, PIVOT, ZIP) are *not* stored here: they are
rendered on demand from these records by :mod:`chorus_pro.simulator.documents`.

Tests find notable invoices by tag (:data:`TAGS`) rather than by id, e.g.
``world.first_tagged("factored")``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Optional

from chorus_pro.records import Address
from chorus_pro.timeutil import PARIS

# Stable tags the generator puts on notable invoices (also exposed by ``/_admin/invoices?tag=``).
TAG_FACTORED = "factored"  # bank account of a factoring company + affactureur block
TAG_CREDIT_NOTE = "credit_note"  # AVOIR / PIVOT 381 with IdFactureOrigine
TAG_CREDIT_NOTE_ORIGIN = "credit_note_origin"  # the invoice a credit note points at
TAG_MULTI_ATTACHMENTS = "multi_attachments"  # >= 3 complementary attachments
TAG_STRUCTURED = "structured"  # lines + VAT recap
TAG_MULTI_VAT = "multi_vat"  # lines at 20, 10 and 5.5 %
TAG_PDF_ONLY = "pdf_only"  # no lines, VAT recap only
TAG_A2 = "a2"  # A2_FACTURE_FOURNISSEUR_DEJA_PAYEE (montantAPayer = 0)
TAG_WORKS = "works"  # FACTURE_TRAVAUX (facturesTravaux API)
TAG_COMPLETED = "completed"  # MISE_A_DISPOSITION -> SUSPENDUE -> COMPLETEE
TAG_OLD_PENDING = "old_pending"  # months old, still MISE_A_DISPOSITION
TAG_DUPLICATE = "duplicate"  # same supplier and number under two Chorus ids
TAG_DUPLICATE_AMOUNT = "duplicate_amount"  # same supplier, amount and date, other numbers
TAG_DOWNLOAD_REFUSED = "download_refused"  # any bundle containing it fails (codeRetour 20003)
TAG_MANDATED = "mandated"  # reached MANDATEE (numeroDpMandat set)
TAG_PAID = "paid"  # reached MISE_EN_PAIEMENT
TAG_SERVICE_DONE = "service_done"  # current status SERVICE_FAIT
TAG_TO_RECYCLE = "to_recycle"  # current status A_RECYCLER
TAG_REJECTED = "rejected"  # current status REJETEE
TAG_CCAS = "ccas"  # addressed to the second structure (CCAS)
TAG_FILLER = "filler"  # ordinary invoice generated to reach --invoices N
TAG_DEPOSITED = "deposited"  # created at run time by /_admin/deposit
# Works invoices months old (before a first retrieval's cutoff): one still waiting, one closed.
TAG_OLD_WORKS = "old_works"
TAG_XML_MAIN = "xml_main"  # deposited as a UBL flow: its type 01 attachment is XML, not a PDF

TAGS = frozenset(
    {
        TAG_FACTORED, TAG_CREDIT_NOTE, TAG_CREDIT_NOTE_ORIGIN, TAG_MULTI_ATTACHMENTS,
        TAG_STRUCTURED, TAG_MULTI_VAT, TAG_PDF_ONLY, TAG_A2, TAG_WORKS, TAG_COMPLETED,
        TAG_OLD_PENDING, TAG_DUPLICATE, TAG_DUPLICATE_AMOUNT, TAG_DOWNLOAD_REFUSED,
        TAG_MANDATED, TAG_PAID, TAG_SERVICE_DONE, TAG_TO_RECYCLE, TAG_REJECTED, TAG_CCAS,
        TAG_FILLER, TAG_DEPOSITED, TAG_OLD_WORKS, TAG_XML_MAIN,
    }
)

# Statuses a recipient never sees in its searches (the invoice is still on its way).
HIDDEN_FROM_RECIPIENT = frozenset({"BROUILLON", "DEPOSEE", "EN_COURS_ACHEMINEMENT"})

# Billing frames handled by the facturesTravaux API (chorus-pro-api.md §4.5).
WORKS_FRAMES = frozenset(
    {
        "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR", "A5_ETAT_ACOMPTE_FOURNISSEUR",
        "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR", "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
        "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
    }
)

# Corruption kinds /_admin/corrupt can put on an invoice.
CORRUPT_MALFORMED_PIVOT = "malformed_pivot"  # well-formed XML that breaks the XSD
CORRUPT_BROKEN_XML = "broken_xml"  # not well-formed XML at all
CORRUPT_TOO_LARGE = "too_large"  # its size makes any bundle answer HTTP 413
CORRUPT_DOWNLOAD_REFUSED = "download_refused"
CORRUPT_ZIP_BOMB = "zip_bomb"  # its PIVOT main document: a ZIP inflating a thousandfold
CORRUPT_PATH_MEMBER = "path_member"  # its PIVOT main document's ZIP member named ../../etc/passwd
CORRUPT_NO_RENDERING = "no_rendering"  # format PDF refused for it (20003); PIVOT still served
CORRUPTION_KINDS = frozenset(
    {CORRUPT_MALFORMED_PIVOT, CORRUPT_BROKEN_XML, CORRUPT_TOO_LARGE, CORRUPT_DOWNLOAD_REFUSED,
     CORRUPT_ZIP_BOMB, CORRUPT_PATH_MEMBER, CORRUPT_NO_RENDERING}
)
ZIP_BOMB_SIZE = 16 * 1024 * 1024  # bytes of zeros a "zip_bomb" member inflates to
PATH_MEMBER_NAME = "../../etc/passwd"
TOO_LARGE_SIZE = 200 * 1024 * 1024  # bytes announced for a "too_large" invoice


def frame_short_code(frame: str) -> str:
    """``A1_FACTURE_FOURNISSEUR`` -> ``A1`` (the PIVOT ``Cadre``)."""
    return (frame or "A1").split("_", 1)[0]


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass
class SimAddress(Address):
    """An address the simulator stores (French unless said otherwise)."""

    country_code: str = "FR"
    country_name: str = "France"

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "SimAddress":
        return cls(**data)


@dataclass
class SimService:
    """A service (``idService`` / ``codeService``) of a recipient structure."""

    id: int
    code: str
    name: str
    active: bool = True
    ej_required: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "SimService":
        return cls(**data)


@dataclass
class SimStructure:
    """A public structure known to Chorus (ours, or another public body for the 403 case)."""

    id: int  # idStructureCPP
    siret: str
    name: str
    kind: str  # "commune" | "ccas" | "public_other"
    attached: bool  # attached to the technical account (visible, searchable as recipient)
    address: SimAddress = field(default_factory=SimAddress)
    email: str = ""
    vat_number: str = ""
    services: list[SimService] = field(default_factory=list)
    service_code_required: bool = True
    ej_required: bool = False

    def service_by_code(self, code: str) -> Optional[SimService]:
        return next((s for s in self.services if s.code == code), None)

    def service_by_id(self, service_id) -> Optional[SimService]:
        return next((s for s in self.services if s.id == service_id), None)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["address"] = self.address.to_dict()
        data["services"] = [s.to_dict() for s in self.services]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SimStructure":
        data = dict(data)
        data["address"] = SimAddress.from_dict(data["address"])
        data["services"] = [SimService.from_dict(s) for s in data["services"]]
        return cls(**data)


@dataclass
class SimSupplier:
    """A supplier company (private structure in Chorus), or a factoring company."""

    index: int  # stable position in World.suppliers (or World.factors)
    id: int  # idStructureCPP = idFournisseur
    name: str
    siret: str
    activity: str  # key of the generator's catalogue ("electricity", "catering"...)
    address: SimAddress = field(default_factory=SimAddress)
    rcs: str = ""
    vat_number: str = ""
    email: str = ""
    iban: str = ""
    bic: str = ""
    bank_name: str = ""
    bank_account_id: int = 0  # coordBancairesFournisseurId
    contact_last_name: str = ""
    contact_first_name: str = ""
    number_prefix: str = "FA"
    number_format: str = "{prefix}{year}-{seq:05d}"
    next_sequence: int = 1
    contract: str = ""  # numeroMarche of its contract with the commune
    is_factor: bool = False

    @property
    def siren(self) -> str:
        return self.siret[:9]

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["address"] = self.address.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SimSupplier":
        data = dict(data)
        data["address"] = SimAddress.from_dict(data["address"])
        return cls(**data)


@dataclass
class SimLine:
    """A line of a structured invoice. ``amount_ht`` = round(quantity x unit_price) - discount."""

    number: int
    reference: str
    name: str
    quantity: Decimal
    unit_code: str
    unit_label: str
    unit_price: Decimal
    vat_rate: Decimal
    amount_ht: Decimal
    discount: Decimal = Decimal("0.00")

    @property
    def amount_vat(self) -> Decimal:
        return _money(self.amount_ht * self.vat_rate / 100)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("quantity", "unit_price", "vat_rate", "amount_ht", "discount"):
            data[key] = str(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SimLine":
        data = dict(data)
        for key in ("quantity", "unit_price", "vat_rate", "amount_ht", "discount"):
            data[key] = Decimal(data[key])
        return cls(**data)


@dataclass
class SimVat:
    """VAT recap line: one per rate, ``amount = round(base x rate / 100, 2)``."""

    rate: Decimal
    base: Decimal
    amount: Decimal

    def to_dict(self) -> dict:
        return {"rate": str(self.rate), "base": str(self.base), "amount": str(self.amount)}

    @classmethod
    def from_dict(cls, data: dict) -> "SimVat":
        return cls(Decimal(data["rate"]), Decimal(data["base"]), Decimal(data["amount"]))


@dataclass
class SimAttachment:
    """An attached file: type 01 = the invoice itself, 02 = complementary document."""

    id: int  # pieceJointeId
    name: str  # file name, at most 50 characters (PIVOT NomPJ)
    type_code: str  # "01" | "02"
    category: str  # "Facture", "Bon de livraison", "Devis signé", ...
    kind: str  # renderer key in documents.py: invoice, invoice_xml, delivery_note, quote, ...
    size_estimate: int  # bytes, what ``taille`` adds up

    @property
    def is_xml(self) -> bool:
        return self.kind == "invoice_xml"

    @property
    def type_label(self) -> str:
        return "Facture" if self.type_code == "01" else "Pièce jointe complémentaire"

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "SimAttachment":
        return cls(**data)


@dataclass
class SimHistoryEntry:
    """One status change (``histoStatut``)."""

    id: int  # histoStatutId, increasing with time
    code: str
    at: datetime  # aware, Europe/Paris, whole seconds
    comment: str = ""
    user: str = ""  # login / actor key (technical account login, "SYSTEME", "HELIOS"...)
    user_last_name: str = ""
    user_first_name: str = ""
    user_email: str = ""

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["at"] = self.at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SimHistoryEntry":
        data = dict(data)
        data["at"] = datetime.fromisoformat(data["at"]).astimezone(PARIS)
        return cls(**data)


@dataclass
class SimInvoice:
    """A payment request received by one of our structures."""

    id: int  # idFacture = identifiantFactureCPP = PIVOT IdCPRO
    number: str  # numeroFacture (supplier's number, <= 20 characters)
    structure_id: int  # idDestinataire
    service_code: str  # codeServiceExecutant ("" when none)
    supplier_index: int  # World.suppliers[supplier_index]
    payment_request_type: str  # FACTURE | FACTURE_TRAVAUX
    invoice_type: str  # FACTURE | AVOIR
    frame: str  # codeCadreFacturation, e.g. A1_FACTURE_FOURNISSEUR
    invoice_date: date
    deposit_date: date
    due_date: date
    delivery_date: Optional[date] = None
    works_type: str = ""  # typeFactureTravaux (works invoices)
    currency: str = "EUR"
    deposit_mode: str = "DEPOT_PDF_API"  # modeDepot
    payment_mode: str = "VIREMENT"
    vat_type: str = "TVA_SUR_DEBIT"
    purchase_order: str = ""  # numeroBonCommande (EJ)
    contract: str = ""  # numeroMarche
    origin_invoice_number: str = ""  # credit notes
    subject: str = ""  # one-line summary printed on PDF-only invoices
    comment: str = ""  # supplier comment
    lines: list[SimLine] = field(default_factory=list)
    vat: list[SimVat] = field(default_factory=list)
    amount_ht: Decimal = Decimal("0.00")
    amount_vat: Decimal = Decimal("0.00")
    amount_ttc: Decimal = Decimal("0.00")
    amount_to_pay: Decimal = Decimal("0.00")
    attachments: list[SimAttachment] = field(default_factory=list)
    history: list[SimHistoryEntry] = field(default_factory=list)
    downloaded: bool = False  # factureTelechargeeParDestinataire
    mandate_number: str = ""  # numeroDpMandat
    factor_index: Optional[int] = None  # World.factors[factor_index] when factored
    redelivery: str = "Non"  # PIVOT Renvoi: Non | Complétée | Recyclée
    corruption: str = ""  # "" or one of CORRUPTION_KINDS except download_refused
    download_refused: bool = False
    tags: set[str] = field(default_factory=set)

    # -- derived ---------------------------------------------------------------------------
    @property
    def structured(self) -> bool:
        return bool(self.lines)

    @property
    def is_works(self) -> bool:
        return self.payment_request_type == "FACTURE_TRAVAUX"

    @property
    def is_credit_note(self) -> bool:
        return self.invoice_type == "AVOIR"

    @property
    def current(self) -> SimHistoryEntry:
        return max(self.history, key=lambda entry: (entry.at, entry.id))

    @property
    def status(self) -> str:
        return self.current.code

    @property
    def status_at(self) -> datetime:
        return self.current.at

    @property
    def status_comment(self) -> str:
        return self.current.comment

    @property
    def main_attachment(self) -> SimAttachment:
        return next(a for a in self.attachments if a.type_code == "01")

    @property
    def complementary_attachments(self) -> list[SimAttachment]:
        return [a for a in self.attachments if a.type_code == "02"]

    @property
    def size(self) -> int:
        """``taille``: estimated bytes of all its files (huge when corrupted as too_large)."""
        if self.corruption == CORRUPT_TOO_LARGE:
            return TOO_LARGE_SIZE
        return sum(a.size_estimate for a in self.attachments)

    def history_newest_first(self) -> list[SimHistoryEntry]:
        return sorted(self.history, key=lambda entry: (entry.at, entry.id), reverse=True)

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("invoice_date", "deposit_date", "due_date", "delivery_date"):
            data[key] = data[key].isoformat() if data[key] else None
        for key in ("amount_ht", "amount_vat", "amount_ttc", "amount_to_pay"):
            data[key] = str(data[key])
        data["lines"] = [line.to_dict() for line in self.lines]
        data["vat"] = [vat.to_dict() for vat in self.vat]
        data["attachments"] = [a.to_dict() for a in self.attachments]
        data["history"] = [h.to_dict() for h in self.history]
        data["tags"] = sorted(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SimInvoice":
        data = dict(data)
        for key in ("invoice_date", "deposit_date", "due_date", "delivery_date"):
            data[key] = date.fromisoformat(data[key]) if data.get(key) else None
        for key in ("amount_ht", "amount_vat", "amount_ttc", "amount_to_pay"):
            data[key] = Decimal(data[key])
        data["lines"] = [SimLine.from_dict(x) for x in data["lines"]]
        data["vat"] = [SimVat.from_dict(x) for x in data["vat"]]
        data["attachments"] = [SimAttachment.from_dict(x) for x in data["attachments"]]
        data["history"] = [SimHistoryEntry.from_dict(x) for x in data["history"]]
        data["tags"] = set(data["tags"])
        return cls(**data)


@dataclass
class SimAccount:
    """PISTE application credentials and the Chorus technical account."""

    client_id: str
    client_secret: str
    login: str
    password: str
    password_expiry: date  # dateExpirationMotPasseCompteTech
    last_name: str = "COMPTE TECHNIQUE"
    first_name: str = "Simulateur"

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["password_expiry"] = self.password_expiry.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SimAccount":
        data = dict(data)
        data["password_expiry"] = date.fromisoformat(data["password_expiry"])
        return cls(**data)


STATE_FORMAT = 1


@dataclass
class World:
    """The whole simulated state: what ``--state`` saves and ``/_admin/reset`` regenerates."""

    seed: int
    anchor_date: date
    account: SimAccount
    structures: dict[int, SimStructure] = field(default_factory=dict)
    suppliers: list[SimSupplier] = field(default_factory=list)
    factors: list[SimSupplier] = field(default_factory=list)
    invoices: dict[int, SimInvoice] = field(default_factory=dict)
    commune_id: int = 0
    ccas_id: int = 0
    foreign_id: int = 0
    next_invoice_id: int = 0
    next_history_id: int = 0
    next_attachment_id: int = 0
    deposit_count: int = 0
    requested_invoices: Optional[int] = None  # --invoices the world was generated with

    # -- look-ups ----------------------------------------------------------------------------
    @property
    def commune(self) -> SimStructure:
        return self.structures[self.commune_id]

    @property
    def ccas(self) -> SimStructure:
        return self.structures[self.ccas_id]

    def attached_structures(self) -> list[SimStructure]:
        return [s for s in self.structures.values() if s.attached]

    def supplier_of(self, invoice: SimInvoice) -> SimSupplier:
        return self.suppliers[invoice.supplier_index]

    def factor_of(self, invoice: SimInvoice) -> Optional[SimSupplier]:
        return None if invoice.factor_index is None else self.factors[invoice.factor_index]

    def payee_of(self, invoice: SimInvoice) -> SimSupplier:
        """Who the money goes to: the factor when the invoice is factored, else the supplier."""
        return self.factor_of(invoice) or self.supplier_of(invoice)

    def supplier_by_id(self, supplier_id: int) -> Optional[SimSupplier]:
        return next((s for s in self.suppliers + self.factors if s.id == supplier_id), None)

    def tagged(self, tag: str) -> list[SimInvoice]:
        return [inv for inv in self.invoices.values() if tag in inv.tags]

    def first_tagged(self, tag: str) -> SimInvoice:
        """The first invoice (lowest id) carrying ``tag``; KeyError when none does."""
        found = self.tagged(tag)
        if not found:
            raise KeyError(f"no invoice tagged {tag!r}")
        return found[0]

    def invoices_of(self, structure_id: int) -> list[SimInvoice]:
        return [inv for inv in self.invoices.values() if inv.structure_id == structure_id]

    def allocate_history_id(self) -> int:
        self.next_history_id += 1
        return self.next_history_id

    def allocate_attachment_id(self) -> int:
        self.next_attachment_id += 1
        return self.next_attachment_id

    def allocate_invoice_id(self, gap: int = 1) -> int:
        self.next_invoice_id += max(1, gap)
        return self.next_invoice_id

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "seed": self.seed,
            "anchor_date": self.anchor_date.isoformat(),
            "account": self.account.to_dict(),
            "structures": [s.to_dict() for s in self.structures.values()],
            "suppliers": [s.to_dict() for s in self.suppliers],
            "factors": [s.to_dict() for s in self.factors],
            "invoices": [inv.to_dict() for inv in self.invoices.values()],
            "commune_id": self.commune_id,
            "ccas_id": self.ccas_id,
            "foreign_id": self.foreign_id,
            "next_invoice_id": self.next_invoice_id,
            "next_history_id": self.next_history_id,
            "next_attachment_id": self.next_attachment_id,
            "deposit_count": self.deposit_count,
            "requested_invoices": self.requested_invoices,
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): equal worlds give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> "World":
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported simulator state format {data.get('format')!r}")
        structures = [SimStructure.from_dict(s) for s in data["structures"]]
        invoices = sorted((SimInvoice.from_dict(i) for i in data["invoices"]), key=lambda i: i.id)
        return cls(
            seed=data["seed"],
            anchor_date=date.fromisoformat(data["anchor_date"]),
            account=SimAccount.from_dict(data["account"]),
            structures={s.id: s for s in structures},
            suppliers=[SimSupplier.from_dict(s) for s in data["suppliers"]],
            factors=[SimSupplier.from_dict(s) for s in data["factors"]],
            invoices={inv.id: inv for inv in invoices},
            commune_id=data["commune_id"],
            ccas_id=data["ccas_id"],
            foreign_id=data["foreign_id"],
            next_invoice_id=data["next_invoice_id"],
            next_history_id=data["next_history_id"],
            next_attachment_id=data["next_attachment_id"],
            deposit_count=data["deposit_count"],
            requested_invoices=data.get("requested_invoices"),
        )

    @classmethod
    def from_json(cls, text: str) -> "World":
        return cls.from_dict(json.loads(text))


def iter_all_parties(world: World) -> Iterable:
    """Every structure and company of the world (for identifier checks)."""
    yield from world.structures.values()
    yield from world.suppliers
    yield from world.factors
