"""Values as the PES wants them: ISO-8859-1 text cut to length, amounts with two decimals.

The PES files are ISO-8859-1: characters outside it (typographic quotes, the euro sign, œ,
emoji...) are replaced by their closest Latin-1 spelling, never turned into an error nor into a
character reference Hélios might refuse. Control characters and line breaks become spaces
(every PES value is one line in a ``V`` attribute).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Optional, Tuple

ENCODING = "ISO-8859-1"

_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u2026": "...", "\u2022": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
    "\u2007": " ", "\u2002": " ", "\u2003": " ", "\u200b": "",
    "\u0152": "OE", "\u0153": "oe", "\u0178": "Y", "\u20ac": "EUR", "\u2122": "TM",
    "\u0160": "S", "\u0161": "s", "\u017d": "Z", "\u017e": "z", "\u0192": "f",
    "\u02c6": "^", "\u02dc": "~", "\u2030": "o/oo", "\u2039": "<", "\u203a": ">",
    "\u1e9e": "SS",
}
_WHITESPACE_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# V_BaseString: a value that is only "." or a space, or "nc" (non communiqué), is refused;
# V_BaseAlphanum also refuses a value made of zeros only.
_REFUSED_RE = re.compile(r"^(?:[ .]|nc|0+)$")


def latin1(value) -> str:
    """``value`` as one line of ISO-8859-1 characters (see the module docstring)."""
    if value is None:
        return ""
    text = _WHITESPACE_RE.sub(" ", str(value)).strip()
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        replacement = _REPLACEMENTS.get(char)
        if replacement is None:
            decomposed = unicodedata.normalize("NFKD", char)
            base = "".join(c for c in decomposed if not unicodedata.combining(c))
            try:
                base.encode("latin-1")
                replacement = base
            except UnicodeEncodeError:
                replacement = "?"
        out.append(replacement)
    return _WHITESPACE_RE.sub(" ", "".join(out)).strip()


def pes_text(value, max_length: int) -> str:
    """Latin-1, one line, cut to ``max_length`` characters (trailing spaces dropped)."""
    return latin1(value)[:max_length].rstrip()


def is_cut(value, max_length: int) -> bool:
    """True when :func:`pes_text` cuts ``value``."""
    return len(latin1(value)) > max_length


def is_refused_text(value: str) -> bool:
    """True for the values the PES text types refuse: ".", " ", "nc" or only zeros."""
    return bool(_REFUSED_RE.match(value))


def amount_text(value) -> str:
    """An amount as the PES writes it: two decimals, no sign, no grouping (``"1234.50"``)."""
    return "%.2f" % Decimal(value).quantize(Decimal("0.01"))


def amount_problem(value, *, positive: bool = False) -> Optional[str]:
    """Why an amount cannot be written (``None`` when it can): not a number, negative, zero
    when ``positive``, more than two decimals, or more than 12 digits before the point
    (``totalDigits`` 14 with 2 decimals)."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "not_a_number"
    if not amount.is_finite():
        return "not_a_number"
    if amount < 0:
        return "negative"
    if positive and amount == 0:
        return "zero"
    if amount != amount.quantize(Decimal("0.01")):
        return "too_many_decimals"
    if amount >= Decimal("1000000000000"):
        return "too_large"
    return None


def date_text(value: date) -> str:
    return value.isoformat()


def compact(value) -> str:
    """``value`` without the spaces, dots and dashes people type inside identifiers."""
    return re.sub(r"[\s.\-\u00a0\u202f]+", "", str(value or ""))


def positive_int(value, max_digits: int) -> Tuple[Optional[int], Optional[str]]:
    """``(number, None)`` for an integer from 1 to 10**max_digits - 1, else ``(None, reason)``."""
    if isinstance(value, bool):
        return None, "not_a_number"
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None, "not_a_number"
    if isinstance(value, (float, Decimal)) and number != value:
        return None, "not_a_number"
    if number < 1:
        return None, "not_positive"
    if number >= 10 ** max_digits:
        return None, "too_large"
    return number, None
