"""Text typed by people or received from outside, checked before it goes anywhere: motifs sent
to Chorus Pro, file names served for download, budget article numbers written into mandates and
PES files.

A value is refused (:class:`TextRefused`, with a ``code`` and the parameters of a message in
words) when cleaning it would change its meaning: a motif the supplier reads, a number the
accountant pays on. It is cleaned where cleaning is obviously right: a file name loses its
folders and invisible characters.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from typing import Optional

from .statuses import MOTIF_MAX_LENGTH

# Invisible characters that change how a text reads without showing: zero-width characters and
# the byte order mark, and the bidirectional controls (a right-to-left override makes
# "exe.fdp" display as "pdf.exe").
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Whitespace people type: folded into single spaces, never refused.
PLAIN_WHITESPACE = frozenset("\t\n\r\u00a0\u202f")

# A budget article is a nature, an account of the M57 (M14, M4x...) chart: digits only, the
# first one the account class (never 0). The PES writes it into ``Nature``, an integer of at
# most 12 digits strictly above 0 (``cm:Base_Num12``); the shortest natures are 2 digits.
NATURE_MIN_DIGITS = 2
NATURE_MAX_DIGITS = 12
_NATURE_RE = re.compile(r"[1-9][0-9]*")


class TextRefused(ValueError):
    """A text that cannot be used as it is; ``code`` says why, ``params`` fill the message.

    Codes: ``character`` (``char``: the character's name, ``position``: 1-based), ``too_long``
    (``length``, ``limit``), ``nature_shape`` (``value``, ``min``, ``max``)."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


def character_name(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: how a message names an invisible character."""
    return "U+%04X %s" % (ord(char), unicodedata.name(char, "CONTROL CHARACTER"))


def is_forbidden(char: str) -> bool:
    """A control character (NUL included), zero-width character or bidirectional control; the
    whitespace people type (tab, new line, non-breaking spaces) is not."""
    if char in PLAIN_WHITESPACE:
        return False
    if char in ZERO_WIDTH or char in BIDI_CONTROLS:
        return True
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co")


def forbidden_character(text: str) -> Optional[tuple]:
    """``(position, char)`` of the first forbidden character (1-based), or None."""
    for index, char in enumerate(text or ""):
        if is_forbidden(char):
            return index + 1, char
    return None


def fold_spaces(text) -> str:
    """``text`` with each run of the whitespace people type (spaces, tabs, new lines,
    non-breaking spaces) made one space, and none at either end: two motifs that read the same
    fold the same."""
    return " ".join(str(text or "").split())


def check_motif(motif, limit: int = MOTIF_MAX_LENGTH) -> str:
    """The motif as Chorus Pro receives it (:func:`fold_spaces`), or :class:`TextRefused`: an
    invisible or control character, or more than ``limit`` characters (never cut silently:
    the supplier would read half a sentence)."""
    text = str(motif or "")
    found = forbidden_character(text)
    if found:
        position, char = found
        raise TextRefused(
            "character", "the motif contains the invisible or control character %s at "
            "position %d" % (character_name(char), position),
            char=character_name(char), position=position,
        )
    text = fold_spaces(text)
    if len(text) > limit:
        raise TextRefused(
            "too_long", "the motif has %d characters; Chorus Pro accepts at most %d"
            % (len(text), limit), length=len(text), limit=limit,
        )
    return text


def proposed_motif(text, limit: int = MOTIF_MAX_LENGTH) -> str:
    """A motif the application writes for a person to confirm (a suspected duplicate's "doublon"
    with the twin's number): spaces folded, cut to ``limit``. The person reads it before it is
    sent, and :func:`check_motif` checks it then."""
    return fold_spaces(text)[:limit]


def clean_file_name(name, default: str = "fichier", limit: int = 255) -> str:
    """A file name safe to store and serve: no folders (``../../etc/passwd`` → ``passwd``), no
    control or invisible characters, no leading dots, spaces folded, at most ``limit``
    characters (the extension kept); ``default`` when nothing is left."""
    text = "".join(char for char in str(name or "") if not is_forbidden(char))
    text = posixpath.basename(text.replace("\\", "/"))
    text = fold_spaces(text).lstrip(". ")
    if not text:
        return default
    if len(text) > limit:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) < 16 and stem:
            text = stem[: limit - len(extension) - 1] + "." + extension
        else:
            text = text[:limit]
    return text


def check_nature_code(code) -> str:
    """A budget article number (nature) without surrounding spaces, or :class:`TextRefused`:
    digits only, the first not 0, between 2 and 12 digits (``6042``, ``60632``, ``2183``)."""
    text = str(code or "").strip()
    if not (_NATURE_RE.fullmatch(text) and NATURE_MIN_DIGITS <= len(text) <= NATURE_MAX_DIGITS):
        raise TextRefused(
            "nature_shape", "article %r: a nature is %d to %d digits, the first not 0 (for "
            "example 6042)" % (text, NATURE_MIN_DIGITS, NATURE_MAX_DIGITS),
            value=text, min=NATURE_MIN_DIGITS, max=NATURE_MAX_DIGITS,
        )
    return text
