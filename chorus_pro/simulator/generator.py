"""Deterministic generator of the simulated world (structures, suppliers, invoices, histories).

``generate_world(seed, invoices, anchor_date)`` builds the metadata of every invoice eagerly (fast:
thousands of invoices in well under a second); documents are rendered later, on demand, by
:mod:`chorus_pro.simulator.documents`. Only ``random.Random(seed)`` is used, never the global
random module, so the same seed and anchor date always give the same world (same ids, SIRETs,
IBANs, amounts, dates).

All generated timestamps fall strictly before the anchor date (Paris midnight), so with the
default anchor (today) everything is in the past and an incremental search with ``…Au = now``
sees it.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional

from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from chorus_pro import data_files
from chorus_pro import statuses as st
from chorus_pro.timeutil import PARIS

from .world import (
    TAG_A2, TAG_CCAS, TAG_COMPLETED, TAG_CREDIT_NOTE, TAG_CREDIT_NOTE_ORIGIN, TAG_DEPOSITED,
    TAG_DOWNLOAD_REFUSED, TAG_DUPLICATE, TAG_DUPLICATE_AMOUNT, TAG_FACTORED, TAG_FILLER,
    TAG_MANDATED, TAG_MULTI_ATTACHMENTS, TAG_MULTI_VAT, TAG_OLD_PENDING, TAG_PAID, TAG_PDF_ONLY,
    TAG_OLD_WORKS, TAG_REJECTED, TAG_SERVICE_DONE, TAG_STRUCTURED, TAG_TO_RECYCLE, TAG_WORKS,
    TAG_XML_MAIN,
    WORKS_FRAMES,
    SimAccount, SimAddress, SimAttachment, SimHistoryEntry, SimInvoice, SimLine, SimService,
    SimStructure, SimSupplier, SimVat, World,
)

DEFAULT_SEED = 20260101
DEFAULT_INVOICES = 48  # for the commune; the CCAS always gets its own handful on top

DEFAULT_CLIENT_ID = "simulateur-piste"
DEFAULT_CLIENT_SECRET = "simulateur-secret"
DEFAULT_LOGIN = "TECH_1_simulateur@cpro.fr"
DEFAULT_PASSWORD = "Simulateur-2026!"
PASSWORD_VALIDITY_DAYS = 424  # Chorus technical passwords expire every 424 days

COMMUNE_ID = 25123456
CCAS_ID = 25123789
FOREIGN_ID = 25999001

# Estimated sizes (bytes) of the rendered PDFs, calibrated on documents.py output; they make up
# the ``taille`` of an invoice without rendering anything.
MAIN_PDF_BASE_SIZE = 3080
MAIN_PDF_PER_LINE_SIZE = 60
MAIN_XML_BASE_SIZE = 3300  # a UBL flow: bigger than the PDF, and more per line
MAIN_XML_PER_LINE_SIZE = 740
COMPLEMENTARY_PDF_SIZE = 2170

CENT = Decimal("0.01")
RATE_20 = Decimal("20")
RATE_10 = Decimal("10")
RATE_5_5 = Decimal("5.5")


def money(value) -> Decimal:
    """Round to the cent, half up (how VAT amounts are rounded on French invoices)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------------------
# Identifiers (checked with python-stdnum)
# ------------------------------------------------------------------------------------------
def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit (SIREN and SIRET use Luhn)."""
    return digits + luhn.calc_check_digit(digits)


def make_siren(rng: random.Random, prefix: str = "") -> str:
    """A valid random SIREN starting with ``prefix`` (8 digits + Luhn key)."""
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(8 - len(prefix)))
    if body.startswith("356000000"):  # La Poste's special SIRET rules: stay clear
        body = "4" + body[1:]
    siren = luhn_complete(body)
    assert stdnum_siren.is_valid(siren), siren
    return siren


def make_siret(siren: str, establishment: int = 1) -> str:
    """A valid SIRET: SIREN + 4-digit establishment number + Luhn key over the 14 digits."""
    siret = luhn_complete(f"{siren}{establishment:04d}")
    assert stdnum_siret.is_valid(siret), siret
    return siret


def fr_vat_number(siren: str) -> str:
    """French intra-EU VAT number of a SIREN (key = (12 + 3 x (SIREN mod 97)) mod 97)."""
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


def rib_key(bank_code: str, branch_code: str, account: str) -> str:
    """French RIB key of an all-digit account number."""
    return f"{97 - ((89 * int(bank_code) + 15 * int(branch_code) + 3 * int(account)) % 97):02d}"


def make_fr_iban(rng: random.Random, bank_code: str) -> str:
    """A valid French IBAN (RIB key and mod-97 check digits computed), compact form."""
    branch = f"{rng.randint(1, 99999):05d}"
    account = f"{rng.randint(10**9, 10**11 - 1):011d}"
    bban = f"{bank_code}{branch}{account}{rib_key(bank_code, branch, account)}"
    number = "FR" + stdnum_iban.calc_check_digits("FR00" + bban) + bban
    assert stdnum_iban.is_valid(number), number
    return number


def _fixed_siret(siren_body: str, establishment: int = 1) -> str:
    return make_siret(luhn_complete(siren_body), establishment)


# Our structures keep the same identifiers whatever the seed (tests and demos can rely on them).
COMMUNE_SIRET = _fixed_siret("21739012")
CCAS_SIRET = _fixed_siret("26739012")
FOREIGN_SIRET = _fixed_siret("21739088")

BANKS = [
    ("30004", "BNPAFRPPXXX", "BNP Paribas"),
    ("30003", "SOGEFRPPXXX", "Société Générale"),
    ("30002", "CRLYFRPPXXX", "LCL"),
    ("18106", "AGRIFRPP881", "Crédit Agricole des Savoie"),
    ("14505", "CEPAFRPP450", "Caisse d'Epargne Rhône Alpes"),
    ("16807", "CCBPFRPPGRE", "Banque Populaire Auvergne Rhône Alpes"),
    ("10278", "CMCIFR2A", "Crédit Mutuel"),
    ("20041", "PSSTFRPPLYO", "La Banque Postale"),
    ("30066", "CMCIFRPPXXX", "CIC"),
]

def _supplier_row(row: dict) -> tuple:
    # name, activity, street, zip, city, contact (last, first), number prefix, number format
    return (row["name"], row["activity"], row["street"], row["zip"], row["city"],
            (row["contact_last"], row["contact_first"]), row["number_prefix"], row["number_format"])


_SUPPLIER_ROWS = [_supplier_row(row) for row in data_files.rows("simulator_suppliers.csv")]
SUPPLIER_TABLE = [row for row in _SUPPLIER_ROWS if row[1] != "factoring"]
FACTOR_TABLE = [row for row in _SUPPLIER_ROWS if row[1] == "factoring"]

SERVICE_OF_ACTIVITY = {
    "works": "SERV_TECH", "electricity": "SERV_TECH", "landscaping": "SERV_TECH",
    "it": "SERV_TECH", "hardware": "SERV_TECH", "cleaning": "SERV_TECH",
    "stationery": "ECOLES", "catering": "ECOLES", "transport": "ECOLES", "books": "ECOLES",
}

def _load_catalogue() -> dict:
    """What each activity's suppliers sell: ``(reference, designation, unit code (UN/ECE rec. 20),
    unit label, min price, max price, VAT rate)`` per activity, read from the CSV shipped with the
    package (data, not code)."""
    catalogue: dict = {}
    for row in data_files.rows("simulator_catalogue.csv"):
        catalogue.setdefault(row["activity"], []).append((
            row["reference"], row["designation"], row["unit_code"], row["unit_label"],
            int(row["min_price"]), int(row["max_price"]), Decimal(row["vat_rate"]),
        ))
    return catalogue


CATALOGUE = _load_catalogue()

SUBJECTS = {
    "works": "Travaux de voirie - chemin des Écoliers",
    "electricity": "Entretien de l'éclairage public",
    "stationery": "Fournitures de bureau et scolaires",
    "catering": "Restauration scolaire - repas livrés",
    "landscaping": "Entretien des espaces verts",
    "it": "Matériel et prestations informatiques",
    "transport": "Transport scolaire",
    "hardware": "Quincaillerie et petit outillage",
    "cleaning": "Nettoyage des bâtiments communaux",
    "books": "Manuels et livres scolaires",
}

# Complementary documents: kind, category (PIVOT CategoriePJ), file name stem
COMPLEMENTARY_KINDS = [
    ("delivery_note", "Bon de livraison", "Bon_de_livraison"),
    ("quote", "Devis signé", "Devis_signe"),
    ("acceptance_report", "PV de réception", "PV_reception"),
    ("timesheet", "Attachement", "Attachement_travaux"),
]

# Who appears in the history (histoStatutUtilisateurNom / Prenom / Email)
SYSTEM_ACTOR = ("SYSTEME", "CHORUS PRO", "", "")
HELIOS_ACTOR = ("HELIOS", "HELIOS", "DGFIP", "")
AGENT_ACTOR = ("s.martin@saint-exemple.fr", "MARTIN", "Sophie", "s.martin@saint-exemple.fr")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def main_document_name(number: str, extension: str = "pdf") -> str:
    """File name of the invoice document (PIVOT NomPJ, at most 50 characters)."""
    return f"{_slug(number)[:45]}.{extension}"


def main_document_size(line_count: int, as_xml: bool = False) -> int:
    if as_xml:
        return MAIN_XML_BASE_SIZE + MAIN_XML_PER_LINE_SIZE * line_count
    return MAIN_PDF_BASE_SIZE + MAIN_PDF_PER_LINE_SIZE * line_count


# ------------------------------------------------------------------------------------------
# Builders
# ------------------------------------------------------------------------------------------
def _paris(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=PARIS)


class _Builder:
    """Stateful helper around one RNG: builds suppliers, lines, invoices and histories."""

    def __init__(self, world: World, rng: random.Random):
        self.world = world
        self.rng = rng
        self.mandate_sequence = 0

    # -- parties --------------------------------------------------------------------------
    def build_structures(self) -> None:
        world = self.world
        commune = SimStructure(
            id=COMMUNE_ID, siret=COMMUNE_SIRET, name="COMMUNE DE SAINT-EXEMPLE", kind="commune",
            attached=True,
            address=SimAddress("1 place de la Mairie", "", "73990", "SAINT-EXEMPLE"),
            email="comptabilite@saint-exemple.fr", vat_number=fr_vat_number(COMMUNE_SIRET[:9]),
            services=[
                SimService(1234567, "SERV_TECH", "Services techniques"),
                SimService(1234568, "ECOLES", "Affaires scolaires"),
            ],
        )
        ccas = SimStructure(
            id=CCAS_ID, siret=CCAS_SIRET, name="CCAS DE SAINT-EXEMPLE", kind="ccas",
            attached=True,
            address=SimAddress("3 rue de l'Hôtel de Ville", "", "73990", "SAINT-EXEMPLE"),
            email="ccas@saint-exemple.fr", vat_number=fr_vat_number(CCAS_SIRET[:9]),
            services=[SimService(1234901, "ACTION_SOCIALE", "Action sociale")],
        )
        foreign = SimStructure(
            id=FOREIGN_ID, siret=FOREIGN_SIRET, name="COMMUNE DE VILLE-VOISINE",
            kind="public_other", attached=False,
            address=SimAddress("2 place du Marché", "", "73991", "VILLE-VOISINE"),
            email="mairie@ville-voisine.fr", vat_number=fr_vat_number(FOREIGN_SIRET[:9]),
            services=[SimService(1299001, "SERVICES_GENERAUX", "Services généraux")],
        )
        for structure in (commune, ccas, foreign):
            world.structures[structure.id] = structure
        world.commune_id, world.ccas_id, world.foreign_id = COMMUNE_ID, CCAS_ID, FOREIGN_ID

    def _company(self, index: int, row: tuple, is_factor: bool, used_ids: set) -> SimSupplier:
        rng = self.rng
        name, activity, street, zip_code, city, contact, prefix, number_format = row
        siren = make_siren(rng, rng.choice(["4", "5", "7", "8"]))
        siret = make_siret(siren, rng.randint(1, 60))
        bank_code, bic, bank_name = BANKS[rng.randrange(len(BANKS))]
        structure_id = rng.randint(26000000, 26999999)
        while structure_id in used_ids:
            structure_id += 1
        used_ids.add(structure_id)
        greffe = "Lyon" if zip_code.startswith("69") else (
            "Grenoble" if zip_code.startswith("38") else (
                "Annecy" if zip_code.startswith("74") else "Chambéry"))
        domain = _slug(name.split(" ")[0].lower()) + ".fr"
        return SimSupplier(
            index=index, id=structure_id, name=name, siret=siret, activity=activity,
            address=SimAddress(street, "", zip_code, city),
            rcs=f"RCS {greffe} {siren[:3]} {siren[3:6]} {siren[6:]}",
            vat_number=fr_vat_number(siren), email=f"facturation@{domain}",
            iban=make_fr_iban(rng, bank_code), bic=bic, bank_name=bank_name,
            bank_account_id=rng.randint(100000, 999999),
            contact_last_name=contact[0], contact_first_name=contact[1],
            number_prefix=prefix, number_format=number_format or "{prefix}{year}-{seq:05d}",
            next_sequence=rng.randint(12, 420), is_factor=is_factor,
        )

    def build_suppliers(self) -> None:
        used_ids: set[int] = set()
        contracts = 0
        for index, row in enumerate(SUPPLIER_TABLE):
            supplier = self._company(index, row, False, used_ids)
            contracts += 1
            year = self.world.anchor_date.year - self.rng.randint(0, 2)
            kind = "TRAV" if supplier.activity == "works" else "MAPA"
            supplier.contract = f"{year}-{kind}-{contracts:03d}"
            self.world.suppliers.append(supplier)
        for index, row in enumerate(FACTOR_TABLE):
            self.world.factors.append(self._company(index, row, True, used_ids))

    # -- numbers ------------------------------------------------------------------------------
    def next_number(self, supplier: SimSupplier, year: int, prefix: Optional[str] = None) -> str:
        number = supplier.number_format.format(
            prefix=prefix or supplier.number_prefix, year=year, seq=supplier.next_sequence
        )
        supplier.next_sequence += self.rng.randint(1, 3)
        return number[:20]

    def purchase_order(self, year: int) -> str:
        return f"EJ{year}-{self.rng.randint(100, 2999):06d}"

    def next_mandate_number(self, year: int) -> str:
        self.mandate_sequence += self.rng.randint(1, 9)
        return f"{year}-M-{self.mandate_sequence:06d}"

    # -- amounts ------------------------------------------------------------------------------
    def make_lines(self, activity: str, count: int, forced_rates=()) -> list[SimLine]:
        rng = self.rng
        catalogue = CATALOGUE[activity]
        lines: list[SimLine] = []
        chosen = []
        for rate in forced_rates:
            candidates = [item for item in catalogue if item[6] == rate] or catalogue
            chosen.append(rng.choice(candidates))
        while len(chosen) < count:
            chosen.append(rng.choice(catalogue))
        for number, item in enumerate(chosen, start=1):
            reference, name, unit_code, unit_label, low, high, rate = item
            unit_price = money(rng.uniform(low, high))
            if unit_code in ("C62",) and high < 10:
                quantity = Decimal(rng.choice([20, 25, 40, 50, 120, 200, 350, 480]))
            elif unit_code in ("MTK", "MTR", "KMT", "MTQ"):
                quantity = Decimal(rng.randint(15, 900))
            elif unit_code == "TNE":
                quantity = Decimal(str(round(rng.uniform(4, 40), 1)))
            else:
                quantity = Decimal(rng.randint(1, 12))
            lines.append(SimLine(
                number=number, reference=reference, name=name, quantity=quantity,
                unit_code=unit_code, unit_label=unit_label, unit_price=unit_price,
                vat_rate=rate, amount_ht=money(quantity * unit_price),
            ))
        return lines

    @staticmethod
    def vat_from_lines(lines: list[SimLine]) -> list[SimVat]:
        bases: dict[Decimal, Decimal] = {}
        for line in lines:
            bases[line.vat_rate] = bases.get(line.vat_rate, Decimal("0.00")) + line.amount_ht
        return [
            SimVat(rate, money(base), money(base * rate / 100))
            for rate, base in sorted(bases.items(), reverse=True)
        ]

    @staticmethod
    def vat_from_bases(bases: dict) -> list[SimVat]:
        return [
            SimVat(Decimal(str(rate)), money(base), money(money(base) * Decimal(str(rate)) / 100))
            for rate, base in sorted(bases.items(), key=lambda item: Decimal(str(item[0])),
                                     reverse=True)
        ]

    @staticmethod
    def finalize_amounts(invoice: SimInvoice) -> None:
        invoice.amount_ht = money(sum((v.base for v in invoice.vat), Decimal("0")))
        invoice.amount_vat = money(sum((v.amount for v in invoice.vat), Decimal("0")))
        invoice.amount_ttc = invoice.amount_ht + invoice.amount_vat
        # A2: already paid (purchase card): nothing left to pay.
        already_paid = invoice.frame.startswith("A2_")
        invoice.amount_to_pay = Decimal("0.00") if already_paid else invoice.amount_ttc

    # -- attachments ----------------------------------------------------------------------------
    def set_attachments(self, invoice: SimInvoice, complementary: int) -> None:
        # A structured invoice deposited as a flow (UBL) has its XML as the type 01 attachment,
        # as on the portal; the readable PDF is then Chorus's rendering (format PDF).
        as_xml = invoice.deposit_mode == "DEPOT_FLUX" and bool(invoice.lines)
        if as_xml:
            invoice.tags.add(TAG_XML_MAIN)
        invoice.attachments = [SimAttachment(
            id=0, name=main_document_name(invoice.number, "xml" if as_xml else "pdf"),
            type_code="01", category="Avoir" if invoice.is_credit_note else "Facture",
            kind="invoice_xml" if as_xml else "invoice",
            size_estimate=main_document_size(len(invoice.lines), as_xml),
        )]
        for position in range(complementary):
            kind, category, stem = COMPLEMENTARY_KINDS[position % len(COMPLEMENTARY_KINDS)]
            suffix = _slug(invoice.number)[-12:]
            invoice.attachments.append(SimAttachment(
                id=0, name=f"{stem}_{suffix}.pdf"[:50], type_code="02", category=category,
                kind=kind, size_estimate=COMPLEMENTARY_PDF_SIZE,
            ))

    # -- invoices -------------------------------------------------------------------------------
    def random_time(self, day: date, earliest: int = 8, latest: int = 18) -> datetime:
        return _paris(day, self.rng.randint(earliest, latest - 1), self.rng.randint(0, 59),
                      self.rng.randint(0, 59))

    def new_invoice(
        self, *, supplier: SimSupplier, structure: SimStructure, service_code: str,
        available_at: datetime, structured: bool = True, line_count: int = 0,
        forced_rates=(), frame: str = "A1_FACTURE_FOURNISSEUR", invoice_type: str = "FACTURE",
        complementary: int = 0, number: Optional[str] = None, amount_ht=None, vat_rate=None,
        tags=(),
    ) -> SimInvoice:
        """An invoice deposited (DEPOSEE) a few minutes before ``available_at``, the moment it
        reaches MISE_A_DISPOSITION."""
        rng = self.rng
        deposit_at = available_at - timedelta(minutes=rng.randint(2, 45),
                                              seconds=rng.randint(0, 59))
        deposit_date = deposit_at.date()
        invoice_date = deposit_date - timedelta(days=rng.randint(0, 8))
        works = frame in WORKS_FRAMES
        year = invoice_date.year
        if number is None:
            prefix = "AV" if invoice_type == "AVOIR" else None
            number = self.next_number(supplier, year, prefix)
        invoice = SimInvoice(
            id=0, number=number[:20], structure_id=structure.id, service_code=service_code,
            supplier_index=supplier.index,
            payment_request_type="FACTURE_TRAVAUX" if works else "FACTURE",
            invoice_type=invoice_type, frame=frame, invoice_date=invoice_date,
            deposit_date=deposit_date, due_date=deposit_date + timedelta(days=30),
            delivery_date=invoice_date - timedelta(days=rng.randint(0, 12)),
            purchase_order=self.purchase_order(year) if rng.random() < 0.85 or works else "",
            contract=supplier.contract if rng.random() < 0.7 or works else "",
            subject=SUBJECTS[supplier.activity], tags=set(tags),
        )
        if works:
            invoice.works_type = {
                "A5_ETAT_ACOMPTE_FOURNISSEUR": "ETAT_ACOMPTE",
                "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR": "DECOMPTE_GENERAL_DEFINITIF",
            }.get(frame, "PROJET_DECOMPTE_MENSUEL")
        if frame.startswith("A2_"):
            invoice.payment_mode = "AUTRE"  # paid with a purchase card (PIVOT code 48)
        if amount_ht is not None:
            rate = Decimal(str(vat_rate if vat_rate is not None else 20))
            amount = money(amount_ht)
            if structured:
                invoice.lines = [SimLine(
                    number=1, reference="PREST", name=SUBJECTS[supplier.activity],
                    quantity=Decimal(1),
                    unit_code="C62", unit_label="forfait", unit_price=amount, vat_rate=rate,
                    amount_ht=amount,
                )]
                invoice.vat = self.vat_from_lines(invoice.lines)
            else:
                invoice.vat = self.vat_from_bases({rate: amount})
        elif structured:
            invoice.lines = self.make_lines(supplier.activity, line_count or rng.randint(1, 6),
                                            forced_rates)
            invoice.vat = self.vat_from_lines(invoice.lines)
        else:
            rates = list(forced_rates) or [rng.choice(CATALOGUE[supplier.activity])[6]]
            invoice.vat = self.vat_from_bases(
                {rate: money(rng.uniform(150, 9000)) for rate in rates}
            )
        if vat_rate is not None and amount_ht is None:
            rate = Decimal(str(vat_rate))
            for line in invoice.lines:
                line.vat_rate = rate
            invoice.vat = (self.vat_from_lines(invoice.lines) if invoice.lines
                           else self.vat_from_bases({rate: invoice.vat[0].base}))
        self.finalize_amounts(invoice)
        invoice.deposit_mode = (
            rng.choice(["SAISIE_API", "DEPOT_FLUX"]) if invoice.lines else "DEPOT_PDF_API"
        )
        if not works:
            invoice.tags.add(TAG_STRUCTURED if invoice.lines else TAG_PDF_ONLY)
        self.set_attachments(invoice, complementary)
        self.add_event(invoice, st.DEPOSEE, deposit_at, actor=self.supplier_actor(supplier))
        self.add_event(invoice, st.MISE_A_DISPOSITION, available_at, actor=SYSTEM_ACTOR)
        return invoice

    @staticmethod
    def supplier_actor(supplier: SimSupplier) -> tuple:
        return (supplier.email, supplier.contact_last_name, supplier.contact_first_name,
                supplier.email)

    def add_event(self, invoice: SimInvoice, code: str, at: datetime, comment: str = "",
                  actor: tuple = SYSTEM_ACTOR, history_id: int = 0) -> SimHistoryEntry:
        user, last_name, first_name, email = actor
        entry = SimHistoryEntry(
            id=history_id, code=code, at=at.replace(microsecond=0), comment=comment, user=user,
            user_last_name=last_name, user_first_name=first_name, user_email=email,
        )
        invoice.history.append(entry)
        return entry

    def follow_up(self, invoice: SimInvoice, steps: list) -> None:
        """Append later events; each step is (code, days after the previous event, comment,
        actor)."""
        at = invoice.status_at
        for code, days, comment, actor in steps:
            day = at.date() + timedelta(days=days)
            moment = self.random_time(day)
            if moment <= at:
                moment = at + timedelta(minutes=self.rng.randint(5, 90))
            at = moment
            self.add_event(invoice, code, at, comment, actor)
            if code == st.MANDATEE:
                invoice.mandate_number = self.next_mandate_number(at.year)
                invoice.tags.add(TAG_MANDATED)
            if code == st.MISE_EN_PAIEMENT:
                invoice.tags.add(TAG_PAID)


def _days_before(anchor: date, days: int) -> date:
    return anchor - timedelta(days=days)


def _special_invoices(builder: _Builder) -> list[SimInvoice]:
    """The notable invoices every default world contains (see world.TAGS)."""
    world, rng = builder.world, builder.rng
    anchor = world.anchor_date
    commune = world.commune
    sup = {s.activity: s for s in world.suppliers}

    def at(days_ago: int) -> datetime:
        return builder.random_time(_days_before(anchor, days_ago))

    def invoice(activity: str, days_ago: int, **kwargs) -> SimInvoice:
        supplier = sup[activity]
        return builder.new_invoice(
            supplier=supplier, structure=commune, service_code=SERVICE_OF_ACTIVITY[activity],
            available_at=at(days_ago), **kwargs,
        )

    account = world.account
    tech = (account.login, account.last_name, account.first_name, account.login)
    made: list[SimInvoice] = []

    # Structured, the three VAT rates (catering: 5.5 meals delivered, 10 meals served, 20 staff).
    multi_vat = invoice("catering", 6, line_count=4, forced_rates=(RATE_5_5, RATE_10, RATE_20),
                        tags={TAG_MULTI_VAT}, complementary=1)
    made.append(multi_vat)
    made.append(invoice("electricity", 4, line_count=5))
    # PDF-only deposits (no lines, VAT recap only).
    made.append(invoice("hardware", 9, structured=False))
    made.append(invoice("transport", 12, structured=False))
    # Several complementary attachments (delivery note, signed quote, acceptance report...).
    made.append(invoice("landscaping", 3, line_count=3, complementary=4,
                        tags={TAG_MULTI_ATTACHMENTS}))
    # Factored: the bank account belongs to the factor.
    factored = invoice("it", 7, line_count=3, tags={TAG_FACTORED})
    factored.factor_index = 0
    factored.comment = "Créance cédée à AFFACTURAGE ALPIN SA (subrogation)."
    made.append(factored)
    # A2: already paid with a purchase card.
    made.append(invoice("stationery", 10, line_count=3, frame="A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
                        tags={TAG_A2}))
    # Credit notes with their origin invoice (same supplier).
    origin = invoice("stationery", 25, line_count=4, tags={TAG_CREDIT_NOTE_ORIGIN})
    made.append(origin)
    credit_note = invoice("stationery", 5, line_count=1, invoice_type="AVOIR",
                          tags={TAG_CREDIT_NOTE})
    credit_note.origin_invoice_number = origin.number
    credit_note.subject = f"Avoir sur facture {origin.number} (articles retournés)"
    made.append(credit_note)
    credit_note_2 = invoice("catering", 2, structured=False, invoice_type="AVOIR",
                            forced_rates=(RATE_5_5,), tags={TAG_CREDIT_NOTE})
    credit_note_2.origin_invoice_number = multi_vat.number
    credit_note_2.subject = f"Avoir sur facture {multi_vat.number} (repas non servis)"
    credit_note_2.vat = builder.vat_from_bases({RATE_5_5: money(rng.uniform(40, 120))})
    builder.finalize_amounts(credit_note_2)
    made.append(credit_note_2)
    # Suspended then completed by the supplier.
    completed = invoice("cleaning", 21, structured=False, complementary=1, tags={TAG_COMPLETED})
    builder.follow_up(completed, [
        (st.SUSPENDUE, 3, "Bon de livraison manquant", tech),
        (st.COMPLETEE, 4, "Bon de livraison ajouté", builder.supplier_actor(sup["cleaning"])),
    ])
    completed.redelivery = "Complétée"
    made.append(completed)
    # Months old and still waiting.
    made.append(invoice("hardware", 150, structured=False, tags={TAG_OLD_PENDING}))
    # Old ones already mandated / paid.
    mandated = invoice("electricity", 95, line_count=2)
    builder.follow_up(mandated, [(st.SERVICE_FAIT, 4, "", AGENT_ACTOR),
                                 (st.MANDATEE, 6, "", AGENT_ACTOR)])
    made.append(mandated)
    for activity, days in (("transport", 130), ("books", 200)):
        paid = invoice(activity, days, line_count=2)
        builder.follow_up(paid, [
            (st.MANDATEE, 8, "", AGENT_ACTOR),
            (st.MISE_A_DISPOSITION_COMPTABLE, 1, "", HELIOS_ACTOR),
            (st.MISE_EN_PAIEMENT, 12, "", HELIOS_ACTOR),
        ])
        made.append(paid)
    # Same supplier and number deposited twice (two Chorus ids).
    duplicate = invoice("landscaping", 16, line_count=2, tags={TAG_DUPLICATE})
    made.append(duplicate)
    twin = builder.new_invoice(
        supplier=sup["landscaping"], structure=commune, service_code="SERV_TECH",
        available_at=duplicate.status_at + timedelta(days=2, hours=1), number=duplicate.number,
        amount_ht=duplicate.amount_ht, vat_rate=duplicate.vat[0].rate, tags={TAG_DUPLICATE},
    )
    twin.lines = [SimLine(**{**line.__dict__}) for line in duplicate.lines]
    twin.vat = [SimVat(v.rate, v.base, v.amount) for v in duplicate.vat]
    twin.invoice_date, twin.delivery_date = duplicate.invoice_date, duplicate.delivery_date
    twin.purchase_order, twin.contract = duplicate.purchase_order, duplicate.contract
    builder.finalize_amounts(twin)
    builder.set_attachments(twin, 0)
    made.append(twin)
    # Same supplier, amount and invoice date, different numbers.
    first = invoice("cleaning", 11, structured=False, forced_rates=(RATE_20,),
                    tags={TAG_DUPLICATE_AMOUNT})
    second = builder.new_invoice(
        supplier=sup["cleaning"], structure=commune, service_code="SERV_TECH",
        available_at=first.status_at + timedelta(hours=3), structured=False,
        amount_ht=first.amount_ht, vat_rate=RATE_20, tags={TAG_DUPLICATE_AMOUNT},
    )
    second.invoice_date, second.delivery_date = first.invoice_date, first.delivery_date
    made.extend([first, second])
    # Returned to the supplier.
    recycled = invoice("it", 14, line_count=1, tags={TAG_TO_RECYCLE})
    builder.follow_up(recycled, [(st.A_RECYCLER, 2, "Code service erroné : ECOLES attendu", tech)])
    made.append(recycled)
    rejected = invoice("hardware", 30, structured=False, tags={TAG_REJECTED})
    builder.follow_up(rejected, [(st.REJETEE, 3, "Montant non conforme au devis", AGENT_ACTOR)])
    made.append(rejected)
    service_done = invoice("electricity", 8, line_count=2, tags={TAG_SERVICE_DONE})
    builder.follow_up(service_done, [(st.SERVICE_FAIT, 2, "", AGENT_ACTOR)])
    made.append(service_done)
    # Works invoices (facturesTravaux API): two états d'acompte and a DGD that cannot be fetched.
    works_supplier = sup["works"]
    for days, frame, extra_tags in (
        (18, "A5_ETAT_ACOMPTE_FOURNISSEUR", set()),
        (5, "A5_ETAT_ACOMPTE_FOURNISSEUR", set()),
        (9, "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR", {TAG_DOWNLOAD_REFUSED}),
    ):
        works = builder.new_invoice(
            supplier=works_supplier, structure=commune, service_code="SERV_TECH",
            available_at=at(days), structured=False, forced_rates=(RATE_20,), frame=frame,
            complementary=1, tags={TAG_WORKS} | extra_tags,
        )
        works.subject = (
            "Réhabilitation de l'école Jules Ferry - "
            + ("décompte général et définitif" if frame.startswith("A8") else "état d'acompte")
        )
        works.download_refused = TAG_DOWNLOAD_REFUSED in extra_tags
        made.append(works)
    # Works invoices older than a first retrieval's cutoff: one still waiting for a decision
    # (always retrieved), one long closed (left out or imported as history).
    for days, steps in ((150, []), (120, [(st.SERVICE_FAIT, 5, "", AGENT_ACTOR),
                                          (st.MANDATEE, 6, "", AGENT_ACTOR)])):
        works = builder.new_invoice(
            supplier=works_supplier, structure=commune, service_code="SERV_TECH",
            available_at=at(days), structured=False, forced_rates=(RATE_20,),
            frame="A5_ETAT_ACOMPTE_FOURNISSEUR", tags={TAG_WORKS, TAG_OLD_WORKS},
        )
        works.subject = "Réhabilitation de l'école Jules Ferry - état d'acompte"
        builder.follow_up(works, steps)
        made.append(works)
    return made


def _ccas_invoices(builder: _Builder) -> list[SimInvoice]:
    world = builder.world
    sup = {s.activity: s for s in world.suppliers}
    anchor = world.anchor_date
    made = []
    for activity, days, structured in (
        ("catering", 3, True), ("cleaning", 6, False), ("stationery", 9, True),
        ("hardware", 13, False), ("catering", 20, True),
    ):
        made.append(builder.new_invoice(
            supplier=sup[activity], structure=world.ccas, service_code="ACTION_SOCIALE",
            available_at=builder.random_time(_days_before(anchor, days)), structured=structured,
            tags={TAG_CCAS},
        ))
    mandated = builder.new_invoice(
        supplier=sup["catering"], structure=world.ccas, service_code="ACTION_SOCIALE",
        available_at=builder.random_time(_days_before(anchor, 70)), tags={TAG_CCAS},
    )
    builder.follow_up(mandated, [(st.SERVICE_FAIT, 3, "", AGENT_ACTOR),
                                 (st.MANDATEE, 5, "", AGENT_ACTOR)])
    made.append(mandated)
    return made


FILLER_ACTIVITIES = [
    "electricity", "stationery", "catering", "landscaping", "it", "transport", "hardware",
    "cleaning", "books", "catering", "stationery", "electricity",
]


def _supplier_for(world: World, activity: str) -> SimSupplier:
    return next(s for s in world.suppliers if s.activity == activity)


def _filler_invoice(builder: _Builder) -> SimInvoice:
    """An ordinary invoice; most are recent and waiting, some older ones went further."""
    rng, world = builder.rng, builder.world
    supplier = _supplier_for(world, rng.choice(FILLER_ACTIVITIES))
    draw = rng.random()
    if draw < 0.62:
        age, steps = rng.randint(1, 35), []
    elif draw < 0.72:
        age = rng.randint(8, 60)
        steps = [(st.SERVICE_FAIT, rng.randint(2, 6), "", AGENT_ACTOR)]
    elif draw < 0.84:
        age = rng.randint(30, 200)
        steps = [(st.SERVICE_FAIT, rng.randint(2, 6), "", AGENT_ACTOR),
                 (st.MANDATEE, rng.randint(3, 12), "", AGENT_ACTOR)]
    elif draw < 0.97:
        age = rng.randint(45, 360)
        steps = [(st.MANDATEE, rng.randint(5, 15), "", AGENT_ACTOR),
                 (st.MISE_A_DISPOSITION_COMPTABLE, 1, "", HELIOS_ACTOR),
                 (st.MISE_EN_PAIEMENT, rng.randint(8, 20), "", HELIOS_ACTOR)]
    else:
        age = rng.randint(20, 90)
        steps = [(st.MANDATEE, rng.randint(4, 10), "", AGENT_ACTOR),
                 (st.MISE_A_DISPOSITION_COMPTABLE, 1, "", HELIOS_ACTOR)]
    invoice = builder.new_invoice(
        supplier=supplier, structure=world.commune,
        service_code=SERVICE_OF_ACTIVITY[supplier.activity],
        available_at=builder.random_time(_days_before(world.anchor_date, age)),
        structured=rng.random() < 0.6,
        complementary=1 if rng.random() < 0.2 else 0, tags={TAG_FILLER},
    )
    builder.follow_up(invoice, steps)
    if invoice.status == st.SERVICE_FAIT:
        invoice.tags.add(TAG_SERVICE_DONE)
    _clamp_history_before_anchor(invoice, world.anchor_date)
    return invoice


def _clamp_history_before_anchor(invoice: SimInvoice, anchor: date) -> None:
    """Drop follow-up events that would fall on/after the anchor day (keeps everything past)."""
    limit = _paris(anchor, 0, 0)
    kept = [e for e in invoice.history if e.at < limit]
    if len(kept) != len(invoice.history):
        invoice.history = kept
        codes = {e.code for e in kept}
        if st.MANDATEE not in codes:
            invoice.mandate_number = ""
            invoice.tags.discard(TAG_MANDATED)
        if st.MISE_EN_PAIEMENT not in codes:
            invoice.tags.discard(TAG_PAID)


def paris_today() -> date:
    return datetime.now(PARIS).date()


def generate_world(
    seed: Optional[int] = None,
    invoices: Optional[int] = None,
    anchor_date: Optional[date] = None,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    login: str = DEFAULT_LOGIN,
    password: str = DEFAULT_PASSWORD,
) -> World:
    """Build the seeded world: ``invoices`` invoices for the commune (at least the notable ones,
    see :data:`world.TAGS`), six for the CCAS, suppliers with valid SIRETs and IBANs."""
    seed = DEFAULT_SEED if seed is None else int(seed)
    wanted = DEFAULT_INVOICES if invoices is None else int(invoices)
    anchor = anchor_date or paris_today()
    rng = random.Random(seed)
    world = World(
        seed=seed, anchor_date=anchor, requested_invoices=invoices,
        account=SimAccount(
            client_id=client_id, client_secret=client_secret, login=login, password=password,
            # From today when the anchor lies in the past: a world anchored on a fixed date
            # (tests) must not see its password expire as the calendar moves on.
            password_expiry=max(anchor, paris_today()) + timedelta(days=300),
        ),
    )
    builder = _Builder(world, rng)
    builder.mandate_sequence = rng.randint(100, 400)
    builder.build_structures()
    builder.build_suppliers()

    made = _special_invoices(builder)
    for _ in range(max(0, wanted - len(made))):
        made.append(_filler_invoice(builder))
    made.extend(_ccas_invoices(builder))
    for invoice in made:
        _clamp_history_before_anchor(invoice, anchor)

    # Ids grow with the deposit time, with gaps (other recipients' invoices in between).
    made.sort(key=lambda inv: (inv.history[0].at, inv.number))
    next_id = 98760000 + rng.randint(0, 9999)
    attachment_id = 7100000 + rng.randint(0, 9999)
    for invoice in made:
        next_id += rng.randint(1, 40)
        invoice.id = next_id
        for attachment in invoice.attachments:
            attachment_id += 1
            attachment.id = attachment_id
        world.invoices[invoice.id] = invoice
    history_id = 41000000 + rng.randint(0, 9999)
    for entry in sorted((e for inv in made for e in inv.history), key=lambda e: e.at):
        history_id += rng.randint(1, 3)
        entry.id = history_id
    world.next_invoice_id = next_id
    world.next_attachment_id = attachment_id
    world.next_history_id = history_id
    return world


# ------------------------------------------------------------------------------------------
# Run-time deposits (/_admin/deposit)
# ------------------------------------------------------------------------------------------
def deposit_invoice(world: World, now: datetime, **overrides) -> SimInvoice:
    """Create a new invoice in MISE_A_DISPOSITION (``now`` or ``status_datetime``).

    Overrides: ``structure_id``, ``service_code``, ``supplier_index``, ``amount_ht``,
    ``vat_rate``, ``number``, ``structured`` (bool), ``attachments`` (complementary count),
    ``invoice_type`` (FACTURE | AVOIR), ``frame`` (full code or short ``A1``...),
    ``status_datetime`` (ISO), ``origin_number``, ``purchase_order``, ``contract``, ``tags``.
    Raises ValueError on a bad override. Deterministic: the n-th deposit of a seed is always the
    same invoice (apart from the times).
    """
    from chorus_pro.timeutil import parse_datetime

    unknown = set(overrides) - {
        "structure_id", "service_code", "supplier_index", "amount_ht", "vat_rate", "number",
        "structured", "attachments", "invoice_type", "frame", "status_datetime", "origin_number",
        "purchase_order", "contract", "tags",
    }
    if unknown:
        raise ValueError(f"unknown deposit overrides: {', '.join(sorted(unknown))}")
    world.deposit_count += 1
    rng = random.Random(f"{world.seed}:deposit:{world.deposit_count}")
    builder = _Builder(world, rng)
    builder.mandate_sequence = 0

    structure_id = int(overrides.get("structure_id") or world.commune_id)
    structure = world.structures.get(structure_id)
    if structure is None or not structure.attached:
        raise ValueError(f"structure {structure_id} is not one of the technical account's")
    if overrides.get("supplier_index") is not None:
        index = int(overrides["supplier_index"])
        if not 0 <= index < len(world.suppliers):
            raise ValueError(f"supplier_index must be between 0 and {len(world.suppliers) - 1}")
        supplier = world.suppliers[index]
    else:
        supplier = _supplier_for(world, rng.choice(FILLER_ACTIVITIES))
    service_code = overrides.get("service_code")
    if service_code is None:
        service_code = (SERVICE_OF_ACTIVITY[supplier.activity] if structure.kind == "commune"
                        else (structure.services[0].code if structure.services else ""))
    if service_code and structure.service_by_code(service_code) is None:
        raise ValueError(f"structure {structure_id} has no service {service_code!r}")
    frame = overrides.get("frame") or "A1_FACTURE_FOURNISSEUR"
    frame = _full_frame(frame)
    invoice_type = (overrides.get("invoice_type") or "FACTURE").upper()
    if invoice_type not in ("FACTURE", "AVOIR", "ACOMPTE"):
        raise ValueError("invoice_type must be FACTURE, AVOIR or ACOMPTE")
    structured = overrides.get("structured")
    structured = rng.random() < 0.6 if structured is None else bool(structured)
    if overrides.get("status_datetime"):
        available_at = parse_datetime(overrides["status_datetime"])
        if available_at is None:
            raise ValueError("status_datetime is not a date-time")
        available_at = available_at.astimezone(PARIS)
    else:
        available_at = now.astimezone(PARIS)
    amount_ht = overrides.get("amount_ht")
    number = overrides.get("number")
    if number is not None and not 0 < len(str(number)) <= 20:
        raise ValueError("number must have 1 to 20 characters")
    invoice = builder.new_invoice(
        supplier=supplier, structure=structure, service_code=service_code,
        available_at=available_at.replace(microsecond=0), structured=structured,
        frame=frame, invoice_type=invoice_type,
        complementary=int(overrides.get("attachments") or 0),
        number=None if number is None else str(number),
        amount_ht=Decimal(str(amount_ht)) if amount_ht is not None else None,
        vat_rate=overrides.get("vat_rate"),
        tags={TAG_DEPOSITED} | set(overrides.get("tags") or ()),
    )
    if invoice.is_works:
        invoice.tags.add(TAG_WORKS)
    if invoice.frame.startswith("A2_"):
        invoice.tags.add(TAG_A2)
    if invoice_type == "AVOIR":
        invoice.tags.add(TAG_CREDIT_NOTE)
        origin = overrides.get("origin_number")
        if origin is None:
            previous = [i for i in world.invoices.values()
                        if i.supplier_index == supplier.index and not i.is_credit_note]
            origin = previous[-1].number if previous else ""
        invoice.origin_invoice_number = origin
    for key in ("purchase_order", "contract"):
        if overrides.get(key) is not None:
            setattr(invoice, key, str(overrides[key]))
    invoice.id = world.allocate_invoice_id(rng.randint(1, 25))
    for attachment in invoice.attachments:
        attachment.id = world.allocate_attachment_id()
    for entry in sorted(invoice.history, key=lambda e: e.at):
        entry.id = world.allocate_history_id()
    world.invoices[invoice.id] = invoice
    return invoice


def _full_frame(frame: str) -> str:
    """Accept ``A5`` as well as ``A5_ETAT_ACOMPTE_FOURNISSEUR``."""
    known = {
        "A1": "A1_FACTURE_FOURNISSEUR", "A2": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
        "A4": "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR", "A5": "A5_ETAT_ACOMPTE_FOURNISSEUR",
        "A6": "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR", "A7": "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
        "A8": "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR", "A9": "A9_FACTURE_SOUSTRAITANT",
        "A12": "A12_FACTURE_COTRAITANT",
    }
    frame = str(frame).strip().upper()
    if frame in known:
        return known[frame]
    if frame.split("_", 1)[0] in known and known[frame.split("_", 1)[0]] == frame:
        return frame
    raise ValueError(f"unsupported billing frame {frame!r}")
