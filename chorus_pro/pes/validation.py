"""Check a :class:`~chorus_pro.pes.records.PesFlow` before anything is generated.

:func:`validate` returns EVERY problem at once (errors and warnings, see
:mod:`chorus_pro.pes.problems`), so that the accountant can fix them all in one go. It checks
what the 5.17 schemas check (lengths, patterns, code lists, amounts with two decimals) and the
rules their annotations state in words (a budget voted by function needs a Fonction on every
line, payment by transfer needs the creditor's bank account, a natural person needs a civility
and a first name, a reduction must name the mandate it reduces...). Files given by a path are
checked to exist and not to be empty; a callable source is only read when the file is written.
"""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

from .. import identifiers
from . import codes
from .problems import ERROR, WARNING, Problem, make_problem
from .records import Bordereau, Line, PesFile, PesFlow, PesHeader, Piece, Tiers
from .text import amount_problem, compact, is_cut, is_refused_text, latin1, pes_text, positive_int

CODIQUE_RE = re.compile(r"^(02[AB][0-9]{3,4}|[0-9]{6,7})$")
COD_COL_RE = re.compile(r"^[0-9]{3}$")
COD_BUD_RE = re.compile(r"^[0-9A-Z][0-9]$")
DIGITS_RE = re.compile(r"^[0-9]+$")
ALNUM_RE = re.compile(r"^[0-9a-zA-Z]+$")
XML_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
BIC_RE = re.compile(r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$")
PJ_NAME_RE = re.compile(r"^.+\.[A-Za-z0-9]{2,4}$")
POSTAL_CODE_RE = re.compile(r"^[0-9]{5}$")
MIME_RE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")

# NatIdTiers other than SIRET / SIREN: (check, rule in words), from the IdTiers annotation.
_IDENTIFIER_RULES = {
    codes.NAT_ID_FINESS: (lambda v: len(v) == 9 and v.isdigit(), "9 digits"),
    codes.NAT_ID_NIR: (lambda v: len(v) == 15, "15 characters"),
    codes.NAT_ID_VAT: (lambda v: 4 <= len(v) <= 18, "4 to 18 characters"),
    codes.NAT_ID_OUTSIDE_EU: (lambda v: len(v) <= 18, "18 characters at most"),
    codes.NAT_ID_TAHITI: (lambda v: len(v) == 9, "9 characters"),
    codes.NAT_ID_RIDET: (lambda v: 9 <= len(v) <= 10 and v.isdigit(), "9 or 10 digits"),
    codes.NAT_ID_FRWF: (
        lambda v: len(v) <= 18 and v.upper().startswith("FRWF"), "18 characters starting FRWF"
    ),
    codes.NAT_ID_IREP: (
        lambda v: len(v) <= 80 and v[:5].isdigit() and len(v) >= 5, "starting with 5 digits"
    ),
    codes.NAT_ID_NFP: (lambda v: len(v) == 13 and v.isdigit(), "13 digits"),
}
PERSON_ONLY_IDENTIFIERS = {codes.NAT_ID_NIR, codes.NAT_ID_NFP, codes.NAT_ID_IREP}


def validate(flow: PesFlow, *, check_files: bool = True) -> List[Problem]:
    """Every problem of ``flow``, errors and warnings, in document order.

    ``check_files=False`` skips the file system checks of path sources (existence, size).
    The file can be generated when no problem has ``severity == "error"``
    (:func:`has_errors`).
    """
    return _Validator(flow, check_files=check_files).run()


def has_errors(problems) -> bool:
    """True when one of ``problems`` is an error (not only warnings)."""
    return any(problem.severity == ERROR for problem in problems)


class _Validator:
    def __init__(self, flow: PesFlow, *, check_files: bool):
        self.flow = flow
        self.header = flow.header
        self.check_files = check_files
        self.problems: List[Problem] = []
        self.where: Dict[str, Optional[int]] = {}
        self.files_by_id: Dict[str, PesFile] = {}

    # ------------------------------------------------------------------ helpers
    def add(self, code: str, *, severity: str = ERROR, field: str = "", **params) -> None:
        self.problems.append(
            make_problem(code, severity=severity, where=dict(self.where), field=field, **params)
        )

    def text(self, value, max_length: int, label: str, field: str, *, required_code: str = "",
             **params) -> str:
        """Warn when ``value`` will be cut; error with ``required_code`` when empty."""
        written = pes_text(value, max_length)
        if required_code and (not written or is_refused_text(written)):
            self.add(required_code, field=field, **params)
        elif is_cut(value, max_length):
            self.add("text_cut", severity=WARNING, field=field, label=label, max=max_length,
                     value=latin1(value))
        return written

    def amount(self, value, field: str, *, positive: bool = False) -> Optional[Decimal]:
        if value is None:
            self.add("amount_invalid", field=field, value="", reason="missing")
            return None
        reason = amount_problem(value, positive=positive)
        if reason:
            self.add("amount_invalid", field=field, value=str(value), reason=reason)
            return None
        return Decimal(value)

    # ------------------------------------------------------------------ flow
    def run(self) -> List[Problem]:
        self.check_header(self.header)
        if not self.flow.bordereaux:
            self.add("no_bordereau")
        seen_bordereaux = set()
        seen_ids = set()
        seen_pieces = set()
        for bordereau in self.flow.bordereaux:
            self.where = {"bordereau": bordereau.number}
            key = (bordereau.exercice, bordereau.kind, bordereau.number)
            if key in seen_bordereaux:
                self.add("bordereau_duplicate", number=bordereau.number,
                         exercice=bordereau.exercice, kind=bordereau.kind)
            seen_bordereaux.add(key)
            element_id = bordereau.element_id
            if not XML_ID_RE.match(element_id):
                self.add("bordereau_id_invalid", field="Id", value=element_id)
            elif element_id in seen_ids:
                self.add("bordereau_id_duplicate", field="Id", value=element_id)
            seen_ids.add(element_id)
            self.check_bordereau(bordereau, seen_pieces)
        return self.problems

    def check_header(self, header: PesHeader) -> None:
        self.where = {}
        codique = (header.id_post or "").strip()
        if not codique:
            self.add("codique_missing", field="IdPost")
        elif not CODIQUE_RE.match(codique):
            self.add("codique_invalid", field="IdPost", value=codique)
        siret = identifiers.compact_siret(header.id_coll or "")
        if not siret:
            self.add("collectivity_siret_missing", field="IdColl")
        elif not identifiers.is_valid_siret(siret):
            self.add("collectivity_siret_invalid", field="IdColl", value=header.id_coll)
        if not COD_COL_RE.match(header.cod_col or ""):
            self.add("cod_col_invalid", field="CodCol", value=header.cod_col)
        if not COD_BUD_RE.match(header.cod_bud or ""):
            self.add("cod_bud_invalid", field="CodBud", value=header.cod_bud)
        nomenclature = header.nomenclature
        if nomenclature not in codes.NOMENCLATURES:
            self.add("nomenclature_unknown", value=nomenclature)
        if header.vote not in codes.VOTES:
            self.add("vote_unknown", value=header.vote)
        elif (
            header.vote != codes.VOTE_NATURE
            and nomenclature in codes.NOMENCLATURES
            and nomenclature not in codes.NOMENCLATURES_WITH_FUNCTION
        ):
            self.add("vote_function_not_allowed", nomenclature=nomenclature)
        fin_jur = (header.fin_jur or "").strip()
        if nomenclature in codes.NOMENCLATURES_WITH_FINESS:
            if not fin_jur:
                self.add("finess_missing", field="FinJur", nomenclature=nomenclature)
            elif not (ALNUM_RE.match(fin_jur) and len(fin_jur) <= codes.MAX_LENGTH["FinJur"]):
                self.add("finess_invalid", field="FinJur", value=fin_jur)
        elif fin_jur:
            self.add("finess_forbidden", field="FinJur")
        self.text(header.libelle_col_bud, codes.MAX_LENGTH["LibelleColBud"],
                  "The budget's label", "LibelleColBud")
        self.text(header.libelle_poste, codes.MAX_LENGTH["LibellePoste"],
                  "The accounting office's label", "LibellePoste")
        file_name = header.file_name
        if file_name and (len(latin1(file_name)) > codes.MAX_LENGTH["NomFic"]
                          or is_refused_text(latin1(file_name))):
            self.add("file_name_invalid", field="NomFic", value=file_name)

    # ------------------------------------------------------------------ bordereau
    def check_bordereau(self, bordereau: Bordereau, seen_pieces: set) -> None:
        first_problem = len(self.problems)
        _, reason = positive_int(bordereau.number, 7)
        if reason:
            self.add("bordereau_number_invalid", field="IdBord", value=bordereau.number)
        exercice, reason = positive_int(bordereau.exercice, 4)
        if reason or exercice < 1000:
            self.add("bordereau_exercice_invalid", field="Exer", value=bordereau.exercice)
        if not isinstance(bordereau.issue_date, date):
            self.add("bordereau_issue_date_missing", field="DteBordEm")
        kind = bordereau.kind
        if kind not in (codes.TYP_BORD_ORDINARY, codes.TYP_BORD_REDUCTION):
            self.add("bordereau_kind_invalid", field="TypBord", value=kind)
        if not bordereau.pieces:
            self.add("bordereau_empty", field="NbrPce")
        elif len(bordereau.pieces) > 99999:
            self.add("bordereau_too_many_pieces", field="NbrPce", count=len(bordereau.pieces))
        previous = bordereau.previous_cumul
        previous_reason = amount_problem(previous if previous is not None else 0)
        if previous_reason:
            self.add("previous_cumul_invalid", field="MtCumulAnnuel", value=str(previous))

        for piece in bordereau.pieces:
            self.where = {"bordereau": bordereau.number, "piece": piece.number}
            number, reason = positive_int(piece.number, 8)
            if reason:
                self.add("piece_number_invalid", field="IdPce", value=piece.number)
            elif (bordereau.exercice, bordereau.kind, number) in seen_pieces:
                self.add("piece_duplicate", field="IdPce", number=number)
            else:
                seen_pieces.add((bordereau.exercice, bordereau.kind, number))
            self.check_piece(bordereau, piece)

        self.where = {"bordereau": bordereau.number}
        amounts_ok = not any(
            p.is_error and p.code == "amount_invalid" for p in self.problems[first_problem:]
        )
        if amounts_ok:
            totals = bordereau.totals()
            for value in (totals.amount_ht, totals.amount_vat, totals.cumul):
                if amount_problem(value) == "too_large":
                    self.add("amount_too_large", field="MtBordHT", value=str(value))
                    break
            if self.flow.dematerialised and not previous_reason and totals.cumul <= 0:
                self.add("cumul_not_positive", field="MtCumulAnnuel")

    # ------------------------------------------------------------------ pièce
    def check_piece(self, bordereau: Bordereau, piece: Piece) -> None:
        piece_type, nature, kind = piece.piece_type, piece.nature, bordereau.kind
        if piece_type not in codes.TYP_PCE:
            self.add("piece_type_unknown", field="TypPce", value=piece_type)
        if nature not in codes.NAT_PCE:
            self.add("piece_nature_unknown", field="NatPce", value=nature)
        triplet = (kind, piece_type, nature)
        if piece_type in codes.TYP_PCE and nature in codes.NAT_PCE:
            corrective = piece_type == "02" and nature in ("06", "10")
            if kind == codes.TYP_BORD_REDUCTION and not corrective:
                self.add("triplet_mismatch", field="TypPce", kind=kind, piece_type=piece_type,
                         nature=nature,
                         hint="a reduction/cancellation bordereau holds corrective mandates "
                              "(type 02, nature 06 or 10).")
            elif kind == codes.TYP_BORD_ORDINARY and nature in ("06", "10"):
                self.add("triplet_mismatch", field="NatPce", kind=kind, piece_type=piece_type,
                         nature=nature,
                         hint="reductions and cancellations go in a bordereau of type 02.")
            elif triplet not in codes.KNOWN_TRIPLETS and kind in codes.TYP_BORD:
                self.add("triplet_unknown", severity=WARNING, field="TypPce", kind=kind,
                         piece_type=piece_type, nature=nature)
        if not latin1(piece.object):
            self.add("object_missing", severity=WARNING, field="Obj")
        else:
            self.text(piece.object, codes.MAX_LENGTH["Obj"], "The mandate's object", "Obj")
        if piece.service_code and len(latin1(piece.service_code)) > codes.MAX_LENGTH["CodServ"]:
            self.add("service_code_invalid", field="CodServ", value=piece.service_code)
        if piece.dgp is not None:
            self.check_dgp(piece)
        for pes_file in piece.files:
            self.check_file(pes_file)
        if not piece.lines:
            self.add("piece_without_line", field="LigneDePiece")
        needs_origin = triplet in codes.TRIPLETS_NEEDING_ORIGIN
        seen_numbers = set()
        for index, line in enumerate(piece.lines, start=1):
            line_number = line.number if line.number is not None else index
            self.where = {"bordereau": bordereau.number, "piece": piece.number,
                          "line": line_number}
            number, reason = positive_int(line_number, 6)
            if reason:
                self.add("line_number_invalid", field="IdLigne", value=line_number)
            elif number in seen_numbers:
                self.add("line_number_duplicate", field="IdLigne", value=number)
            else:
                seen_numbers.add(number)
            self.check_line(bordereau, piece, line, needs_origin)

    def check_dgp(self, piece: Piece) -> None:
        dgp = piece.dgp
        reasons = []
        if not isinstance(dgp.start, date) or not isinstance(dgp.end, date):
            reasons.append("its start and end dates are required")
        elif dgp.end < dgp.start:
            reasons.append("it ends before it starts")
        _, duration_reason = positive_int(dgp.duration, 2)
        if duration_reason:
            reasons.append("its duration must be 1 to 99 days")
        if dgp.interest_code is not None and dgp.interest_code not in codes.COD_INT_MOR:
            reasons.append("the interest code %r is unknown" % dgp.interest_code)
        if dgp.interest_rate is not None:
            rate_reason = amount_problem(dgp.interest_rate, positive=True)
            if rate_reason or Decimal(dgp.interest_rate) >= 100:
                reasons.append("the interest rate must be above 0 and below 100, two decimals")
        for reason in reasons:
            self.add("dgp_invalid", field="DGP", reason=reason)

    # ------------------------------------------------------------------ line
    def check_line(self, bordereau: Bordereau, piece: Piece, line: Line,
                   needs_origin: bool) -> None:
        header = self.header
        nature = str(line.nature or "").strip()
        if not nature:
            self.add("nature_missing", field="Nature")
        elif not DIGITS_RE.match(nature) or len(nature.lstrip("0")) > 12 or not nature.strip("0"):
            self.add("nature_invalid", field="Nature", value=nature)
        function = str(line.function or "").strip()
        if function:
            if not DIGITS_RE.match(function) or len(function) > 10:
                self.add("function_invalid", field="Fonction", value=function)
            elif not header.function_allowed:
                self.add("function_not_allowed", field="Fonction", value=function,
                         nomenclature=header.nomenclature,
                         vote=codes.VOTES.get(header.vote, header.vote).lower())
        elif header.function_required:
            self.add("function_missing", field="Fonction")
        operation = str(line.operation or "").strip()
        if operation:
            if not DIGITS_RE.match(operation) or len(operation) > 10:
                self.add("operation_invalid", field="Operation", value=operation)
            elif header.nomenclature not in codes.NOMENCLATURES_WITH_OPERATION:
                self.add("operation_not_allowed", field="Operation",
                         nomenclature=header.nomenclature)
        self.amount(line.amount_ht, "MtHT")
        if line.amount_vat is not None:
            self.amount(line.amount_vat, "MtTVA")
        if line.invoice_amount_ht is not None:
            self.amount(line.invoice_amount_ht, "MtFactHT")
        if line.payment_mode not in codes.MOD_REGL:
            self.add("payment_mode_unknown", field="ModRegl", value=line.payment_mode)
        if is_cut(line.invoice_number, codes.MAX_LENGTH["Facture"]):
            self.add("invoice_number_cut", severity=WARNING, field="Facture",
                     value=latin1(line.invoice_number))
        labels = ((line.transfer_label_1, "LibVir1"), (line.transfer_label_2, "LibVir2"))
        for value, field in labels:
            self.text(value, codes.MAX_LENGTH["LibVir"], "The transfer label", field)
        self.text(line.market_id, codes.MAX_LENGTH["IdMarche"], "The contract number", "IdMarche")
        origin = line.origin or piece.origin
        if origin is None:
            if needs_origin:
                self.add("origin_missing", field="RattachPiece")
        else:
            self.check_origin(bordereau, piece, origin)
        for pes_file in line.files:
            self.check_file(pes_file)
        if line.tiers is None:
            self.add("tiers_missing", field="Tiers")
        else:
            self.check_tiers(piece, line, line.tiers)

    def check_origin(self, bordereau: Bordereau, piece: Piece, origin) -> None:
        reasons = []
        if origin.nature not in codes.NAT_PCE_ORIG:
            reasons.append("the original pièce nature %r is unknown" % origin.nature)
        _, reason = positive_int(origin.piece_number, 13)
        if reason:
            reasons.append("the original mandate number is missing or wrong")
        exercice, reason = positive_int(origin.exercice, 4)
        if reason:
            reasons.append("the original exercice is missing or wrong")
        elif (
            (bordereau.kind, piece.piece_type, piece.nature) == codes.REDUCTION_TRIPLET
            and exercice != bordereau.exercice
        ):
            reasons.append(
                "a mandate of %s can only be reduced in %s (later: a revenue title)"
                % (exercice, exercice)
            )
        if origin.line_number is not None:
            _, reason = positive_int(origin.line_number, 6)
            if reason:
                reasons.append("the original line number is wrong")
        for reason in reasons:
            self.add("origin_invalid", field="RattachPiece", reason=reason)

    # ------------------------------------------------------------------ creditor
    def check_tiers(self, piece: Piece, line: Line, tiers: Tiers) -> None:
        name = self.text(tiers.name, codes.MAX_LENGTH["Nom"], "The creditor's name", "Nom",
                         required_code="tiers_name_missing")
        display = name or "?"
        if tiers.category not in codes.CAT_TIERS:
            self.add("tiers_category_unknown", field="CatTiers", value=tiers.category)
        if tiers.legal_nature not in codes.NAT_JUR:
            self.add("tiers_legal_nature_unknown", field="NatJur", value=tiers.legal_nature)
        person = tiers.category == codes.CAT_TIERS_PERSON
        if person and not (latin1(tiers.civility) and latin1(tiers.first_name)):
            self.add("tiers_person_fields_missing", field="Civilite", name=display)
        self.text(tiers.complement_name, codes.MAX_LENGTH["ComplNom"],
                  "The creditor's name complement", "ComplNom")
        self.text(tiers.reference, codes.MAX_LENGTH["RefTiers"], "The creditor's reference",
                  "RefTiers")
        self.check_identifier(piece, tiers, display, person)
        self.check_address(tiers, display)
        self.check_bank_account(line, tiers, display)

    def check_identifier(self, piece: Piece, tiers: Tiers, display: str, person: bool) -> None:
        value = compact(tiers.identifier)
        kind = tiers.identifier_type
        if not value:
            self.add("tiers_identifier_missing", severity=WARNING, field="IdTiers", name=display)
            return
        if not kind:
            self.add("tiers_identifier_without_type", field="NatIdTiers", value=value)
            return
        if kind not in codes.NAT_ID_TIERS:
            self.add("tiers_identifier_type_unknown", field="NatIdTiers", value=kind)
            return
        if kind == codes.NAT_ID_SIRET:
            if not identifiers.is_valid_siret(value):
                self.add("tiers_siret_invalid", field="IdTiers", value=value, name=display)
            return
        if kind == codes.NAT_ID_SIREN:
            if not identifiers.is_valid_siren(value):
                self.add("tiers_siren_invalid", field="IdTiers", value=value, name=display)
            return
        label = codes.NAT_ID_TIERS[kind]
        if not ALNUM_RE.match(value) or len(value) > codes.MAX_LENGTH["IdTiers"]:
            self.add("tiers_identifier_invalid", field="IdTiers", value=value, name=display,
                     kind=label, rule="letters and digits only, 80 at most")
            return
        rule = _IDENTIFIER_RULES.get(kind)
        if rule and not rule[0](value):
            self.add("tiers_identifier_invalid", field="IdTiers", value=value, name=display,
                     kind=label, rule=rule[1])
        if kind in PERSON_ONLY_IDENTIFIERS and not person:
            self.add("tiers_identifier_invalid", field="NatIdTiers", value=value, name=display,
                     kind=label, rule="reserved to natural persons (category 01)")
        if kind == codes.NAT_ID_NIR and (
            self.header.nomenclature not in codes.NOMENCLATURES_WITH_FINESS
            or (piece.piece_type, piece.nature) != ("02", "09")
        ):
            self.add("tiers_identifier_invalid", field="NatIdTiers", value="NIR", name=display,
                     kind=label,
                     rule="allowed only in M21/M22 on a mandate cancelling a revenue title")

    def check_address(self, tiers: Tiers, display: str) -> None:
        address = tiers.address
        if address is None:
            self.add("address_missing", field="Adresse", name=display)
            return
        adr = codes.MAX_LENGTH["Adr"]
        self.text(address.street, adr, "The creditor's street", "Adr2",
                  required_code="address_street_missing", name=display)
        self.text(address.complement, adr, "The address complement", "Adr1")
        self.text(address.locality, adr, "The address locality", "Adr3")
        self.text(address.city, codes.MAX_LENGTH["Ville"], "The city", "Ville",
                  required_code="address_city_missing", name=display)
        postal_code = str(address.postal_code or "").strip()
        if not POSTAL_CODE_RE.match(postal_code):
            self.add("address_postal_code_invalid", field="CP", value=postal_code, name=display)
        if address.kind not in codes.TYP_ADR:
            self.add("address_kind_unknown", field="TypAdr", value=address.kind)
        country = str(address.country_code or "").strip()
        if not address.resident and not country:
            self.add("address_country_missing", field="CodPays", name=display)
        elif country and (not DIGITS_RE.match(country) or len(country) > 3
                          or not country.strip("0")):
            self.add("address_country_invalid", field="CodPays", value=country)

    def check_bank_account(self, line: Line, tiers: Tiers, display: str) -> None:
        account = tiers.bank_account
        mode = line.payment_mode
        if mode in codes.MOD_REGL_FORBIDDING_ACCOUNT:
            return  # the writer leaves the account out: nothing of it is checked
        if account is None or not compact(account.iban):
            if mode in codes.MOD_REGL_NEEDING_ACCOUNT:
                self.add("bank_account_missing", field="CpteBancaire", name=display)
            return
        iban = identifiers.compact_iban(account.iban)
        if not identifiers.is_valid_iban(iban) or len(iban) > 34:
            self.add("iban_invalid", field="IBAN", value=identifiers.mask_iban(iban) or "?",
                     name=display)
            return
        bic = identifiers.compact_bic(account.bic) if account.bic else ""
        if bic:
            if not (BIC_RE.match(bic) and identifiers.is_valid_bic(bic)):
                self.add("bic_invalid", field="BIC", value=account.bic, name=display)
        elif iban[:2] not in codes.DOMESTIC_IBAN_COUNTRIES:
            self.add("bic_missing", field="BIC", name=display, country=iban[:2])
        holder = account.holder or tiers.name
        self.text(holder, codes.MAX_LENGTH["TitCpte"], "The account holder", "TitCpte",
                  required_code="bank_holder_missing", name=display)
        self.text(account.bank_name, codes.MAX_LENGTH["LibBanc"], "The bank's name", "LibBanc")

    # ------------------------------------------------------------------ files
    def check_file(self, pes_file: PesFile) -> None:
        name = latin1(pes_file.name)
        if not name:
            self.add("file_name_missing", field="NomPJ")
        elif not PJ_NAME_RE.match(name):
            self.add("file_extension_invalid", field="NomPJ", name=name)
        id_unique = str(pes_file.id_unique or "")
        if not (ALNUM_RE.match(id_unique) and len(id_unique) <= codes.MAX_LENGTH["IdUnique"]
                and id_unique.strip("0")):
            self.add("file_id_invalid", field="IdUnique", name=name, value=id_unique)
            return
        known = self.files_by_id.get(id_unique)
        if known is not None:
            if known is not pes_file and not _same_file(known, pes_file):
                self.add("file_id_duplicate", field="IdUnique", name=name,
                         other=latin1(known.name), value=id_unique)
            return  # checked once
        self.files_by_id[id_unique] = pes_file
        if pes_file.support not in codes.SUPPORT:
            self.add("file_support_unknown", field="Support", name=name, value=pes_file.support)
        if pes_file.type_pj is not None and pes_file.type_pj not in codes.TYPE_PJ:
            self.add("file_type_unknown", field="TypePJ", name=name, value=pes_file.type_pj)
        self.text(pes_file.description, codes.MAX_LENGTH["Description"],
                  "The attachment's description", "Description")
        if is_cut(name, codes.MAX_LENGTH["NomPJ"]):
            self.add("text_cut", severity=WARNING, field="NomPJ",
                     label="The attachment's file name", max=codes.MAX_LENGTH["NomPJ"],
                     value=name)
        if not pes_file.embedded:
            return
        mime_type = str(pes_file.mime_type or "").strip()
        if not mime_type:
            self.add("file_mime_missing", field="MIMEType", name=name)
        elif not MIME_RE.match(mime_type):
            self.add("file_mime_invalid", field="MIMEType", name=name, value=mime_type)
        source = pes_file.source
        if isinstance(source, bytes):
            if not source:
                self.add("file_empty", field="Fichier", name=name)
        elif self.check_files and isinstance(source, (str, os.PathLike)):
            try:
                size = os.stat(source).st_size
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                self.add("file_not_found", field="Fichier", name=name, reason=reason.lower())
                return
            if not os.access(source, os.R_OK):
                self.add("file_not_found", field="Fichier", name=name, reason="permission denied")
            elif size == 0:
                self.add("file_empty", field="Fichier", name=name)


def _same_file(first: PesFile, second: PesFile) -> bool:
    """The same document referenced twice (same name and same source)."""
    if latin1(first.name) != latin1(second.name):
        return False
    a, b = first.source, second.source
    if isinstance(a, (str, os.PathLike)) and isinstance(b, (str, os.PathLike)):
        return os.path.abspath(os.fspath(a)) == os.path.abspath(os.fspath(b))
    return a is b or a == b


def split_problems(problems) -> Tuple[List[Problem], List[Problem]]:
    """``(errors, warnings)``."""
    errors = [problem for problem in problems if problem.severity == ERROR]
    return errors, [problem for problem in problems if problem.severity != ERROR]
