"""SIRET / SIREN / IBAN / BIC checks for Chorus Pro data, on top of python-stdnum.

python-stdnum does the real work (Luhn checksums, the La Poste SIRET exception, per-country IBAN
structures, ISO 9362 BIC shapes); this module only adds what the addon keeps needing around it:
tolerant compaction of values typed or received with spaces, dots, dashes or non-breaking spaces,
a masked IBAN for logs and chatter, and one entry point to check a supplier identifier according
to its Chorus identifier type.

Every function accepts ``None`` or an empty value and answers as for an invalid one (``False`` or
``""``) rather than raising, except :func:`siren_from_siret`, which has nothing sensible to return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import bic as _bic
from stdnum import iban as _iban
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.fr import siren as _siren
from stdnum.fr import siret as _siret

from .records import IDENTIFIER_TYPES, PIVOT_IDENTIFIER_TYPES

# Any whitespace (incl. the no-break and narrow no-break spaces French formatting uses), dots and
# dashes: what people and PDFs put between the digit groups.
_SEPARATORS_RE = re.compile(r"[\s.\-\u00a0\u202f]+")
MASK = "••••"


def _clean(value) -> str:
    if value is None:
        return ""
    return _SEPARATORS_RE.sub("", str(value))


def compact_siret(value) -> str:
    """The SIRET without separators (``"552 081 317 00018"`` → ``"55208131700018"``)."""
    return _siret.compact(_clean(value))


def is_valid_siret(value) -> bool:
    """True for a 14-digit SIRET with a valid checksum (La Poste's rule handled by stdnum)."""
    cleaned = compact_siret(value)
    return bool(cleaned) and _siret.is_valid(cleaned)


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
    cleaned = compact_siren(value)
    return bool(cleaned) and _siren.is_valid(cleaned)


def compact_iban(value) -> str:
    """The IBAN without spaces, dots or dashes, upper case (the form to store and compare)."""
    return _iban.compact(_clean(value))


def is_valid_iban(value) -> bool:
    """True when the IBAN has the right structure for its country and valid check digits."""
    cleaned = compact_iban(value)
    return bool(cleaned) and _iban.is_valid(cleaned)


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
    cleaned = compact_bic(value)
    return bool(cleaned) and _bic.is_valid(cleaned)


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

    A SIRET must be 14 digits with a valid checksum. Other types (EU VAT numbers, RIDET, TAHITI,
    private persons…) follow rules Chorus itself checks at deposit; they are accepted as given,
    provided they are not empty. ``identifier_type`` may be a name (``"SIRET"``) or a PIVOT digit.
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
    value = str(identifier or "").strip()
    if not value:
        return IdentifierCheck(False, "empty identifier", value, kind)
    return IdentifierCheck(True, "", value, kind)
