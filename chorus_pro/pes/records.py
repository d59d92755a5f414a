"""Neutral records of a PES V2 dépense aller: what the writer needs, nothing Odoo-specific.

Amounts are :class:`~decimal.Decimal` (two decimals at most: money is never rounded here),
dates are :class:`datetime.date`. Codes are the PES strings (``"01"``...), listed with their
labels in :mod:`chorus_pro.pes.codes`. Free texts may hold any character: the writer maps them
to ISO-8859-1 and cuts them to their PES length (:func:`chorus_pro.pes.text.pes_text`), and
:func:`chorus_pro.pes.validation.validate` warns when it cuts.

The tree: :class:`PesFlow` (one file, one budget) → :class:`Bordereau` → :class:`Piece` (a
mandat) → :class:`Line` (an imputation) → :class:`Tiers` (the creditor, with its
:class:`Address` and :class:`BankAccount`). :class:`PesFile` is a supporting document (PJ)
attached to a pièce or a line; its bytes are read only while the file is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import BinaryIO, Callable, Iterable, List, Optional, Sequence, Union

from . import codes

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

# A file's bytes, read lazily: a path, or a callable returning a binary file object, bytes or an
# iterable of bytes chunks (called once, when the file is written), or bytes (small files only).
FileSource = Union[
    str,
    "os.PathLike[str]",
    bytes,
    Callable[[], Union[BinaryIO, bytes, Iterable[bytes]]],
    None,
]


@dataclass
class PesHeader:
    """Who sends the file and for which budget (``Enveloppe`` + ``EnTetePES``).

    ``id_post`` is the accounting office's codique (6-7 digits, or 02A/02B + 3-4 digits),
    ``id_coll`` the SIRET of the budget's public body, ``cod_col`` (3 digits) and ``cod_bud``
    (2 characters) the budget's codes in Hélios. ``nomenclature`` is a key of
    :data:`codes.NOMENCLATURES` (M57, M14, M4x...), ``vote`` one of :data:`codes.VOTES`.
    ``fin_jur`` (FINESS juridique) is required in M21/M22 and forbidden elsewhere.
    ``file_name`` (``NomFic``) defaults to a name built from the budget and the first bordereau;
    ``structure_date`` (``DteStr``) to the day the file is written.
    """

    id_post: str
    id_coll: str
    cod_col: str
    cod_bud: str
    nomenclature: str = "M57"
    vote: str = codes.VOTE_NATURE
    libelle_col_bud: str = ""
    libelle_poste: str = ""
    fin_jur: str = ""
    file_name: str = ""
    structure_date: Optional[date] = None
    issuer_sigle: str = "ODOO"
    issuer_application: str = "chorus_pro_liaison 18.0"
    receiver_sigle: str = "HELIOS"

    @property
    def function_required(self) -> bool:
        """True when every line needs a ``Fonction`` (budget voted by function)."""
        return (
            self.vote == codes.VOTE_FUNCTION
            and self.nomenclature in codes.NOMENCLATURES_WITH_FUNCTION
        )

    @property
    def function_allowed(self) -> bool:
        """True when a line may carry a ``Fonction``."""
        return self.nomenclature in codes.NOMENCLATURES_WITH_FUNCTION and self.vote in (
            codes.VOTE_FUNCTION,
            codes.VOTE_NATURE_FUNCTIONAL,
        )


@dataclass
class Address:
    """A creditor's postal address (``Tiers/Adresse``), postal norm lines of 38 characters.

    ``street`` is ``Adr2`` (number and street, required), ``complement`` ``Adr1`` (building,
    "chez"...), ``locality`` ``Adr3`` (lieu-dit). Abroad: ``resident=False``, ``postal_code``
    "99999", the foreign postal code in ``city`` and the INSEE ``country_code`` (3 digits).
    """

    street: str
    postal_code: str
    city: str
    complement: str = ""
    locality: str = ""
    resident: bool = True
    country_code: str = ""
    kind: str = "0"  # TypAdr: 0 not specified, 1 main, 2 secondary


@dataclass
class BankAccount:
    """Where the creditor is paid (``Tiers/CpteBancaire``, the BIC + IBAN branch).

    ``holder`` (``TitCpte``, 32 characters) is the account holder as on the bank details - the
    factor for a factored invoice; empty means the creditor's name. The BIC is required for an
    account outside France.
    """

    iban: str
    bic: str = ""
    holder: str = ""
    bank_name: str = ""


@dataclass
class Tiers:
    """The creditor of a line (``Tiers/InfoTiers``).

    ``category`` (``CatTiers``) and ``legal_nature`` (``NatJur``) default to a company (60 / 03).
    ``identifier`` is the national identifier of type ``identifier_type`` (``NatIdTiers``:
    01 SIRET by default, see :data:`codes.NAT_ID_TIERS`). A natural person (category 01) needs
    ``civility`` and ``first_name``; they are left out for the other categories.
    ``reference`` (``RefTiers``) is the ordonnateur's own reference of the creditor.
    """

    name: str
    identifier: str = ""
    identifier_type: str = codes.NAT_ID_SIRET
    category: str = codes.CAT_TIERS_COMPANY
    legal_nature: str = codes.NAT_JUR_COMPANY
    reference: str = ""
    civility: str = ""
    first_name: str = ""
    complement_name: str = ""
    address: Optional[Address] = None
    bank_account: Optional[BankAccount] = None


@dataclass
class PesFile:
    """A supporting document (PJ) and its reference from a pièce or a line.

    ``id_unique`` (``IdUnique``, up to 50 letters and digits) must be unique for the accounting
    office whatever the year or the budget: derive it from a stable key (e.g. ``CPP`` + the
    Chorus invoice id + the file's rank). ``name`` (``NomPJ``) needs an extension of 2 to 4
    characters. ``source`` gives the bytes lazily (see :data:`FileSource`); ``None`` writes the
    reference only (``PJRef``), for a file already sent or on paper (``support`` 02/03).
    ``type_pj`` (``TypePJ``, optional) defaults to 003 *Dépense*; ``description`` to the name.
    """

    id_unique: str
    name: str
    source: FileSource = None
    mime_type: str = "application/pdf"
    description: str = ""
    type_pj: Optional[str] = codes.TYPE_PJ_DEPENSE
    support: str = codes.SUPPORT_ELECTRONIC

    @property
    def embedded(self) -> bool:
        """True when the file itself travels in ``PES_PJ`` (electronic and with a source)."""
        return self.support == codes.SUPPORT_ELECTRONIC and self.source is not None


@dataclass
class DgpBlock:
    """The délai global de paiement of a mandat (``BlocPiece/DGP``).

    ``start`` / ``end`` / ``duration`` are ``DteDebDgp`` / ``DteFinDgp`` (end of the délai,
    suspension included) / ``DureeDgp`` (legal or contractual délai in days, suspension not
    included). ``eligible`` says whether the expense is followed under the DGP.
    ``interest_code`` (``CodIntMor``) and ``interest_rate`` (``TxIntMor``, percent) are optional.
    Build it from :mod:`chorus_pro.dgp` with :meth:`from_dgp`.
    """

    start: date
    end: date
    duration: int
    eligible: bool = True
    interest_code: Optional[str] = None
    interest_rate: Optional[Decimal] = None

    @classmethod
    def from_dgp(cls, result, *, rates=None, with_rate: bool = True) -> "DgpBlock":
        """The block for a :class:`chorus_pro.dgp.DgpResult`.

        ``start`` is the start of the délai, ``end`` its due date (after the one interruption
        the law allows, if any: ``result.due``), ``duration`` the délai in days
        (``result.delay``). Interest follows the ECB rate + 8 points (code 02); the rate is the
        one that would apply if the due date were missed (ECB rate in force on the first day of
        the half-year after the due date, + 8) - left out when the rate table has no rate for
        that day. Raises :class:`ValueError` while an interruption awaits completion (no due
        date yet).
        """
        from .. import dgp

        if result.due is None:
            raise ValueError("the payment delay is suspended: no due date until completion")
        rate = result.rate
        if rate is None and with_rate:
            try:
                first_late_day = result.due + timedelta(days=1)
                rate = dgp.ecb_rate_on(dgp.half_year_start(first_late_day), rates)
                rate = rate + dgp.INTEREST_MARGIN
            except dgp.MissingRateError:
                rate = None
        return cls(
            start=result.start,
            end=result.due,
            duration=result.delay,
            eligible=True,
            interest_code=codes.COD_INT_MOR_ECB,
            interest_rate=rate.quantize(CENT) if rate is not None else None,
        )


@dataclass
class OriginRef:
    """The pièce a line reduces or cancels (``BlocLignePiece/RattachPiece``).

    ``exercice`` (``ExerRat``) and ``piece_number`` (``IdPceOrig``) of the original mandat;
    ``line_number`` (``IdLigneOrig``) defaults to the reducing line's own number; ``nature``
    (``NatPceOrig``) 01 = a mandat.
    """

    exercice: int
    piece_number: int
    line_number: Optional[int] = None
    nature: str = "01"


@dataclass
class Line:
    """One imputation of a mandat (``LigneDePiece``).

    ``nature`` is the account by nature (digits, e.g. ``"6068"``), ``function`` the functional
    account (required when the budget is voted by function), ``operation`` the equipment
    operation number. ``amount_ht`` is ``MtHT``: the amount without VAT, or the amount WITH VAT
    when the budget does not recover VAT (then leave ``amount_vat`` at ``None``: "Montant HT ou
    TTC si TVA non remplie"). ``payment_mode`` is ``ModRegl`` (03 transfer by default; 03 and 05
    need the creditor's bank account, and 01, 02, 04, 07, 08, 09, 11 must not carry one: the
    writer leaves it out). ``invoice_number`` is ``Facture`` (20 characters),
    ``transfer_label_1/2`` ``LibVir1/2`` (70 characters each, shown on the creditor's bank
    statement). ``origin`` (or the pièce's) is required in a reduction bordereau (TypBord 02).
    ``number`` (``IdLigne``) defaults to the line's rank in the pièce (1, 2...).
    """

    nature: str
    amount_ht: Decimal
    tiers: Optional[Tiers]
    amount_vat: Optional[Decimal] = None
    function: str = ""
    operation: str = ""
    payment_mode: str = codes.MOD_REGL_TRANSFER
    intra_community_vat: bool = False
    invoice_number: str = ""
    transfer_label_1: str = ""
    transfer_label_2: str = ""
    invoice_amount_ht: Optional[Decimal] = None
    market_id: str = ""
    origin: Optional[OriginRef] = None
    files: List[PesFile] = field(default_factory=list)
    number: Optional[int] = None

    @property
    def total(self) -> Decimal:
        """``MtHT`` + ``MtTVA``."""
        return Decimal(self.amount_ht) + Decimal(self.amount_vat or 0)


@dataclass
class Piece:
    """A mandat (``Piece``): ``number`` is ``IdPce``, the mandate number (1 to 99,999,999).

    ``piece_type`` / ``nature`` are ``TypPce`` / ``NatPce`` (01/01: ordinary operating mandat;
    a reduction is 02/06 in a TypBord 02 bordereau). ``object`` (``Obj``, 100 characters) is
    what the accountant reads first: supplier, invoice number, Chorus number. ``due_date`` is
    ``DteEch`` (payment wished on that day), ``dgp`` the DGP block, ``files`` the supporting
    documents of the whole mandat, ``origin`` the default :class:`OriginRef` of its lines.
    """

    number: int
    lines: List[Line]
    object: str = ""
    piece_type: str = "01"
    nature: str = "01"
    due_date: Optional[date] = None
    dgp: Optional[DgpBlock] = None
    files: List[PesFile] = field(default_factory=list)
    service_code: str = ""
    origin: Optional[OriginRef] = None

    @property
    def amount_ht(self) -> Decimal:
        return sum((Decimal(line.amount_ht) for line in self.lines), ZERO)

    @property
    def amount_vat(self) -> Decimal:
        return sum((Decimal(line.amount_vat or 0) for line in self.lines), ZERO)

    def iter_files(self):
        """The pièce's files, then its lines' files."""
        yield from self.files
        for line in self.lines:
            yield from line.files


@dataclass(frozen=True)
class BordereauTotals:
    """``NbrPce``, ``MtBordHT``, ``MtBordTVA`` and ``MtCumulAnnuel`` of a bordereau.

    ``cumul`` = ``previous_cumul`` + ``total`` (``MtBordHT`` + ``MtBordTVA``): the running total
    of the bordereaux of the budget and exercice, this one included. Whether Hélios' cumul is of
    the HT or the TTC amounts is not written in the 5.17 schemas [unconfirmed]: both are the same
    on a budget without VAT recovery (amounts are TTC in ``MtHT``).
    """

    pieces: int
    lines: int
    amount_ht: Decimal
    amount_vat: Decimal
    previous_cumul: Decimal
    cumul: Decimal

    @property
    def total(self) -> Decimal:
        return self.amount_ht + self.amount_vat


@dataclass
class Bordereau:
    """A bordereau of mandats of one type (``Bordereau``): the unit that is signed.

    ``number`` (``IdBord``, 1 to 9,999,999) follows a sequence per budget, exercice and
    ``kind`` (``TypBord``: 01 ordinary, 02 reduction/cancellation). ``issue_date`` is
    ``DteBordEm``. ``previous_cumul`` is the cumul (``MtCumulAnnuel``) of the previous bordereau
    of the same budget and exercice (0 for the first): an input, kept by the caller.
    ``xml_id`` (the ``Id`` attribute the signature references) defaults to
    ``BORD-<exercice>-<kind>-<number>``.
    """

    exercice: int
    number: int
    issue_date: date
    pieces: Sequence[Piece]
    kind: str = codes.TYP_BORD_ORDINARY
    previous_cumul: Decimal = ZERO
    xml_id: str = ""

    @property
    def element_id(self) -> str:
        return self.xml_id or "BORD-%s-%s-%s" % (self.exercice, self.kind, self.number)

    def totals(self) -> BordereauTotals:
        """The computed totals (never typed: they are derived from the lines)."""
        amount_ht = ZERO
        amount_vat = ZERO
        lines = 0
        for piece in self.pieces:
            for line in piece.lines:
                amount_ht += Decimal(line.amount_ht)
                amount_vat += Decimal(line.amount_vat or 0)
                lines += 1
        previous = Decimal(self.previous_cumul or 0)
        return BordereauTotals(
            pieces=len(self.pieces),
            lines=lines,
            amount_ht=amount_ht,
            amount_vat=amount_vat,
            previous_cumul=previous,
            cumul=previous + amount_ht + amount_vat,
        )


@dataclass
class PesFlow:
    """One ``PES_Aller`` file: a header and the bordereaux of one budget.

    ``dematerialised`` is ``InfoDematerialisee``: 1 means dematerialised mandats, which Hélios
    accepts only signed (sign here with a token, or let a parapheur sign the file afterwards);
    0 with a signature is rejected.
    """

    header: PesHeader
    bordereaux: Sequence[Bordereau]
    dematerialised: bool = True

    def iter_files(self):
        """Every file reference of the flow, in document order (duplicates included)."""
        for bordereau in self.bordereaux:
            for piece in bordereau.pieces:
                yield from piece.iter_files()

    def default_file_name(self) -> str:
        """``NomFic`` when the header gives none: budget, exercice and bordereau numbers."""
        header = self.header
        first = self.bordereaux[0] if self.bordereaux else None
        if first is None:
            return "PESALR1_%s%s.xml" % (header.cod_col, header.cod_bud)
        return "PESALR1_%s%s_%s_%s_%s.xml" % (
            header.cod_col, header.cod_bud, first.exercice, first.kind, first.number,
        )
