"""Chorus Pro times are Paris local times; dates derived from them are Paris dates.

**One convention for the whole library: a naive datetime is Paris local time.** Every function
of ``chorus_pro`` that receives a ``datetime`` without ``tzinfo`` reads it as Europe/Paris
(:func:`as_aware` is that rule); the answers it gives are timezone-aware. Odoo stores naive
*UTC* datetimes: convert them at the boundary with :func:`from_utc_naive` (and back with
:func:`to_utc_naive`) instead of handing them to the library naive.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Optional, Union
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")



def as_aware(value: datetime) -> datetime:
    """``value`` with a timezone: a naive datetime is Paris local time (the library's rule)."""
    return value if value.tzinfo else value.replace(tzinfo=PARIS)


def from_utc_naive(value: Optional[datetime]) -> Optional[datetime]:
    """An Odoo datetime (naive UTC) as an aware datetime; aware values are returned as they are."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def paris_today() -> date:
    """Today's date in Paris."""
    return datetime.now(PARIS).date()


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)


def parse_datetime(value) -> Optional[datetime]:
    """Parse any date-time shape Chorus uses into an aware datetime (naive values are Paris time).

    Accepts ISO 8601 with or without offset / milliseconds / ``Z``, ``YYYY-MM-DD HH:MM[:SS]``,
    ``DD/MM/YYYY HH:MM``, a bare date (midnight Paris) and epoch milliseconds. Returns ``None``
    for empty or unparseable values rather than failing a whole sync.
    """
    if value in (None, "", 0):
        return None
    if isinstance(value, datetime):
        return as_aware(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=PARIS)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc).astimezone(PARIS)
    text = str(value).strip()
    if not text:
        return None
    if _DATE_RE.match(text):
        parsed_date = date.fromisoformat(text)
        return datetime(parsed_date.year, parsed_date.month, parsed_date.day, tzinfo=PARIS)
    iso = text.replace("Z", "+00:00")
    # Python 3.10 fromisoformat does not take "+0100" nor 1-2 digit fractions; normalise.
    iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", iso)
    if match:
        iso = f"{match.group(1)}.{match.group(2)[:6].ljust(6, '0')}{match.group(3)}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        parsed = None
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            return None
    return as_aware(parsed)


def parse_date(value) -> Optional[date]:
    """Parse a Chorus date (``YYYY-MM-DD``, ``DD/MM/YYYY`` or a date-time) into a Paris date."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return paris_date(value)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if _DATE_RE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        pass
    parsed = parse_datetime(text)
    return paris_date(parsed) if parsed else None


def paris_date(value: Union[datetime, date, None]) -> Optional[date]:
    """The calendar date in Paris of a timestamp (a naive one is Paris time: its own date)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_aware(value).astimezone(PARIS).date()
    return value


def to_utc_naive(value: Optional[datetime]) -> Optional[datetime]:
    """The naive UTC datetime Odoo stores (a naive ``value`` is Paris time)."""
    if value is None:
        return None
    return as_aware(value).astimezone(timezone.utc).replace(tzinfo=None)


def format_chorus_datetime(value: datetime) -> str:
    """Format a timestamp the way the search filters accept it (Paris local, no offset; a naive
    ``value`` is already Paris time)."""
    return as_aware(value).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M:%S")
