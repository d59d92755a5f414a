"""The accountant's answers: the PES acquittement and the PES_Retour dépense.

* :func:`parse_acquittement` reads a ``PES_ACQUIT`` (``PES_V2_Acquit_Autonome_V2.xsd``, and the
  older flat ``PES_V2_Acquit_Autonome.xsd``): the flow accepted, or rejected with reasons per
  element - a bordereau (``NumBord``/``ExerciceBord``), a file (``IdUnique``) or the whole flow
  (technical or signature domains) - and, inside, per pièce and per line. It is Hélios' answer
  to the file's reception (*guichet XML*).
* :func:`parse_pes_retour` reads a ``PES_Retour`` with its ``PES_DepenseRetour``
  (``RETOUR/Rev0/PES_Retour.xsd``): each mandat's state after the accountant's visa (en
  instance, prise en charge, rejeté with the reasons, soldé) and its payments.

Both are tolerant, as the schemas allow and a bit more: any namespace (or none), values in the
``V`` attribute or as text, unknown codes kept with an empty label, optional elements missing.
A file that is not XML, or not one of these, raises :class:`PesAnswerError` in plain words.
Only one ``Piece`` at a time is kept while reading a PES_Retour (they can be long).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Dict, Iterator, List, Optional, Tuple

from lxml import etree

from . import codes


class PesAnswerError(ValueError):
    """The file is not a readable PES acquittement / PES_Retour."""


# ------------------------------------------------------------------ helpers
def _local(tag) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element, name: str):
    return [child for child in element if _local(child.tag) == name]


def _value(element, name: str) -> Optional[str]:
    """The ``V`` attribute (or the text) of the child ``name``; ``None`` when absent/empty."""
    child = _child(element, name) if element is not None else None
    if child is None:
        return None
    value = child.get("V")
    if value is None:
        value = child.text
    value = (value or "").strip()
    return value or None


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _bool(value: Optional[str]) -> Optional[bool]:
    if value is None:
        return None
    return value.strip().lower() in ("1", "true")


def _date(value: Optional[str]) -> Optional[date]:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _decimal(value: Optional[str]) -> Optional[Decimal]:
    try:
        return Decimal(value) if value is not None else None
    except InvalidOperation:
        return None


def _parser():
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True
    )


def _parse_root(source):
    try:
        if isinstance(source, (bytes, bytearray)):
            return etree.fromstring(bytes(source), _parser())
        return etree.parse(source, _parser()).getroot()
    except etree.XMLSyntaxError as exc:
        raise PesAnswerError("The file is not readable XML (%s)." % exc) from exc
    except OSError as exc:
        raise PesAnswerError("The file cannot be read (%s)." % exc) from exc


@dataclass(frozen=True)
class PesAnswerHeader:
    """``Enveloppe`` and ``EnTetePES`` of an answer: which file and which budget."""

    file_name: Optional[str] = None
    file_type: Optional[str] = None
    structure_date: Optional[date] = None
    id_post: Optional[str] = None
    id_coll: Optional[str] = None
    cod_col: Optional[str] = None
    cod_bud: Optional[str] = None


def _header(root) -> PesAnswerHeader:
    enveloppe = _child(root, "Enveloppe")
    parametres = _child(enveloppe, "Parametres") if enveloppe is not None else None
    en_tete = _child(root, "EnTetePES")
    return PesAnswerHeader(
        file_name=_value(parametres, "NomFic"),
        file_type=_value(parametres, "TypFic"),
        structure_date=_date(_value(en_tete, "DteStr")),
        id_post=_value(en_tete, "IdPost"),
        id_coll=_value(en_tete, "IdColl"),
        cod_col=_value(en_tete, "CodCol") or _value(en_tete, "CodColl"),
        cod_bud=_value(en_tete, "CodBud"),
    )


# ------------------------------------------------------------------ acquittement
@dataclass(frozen=True)
class AckError:
    """One anomaly: ``code`` (``NumAnoAck``, e.g. ``ERREUR_DOUBLON_PIECE``), its explanation
    (``label``, from :data:`codes.ACK_ANOMALIES`) and Hélios' own words (``message``)."""

    code: Optional[str]
    message: Optional[str]

    @property
    def label(self) -> str:
        return codes.ACK_ANOMALIES.get(self.code or "", "")

    @property
    def text(self) -> str:
        """What to show: Hélios' message, else the explanation, else the code."""
        return self.message or self.label or self.code or "Rejected without a reason"


@dataclass
class AckLine:
    number: Optional[int]
    errors: List[AckError] = field(default_factory=list)


@dataclass
class AckPiece:
    """A pièce (mandat) named by the acquittement, with its errors and its lines' errors."""

    number: Optional[int]
    errors: List[AckError] = field(default_factory=list)
    lines: List[AckLine] = field(default_factory=list)

    def all_errors(self) -> List[Tuple[Optional[int], AckError]]:
        """``(line_number or None, error)`` for the pièce and its lines."""
        found = [(None, error) for error in self.errors]
        for line in self.lines:
            found += [(line.number, error) for error in line.errors]
        return found


@dataclass
class AckElement:
    """One ``ElementACQUIT``: an acknowledged object (a bordereau, a file or the flow).

    ``domain`` is ``DomaineAck`` (5 dépense, 4 PJ, 3 bordereau signature, 0 technical...),
    ``accepted`` is ``EtatAck``.
    """

    domain: str
    accepted: bool
    bordereau: Optional[int] = None
    exercice: Optional[int] = None
    id_unique: Optional[str] = None
    market_id: Optional[str] = None
    errors: List[AckError] = field(default_factory=list)
    pieces: List[AckPiece] = field(default_factory=list)

    @property
    def domain_label(self) -> str:
        return codes.ACK_DOMAINS.get(self.domain, "")

    def piece(self, number: int) -> AckPiece:
        for piece in self.pieces:
            if piece.number == number:
                return piece
        piece = AckPiece(number=number)
        self.pieces.append(piece)
        return piece

    def messages(self) -> List[str]:
        """Every reason, in words, prefixed by the mandate/line it concerns."""
        out = [error.text for error in self.errors]
        for piece in self.pieces:
            for line, error in piece.all_errors():
                where = "Mandate %s" % piece.number
                if line is not None:
                    where += ", line %s" % line
                out.append("%s: %s" % (where, error.text))
        return out


@dataclass
class BordereauAck:
    """The acquittement's verdict on one bordereau (every element naming it)."""

    exercice: Optional[int]
    number: int
    accepted: bool
    elements: List[AckElement]

    @property
    def messages(self) -> List[str]:
        return [message for element in self.elements for message in element.messages()]

    @property
    def rejected_pieces(self) -> Dict[Optional[int], List[AckError]]:
        """``{mandate number: [errors]}`` for the pièces named with errors."""
        out: Dict[Optional[int], List[AckError]] = {}
        for element in self.elements:
            for piece in element.pieces:
                errors = [error for _, error in piece.all_errors()]
                if errors:
                    out.setdefault(piece.number, []).extend(errors)
        return out


@dataclass
class Acquittement:
    """A parsed ``PES_ACQUIT``. ``version`` is ``"2"`` (nested form) or ``"1"`` (flat form)."""

    header: PesAnswerHeader
    version: str
    elements: List[AckElement]

    @property
    def accepted(self) -> bool:
        """True when every acknowledged element is accepted."""
        return bool(self.elements) and all(element.accepted for element in self.elements)

    @property
    def flow_errors(self) -> List[AckElement]:
        """Rejected elements that concern the whole flow (no bordereau, no file)."""
        return [e for e in self.elements
                if not e.accepted and e.bordereau is None and e.id_unique is None]

    def bordereaux(self) -> List[BordereauAck]:
        """The verdict per bordereau, in order of appearance."""
        grouped: Dict[Tuple[Optional[int], int], List[AckElement]] = {}
        for element in self.elements:
            if element.bordereau is not None:
                grouped.setdefault((element.exercice, element.bordereau), []).append(element)
        return [
            BordereauAck(exercice=key[0], number=key[1],
                         accepted=all(e.accepted for e in elements), elements=elements)
            for key, elements in grouped.items()
        ]

    def bordereau(self, number: int, exercice: Optional[int] = None) -> Optional[BordereauAck]:
        """The verdict on bordereau ``number`` (of ``exercice`` when the file says it)."""
        for verdict in self.bordereaux():
            if verdict.number == number and (
                exercice is None or verdict.exercice in (None, exercice)
            ):
                return verdict
        return None

    def rejected_files(self) -> Dict[str, List[AckError]]:
        """``{IdUnique: [errors]}`` of the refused attachments."""
        return {e.id_unique: e.errors for e in self.elements
                if e.id_unique is not None and not e.accepted}


def parse_acquittement(source) -> Acquittement:
    """Read a PES acquittement from a path, a binary file object or bytes."""
    root = _parse_root(source)
    if _local(root.tag) != "PES_ACQUIT":
        raise PesAnswerError(
            "This file is not a PES acquittement (its root is %s, not PES_ACQUIT)."
            % _local(root.tag)
        )
    acquit = _child(root, "ACQUIT")
    if acquit is None:
        raise PesAnswerError("This PES acquittement has no ACQUIT block.")
    raw_elements = _children(acquit, "ElementACQUIT")
    nested = any(
        _child(element, name) is not None
        for element in raw_elements for name in ("Erreur", "DetailPiece")
    )
    flat = any(
        _child(element, name) is not None
        for element in raw_elements for name in ("NumAnoAck", "NumPiece", "NumLigne")
    )
    version = "1" if flat and not nested else "2"
    if version == "1":
        elements = _flat_elements(raw_elements)
    else:
        elements = [_nested_element(element) for element in raw_elements]
    return Acquittement(header=_header(root), version=version, elements=elements)


def _ack_error(element) -> Optional[AckError]:
    code, message = _value(element, "NumAnoAck"), _value(element, "LibelleAnoAck")
    if code is None and message is None:
        return None
    return AckError(code=code, message=message)


def _element_base(element) -> AckElement:
    return AckElement(
        domain=_value(element, "DomaineAck") or "",
        accepted=bool(_bool(_value(element, "EtatAck"))),
        bordereau=_int(_value(element, "NumBord")),
        exercice=_int(_value(element, "ExerciceBord")),
        id_unique=_value(element, "IdUnique"),
        market_id=_value(element, "IdMarche"),
    )


def _nested_element(element) -> AckElement:
    ack = _element_base(element)
    ack.errors = [e for e in map(_ack_error, _children(element, "Erreur")) if e]
    for detail in _children(element, "DetailPiece"):
        piece = ack.piece(_int(_value(detail, "NumPiece")))
        piece.errors += [e for e in map(_ack_error, _children(detail, "Erreur")) if e]
        for detail_line in _children(detail, "DetailLigne"):
            piece.lines.append(AckLine(
                number=_int(_value(detail_line, "NumLigne")),
                errors=[e for e in map(_ack_error, _children(detail_line, "Erreur")) if e],
            ))
    return ack


def _flat_elements(raw_elements) -> List[AckElement]:
    """V1: one ElementACQUIT per anomaly; grouped per acknowledged object."""
    grouped: Dict[tuple, AckElement] = {}
    for element in raw_elements:
        base = _element_base(element)
        key = (base.domain, base.accepted, base.exercice, base.bordereau, base.id_unique)
        ack = grouped.setdefault(key, base)
        error = _ack_error(element)
        piece_number = _int(_value(element, "NumPiece"))
        line_number = _int(_value(element, "NumLigne"))
        if piece_number is None:
            if error:
                ack.errors.append(error)
            continue
        piece = ack.piece(piece_number)
        if line_number is None:
            if error:
                piece.errors.append(error)
        else:
            piece.lines.append(AckLine(number=line_number, errors=[error] if error else []))
    return list(grouped.values())


# ------------------------------------------------------------------ PES_Retour dépense
@dataclass(frozen=True)
class Payment:
    """A payment of a line (``PaiementEmargement``)."""

    paid_on: Optional[date]
    amount: Optional[Decimal]
    origin: Optional[str] = None  # OrgEma


@dataclass
class RetourLine:
    number: Optional[int]
    state: Optional[str]
    observation: Optional[str] = None
    comment: Optional[str] = None
    amount_ht: Optional[Decimal] = None
    amount_vat: Optional[Decimal] = None
    payments: List[Payment] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return codes.ETAT_LIG_PCE.get(self.state or "", "")


@dataclass
class RetourPiece:
    """A mandat as the accountant sees it (``InfoPiece``): its state and the reasons."""

    exercice: Optional[int]
    bordereau: Optional[int]
    bordereau_kind: Optional[str]
    number: Optional[int]
    piece_type: Optional[str]
    nature: Optional[str]
    state: Optional[str]
    observation: Optional[str] = None
    comment: Optional[str] = None
    taken_on: Optional[date] = None
    rejected_on: Optional[date] = None
    pending_on: Optional[date] = None
    lines: List[RetourLine] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return codes.ETAT_PCE.get(self.state or "", "")

    @property
    def rejected(self) -> bool:
        return self.state == codes.ETAT_PCE_REJECTED

    @property
    def may_be_sent_again_with_same_number(self) -> Optional[bool]:
        """InfoPiece/DtePcePec: rejected at the visa (no take-in-charge date) → the corrected
        mandat may go again with the same number; rejected after being taken in charge → not.
        ``None`` when the pièce is not rejected."""
        if not self.rejected:
            return None
        return self.taken_on is None

    @property
    def reasons(self) -> List[str]:
        out = [text for text in (self.observation, self.comment) if text]
        for line in self.lines:
            for text in (line.observation, line.comment):
                if text:
                    out.append("Line %s: %s" % (line.number, text))
        return out

    @property
    def paid_amount(self) -> Decimal:
        return sum((p.amount or Decimal(0) for line in self.lines for p in line.payments),
                   Decimal(0))


def iter_pes_retour_pieces(source) -> Iterator[RetourPiece]:
    """The pièces of a ``PES_Retour``'s ``PES_DepenseRetour``, one at a time (streamed)."""
    try:
        context = etree.iterparse(
            source if not isinstance(source, (bytes, bytearray)) else _bytes_io(source),
            events=("start", "end"), huge_tree=True, resolve_entities=False, no_network=True,
        )
        first = True
        in_depense = False
        bloc: Dict[str, Optional[str]] = {}
        for event, element in context:
            name = _local(element.tag)
            if first:
                first = False
                if name != "PES_Retour":
                    raise PesAnswerError(
                        "This file is not a PES_Retour (its root is %s)." % name)
            if event == "start":
                if name == "PES_DepenseRetour":
                    in_depense = True
                continue
            if name == "PES_DepenseRetour":
                in_depense = False
            elif in_depense and name == "BlocBordereau":
                bloc = _bloc_bordereau(element)
            elif in_depense and name == "Piece":
                yield _retour_piece(element, bloc)
                element.clear()
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise PesAnswerError("The file is not readable XML (%s)." % exc) from exc


def _bytes_io(data):
    import io

    return io.BytesIO(bytes(data))


def _bloc_bordereau(element) -> Dict[str, Optional[str]]:
    return {tag: _value(element, tag) for tag in ("Exer", "IdBord", "TypBord")}


def _retour_piece(element, bloc) -> RetourPiece:
    info = _child(element, "InfoPiece")
    piece = RetourPiece(
        exercice=_int(bloc.get("Exer")),
        bordereau=_int(bloc.get("IdBord")),
        bordereau_kind=bloc.get("TypBord"),
        number=_int(_value(info, "IdPce")),
        piece_type=_value(info, "TypPce"),
        nature=_value(info, "NatPce"),
        state=_value(info, "EtatPce"),
        observation=_value(info, "ObsEtat"),
        comment=_value(info, "Commentaire"),
        taken_on=_date(_value(info, "DtePcePec")),
        rejected_on=_date(_value(info, "DtePceRej")),
        pending_on=_date(_value(info, "DtePceInst")),
    )
    for ligne in _children(element, "LigneDePiece"):
        bloc_ligne = _child(ligne, "BlocLignePiece")
        info_ligne = _child(bloc_ligne, "InfoLignePiece") if bloc_ligne is not None else None
        if info_ligne is None:
            continue
        line = RetourLine(
            number=_int(_value(info_ligne, "IdLigne")),
            state=_value(info_ligne, "EtatLigPce"),
            observation=_value(info_ligne, "ObsEtat"),
            comment=_value(info_ligne, "Commentaire"),
            amount_ht=_decimal(_value(info_ligne, "MtHT")),
            amount_vat=_decimal(_value(info_ligne, "MtTVA")),
        )
        for payment in _children(ligne, "PaiementEmargement"):
            line.payments.append(Payment(
                paid_on=_date(_value(payment, "DtePay")),
                amount=_decimal(_value(payment, "MtPay")),
                origin=_value(payment, "OrgEma"),
            ))
        piece.lines.append(line)
    return piece


@dataclass
class PesRetour:
    """A parsed ``PES_Retour`` (dépense part): ``kind`` is ``TypRestit`` (01 rejections,
    02 periodic)."""

    header: PesAnswerHeader
    kind: Optional[str]
    pieces: List[RetourPiece]

    @property
    def rejected(self) -> List[RetourPiece]:
        return [piece for piece in self.pieces if piece.rejected]


def parse_pes_retour(source) -> PesRetour:
    """Read a whole ``PES_Retour`` (for long periodic files, :func:`iter_pes_retour_pieces`)."""
    root = _parse_root(source)
    if _local(root.tag) != "PES_Retour":
        raise PesAnswerError("This file is not a PES_Retour (its root is %s)."
                             % _local(root.tag))
    depense = _child(root, "PES_DepenseRetour")
    kind = None
    pieces: List[RetourPiece] = []
    if depense is not None:
        kind = _value(_child(depense, "EnTeteDepense"), "TypRestit")
        for bordereau in _children(depense, "Bordereau"):
            bloc = _bloc_bordereau(_child(bordereau, "BlocBordereau"))
            pieces += [_retour_piece(piece, bloc) for piece in _children(bordereau, "Piece")]
    return PesRetour(header=_header(root), kind=kind, pieces=pieces)
