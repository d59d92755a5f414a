"""SIRET / SIREN / IBAN / RIB / BIC / EU VAT checks for Chorus Pro data, on top of python-stdnum.

python-stdnum does the real work (Luhn checksums, the La Poste SIRET exception, per-country IBAN
structures, ISO 9362 BIC shapes, EU VAT numbers); this module only adds what the addon keeps
needing around it: tolerant compaction of values typed or received with spaces, dots, dashes or
non-breaking spaces (**one separator rule**, :data:`_SEPARATORS_RE`, for every identifier: the
compact form is the one to store and compare), a French RIB turned into its IBAN, a masked IBAN
for logs and chatter, and one entry point to check a supplier identifier according to its Chorus
identifier type.

Every function accepts ``None`` or an empty value and answers as for an invalid one (``False`` or
``""``) rather than raising, except :func:`siren_from_siret`, which has nothing sensible to return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import bic as _bic
from stdnum import iban as _iban
from stdnum.eu import vat as _eu_vat
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.fr import siren as _siren
from stdnum.fr import siret as _siret

from .records import IDENTIFIER_TYPES, PIVOT_IDENTIFIER_TYPES

# Any whitespace (incl. the no-break and narrow no-break spaces French formatting uses), dots and
# dashes: what people and PDFs put between the digit groups. The same pattern works in
# PostgreSQL (``regexp_replace(value, %s, '', 'g')``), for comparisons made in SQL.
SEPARATORS_PATTERN = r"[\s.\-\u00a0\u202f]+"
_SEPARATORS_RE = re.compile(SEPARATORS_PATTERN)
MASK = "••••"


def _clean(value) -> str:
    if value is None:
        return ""
    return _SEPARATORS_RE.sub("", str(value))


def _checked(cleaned: str, is_valid) -> bool:
    """A compact value passes its stdnum check (an empty one never does)."""
    return bool(cleaned) and is_valid(cleaned)


def compact_identifier(value) -> str:
    """Any supplier identifier in its compact form: no separators, upper case (the form stored
    and compared, whatever the way Chorus or a person wrote it)."""
    return _clean(value).upper()


def compact_siret(value) -> str:
    """The SIRET without separators (``"552 081 317 00018"`` → ``"55208131700018"``)."""
    return _siret.compact(_clean(value))


def is_valid_siret(value) -> bool:
    """True for a 14-digit SIRET with a valid checksum (La Poste's rule handled by stdnum)."""
    return _checked(compact_siret(value), _siret.is_valid)


def siren_from_siret(value) -> str:
    """The SIREN (first 9 digits) of a valid SIRET.

    Raises :class:`ValueError` (a stdnum ``ValidationError``) when ``value`` is not a valid SIRET:
    matching suppliers on the SIREN of a wrong SIRET would link the wrong company.
    """
    return _siret.validate(compact_siret(value))[:9]


def compact_siren(value) -> str:
    """The SIREN without separators."""
    return _siren.compact(_clean(value))


def is_valid_siren(value) -> bool:
    """True for a 9-digit SIREN with a valid Luhn checksum."""
    return _checked(compact_siren(value), _siren.is_valid)


def siren_from_vat(value) -> str:
    """The SIREN inside a French VAT number (``FR`` + 2-digit key + SIREN) when it is a valid
    SIREN, else ``""`` (the key itself is not checked)."""
    vat = compact_identifier(value)
    if len(vat) == 13 and vat.startswith("FR") and vat[4:].isdigit() and is_valid_siren(vat[4:]):
        return vat[4:]
    return ""


def siret_and_siren(siret, company_registry, vat) -> tuple:
    """``(SIRET, SIREN)`` a company's registration fields support, each ``""`` when none.

    ``company_registry`` may hold a SIRET or a SIREN (French usage varies); a valid SIRET gives
    both; else a valid SIREN from the registry (or the SIRET field), else the SIREN of a French
    VAT number.
    """
    for value in (siret, company_registry):
        if is_valid_siret(value):
            found = compact_siret(value)
            return found, found[:9]
    for value in (company_registry, siret):
        if is_valid_siren(value):
            return "", compact_siren(value)
    return "", siren_from_vat(vat)


def compact_iban(value) -> str:
    """The IBAN without spaces, dots or dashes, upper case (the form to store and compare)."""
    return _iban.compact(_clean(value))


def is_valid_iban(value) -> bool:
    """True when the IBAN has the right structure for its country and valid check digits."""
    return _checked(compact_iban(value), _iban.is_valid)


def looks_like_iban(value) -> bool:
    """True when a bank account number is written as an IBAN (two letters, two check digits):
    then it must be a valid one (a typo would send the payment elsewhere or be rejected)."""
    return bool(re.match(r"[A-Z]{2}[0-9]{2}", compact_iban(value)))


def format_iban(value) -> str:
    """The IBAN in groups of four (``FR76 3000 1007 9412 3456 7890 185``)."""
    return _iban.format(compact_iban(value))


def mask_iban(value) -> str:
    """A masked IBAN safe for logs and chatter: country, check digits and last four characters.

    The shape is fixed (``FR76 •••• •••• 0185``) whatever the IBAN's length, so that the mask
    reveals neither the length nor the bank code. Too short a value is fully masked.
    """
    cleaned = compact_iban(value)
    if not cleaned:
        return ""
    if len(cleaned) < 12:
        return MASK
    return f"{cleaned[:4]} {MASK} {MASK} {cleaned[-4:]}"


def compact_bic(value) -> str:
    """The BIC without separators, upper case."""
    return _bic.compact(_clean(value))


def is_valid_bic(value) -> bool:
    """True for an 8- or 11-character ISO 9362 BIC (shape only: stdnum 1.19 checks no registry)."""
    return _checked(compact_bic(value), _bic.is_valid)


def compact_vat(value) -> str:
    """An EU VAT number without separators, upper case (``"fr 40 303 265 045"`` →
    ``"FR40303265045"``); an unknown country prefix is simply compacted."""
    try:
        return _eu_vat.compact(_clean(value))
    except ValidationError:
        return compact_identifier(value)


def is_valid_eu_vat(value) -> bool:
    """True for an EU VAT number valid for its country prefix (shape and check digits)."""
    return _checked(compact_vat(value), _eu_vat.is_valid)


# -- French RIB ---------------------------------------------------------------------------------
RIB_LENGTH = 23  # bank code 5, branch code 5, account number 11, RIB key 2
# Letters of an account number count as digits in the RIB key (A/J=1, B/K/S=2, ... I/R/Z=9).
_RIB_LETTERS = {letter: str((index % 9) + 1) for index, letter in enumerate("ABCDEFGHI")}
_RIB_LETTERS.update({letter: str((index % 9) + 1) for index, letter in enumerate("JKLMNOPQR")})
_RIB_LETTERS.update({letter: str((index % 9) + 2) for index, letter in enumerate("STUVWXYZ")})


def rib_key(bank_code, branch_code, account_number) -> str:
    """The two-digit key of a French RIB: ``97 - (89 × bank + 15 × branch + 3 × account) mod 97``
    (letters of the account number replaced by digits)."""
    account = "".join(_RIB_LETTERS.get(char, char) for char in compact_identifier(account_number))
    total = 89 * int(bank_code) + 15 * int(branch_code) + 3 * int(account)
    return f"{97 - total % 97:02d}"


def is_valid_rib(value) -> bool:
    """True for a 23-character French RIB (digits, letters in the account number) whose key
    matches."""
    rib = compact_identifier(value)
    if len(rib) != RIB_LENGTH or not (rib[:10] + rib[21:]).isdigit() or not rib[10:21].isalnum():
        return False
    return rib_key(rib[:5], rib[5:10], rib[10:21]) == rib[21:]


def rib_to_iban(value) -> str:
    """The French IBAN of a RIB (``FR`` + check digits + the 23 RIB characters); ``""`` when the
    value is not a RIB or its key is wrong (a wrong key is a typo: no IBAN is made of it)."""
    rib = compact_identifier(value)
    if not is_valid_rib(rib):
        return ""
    return "FR" + _iban.calc_check_digits("FR00" + rib) + rib


def payment_iban(account, account_type="") -> str:
    """The IBAN a payment goes to, compact, to compare with bank accounts: a French RIB (type
    ``RIB``, or 23 characters starting with digits) becomes its IBAN; ``""`` when empty.

    A RIB whose key is wrong is returned compact but not converted: it stays an invalid IBAN.
    """
    value = compact_iban(account)
    if not value:
        return ""
    if str(account_type or "").upper() == "RIB" or (len(value) == RIB_LENGTH and value[:2].isdigit()):
        return rib_to_iban(value) or value
    return value


@dataclass(frozen=True)
class IdentifierCheck:
    """Outcome of :func:`check_identifier`. ``value`` is the normalised identifier."""

    valid: bool
    reason: str = ""
    value: str = ""
    identifier_type: str = ""

    def __bool__(self) -> bool:
        return self.valid


def normalize_identifier_type(identifier_type) -> str:
    """Chorus identifier type as a name: PIVOT digits (``"1"``) become names (``"SIRET"``)."""
    text = str(identifier_type or "").strip()
    if text in PIVOT_IDENTIFIER_TYPES:
        return PIVOT_IDENTIFIER_TYPES[text]
    upper = text.upper()
    return upper if upper in IDENTIFIER_TYPES else text


def check_identifier(identifier, identifier_type) -> IdentifierCheck:
    """Check a supplier identifier according to its Chorus identifier type.

    A SIRET must be 14 digits with a valid checksum; an EU identifier (``UE_HORS_FRANCE``) a
    valid EU VAT number. Other types (RIDET, TAHITI, private persons…) follow rules Chorus itself
    checks at deposit; they are accepted as given, provided they are not empty. ``value`` is the
    compact form. ``identifier_type`` may be a name (``"SIRET"``) or a PIVOT digit.
    """
    kind = normalize_identifier_type(identifier_type)
    if kind == "SIRET":
        value = compact_siret(identifier)
        if not value:
            return IdentifierCheck(False, "empty SIRET", value, kind)
        try:
            _siret.validate(value)
        except InvalidLength:
            return IdentifierCheck(False, "a SIRET has 14 digits", value, kind)
        except InvalidChecksum:
            return IdentifierCheck(False, "invalid SIRET checksum", value, kind)
        except ValidationError:
            return IdentifierCheck(False, "a SIRET contains digits only", value, kind)
        return IdentifierCheck(True, "", value, kind)
    value = compact_identifier(identifier)
    if not value:
        return IdentifierCheck(False, "empty identifier", value, kind)
    if kind == "UE_HORS_FRANCE" and not _eu_vat.is_valid(value):
        return IdentifierCheck(False, "invalid EU VAT number", value, kind)
    return IdentifierCheck(True, "", value, kind)
