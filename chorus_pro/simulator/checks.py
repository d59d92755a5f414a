"""Request checks: the values of a JSON request body, turned into Python values or refused.

A malformed value raises :class:`BadRequest` (HTTP 400, ``codeRetour`` 20099); a structure the
technical account may not see raises :class:`Forbidden` (HTTP 403). The Chorus operations
(:mod:`.operations`) and the admin interface (:mod:`.admin`) read their parameters with these.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Optional

from chorus_pro.parsing import to_bool
from chorus_pro.timeutil import PARIS, parse_datetime

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10


class BadRequest(Exception):
    """A malformed request: answered HTTP 400 with ``codeRetour`` 20099."""


class Forbidden(Exception):
    """The technical account may not see this structure: HTTP 403, empty body (as PISTE)."""


# -- small parsing helpers ------------------------------------------------------------------------
def _as_int(value, name: str, required: bool = False) -> Optional[int]:
    if value is None or value == "":
        if required:
            raise BadRequest(f"paramètre obligatoire manquant : {name}")
        return None
    if isinstance(value, bool):
        raise BadRequest(f"{name} doit être un entier")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise BadRequest(f"{name} doit être un entier")


def _as_bool(value, name: str) -> Optional[bool]:
    if value is None or value == "":
        return None
    parsed = to_bool(value)  # true/false, Oui/Non, 1/0, as the client reads them
    if parsed is None:
        raise BadRequest(f"{name} doit valoir true/false (ou Oui/Non)")
    return parsed


def _as_decimal(value, name: str) -> Optional[Decimal]:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"{name} doit être un nombre") from None


def _bound(value, name: str, upper: bool) -> Optional[datetime]:
    """A period bound: a bare date covers the whole day (00:00:00 or 23:59:59.999999 Paris)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"{name} : date invalide") from None
        moment = datetime.combine(day, datetime.min.time(), tzinfo=PARIS)
        return moment + timedelta(days=1, microseconds=-1) if upper else moment
    parsed = parse_datetime(text)
    if parsed is None:
        raise BadRequest(f"{name} : date-heure invalide")
    return parsed


def _status_period(body: dict) -> tuple:
    """``periodeDateHeureEtatCourantDu`` / ``…Au`` of a search: (from, to), ``None`` when
    absent."""
    return (_bound(body.get("periodeDateHeureEtatCourantDu"), "periodeDateHeureEtatCourantDu",
                   upper=False),
            _bound(body.get("periodeDateHeureEtatCourantAu"), "periodeDateHeureEtatCourantAu",
                   upper=True))


def _date_bound(value, name: str) -> Optional[date]:
    if value in (None, ""):
        return None
    parsed = _bound(value, name, upper=False)
    return parsed.astimezone(PARIS).date()


def _str_list(value, name: str) -> Optional[list]:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise BadRequest(f"{name} doit être une chaîne ou une liste de chaînes")


def _paging(params, page_key: str, size_key: str, default_size: int = DEFAULT_PAGE_SIZE):
    params = params or {}
    if not isinstance(params, dict):
        raise BadRequest("objet de pagination invalide")
    page = _as_int(params.get(page_key), page_key) or 1
    size = _as_int(params.get(size_key), size_key) or default_size
    if page < 1 or size < 1:
        raise BadRequest("pagination : page et taille doivent être positives")
    return page, min(size, MAX_PAGE_SIZE)


def _page_of(items: list, page: int, size: int):
    total = len(items)
    pages = math.ceil(total / size) if total else 0
    start = (page - 1) * size
    return items[start:start + size], pages, total
