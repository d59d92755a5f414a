"""Chorus Pro (PISTE gateway) REST client, recipient side.

One :class:`ChorusProClient` per technical account and batch of work::

    with ChorusProClient.for_environment(
        "qualification", client_id=..., client_secret=..., login=..., password=...
    ) as client:
        search = client.search_received_invoices(recipient_id=25123456, status_changed_from=since)
        for summary in search:          # pages are fetched on demand
            ...
        print(search.total)             # known once the first page has been fetched

What it takes care of (``chorus-pro-api.md`` §1–§3, §6, §9):

* the PISTE OAuth2 client-credentials token, cached per process and shared by every client using
  the same PISTE application, renewed shortly before it expires and once after an HTTP 401;
* the headers of every call (``Authorization``, ``cpro-account``, JSON content type);
* bounded retries with exponential back-off and jitter on network faults, 429 and 5xx,
  honouring ``Retry-After``, and on an unreadable answer to a read (truncated JSON, download
  cut off); a status change is only re-sent when the request surely never reached Chorus (see
  :meth:`ChorusProClient.change_status`);
* one central translation of HTTP statuses and ``codeRetour`` into :mod:`chorus_pro.errors`;
* pagination of searches, streaming of downloads to a temporary file (never the whole file in
  memory, let alone several copies), typed records (:mod:`chorus_pro.parsing`);
* one log line per HTTP exchange — method, operation, HTTP status, duration, ``codeRetour`` — and
  never a payload, header, token, password, IBAN or file content;
* per-operation call counters (:attr:`ChorusProClient.call_counts`) for the benchmarks.

A client may be shared by a few threads (parallel downloads): the token cache and the counters
are locked, and ``requests.Session`` connection pooling is thread-safe for this use.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import email.utils
import hashlib
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Optional, TypeVar, Union

import requests
import urllib3

from . import parsing
from .errors import (
    ChorusAuthorizationError,
    ChorusCredentialsError,
    ChorusFunctionalError,
    ChorusMalformedResponse,
    ChorusNotFoundError,
    ChorusOutcomeUnknown,
    ChorusPayloadTooLarge,
    ChorusProError,
    ChorusServerError,
    ChorusTransitionRefused,
    ChorusTransportError,
)
from .pivot import PivotError, is_pdf, sniff_mime_type, unpack_zip
from .records import (
    DownloadedFile,
    InvoiceDetail,
    InvoiceSummary,
    Page,
    Service,
    StatusChangeResult,
    StatusHistory,
    Structure,
    StructureDetail,
)
from .timeutil import format_chorus_datetime

_logger = logging.getLogger(__name__)

T = TypeVar("T")

TOKEN_OPERATION = "token"
DEFAULT_TIMEOUT = 30
DEFAULT_DOWNLOAD_TIMEOUT = 300
# Renew the token this long before Chorus says it expires (OCA uses 240 s), but never more than
# 10 % of its lifetime, so that a short-lived token (simulator, tests: 5 s) is still used.
TOKEN_MARGIN_SECONDS = 240.0
TOKEN_MARGIN_RATIO = 0.1
MAX_PAGE_SIZE = 1000
DOWNLOAD_CHUNK_SIZE = 64 * 1024

OP_SEARCH_RECEIVED = "factures/v1/rechercher/recipiendaire"
OP_SEARCH_WORKS = "facturesTravaux/v1/rechercher"
OP_CONSULT = "factures/v1/consulter/recipiendaire"
OP_DOWNLOAD = "factures/v1/telecharger/groupe"
OP_PROCESS = "factures/v1/traiter/recue"
OP_HISTORY = "factures/v1/consulter/historique"
OP_POSSIBLE_STATUSES = "transverses/v1/recuperer/etats/traitement"
OP_ACTIVE_STRUCTURES = "transverses/v1/recuperer/structures/actives/destinataire"
OP_SEARCH_STRUCTURES = "structures/v1/rechercher"
OP_CONSULT_STRUCTURE = "structures/v1/consulter"
OP_SEARCH_SERVICES = "structures/v1/rechercher/services"
OP_VAT_RATES = "transverses/v1/recuperer/tauxtva"
OP_HEALTH_CHECK = "transverses/v1/health-check"

# "No result" codes of the searches: an empty result, not an error (doc §3, §6).
EMPTY_SEARCH_CODES = frozenset({20000})
EMPTY_WORKS_SEARCH_CODES = frozenset({20000, 20007})
# codeRetour meanings are per operation (doc §6): 20002 refuses a transition only on traiter.
TRANSITION_REFUSED_CODES = {OP_PROCESS: frozenset({20002})}
NOT_FOUND_CODES = {
    OP_CONSULT: frozenset({20001}),
    OP_HISTORY: frozenset({20001}),
    OP_CONSULT_STRUCTURE: frozenset({20001}),
}
# Libellés meaning "unknown invoice / structure" whatever the operation.
NOT_FOUND_LABELS = ("GDP_MSG_11.008", "est inconnue du système", "est inconnu du système")


class _TokenCache:
    """PISTE access tokens of this process, keyed by (token URL, client id, sha256(secret)).

    Shared by every client instance (one token per PISTE application, not per client or per
    thread). ``expires_at`` is expressed on the clock of the client that stored it; clients of
    one process share ``time.monotonic`` unless a test injects its own clock (and cache).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens: dict[tuple, tuple[str, float]] = {}
        self._fetch_locks: dict[tuple, threading.Lock] = {}

    def fetch_lock(self, key: tuple) -> threading.Lock:
        """The lock serialising token requests for one key (one request, not one per thread)."""
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def get(self, key: tuple, now: float) -> Optional[str]:
        with self._lock:
            entry = self._tokens.get(key)
        if entry and entry[1] > now:
            return entry[0]
        return None

    def put(self, key: tuple, token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[key] = (token, expires_at)

    def discard(self, key: tuple, token: Optional[str] = None) -> None:
        """Forget the token of ``key`` — only if it is still ``token`` (another thread may
        already have replaced it by a fresh one)."""
        with self._lock:
            entry = self._tokens.get(key)
            if entry and (token is None or entry[0] == token):
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


_TOKEN_CACHE = _TokenCache()


def clear_token_cache() -> None:
    """Forget every cached PISTE token of this process (tests; credentials changed)."""
    _TOKEN_CACHE.clear()


def new_token_cache() -> _TokenCache:
    """A private token cache, e.g. for a test that must not share tokens with others."""
    return _TokenCache()


# ---------------------------------------------------------------------------------------------
# Download streaming


class _Base64Sink:
    """Decodes base64 text arriving in arbitrary pieces and writes the bytes to a binary file."""

    def __init__(self, out):
        self._out = out
        self._pending = b""
        self.size = 0

    def feed(self, data: bytes) -> None:
        if not data:
            return
        data = self._pending + data
        usable = len(data) - len(data) % 4
        if usable:
            self._write(data[:usable])
        self._pending = data[usable:]

    def close(self) -> None:
        if self._pending:
            # Tolerate a missing final padding; a dangling single character is invalid base64.
            self._write(self._pending + b"=" * (-len(self._pending) % 4))
            self._pending = b""

    def _write(self, data: bytes) -> None:
        try:
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ChorusMalformedResponse(
                "Chorus Pro sent a file that is not valid base64.", operation=OP_DOWNLOAD
            ) from exc
        self._out.write(decoded)
        self.size += len(decoded)


_SEARCH, _VALUE_START, _VALUE, _AFTER, _NOT_STRING = range(5)
# Bytes re-scanned at each chunk, so that a key split by a chunk boundary is still found.
_KEY_LOOKBACK = 256
_STRING_SPECIALS = re.compile(rb'[\\"]')
_SIMPLE_ESCAPES_SKIPPED = frozenset(b"nrt")  # JSON-escaped line breaks inside wrapped base64


class Base64FieldExtractor:
    """Streams one base64 string member of a JSON body into a file; keeps the rest for parsing.

    ``telecharger/groupe`` answers ``{"codeRetour": 0, "libelle": "…", "fichierResultat":
    "<base64 of up to 120 MB>"}``. Feed the body chunk by chunk (:meth:`feed`), then call
    :meth:`finish`: the base64 value of ``field`` is decoded on the fly into ``out`` (a binary
    file) while everything else (small members, before or after it) is kept and parsed with
    ``json.loads`` at the end, the file member replaced by ``""``. Handles a key or a base64
    quad split across chunks and JSON escapes inside the value (``\\/`` — JSON may escape
    slashes —, ``\\uXXXX``, escaped line breaks of wrapped base64).

    When the member is absent or not a string (an error answer), :attr:`found` stays ``False``
    and :meth:`finish` returns the whole body parsed, so the caller can fall back on it.
    """

    def __init__(self, field: str, out, *, max_other_bytes: int = 16 * 1024 * 1024):
        self._key_re = re.compile(rb'"' + re.escape(field.encode("ascii")) + rb'"\s*:\s*')
        self._sink = _Base64Sink(out)
        self._state = _SEARCH
        self._head = bytearray()
        self._tail = bytearray()
        self._escape = b""
        self._max_other_bytes = max_other_bytes
        self._search_from = 0
        self.found = False

    @property
    def size(self) -> int:
        """Decoded bytes written so far."""
        return self._sink.size

    def feed(self, data: bytes) -> None:
        """Consume the next piece of the body."""
        while data:
            if self._state == _SEARCH:
                data = self._feed_search(data)
            elif self._state == _VALUE_START:
                data = self._feed_value_start(data)
            elif self._state == _VALUE:
                data = self._feed_value(data)
            else:
                self._keep(self._tail if self._state == _AFTER else self._head, data)
                data = b""

    def finish(self) -> dict:
        """End of body: the other members as a dict (raises :class:`ChorusMalformedResponse`)."""
        if self._state in (_VALUE_START, _VALUE):
            raise ChorusMalformedResponse(
                "Chorus Pro's download answer was cut off in the middle of the file.",
                operation=OP_DOWNLOAD,
            )
        document = bytes(self._head) + (b'""' + bytes(self._tail) if self.found else b"")
        try:
            data = json.loads(document, parse_float=Decimal)
        except ValueError as exc:
            raise ChorusMalformedResponse(
                "Chorus Pro's download answer is not valid JSON.", operation=OP_DOWNLOAD
            ) from exc
        if not isinstance(data, dict):
            raise ChorusMalformedResponse(
                "Chorus Pro's download answer is not a JSON object.", operation=OP_DOWNLOAD
            )
        return data

    # -- states
    def _keep(self, buffer: bytearray, data: bytes) -> None:
        if len(self._head) + len(self._tail) + len(data) > self._max_other_bytes:
            raise ChorusMalformedResponse(
                "Chorus Pro's download answer is unexpectedly large outside of the file.",
                operation=OP_DOWNLOAD,
            )
        buffer += data

    def _feed_search(self, data: bytes) -> bytes:
        self._keep(self._head, data)
        position = self._search_from
        while True:
            match = self._key_re.search(self._head, position)
            if match is None:
                self._search_from = max(0, len(self._head) - _KEY_LOOKBACK)
                return b""
            # An escaped quote before the key means it is text inside another string value.
            if match.start() > 0 and self._head[match.start() - 1] == ord("\\"):
                position = match.start() + 1
                continue
            break
        rest = bytes(self._head[match.end():])
        del self._head[match.end():]
        self._state = _VALUE_START
        return rest

    def _feed_value_start(self, data: bytes) -> bytes:
        stripped = data.lstrip(b" \t\r\n")
        if not stripped:
            return b""
        if stripped[:1] == b'"':
            self._state = _VALUE
            self.found = True
            return stripped[1:]
        # null, a number...: not a file. Keep everything as is for the json.loads fallback.
        self._state = _NOT_STRING
        return data

    def _feed_value(self, data: bytes) -> bytes:
        if self._escape:
            data = self._escape + data
            self._escape = b""
        position = 0
        while True:
            match = _STRING_SPECIALS.search(data, position)
            if match is None:
                self._sink.feed(data[position:])
                return b""
            self._sink.feed(data[position:match.start()])
            if data[match.start()] == ord('"'):
                self._sink.close()
                self._state = _AFTER
                return data[match.start() + 1:]
            position = self._decode_escape(data, match.start())
            if position < 0:
                return b""

    def _decode_escape(self, data: bytes, start: int) -> int:
        """Handle the escape at ``data[start]`` (a backslash); returns where to go on, or -1 when
        the escape is incomplete (kept for the next chunk)."""
        if start + 1 >= len(data):
            self._escape = data[start:]
            return -1
        kind = data[start + 1]
        if kind == ord("/"):
            self._sink.feed(b"/")
            return start + 2
        if kind in _SIMPLE_ESCAPES_SKIPPED:
            return start + 2
        if kind == ord("u"):
            if start + 6 > len(data):
                self._escape = data[start:]
                return -1
            try:
                char = chr(int(data[start + 2:start + 6], 16))
            except ValueError:
                char = "\x00"
            if char in "\r\n\t ":
                return start + 6
            if re.fullmatch(r"[A-Za-z0-9+/=]", char):
                self._sink.feed(char.encode("ascii"))
                return start + 6
        raise ChorusMalformedResponse(
            "Chorus Pro sent a file that is not valid base64.", operation=OP_DOWNLOAD
        )


_KIND_OF_MIME_TYPE = {"application/pdf": "pdf", "application/zip": "zip",
                      "application/xml": "xml"}


def detect_kind(head: bytes) -> str:
    """``pdf`` / ``zip`` / ``xml`` / ``unknown`` from the first bytes of a file: the PIVOT
    parser's reading of magic bytes (:func:`chorus_pro.pivot.sniff_mime_type`), one rule."""
    return _KIND_OF_MIME_TYPE.get(sniff_mime_type(head), "unknown")


# ---------------------------------------------------------------------------------------------
# Search results


class SearchResult(Iterator[T]):
    """A lazy, single-pass iterator over every item of a paged Chorus search.

    Pages are requested one at a time, when the items of the previous one are consumed.
    :attr:`total` is Chorus's announced total (``0`` for an empty search, ``None`` when Chorus
    gives none): reading it before iterating fetches the first page, whose items are then
    served by the iteration (not fetched twice). :attr:`page` holds the paging figures of the
    last page fetched, :attr:`pages_fetched` counts the calls. Iterating a second time yields
    nothing: run the search again for fresh data.

    A listing is paged while Chorus keeps receiving invoices: an invoice arriving (or leaving)
    before the page being read shifts the following ones, and one may be skipped at a page
    boundary. :meth:`complete` tells, once iterated, whether the listing can be trusted: every
    page announced the same total (:attr:`total_moved` is False) and that many distinct items
    were served (or skipped as unreadable); when it is False, run the search again.
    """

    def __init__(self, fetch_page: Callable[[int], tuple[list, Optional[Page]]]):
        self._fetch_page = fetch_page
        self._next_page = 1
        self._last_page: Optional[int] = None
        self._buffer: deque = deque()
        self._exhausted = False
        self._started = False
        self._total: Optional[int] = None
        self.page: Optional[Page] = None
        self.pages_fetched = 0
        # Totals announced by each page, items skipped (no identifier).
        self.totals: list[int] = []
        self.skipped = 0

    @property
    def total(self) -> Optional[int]:
        """Total number of results announced by Chorus (fetches the first page if needed)."""
        if not self._started:
            self._fetch_next()
        return self._total

    @property
    def total_moved(self) -> bool:
        """Whether the pages fetched announced different totals (the listing changed)."""
        return len(set(self.totals)) > 1

    def complete(self, distinct_items: int) -> bool:
        """Once iterated: the total never moved and the ``distinct_items`` the caller collected
        (an item shifted across a page boundary comes twice), with those skipped as unreadable,
        reach the total announced. ``True`` when Chorus announces no total."""
        if self.total_moved:
            return False
        return not self.totals or distinct_items + self.skipped >= self.totals[0]

    def __iter__(self) -> "SearchResult[T]":
        return self

    def __next__(self) -> T:
        while not self._buffer:
            if self._exhausted:
                raise StopIteration
            self._fetch_next()
        return self._buffer.popleft()

    def _fetch_next(self) -> None:
        number = self._next_page
        items, page = self._fetch_page(number)
        self.pages_fetched += 1
        self.page = page
        self._buffer.extend(items)
        if page is not None and page.total:
            self.totals.append(page.total)
        if not self._started:
            self._started = True
            if page is None:
                self._total = len(items)
            elif page.total or not items:
                self._total = page.total
            self._last_page = page.pages if page else None
        if page is None:
            self._exhausted = True
            return
        # Defensive: the last page is the one announced first, and the page number always
        # moves forward, so that a Chorus ignoring the page asked for cannot make us loop.
        self._next_page = max(number, page.current) + 1
        if self._next_page > (self._last_page or 0):
            self._exhausted = True


# ---------------------------------------------------------------------------------------------
# The client


@dataclass
class _Answer:
    data: dict
    status: int
    content: bytes = b""
    downloaded: Optional[DownloadedFile] = None


def _json_dumps(payload) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _json_loads(content: bytes) -> Optional[dict]:
    """The JSON object of a body (floats as exact ``Decimal``), or ``None`` when not an object."""
    if not content:
        return None
    try:
        data = json.loads(content, parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _challenge_reason(header: str) -> str:
    """The ``error_description`` of a ``WWW-Authenticate`` header (the whole header otherwise)."""
    if not header:
        return ""
    match = re.search(r'error_description\s*=\s*"([^"]*)"', header)
    if match:
        return match.group(1)
    return header.strip()


def _retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` as seconds (delta-seconds or HTTP date), ``None`` when absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _request_never_left(exc: Exception) -> bool:
    """Whether a network error certainly happened before the request reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


def _period_bound(value: Union[datetime, date, str], *, end: bool) -> str:
    """A search period bound as Chorus takes it (Paris local time, no offset)."""
    if isinstance(value, datetime):
        return format_chorus_datetime(value)
    if isinstance(value, date):
        return f"{value.isoformat()}T{'23:59:59' if end else '00:00:00'}"
    return str(value)


def _said(label: str, speaker: str = "Chorus Pro") -> str:
    """`` Chorus Pro said: "<libellé>."`` to end an error message (one final full stop)."""
    if not label:
        return ""
    label = label.strip()
    return f' {speaker} said: "{label if label.endswith((".", "!", "?")) else label + "."}"'


class ChorusProClient:
    """Chorus Pro REST client for one PISTE application and one technical account.

    Arguments are keyword-only. ``login``/``password`` are the technical account's (sent as the
    ``cpro-account`` header), ``client_id``/``client_secret`` the PISTE application's. Options:
    ``session`` (a ``requests.Session`` to reuse; closed by :meth:`close` only if the client
    created it), ``timeout`` / ``download_timeout`` (seconds), ``max_retries`` (retries after the
    first attempt), ``backoff_base`` / ``backoff_max`` (exponential back-off, seconds),
    ``max_retry_after`` (cap on a server's ``Retry-After``), ``sleep`` and ``clock`` (injectable
    for tests), ``token_cache`` (defaults to the process-wide cache), ``temp_dir`` (where
    downloads are written), ``verify`` and ``proxies`` (passed to requests), ``max_in_flight``
    (at most this many calls at once, whichever threads make them; ``None``: no limit).
    """

    ENVIRONMENTS = {
        "production": ("https://api.piste.gouv.fr", "https://oauth.piste.gouv.fr/api/oauth/token"),
        "qualification": (
            "https://sandbox-api.piste.gouv.fr",
            "https://sandbox-oauth.piste.gouv.fr/api/oauth/token",
        ),
    }

    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        login: str,
        password: str,
        session: Optional[requests.Session] = None,
        timeout: float = DEFAULT_TIMEOUT,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        token_cache: Optional[_TokenCache] = None,
        temp_dir: Optional[str] = None,
        verify: Union[bool, str] = True,
        proxies: Optional[dict] = None,
        max_in_flight: Optional[int] = None,
    ):
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id or ""
        self._client_secret = client_secret or ""
        self._cpro_account = base64.b64encode(
            f"{login or ''}:{password or ''}".encode("utf-8")
        ).decode("ascii")
        self.timeout = timeout
        self.download_timeout = download_timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._clock = clock
        self._token_cache = token_cache if token_cache is not None else _TOKEN_CACHE
        self._token_key = (
            token_url,
            self.client_id,
            hashlib.sha256(self._client_secret.encode("utf-8")).hexdigest(),
        )
        self.temp_dir = temp_dir
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if proxies:
            self.session.proxies.update(proxies)
        self.verify = verify
        self._random = random.Random()
        self._counts_lock = threading.Lock()
        self.call_counts: collections.Counter = collections.Counter()
        # One limit for every thread using this client: a call holds its place from the request
        # to the end of its answer (a download's file included), its retries' waits within.
        self._in_flight = (
            threading.BoundedSemaphore(max(1, int(max_in_flight))) if max_in_flight
            else contextlib.nullcontext()
        )

    @classmethod
    def for_environment(
        cls,
        environment: str,
        *,
        api_url: Optional[str] = None,
        token_url: Optional[str] = None,
        **kwargs,
    ) -> "ChorusProClient":
        """A client for ``production``, ``qualification`` or ``custom`` (explicit URLs, e.g. the
        local simulator). Other keyword arguments go to the constructor."""
        if environment == "custom":
            if not api_url or not token_url:
                raise ValueError("The custom environment needs both api_url and token_url.")
            return cls(api_url=api_url, token_url=token_url, **kwargs)
        if environment not in cls.ENVIRONMENTS:
            raise ValueError(f"Unknown Chorus Pro environment: {environment!r}.")
        if api_url or token_url:
            raise ValueError(
                f"The {environment} environment has fixed URLs; use the custom environment."
            )
        default_api_url, default_token_url = cls.ENVIRONMENTS[environment]
        return cls(api_url=default_api_url, token_url=default_token_url, **kwargs)

    def __repr__(self) -> str:
        return f"<ChorusProClient {self.api_url} client_id={self.client_id!r}>"

    # -- lifecycle
    def close(self) -> None:
        """Release the HTTP connections (only of a session this client created)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "ChorusProClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- counters
    def _count(self, operation: str) -> None:
        with self._counts_lock:
            self.call_counts[operation] += 1

    # ==========================================================================================
    # Token

    def get_token(self) -> str:
        """A valid PISTE access token (cached; requested when missing or about to expire).

        Raises :class:`ChorusCredentialsError` when PISTE refuses the application credentials.
        """
        token = self._token_cache.get(self._token_key, self._clock())
        if token:
            return token
        with self._token_cache.fetch_lock(self._token_key):
            # Another thread may have obtained one while this one waited for the lock.
            requested_at = self._clock()
            token = self._token_cache.get(self._token_key, requested_at)
            if token:
                return token
            token, expires_in = self._request_token()
            margin = min(TOKEN_MARGIN_SECONDS, expires_in * TOKEN_MARGIN_RATIO)
            self._token_cache.put(self._token_key, token, requested_at + expires_in - margin)
            return token

    def invalidate_token(self, token: Optional[str] = None) -> None:
        """Forget the cached token (only if it is still ``token`` when given)."""
        self._token_cache.discard(self._token_key, token)

    def _request_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "scope": "openid",
        }
        started = time.perf_counter()
        with self._in_flight:
            response = self._send(
                "POST",
                self.token_url,
                operation=TOKEN_OPERATION,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
            with response:
                status = response.status_code
                body = _json_loads(response.content)
        self._log("POST", TOKEN_OPERATION, status, started, None)
        if status != 200:
            reason = ""
            if body:
                reason = parsing.to_text(body.get("error_description")) or parsing.to_text(
                    body.get("error")
                )
            if not reason:
                reason = _challenge_reason(response.headers.get("WWW-Authenticate", ""))
            if 400 <= status < 500:
                raise ChorusCredentialsError(
                    f"PISTE refused the application credentials (HTTP {status})."
                    + _said(reason, "PISTE"),
                    reason=reason,
                    operation=TOKEN_OPERATION,
                    http_status=status,
                )
            raise ChorusServerError(
                f"The PISTE token service answered HTTP {status}.",
                operation=TOKEN_OPERATION,
                http_status=status,
            )
        if body is None:
            raise ChorusMalformedResponse(
                "The PISTE token service sent an answer that is not JSON.",
                operation=TOKEN_OPERATION,
                http_status=status,
            )
        token = body.get("access_token")
        token_type = parsing.to_text(body.get("token_type"))
        expires_in = body.get("expires_in")
        if isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_in = int(expires_in)
        problems = []
        if token_type.lower() != "bearer":
            problems.append("the token type is not Bearer")
        if not isinstance(token, str) or not token.strip():
            problems.append("the access token is missing")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            problems.append("the lifetime (expires_in) is not a positive integer")
        if problems:
            raise ChorusMalformedResponse(
                "The PISTE token service sent an unusable token: " + ", ".join(problems) + ".",
                operation=TOKEN_OPERATION,
                http_status=status,
            )
        return token.strip(), float(expires_in)

    # ==========================================================================================
    # HTTP plumbing

    def _headers(self, token: str, *, with_body: bool = True) -> dict:
        headers = {
            "Authorization": f"Bearer {token}",
            "cpro-account": self._cpro_account,
            "Accept": "application/json",
        }
        if with_body:
            headers["Content-Type"] = "application/json;charset=utf-8"
        return headers

    def _backoff_delay(self, attempt: int, response: Optional[requests.Response] = None) -> float:
        if response is not None:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        # "Equal jitter": between half and all of the exponential delay.
        return delay / 2 + self._random.uniform(0, delay / 2)

    def _send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool = True,
        **kwargs,
    ) -> requests.Response:
        """One HTTP exchange with bounded retries on network faults, 429 and 5xx.

        Returns any other response (the caller interprets it). When ``idempotent`` is false, a
        request is only re-sent when it certainly never reached the server (connection refused
        or connect timeout) or when the server said it did not process it (429, 503).
        """
        kwargs.setdefault("verify", self.verify)
        attempt = 0
        while True:
            self._count(operation)
            started = time.perf_counter()
            try:
                response = self.session.request(method, url, **kwargs)
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                fault = type(exc).__name__
                retryable = idempotent or _request_never_left(exc)
                if attempt >= self.max_retries or not retryable:
                    _logger.warning(
                        "Chorus Pro %s %s: %s after %d ms, giving up (attempt %d).",
                        method, operation, fault, self._elapsed_ms(started), attempt + 1,
                    )
                    if not retryable:
                        message = (
                            f"The connection to Chorus Pro failed ({fault}) during {operation}; "
                            "the request may or may not have been processed and was not sent "
                            "again."
                        )
                    else:
                        message = (
                            f"Chorus Pro could not be reached ({fault}) after "
                            f"{attempt + 1} attempts."
                        )
                    raise ChorusTransportError(message, operation=operation) from exc
                self._wait_before_retry(method, operation, fault, started, attempt)
                attempt += 1
                continue

            status = response.status_code
            if status != 429 and status < 500:
                return response
            retryable = idempotent or status in (429, 503)
            if attempt >= self.max_retries or not retryable:
                with response:
                    data = _json_loads(response.content)
                code = parsing.to_int(data.get("codeRetour")) if data else None
                label = parsing.to_text(data.get("libelle")) if data else ""
                self._log(method, operation, status, started, code, level=logging.WARNING)
                what = "is rate-limiting the calls" if status == 429 else "had a server error"
                raise ChorusServerError(
                    f"Chorus Pro {what} (HTTP {status}) on {operation}, "
                    f"{attempt + 1} attempt(s) made." + _said(label),
                    operation=operation,
                    http_status=status,
                    code=code,
                    label=label,
                )
            response.close()
            self._wait_before_retry(method, operation, f"HTTP {status}", started, attempt,
                                    response)
            attempt += 1

    def _wait_before_retry(self, method, operation, fault, started, attempt, response=None):
        """Log the fault (metadata only) and wait the backoff delay of this attempt."""
        delay = self._backoff_delay(attempt, response)
        _logger.warning(
            "Chorus Pro %s %s: %s after %d ms, retry %d/%d in %.1f s.",
            method, operation, fault, self._elapsed_ms(started),
            attempt + 1, self.max_retries, delay,
        )
        self._sleep(delay)

    @staticmethod
    def _elapsed_ms(started: float) -> int:
        return int((time.perf_counter() - started) * 1000)

    def _log(self, method, operation, status, started, code, *, level=logging.INFO) -> None:
        # Metadata only: never payloads, headers, tokens, IBANs or file contents.
        _logger.log(
            level,
            "Chorus Pro %s %s: HTTP %s in %d ms, codeRetour %s",
            method, operation, status, self._elapsed_ms(started),
            "-" if code is None else code,
        )

    def _call(
        self,
        operation: str,
        payload=None,
        *,
        method: str = "POST",
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
        empty_codes: Iterable[int] = (),
        stream_to_file: bool = False,
        idempotent: bool = True,
        allow_non_json: bool = False,
    ) -> _Answer:
        """The one place where a Chorus Pro answer is judged (doc §6).

        ``operation`` is the path after ``/cpro/`` (``factures/v1/rechercher/recipiendaire``).
        The JSON body is ``body`` when given (exact bytes), else ``payload`` serialised (``{}``
        when ``None``). Returns the answer when ``codeRetour`` is 0 or one of ``empty_codes``;
        raises the matching :mod:`chorus_pro.errors` exception otherwise. An idempotent call whose
        body cannot be read (not JSON, cut off) is asked again, up to ``max_retries`` times. With
        ``stream_to_file`` the body is streamed and its ``fichierResultat`` written to a
        temporary file (``_Answer.downloaded``).
        """
        url = f"{self.api_url}/cpro/{operation}"
        if method == "POST" and body is None:
            body = _json_dumps(payload if payload is not None else {})
        token_renewed = False
        body_retries = 0
        while True:
            token = self.get_token()
            started = time.perf_counter()
            with self._in_flight:
                response = self._send(
                    method,
                    url,
                    operation=operation,
                    idempotent=idempotent,
                    data=body,
                    headers=self._headers(token, with_body=body is not None),
                    timeout=timeout or self.timeout,
                    stream=stream_to_file,
                )
                with response:
                    if response.status_code == 401:
                        challenge = response.headers.get("WWW-Authenticate", "")
                        self._log(method, operation, 401, started, None, level=logging.WARNING)
                        self.invalidate_token(token)
                        if not token_renewed:
                            token_renewed = True
                            continue  # a new token, then one more try
                        reason = _challenge_reason(challenge)
                        raise ChorusCredentialsError(
                            "Chorus Pro refused the credentials (HTTP 401) even with a new access "
                            "token; the technical account's login or password is probably wrong "
                            "or expired." + _said(reason),
                            reason=reason,
                            operation=operation,
                            http_status=401,
                        )
                    try:
                        return self._interpret(
                            response,
                            method=method,
                            operation=operation,
                            started=started,
                            empty_codes=frozenset(empty_codes),
                            stream_to_file=stream_to_file,
                            allow_non_json=allow_non_json,
                        )
                    except (ChorusMalformedResponse, ChorusTransportError) as error:
                        # An unreadable or interrupted body (truncated JSON, download cut off): a
                        # read is asked again; a status change is not (it may have been applied).
                        if not idempotent or body_retries >= self.max_retries:
                            raise
                        fault = type(error).__name__
            self._wait_before_retry(method, operation, fault, started, body_retries)
            body_retries += 1

    def _interpret(
        self,
        response: requests.Response,
        *,
        method: str,
        operation: str,
        started: float,
        empty_codes: frozenset,
        stream_to_file: bool,
        allow_non_json: bool,
    ) -> _Answer:
        status = response.status_code
        downloaded = None
        content = b""
        if stream_to_file and status == 200:
            data, downloaded = self._receive_file(response, operation)
        else:
            try:
                content = response.content
            except requests.exceptions.RequestException as exc:
                raise ChorusTransportError(
                    f"The answer of Chorus Pro to {operation} was interrupted.",
                    operation=operation,
                ) from exc
            data = _json_loads(content)
        code = parsing.to_int(data.get("codeRetour")) if data else None
        label = parsing.to_text(data.get("libelle")) if data else ""
        self._log(method, operation, status, started, code)
        try:
            self._judge(operation, status, data, code, label, empty_codes, allow_non_json)
        except ChorusProError as error:
            if downloaded is not None:
                downloaded.cleanup()
            error.response_body = content
            raise
        return _Answer(data=data or {}, status=status, content=content, downloaded=downloaded)

    @staticmethod
    def _judge(operation, status, data, code, label, empty_codes, allow_non_json) -> None:
        common = {"operation": operation, "http_status": status, "code": code, "label": label}
        if status == 403:
            raise ChorusAuthorizationError(
                f"Chorus Pro refused access to {operation} (HTTP 403): the PISTE application or "
                "the technical account is not allowed to use it." + _said(label),
                **common,
            )
        if status == 404:
            raise ChorusNotFoundError(
                f"Chorus Pro does not know what {operation} asked for (HTTP 404)." + _said(label),
                **common,
            )
        if status == 413:
            raise ChorusPayloadTooLarge(
                "The requested files are too large for Chorus Pro to send in one answer "
                "(HTTP 413)." + _said(label),
                **common,
            )
        if status != 400 and not 200 <= status < 300:
            raise ChorusFunctionalError(
                f"Chorus Pro answered {operation} with an unexpected HTTP status {status}."
                + _said(label),
                **common,
            )
        if data is None:
            if status == 400:
                raise ChorusFunctionalError(
                    f"Chorus Pro rejected the request {operation} (HTTP 400) without explanation.",
                    **common,
                )
            if allow_non_json:
                return
            raise ChorusMalformedResponse(
                f"Chorus Pro's answer to {operation} is not a JSON object.", **common
            )
        if code is None:
            if status == 400:
                detail = label or parsing.to_text(
                    data.get("error_description") or data.get("error") or data.get("message")
                )
                raise ChorusFunctionalError(
                    f"Chorus Pro rejected the request {operation} (HTTP 400)." + _said(detail),
                    operation=operation,
                    http_status=status,
                    label=detail,
                )
            return  # an answer without codeRetour is taken as a success (health check...)
        if code == 0:
            if status == 400:
                raise ChorusFunctionalError(
                    f"Chorus Pro rejected the request {operation} (HTTP 400)." + _said(label),
                    **common,
                )
            return
        if code in empty_codes:
            return
        if code in NOT_FOUND_CODES.get(operation, ()) or any(
            marker.lower() in label.lower() for marker in NOT_FOUND_LABELS
        ):
            raise ChorusNotFoundError(
                "Chorus Pro does not know this invoice or structure, or the technical account "
                f"cannot see it (code {code})." + _said(label),
                **common,
            )
        if code in TRANSITION_REFUSED_CODES.get(operation, ()):
            raise ChorusTransitionRefused(
                "Chorus Pro refused the status change: it is not possible from the invoice's "
                f"current status (code {code})." + _said(label),
                **common,
            )
        raise ChorusFunctionalError(
            f"Chorus Pro refused the request {operation} (code {code})." + _said(label),
            **common,
        )

    def _receive_file(self, response: requests.Response, operation: str):
        """Stream a download answer: ``fichierResultat`` decoded into a temporary file.

        Returns (the other members as a dict, :class:`DownloadedFile` or ``None`` when the
        answer holds no file).
        """
        handle = tempfile.NamedTemporaryFile(
            prefix="chorus-download-", suffix=".bin", dir=self.temp_dir, delete=False
        )
        path = handle.name
        keep = False
        try:
            with handle:
                extractor = Base64FieldExtractor("fichierResultat", handle)
                try:
                    for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_SIZE):
                        extractor.feed(chunk)
                except requests.exceptions.RequestException as exc:
                    raise ChorusTransportError(
                        "The download from Chorus Pro was interrupted.", operation=operation
                    ) from exc
                data = extractor.finish()
                found, size = extractor.found, extractor.size
                if not found:
                    # The streaming scan did not see the member (unusual encoding of the key,
                    # error answer): take it from the fully parsed body when it is there.
                    value = data.get("fichierResultat")
                    if isinstance(value, str):
                        sink = _Base64Sink(handle)
                        sink.feed(re.sub(r"\s+", "", value).encode("ascii", errors="replace"))
                        sink.close()
                        found, size = True, sink.size
                data.pop("fichierResultat", None)
            if not found:
                return data, None
            with open(path, "rb") as written:
                head = written.read(512)
            keep = True
            return data, DownloadedFile(kind=detect_kind(head), path=path, size=size)
        finally:
            if not keep:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    # ==========================================================================================
    # Searches

    def _search(
        self,
        operation: str,
        build_payload: Callable[[int], dict],
        parse_item: Callable[[dict], T],
        list_keys: tuple,
        empty_codes: frozenset,
    ) -> SearchResult[T]:
        def fetch_page(number: int):
            answer = self._call(operation, build_payload(number), empty_codes=empty_codes)
            data = answer.data
            code = parsing.to_int(data.get("codeRetour"))
            if code in empty_codes:
                return [], None
            raw = []
            for key in list_keys:
                if key in data:
                    raw = parsing.as_list(data[key])
                    break
            page = parsing.parse_page(data)
            if raw and page is None:
                raise ChorusMalformedResponse(
                    f"Chorus Pro's answer to {operation} has results but no pagination "
                    "(pageCourante / pages).",
                    operation=operation,
                    http_status=answer.status,
                    code=code,
                )
            items, skipped = parsing.parse_items(raw, parse_item)
            result.skipped += skipped
            if skipped:
                _logger.warning(
                    "Chorus Pro %s page %d: %d item(s) without identifier skipped.",
                    operation, number, skipped,
                )
            return items, page

        result: SearchResult[T] = SearchResult(fetch_page)
        return result

    @staticmethod
    def _page_size(page_size: int) -> int:
        return max(1, min(MAX_PAGE_SIZE, int(page_size)))

    @staticmethod
    def _invoice_criteria(recipient_id, service_id, changed_from, changed_to, statuses,
                          status_key: str) -> dict:
        """The criteria both invoice searches share (ordinary and works): recipient, service,
        period of the last status change, statuses (one sent as a string, several as a list)."""
        criteria: dict = {}
        if recipient_id is not None:
            criteria["idDestinataire"] = int(recipient_id)
        if service_id is not None:
            criteria["idServiceExecutant"] = int(service_id)
        if changed_from is not None:
            criteria["periodeDateHeureEtatCourantDu"] = _period_bound(changed_from, end=False)
        if changed_to is not None:
            criteria["periodeDateHeureEtatCourantAu"] = _period_bound(changed_to, end=True)
        status_list = [statuses] if isinstance(statuses, str) else list(statuses or ())
        if status_list:
            criteria[status_key] = status_list[0] if len(status_list) == 1 else status_list
        return criteria

    def _paged(self, base: dict, paging_key: str, page_size: int, sort_column: Optional[str]):
        """``build(number)`` for :meth:`_search`: ``base`` with page ``number``'s parameters
        under ``paging_key``, sorted ascending on ``sort_column`` (``None``: Chorus's order)."""
        size = self._page_size(page_size)

        def build(number: int) -> dict:
            paging = {"pageResultatDemandee": number, "nbResultatsParPage": size,
                      "triSens": "Ascendant"}
            if sort_column:
                paging["triColonne"] = sort_column
            return {**base, paging_key: paging}

        return build

    def search_received_invoices(
        self,
        *,
        recipient_id: Optional[int] = None,
        service_id: Optional[int] = None,
        status_changed_from: Union[datetime, date, None] = None,
        status_changed_to: Union[datetime, date, None] = None,
        statuses: Union[str, Iterable[str], None] = None,
        downloaded: Optional[bool] = None,
        with_size: bool = True,
        page_size: int = 500,
        payment_request_type: str = "FACTURE",
        sort_column: Optional[str] = "DateDepot",
    ) -> SearchResult[InvoiceSummary]:
        """Received invoices (``factures/v1/rechercher/recipiendaire``), all pages, lazily.

        ``status_changed_from/to`` filter on the date of the last status change (the incremental
        sync filter; aware datetimes, or naive UTC, sent as Paris local time; a ``date`` means
        the start / end of that day). ``statuses``: the ``statutCourant`` filter — its type is
        [unconfirmed] (string in the official example, array in go-choruspro): one status is
        sent as a string, several as a list. ``downloaded`` filters on
        ``factureTelechargeeParDestinataire``; ``with_size`` asks for ``taille``. Sorted
        ascending on ``sort_column`` (``None``: Chorus's default). Returns a
        :class:`SearchResult` whose ``total`` is Chorus's total once the first page is fetched.
        """
        base: dict = {"typeDemandePaiement": payment_request_type}
        base.update(self._invoice_criteria(
            recipient_id, service_id, status_changed_from, status_changed_to,
            statuses, "statutCourant",
        ))
        if downloaded is not None:
            base["factureTelechargeeParDestinataire"] = bool(downloaded)
        if with_size:
            base["recupererTaille"] = True
        return self._search(
            OP_SEARCH_RECEIVED,
            self._paged(base, "paramRecherche", page_size, sort_column),
            lambda item: parsing.parse_invoice_summary(
                item, payment_request_type=payment_request_type
            ),
            ("listeFactures",),
            EMPTY_SEARCH_CODES,
        )

    def search_works_invoices(
        self,
        *,
        recipient_id: Optional[int] = None,
        service_id: Optional[int] = None,
        status_changed_from: Union[datetime, date, None] = None,
        status_changed_to: Union[datetime, date, None] = None,
        statuses: Union[str, Iterable[str], None] = None,
        downloaded: Optional[bool] = None,
        page_size: int = 500,
        role: str = "MOA",
        sort_column: Optional[str] = None,
    ) -> SearchResult[InvoiceSummary]:
        """Works invoices (``facturesTravaux/v1/rechercher``), all pages, lazily.

        ``role`` is ``roleUtilisateur`` (Pastell requires one; a public buyer is ``MOA``).
        Paging lives in ``parametresRetour``; ``20007`` (and ``20000``) mean "no result".
        Items become :class:`InvoiceSummary` with ``payment_request_type="FACTURE_TRAVAUX"``.
        ``statuses`` is sent as ``statutFactureTravaux`` (the name the answer gives the status;
        the filter's name is [unconfirmed]: a portal ignoring it returns more invoices, never
        fewer, so callers must not rely on it to leave invoices out).
        """
        base: dict = {"roleUtilisateur": role} if role else {}
        base.update(self._invoice_criteria(
            recipient_id, service_id, status_changed_from, status_changed_to,
            statuses, "statutFactureTravaux",
        ))
        if downloaded is not None:
            base["flagTelecharge"] = bool(downloaded)
        return self._search(
            OP_SEARCH_WORKS,
            self._paged(base, "rechercheFactureTravaux", page_size, sort_column),
            parsing.parse_works_invoice_summary,
            ("listeFacturesTravaux", "listeFactures"),
            EMPTY_WORKS_SEARCH_CODES,
        )

    # ==========================================================================================
    # One invoice

    _DETAIL_PAGE_SIZE = 1000
    _DETAIL_MAX_PAGES = 50

    def _consult_payload(self, chorus_id: int, lines_page: int, attachments_page: int) -> dict:
        size = self._DETAIL_PAGE_SIZE
        return {
            "identifiantFactureCPP": int(chorus_id),
            "rechercheLignePoste": {
                "pageResultatDemandeeLignesPoste": lines_page,
                "nbResultatsParPageLignesPoste": size,
            },
            "recherchePj": {
                "pageResultatDemandeeListePieceJointe": attachments_page,
                "nbResultatsParPageListePieceJointe": size,
            },
            "rechercheligneTvaRecap": {
                "pageResultatDemandeeListeRecapitulatifTVA": 1,
                "nbResultatsParPageListeRecapitulatifTVA": size,
            },
        }

    def get_invoice(self, chorus_id: int) -> InvoiceDetail:
        """One received invoice in detail (``factures/v1/consulter/recipiendaire``).

        Lines and attachments are asked in pages of 1000; further pages, when Chorus announces
        some, are fetched and merged. Raises :class:`ChorusNotFoundError` for an unknown id.
        """
        answer = self._call(OP_CONSULT, self._consult_payload(chorus_id, 1, 1))
        data = answer.data
        invoice = data.get("facture") if isinstance(data.get("facture"), dict) else None
        if invoice is None:
            raise ChorusMalformedResponse(
                "Chorus Pro's answer about the invoice has no invoice in it.",
                operation=OP_CONSULT,
                http_status=answer.status,
            )
        lines_pages = min(
            parsing.to_int(parsing.as_dict(invoice.get("lignesDePoste")).get("pagesLignesPoste"))
            or 1,
            self._DETAIL_MAX_PAGES,
        )
        attachment_pages = min(
            parsing.to_int(
                parsing.as_dict(invoice.get("listeDesPiecesJointes")).get("pagesListePiecesJointe")
            )
            or 1,
            self._DETAIL_MAX_PAGES,
        )
        if lines_pages > 1 or attachment_pages > 1:
            lines = list(parsing.invoice_line_items(invoice))
            attachments = list(parsing.attachment_items(invoice))
            for number in range(2, lines_pages + 1):
                more = self._call(OP_CONSULT, self._consult_payload(chorus_id, number, 1))
                lines.extend(parsing.invoice_line_items(more.data.get("facture") or {}))
            for number in range(2, attachment_pages + 1):
                more = self._call(OP_CONSULT, self._consult_payload(chorus_id, 1, number))
                attachments.extend(parsing.attachment_items(more.data.get("facture") or {}))
            invoice = {
                **invoice,
                "lignesDePoste": {"lignePoste": lines},
                "listeDesPiecesJointes": {"pieceJointe": attachments},
            }
        try:
            return parsing.parse_invoice_detail({"facture": invoice}, chorus_id=int(chorus_id))
        except ValueError as exc:  # pragma: no cover - chorus_id fallback makes it unreachable
            raise ChorusMalformedResponse(str(exc), operation=OP_CONSULT) from exc

    def download_invoices(
        self,
        chorus_ids: Iterable[int],
        fmt: str = "PIVOT",
        with_attachments: bool = True,
    ) -> DownloadedFile:
        """Download one or several invoices (``factures/v1/telecharger/groupe``).

        ``fmt`` is ``PIVOT`` (XML with embedded attachments) or ``PDF`` (a PDF, or a ZIP for
        several files). ``avecPiecesJointesComplementaires`` is sent upper-case (``OUI``/``NON``,
        go-choruspro's spelling; the case is [unconfirmed], "Oui" in another source). The answer
        is streamed: its base64 is decoded into a temporary file, never held in memory; the
        kind is detected from magic bytes. The caller owns the file (``DownloadedFile.cleanup``).
        Uses ``download_timeout``. HTTP 413 raises :class:`ChorusPayloadTooLarge`.
        """
        ids = [int(chorus_id) for chorus_id in chorus_ids]
        if not ids:
            raise ValueError("download_invoices needs at least one invoice id")
        payload = {
            "listeFacture": [{"idFacture": chorus_id} for chorus_id in ids],
            "format": fmt.upper(),
            "avecPiecesJointesComplementaires": "OUI" if with_attachments else "NON",
        }
        answer = self._call(
            OP_DOWNLOAD, payload, timeout=self.download_timeout, stream_to_file=True
        )
        downloaded = answer.downloaded
        if downloaded is None or downloaded.size == 0:
            if downloaded is not None:
                downloaded.cleanup()
            raise ChorusMalformedResponse(
                "Chorus Pro's download answer carries no file.",
                operation=OP_DOWNLOAD,
                http_status=answer.status,
                code=parsing.to_int(answer.data.get("codeRetour")),
                label=parsing.to_text(answer.data.get("libelle")),
            )
        return downloaded

    @staticmethod
    def _unpack_pdfs(downloaded, keep_folders: bool = False) -> list:
        """The members of a downloaded ZIP of PDF renderings, read with the PIVOT attachments'
        safety rules (no path used, unpacked size capped); the temporary file is removed."""
        try:
            return unpack_zip(downloaded.read(), "PDF bundle", keep_folders=keep_folders)
        except PivotError as exc:
            raise ChorusMalformedResponse(
                f"Chorus Pro sent a bundle of invoice PDFs that cannot be read safely: {exc}",
                operation=OP_DOWNLOAD,
            ) from exc
        finally:
            downloaded.cleanup()

    def download_invoice_pdf(self, chorus_id: int) -> bytes:
        """Chorus's PDF rendering of one invoice (``telecharger/groupe``, format ``PDF``, no
        complementary attachments): the readable copy of an invoice whose own main document is
        the supplier's XML (UBL, CII, PIVOT). A ZIP holding it is accepted (its first PDF);
        raises :class:`ChorusMalformedResponse` when the answer holds no PDF."""
        downloaded = self.download_invoices([chorus_id], fmt="PDF", with_attachments=False)
        try:
            content = downloaded.read() if downloaded.kind != "zip" else next((
                # One invoice zipped all the same [unconfirmed]: its first PDF.
                data for _name, data in self._unpack_pdfs(downloaded) if is_pdf(data)
            ), b"")
        finally:
            downloaded.cleanup()
        if not is_pdf(content):
            raise ChorusMalformedResponse(
                f"Chorus Pro sent a {downloaded.kind} file where the PDF of the invoice was "
                "expected.",
                operation=OP_DOWNLOAD,
            )
        return content

    def download_invoice_pdfs(self, chorus_ids: Iterable[int]) -> dict:
        """Chorus's PDF renderings of several invoices in one call: ``{chorus_id: bytes}``.

        Several invoices come as a ZIP with one folder per invoice; a folder is matched to its
        invoice by the Chorus id it starts with (``98765432_FA-1/``, the naming is
        [unconfirmed]). An invoice the answer does not clearly hold is left out of the result:
        ask it alone with :meth:`download_invoice_pdf`. The archive is read with the PIVOT
        attachments' safety rules (no path used, unpacked size capped).
        """
        ids = [int(chorus_id) for chorus_id in chorus_ids]
        if len(ids) == 1:
            return {ids[0]: self.download_invoice_pdf(ids[0])}
        downloaded = self.download_invoices(ids, fmt="PDF", with_attachments=False)
        if downloaded.kind != "zip":
            downloaded.cleanup()
            return {}
        members = self._unpack_pdfs(downloaded, keep_folders=True)
        wanted = {str(chorus_id): chorus_id for chorus_id in ids}
        found = {}
        for name, content in members:
            folder, _sep, _rest = name.partition("/")
            match = re.match(r"\d+", folder) if _sep else None
            chorus_id = wanted.get(match.group(0)) if match else None
            if chorus_id is not None and chorus_id not in found and is_pdf(content):
                found[chorus_id] = content
        return found

    def change_status(
        self,
        chorus_id: int,
        new_status: str,
        *,
        motif: str = "",
        mandate_number: str = "",
    ) -> StatusChangeResult:
        """Push a status (``factures/v1/traiter/recue``).

        ``numeroDPMandat`` only means something with ``MANDATEE``: the mandate number is sent
        for that status and ``""`` for the others (Pastell's behaviour). The JSON body is
        serialised once and those exact bytes are sent; they come back, with the exact answer,
        as ``request_body`` / ``response_body`` on the result — or on the raised error — for the
        signed evidence. The request is not idempotent: it is re-sent only when it certainly
        never reached Chorus (connection refused / connect timeout) or when Chorus answered 429
        or 503; after an ambiguous failure the addon should re-read the history.
        Raises :class:`ChorusTransitionRefused` on ``20002``, and :class:`ChorusOutcomeUnknown`
        (temporary, ambiguous) when Chorus answers HTTP 200 without ``codeRetour``.
        """
        payload = {
            "idFacture": int(chorus_id),
            "nouveauStatut": new_status,
            "motif": motif or "",
            "numeroDPMandat": (mandate_number or "") if new_status == "MANDATEE" else "",
        }
        body = _json_dumps(payload)
        try:
            answer = self._call(OP_PROCESS, body=body, idempotent=False)
        except ChorusProError as error:
            error.request_body = body
            raise
        if parsing.to_int(answer.data.get("codeRetour")) is None:
            # Seen on the real portal: HTTP 200, no codeRetour. Applied or not is unknown.
            unknown = ChorusOutcomeUnknown(
                "Chorus Pro answered the status change without a return code: whether it "
                "was applied is unknown until the invoice's history is read.",
                operation=OP_PROCESS,
                http_status=answer.status,
                label=parsing.to_text(answer.data.get("libelle")),
            )
            unknown.request_body, unknown.response_body = body, answer.content
            raise unknown
        result = parsing.parse_status_change(
            answer.data, chorus_id=int(chorus_id), new_status=new_status
        )
        result.request_body = body
        result.response_body = answer.content
        return result

    def get_history(self, chorus_id: int, *, max_events: int = 200) -> StatusHistory:
        """Status history (``factures/v1/consulter/historique``), events oldest first."""
        payload = {
            "idFacture": int(chorus_id),
            "nbResultatsMaximum": max_events,
            "paramRechercheHistoStatuts": {
                "pageResultatDemandeeListeHistoStatut": 1,
                "nbResultatsParPageListeHistoStatut": max_events,
                "triColonneListeHistoStatut": "HistoStatutDatePassage",
                "triSensListeHistoStatut": "Ascendant",
            },
        }
        answer = self._call(OP_HISTORY, payload)
        return parsing.parse_status_history(answer.data, chorus_id=int(chorus_id))

    def get_possible_statuses(self, current_status: str) -> list[str]:
        """Statuses the recipient may set from ``current_status`` (authoritative transitions)."""
        answer = self._call(OP_POSSIBLE_STATUSES, {"statutCourant": current_status})
        return parsing.parse_possible_statuses(answer.data)

    # ==========================================================================================
    # Structures and reference data

    def get_active_structures(self) -> list[Structure]:
        """Structures the technical account may receive invoices for (configuration wizard)."""
        answer = self._call(OP_ACTIVE_STRUCTURES, {})
        items, _skipped = parsing.parse_items(
            parsing.as_list(answer.data.get("listeStructures")), parsing.parse_structure
        )
        return items

    def search_structures(self, identifier: str, identifier_type: str = "SIRET") -> list[Structure]:
        """Structures (ours or a supplier's) by identifier, e.g. SIRET → ``idStructureCPP``."""
        base = {
            "structure": {
                "identifiantStructure": str(identifier),
                "typeIdentifiantStructure": identifier_type,
            },
            "restreindreStructuresPrivees": False,
        }

        def build(number: int) -> dict:
            return {**base, "parametres": {"pageResultatDemandee": number,
                                           "nbResultatsParPage": 100}}

        return list(
            self._search(
                OP_SEARCH_STRUCTURES, build, parsing.parse_structure, ("listeStructures",),
                EMPTY_SEARCH_CODES,
            )
        )

    def get_structure(self, structure_id: int) -> StructureDetail:
        """One structure in detail (``structures/v1/consulter``, key ``idStructureCPP`` as OCA)."""
        answer = self._call(
            OP_CONSULT_STRUCTURE, {"idStructureCPP": int(structure_id), "codeLangue": "FR"}
        )
        return parsing.parse_structure_detail(answer.data, chorus_id=int(structure_id))

    def get_services(self, structure_id: int) -> list[Service]:
        """Services of a structure (``structures/v1/rechercher/services``), all pages."""

        def build(number: int) -> dict:
            paging = {"nbResultatsParPage": 10000}
            if number > 1:
                paging["pageResultatDemandee"] = number
            return {"idStructure": int(structure_id),
                    "parametresRechercherServicesStructure": paging}

        return list(
            self._search(
                OP_SEARCH_SERVICES, build, parsing.parse_service, ("listeServices",),
                EMPTY_SEARCH_CODES,
            )
        )

    def get_vat_rates(self) -> list[dict]:
        """VAT rates (``transverses/v1/recuperer/tauxtva``): a cheap call that proves both the
        token and the technical account work (Pastell's connectivity test)."""
        answer = self._call(OP_VAT_RATES, {})
        return parsing.parse_vat_rates(answer.data)

    def health_check(self) -> bool:
        """``GET transverses/v1/health-check``: ``True`` when Chorus answers, ``False`` when it
        cannot be reached or is failing. Credentials and authorisation errors are raised."""
        try:
            self._call(OP_HEALTH_CHECK, method="GET", allow_non_json=True)
        except ChorusTransportError:  # includes ChorusServerError
            return False
        except (ChorusFunctionalError, ChorusMalformedResponse, ChorusNotFoundError):
            return False
        return True


__all__ = [
    "ChorusProClient",
    "SearchResult",
    "Base64FieldExtractor",
    "detect_kind",
    "clear_token_cache",
    "new_token_cache",
    "TOKEN_OPERATION",
]
