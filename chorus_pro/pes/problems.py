"""What :func:`chorus_pro.pes.validation.validate` reports: one :class:`Problem` per finding.

Each problem has a stable ``code`` (a key of :data:`MESSAGES`), its ``params``, a ready English
``message`` in words an accountant understands, a ``severity`` (``"error"``: nothing may be
generated while one remains; ``"warning"``: the file can be written, e.g. a text that will be
cut to its PES length) and where it is (bordereau, mandate and line numbers).

The Odoo addon shows French: it maps ``problem.code`` to its own translatable strings (the
templates below use ``%(name)s`` placeholders filled from ``problem.params``), or falls back on
``problem.message``. Messages never contain a full IBAN (masked) nor file contents.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Any, Dict, Optional

ERROR = "error"
WARNING = "warning"

MESSAGES: Dict[str, str] = {
    # header
    "codique_missing": "The accounting office number (codique) is missing.",
    "codique_invalid": (
        "The accounting office number (codique) %(value)s is not valid: 6 or 7 digits, or 02A "
        "or 02B followed by 3 or 4 digits."
    ),
    "collectivity_siret_missing": "The SIRET of the public body (IdColl) is missing.",
    "collectivity_siret_invalid": "The SIRET of the public body (IdColl) %(value)s is not valid.",
    "cod_col_invalid": "The public body code in Hélios (CodCol) must be 3 digits, not %(value)r.",
    "cod_bud_invalid": (
        "The budget code in Hélios (CodBud) must be a digit or capital letter followed by a "
        "digit, not %(value)r."
    ),
    "nomenclature_unknown": "The budgetary nomenclature %(value)r is not one Hélios knows.",
    "vote_unknown": "The way the budget is voted (%(value)r) is unknown.",
    "vote_function_not_allowed": (
        "A budget in %(nomenclature)s cannot be voted by function (functions exist only in "
        "M14, M52, M57 and M71)."
    ),
    "finess_missing": "A budget in %(nomenclature)s needs the legal FINESS number (FinJur).",
    "finess_forbidden": (
        "The legal FINESS number (FinJur) is only for M21 and M22 budgets: remove it."
    ),
    "finess_invalid": "The legal FINESS number %(value)r is not valid (up to 20 letters/digits).",
    "text_cut": "%(label)s will be cut to %(max)s characters: %(value)r.",
    "file_name_invalid": "The PES file name %(value)r is not valid.",
    # flow and bordereaux
    "no_bordereau": "There is no bordereau to send.",
    "bordereau_number_invalid": "The bordereau number %(value)r must be from 1 to 9,999,999.",
    "bordereau_exercice_invalid": "The exercice %(value)r is not a year.",
    "bordereau_issue_date_missing": "The bordereau has no issue date.",
    "bordereau_kind_invalid": (
        "The bordereau type %(value)r is not possible (01 ordinary, 02 reduction/cancellation)."
    ),
    "bordereau_duplicate": (
        "Bordereau %(number)s of %(exercice)s (type %(kind)s) appears twice in the file."
    ),
    "bordereau_id_invalid": (
        "The bordereau identifier %(value)r must start with a letter and contain only letters, "
        "digits, '-', '_' and '.'."
    ),
    "bordereau_id_duplicate": "The bordereau identifier %(value)r is used twice in the file.",
    "bordereau_empty": "The bordereau holds no mandate.",
    "bordereau_too_many_pieces": "A bordereau holds at most 99,999 mandates (%(count)s here).",
    "previous_cumul_invalid": (
        "The previous cumulative total of the year (%(value)s) is not a valid amount."
    ),
    "cumul_not_positive": (
        "The yearly cumulative total (MtCumulAnnuel) must be above zero for dematerialised "
        "mandates."
    ),
    "amount_too_large": "The bordereau total %(value)s is too large for the PES.",
    # pièces
    "piece_number_invalid": "The mandate number %(value)r must be from 1 to 99,999,999.",
    "piece_duplicate": "Mandate %(number)s appears twice in the file.",
    "piece_type_unknown": "The mandate type (TypPce) %(value)r is unknown.",
    "piece_nature_unknown": "The mandate nature (NatPce) %(value)r is unknown.",
    "triplet_mismatch": (
        "A mandate of type %(piece_type)s / nature %(nature)s cannot go in a bordereau of type "
        "%(kind)s: %(hint)s"
    ),
    "triplet_unknown": (
        "The combination bordereau %(kind)s / mandate type %(piece_type)s / nature %(nature)s is "
        "not one this software knows; Hélios rejects combinations it does not know: check it "
        "with the accounting office."
    ),
    "piece_without_line": "The mandate has no line.",
    "object_missing": "The mandate has no object (Obj): the accountant will not know what it pays.",
    "origin_missing": (
        "This reduction/cancellation does not say which mandate it reduces (mandate number, "
        "exercice and line)."
    ),
    "origin_invalid": "The reduced mandate reference is not valid: %(reason)s.",
    "service_code_invalid": "The service code %(value)r is too long (10 characters at most).",
    "dgp_invalid": "The payment delay (DGP) is not valid: %(reason)s.",
    # lines
    "line_number_invalid": "The line number %(value)r must be from 1 to 999,999.",
    "line_number_duplicate": "Line number %(value)s is used twice in the mandate.",
    "nature_missing": "The budget article has no account by nature (Nature).",
    "nature_invalid": "The account by nature %(value)r must be digits only (up to 12).",
    "function_missing": (
        "The budget is voted by function: the budget article needs a function (Fonction)."
    ),
    "function_invalid": "The function %(value)r must be digits only (up to 10).",
    "function_not_allowed": (
        "The budget (%(nomenclature)s, %(vote)s) does not take a function: remove %(value)r from "
        "the budget article."
    ),
    "operation_invalid": "The operation number %(value)r must be digits only (up to 10).",
    "operation_not_allowed": "A budget in %(nomenclature)s does not take an operation number.",
    "amount_invalid": "The amount %(label)s (%(value)s) %(reason_text)s.",
    "payment_mode_unknown": "The payment method (ModRegl) %(value)r is unknown.",
    "invoice_number_cut": (
        "The invoice number %(value)r will be cut to 20 characters in the PES (Facture)."
    ),
    # creditor
    "tiers_missing": "The line has no creditor.",
    "tiers_name_missing": "The creditor has no name.",
    "tiers_category_unknown": "The creditor category (CatTiers) %(value)r is unknown.",
    "tiers_legal_nature_unknown": "The creditor's legal nature (NatJur) %(value)r is unknown.",
    "tiers_identifier_type_unknown": (
        "The creditor identifier type (NatIdTiers) %(value)r is unknown."
    ),
    "tiers_identifier_missing": (
        "The creditor %(name)s has no national identifier (SIRET...): Hélios may not match it to "
        "its register."
    ),
    "tiers_identifier_without_type": "The creditor's identifier %(value)r has no type.",
    "tiers_siret_invalid": "The SIRET %(value)r of the creditor %(name)s is not valid.",
    "tiers_siren_invalid": "The SIREN %(value)r of the creditor %(name)s is not valid.",
    "tiers_identifier_invalid": (
        "The identifier %(value)r of the creditor %(name)s is not a valid %(kind)s: %(rule)s."
    ),
    "tiers_person_fields_missing": (
        "The creditor %(name)s is a natural person: the civility and the first name are required."
    ),
    "address_missing": "The creditor %(name)s has no address.",
    "address_street_missing": "The address of the creditor %(name)s has no street.",
    "address_city_missing": "The address of the creditor %(name)s has no city.",
    "address_postal_code_invalid": (
        "The postal code %(value)r of the creditor %(name)s must be 5 digits (99999 abroad)."
    ),
    "address_country_missing": (
        "The creditor %(name)s lives abroad: the INSEE country code is required."
    ),
    "address_country_invalid": "The INSEE country code %(value)r must be 1 to 3 digits.",
    "address_kind_unknown": "The address type %(value)r is unknown (0, 1 or 2).",
    "bank_account_missing": (
        "The creditor %(name)s has no bank account, which payment by transfer requires."
    ),
    "iban_invalid": "The IBAN %(value)s of the creditor %(name)s is not valid.",
    "bic_invalid": "The BIC %(value)r of the creditor %(name)s is not valid.",
    "bic_missing": "The creditor %(name)s is paid abroad (%(country)s): the BIC is required.",
    "bank_holder_missing": "The bank account of the creditor %(name)s has no holder name.",
    # files
    "file_id_invalid": (
        "The attachment %(name)r has an invalid unique identifier %(value)r (1 to 50 letters and "
        "digits)."
    ),
    "file_id_duplicate": (
        "Two different attachments (%(name)r and %(other)r) share the unique identifier "
        "%(value)s."
    ),
    "file_name_missing": "An attachment has no file name.",
    "file_extension_invalid": (
        "The attachment %(name)r needs an extension of 2 to 4 letters or digits (e.g. .pdf)."
    ),
    "file_mime_missing": "The attachment %(name)r has no MIME type.",
    "file_mime_invalid": "The MIME type %(value)r of the attachment %(name)r is not valid.",
    "file_type_unknown": "The attachment type (TypePJ) %(value)r of %(name)r is unknown.",
    "file_support_unknown": "The attachment support %(value)r of %(name)r is unknown.",
    "file_not_found": "The attachment %(name)r cannot be read: %(reason)s.",
    "file_empty": "The attachment %(name)r is empty: Hélios rejects empty attachments.",
}

AMOUNT_LABELS = {
    "MtHT": "without VAT (MtHT)",
    "MtTVA": "of VAT (MtTVA)",
    "MtFactHT": "of the invoice without VAT (MtFactHT)",
}

AMOUNT_REASONS = {
    "not_a_number": "is not a number",
    "negative": "is negative (a reduction is written in a reduction bordereau, in positive)",
    "zero": "must be above zero",
    "too_many_decimals": "has more than two decimals",
    "too_large": "is too large for the PES",
    "missing": "is missing",
}


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`chorus_pro.pes.validation.validate`."""

    code: str
    message: str
    severity: str = ERROR
    bordereau: Optional[int] = None
    piece: Optional[int] = None
    line: Optional[int] = None
    field: str = ""
    params: Dict[str, Any] = dataclass_field(default_factory=dict, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def where(self) -> str:
        """``"Bordereau 42, mandate 815, line 1"`` (empty for the file's header)."""
        parts = []
        if self.bordereau is not None:
            parts.append("bordereau %s" % self.bordereau)
        if self.piece is not None:
            parts.append("mandate %s" % self.piece)
        if self.line is not None:
            parts.append("line %s" % self.line)
        text = ", ".join(parts)
        return text[:1].upper() + text[1:]

    def __str__(self) -> str:
        return "%s: %s" % (self.where, self.message) if self.where else self.message


def make_problem(code: str, *, severity: str = ERROR, where: Optional[dict] = None,
                 field: str = "", **params) -> Problem:
    """A :class:`Problem` with its English message built from :data:`MESSAGES`."""
    if code == "amount_invalid":
        params.setdefault("reason_text", AMOUNT_REASONS.get(params["reason"], params["reason"]))
        params.setdefault("label", AMOUNT_LABELS.get(field, field))
    message = MESSAGES[code] % params
    where = where or {}
    return Problem(
        code=code,
        message=message,
        severity=severity,
        bordereau=where.get("bordereau"),
        piece=where.get("piece"),
        line=where.get("line"),
        field=field,
        params=dict(params),
    )


class PesValidationError(ValueError):
    """The flow has errors: nothing was written. ``problems`` lists them all (and warnings)."""

    def __init__(self, problems):
        self.problems = list(problems)
        errors = [problem for problem in self.problems if problem.is_error]
        lines = "\n".join("- %s" % problem for problem in errors[:20])
        more = "" if len(errors) <= 20 else "\n- ... and %d more" % (len(errors) - 20)
        super().__init__(
            "The PES file cannot be generated (%d problem(s)):\n%s%s" % (len(errors), lines, more)
        )

    @property
    def errors(self):
        return [problem for problem in self.problems if problem.is_error]
