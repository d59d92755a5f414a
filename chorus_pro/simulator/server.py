"""The Chorus Pro / PISTE simulator: protocol logic (:class:`SimulatorCore`) and HTTP layer.

:class:`SimulatorCore` holds the world and every piece of mutable state (tokens, queued faults,
counters, configuration) behind one re-entrant lock, and turns requests into
:class:`Response` objects. :class:`Simulator` binds it to a stdlib ``ThreadingHTTPServer`` on
loopback, either in a background thread (tests) or in the foreground (``python -m
chorus_pro.simulator``). Decisions on the points the API documentation leaves open are listed in
the package docstring (``chorus_pro/simulator/__init__.py``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import math
import os
import random
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from chorus_pro import statuses as st
from chorus_pro.timeutil import PARIS, parse_datetime

from . import documents
from .generator import (
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_LOGIN, DEFAULT_PASSWORD,
    PASSWORD_VALIDITY_DAYS, deposit_invoice, generate_world, paris_today,
)
from .world import (
    CORRUPT_DOWNLOAD_REFUSED, CORRUPTION_KINDS, HIDDEN_FROM_RECIPIENT, TAGS, SimHistoryEntry,
    SimInvoice, World,
)

_logger = logging.getLogger("chorus_pro.simulator")

# -- return codes and labels -------------------------------------------------------------------
OK_LABEL = "TRA_MSG_00.000"
CODE_NO_RESULT = 20000
LABEL_NO_RESULT = "TRA_MSG_00.015"
CODE_NO_WORKS_RESULT = 20007
LABEL_NO_WORKS_RESULT = "GFT_MSG_01.075"
CODE_UNKNOWN = 20001
LABEL_UNKNOWN_INVOICE = "GDP_MSG_11.008 La demande de paiement est inconnue du système"
CODE_TRANSITION = 20002
LABEL_TRANSITION = ("Incohérence au niveau du statut d'origine ou de destination de la "
                    "facture.")
CODE_DOWNLOAD_REFUSED = 20003  # also: motif missing on traiter/recue (per-operation codes)
CODE_MOTIF_MISSING = 20003
CODE_MOTIF_TOO_LONG = 20004
CODE_INVALID_REQUEST = 20099  # HTTP 400: malformed request (missing/ill-typed parameter)
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10

API_PREFIX = "/cpro/"
TOKEN_PATH = "/api/oauth/token"
TOKEN_KEY = "api/oauth/token"
ADMIN_PREFIX = "/_admin"

FAULT_KINDS = frozenset({"500", "503", "429", "timeout", "malformed", "reset", "401"})
TECHNICAL_ACTOR_LABEL = "technical account"


class BadRequest(Exception):
    """A malformed request: answered HTTP 400 with ``codeRetour`` 20099."""


class Forbidden(Exception):
    """The technical account may not see this structure: HTTP 403, empty body (as PISTE)."""


@dataclass
class Response:
    """What the HTTP layer writes back."""

    status: int = 200
    payload: Any = None  # dict -> JSON; bytes -> raw body; None -> empty body
    headers: dict = field(default_factory=dict)
    reset: bool = False  # drop the connection without answering

    def body(self) -> bytes:
        if self.payload is None:
            return b""
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")

    @property
    def code_retour(self):
        return self.payload.get("codeRetour") if isinstance(self.payload, dict) else None


def _json(payload: dict, status: int = 200, **headers) -> Response:
    return Response(status, payload, dict(headers))


def _ok(**fields) -> Response:
    return _json({"codeRetour": 0, "libelle": OK_LABEL, **fields})


def _functional(code: int, label: str, status: int = 200, **fields) -> Response:
    return _json({"codeRetour": code, "libelle": label, **fields}, status)


@dataclass
class SimulatorConfig:
    """Runtime knobs (command line, then ``POST /_admin/config``)."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    token_ttl: int = 3600
    max_download_mb: float = 120.0

    def update(self, values: dict) -> None:
        for key in ("latency_ms", "fail_rate", "max_download_mb"):
            if values.get(key) is not None:
                value = float(values[key])
                if value < 0 or (key == "fail_rate" and value > 1):
                    raise ValueError(f"{key} out of range")
                setattr(self, key, value)
        if values.get("token_ttl") is not None:
            ttl = int(values["token_ttl"])
            if ttl < 0:
                raise ValueError("token_ttl out of range")
            self.token_ttl = ttl

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Fault:
    path: str  # operation path without "/cpro/" ("*" = any /cpro call), or "api/oauth/token"
    kind: str
    remaining: int
    retry_after: Optional[int] = None
    delay_s: float = 10.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


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


_TRUE = {"true", "oui", "1", "yes", "o"}
_FALSE = {"false", "non", "0", "no", "n"}


def _as_bool(value, name: str) -> Optional[bool]:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"{name} doit valoir true/false (ou Oui/Non)")


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


def _iso(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


def _money(value: Decimal) -> float:
    return float(value)


def _rate_code(rate: Decimal) -> str:
    return "TVA" + f"{Decimal(rate).normalize():f}".replace(".", "_")


def _is_loopback_host(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_bind_host(host: str, allow_remote: bool = False) -> None:
    """Refuse a non-loopback bind address unless ``allow_remote`` (``--allow-remote``)."""
    if not allow_remote and not _is_loopback_host(host):
        raise ValueError(
            f"refusing to listen on {host!r}: the simulator binds loopback addresses only "
            "(pass --allow-remote to override)"
        )


# ================================================================================================
class SimulatorCore:
    """All the simulator's state and protocol logic, independent of the HTTP plumbing."""

    def __init__(
        self,
        *,
        seed: Optional[int] = None,
        invoices: Optional[int] = None,
        anchor_date: Optional[date] = None,
        config: Optional[SimulatorConfig] = None,
        state_path: Optional[str] = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        login: str = DEFAULT_LOGIN,
        password: str = DEFAULT_PASSWORD,
    ):
        self.lock = threading.RLock()
        self.config = config or SimulatorConfig()
        self._generation_args = dict(
            seed=seed, invoices=invoices, anchor_date=anchor_date or paris_today(),
            client_id=client_id, client_secret=client_secret, login=login, password=password,
        )
        self._initial_config = dict(self.config.to_dict())
        self.state_path = state_path
        loaded = self._load_state()
        if loaded is not None:
            # /_admin/reset then regenerates the world the state file started from.
            self._generation_args.update(seed=loaded.seed, anchor_date=loaded.anchor_date,
                                         invoices=loaded.requested_invoices)
        self.world: World = loaded or generate_world(**self._generation_args)
        self.tokens: dict[str, float] = {}
        self.faults: list[Fault] = []
        self.counters: dict[str, int] = {}
        self.cache = documents.DocumentCache()
        self._fail_rng = random.Random(f"{self.world.seed}:failures")
        self._flow_counter = 0
        self._dirty = threading.Event()
        self._saver_stop = threading.Event()
        self._saver: Optional[threading.Thread] = None
        if state_path:
            self._dirty.set()  # write the initial state at once
            self._saver = threading.Thread(target=self._saver_loop, name="sim-state-saver",
                                           daemon=True)
            self._saver.start()

    # -- persistence ------------------------------------------------------------------------------
    def _load_state(self) -> Optional[World]:
        if not self.state_path or not os.path.exists(self.state_path):
            return None
        with open(self.state_path, encoding="utf-8") as handle:
            try:
                return World.from_json(handle.read())
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"cannot read simulator state {self.state_path}: {exc}") from exc

    def mark_dirty(self) -> None:
        if self.state_path:
            self._dirty.set()

    def save_state(self) -> None:
        """Write the world to ``state_path`` atomically (no-op without ``--state``)."""
        if not self.state_path:
            return
        with self.lock:
            self._dirty.clear()
            text = self.world.to_json()
        temporary = f"{self.state_path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, self.state_path)

    def _saver_loop(self) -> None:
        # Debounced: at most one write every 0.2 s however many changes happen.
        while not self._saver_stop.is_set():
            if self._dirty.wait(0.5) and not self._saver_stop.is_set():
                self._saver_stop.wait(0.2)
                try:
                    self.save_state()
                except OSError:
                    _logger.exception("cannot save the simulator state")

    def close(self) -> None:
        """Stop the saver thread and flush the state file."""
        self._saver_stop.set()
        self._dirty.set()  # wake the saver so that it sees the stop request at once
        if self._saver is not None:
            self._saver.join(timeout=5)
        if self.state_path:
            self.save_state()

    # -- helpers ----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(PARIS).replace(microsecond=0)

    def _count(self, key: str) -> None:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1

    def _take_fault(self, key: str) -> Optional[Fault]:
        with self.lock:
            for fault in self.faults:
                if fault.path == key or (fault.path == "*" and key != TOKEN_KEY):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: Fault) -> Optional[Response]:
        """The answer a queued fault imposes (None: go on normally, e.g. after a timeout)."""
        if fault.kind == "timeout":
            time.sleep(max(0.0, fault.delay_s))
            return None
        if fault.kind == "reset":
            return Response(reset=True)
        if fault.kind == "malformed":
            return Response(200, b'{"codeRetour": 0, "libelle": "TRA_MSG_00.000", "listeFac',
                            {"Content-Type": "application/json;charset=utf-8"})
        if fault.kind == "401":
            return self._unauthorized("invalid_token", "Access token expired (simulated fault)")
        if fault.kind == "429":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            return _json({"error": "too_many_requests",
                          "error_description": "Quota exceeded (simulated fault)"}, 429, **headers)
        status = int(fault.kind)
        reason = "Service Unavailable" if status == 503 else "Internal Server Error"
        return _json({"error": reason, "error_description": "simulated fault"}, status)

    @staticmethod
    def _unauthorized(error: str, description: str) -> Response:
        header = f'Bearer realm="PISTE",error="{error}",error_description="{description}"'
        return _json({"error": error, "error_description": description}, 401,
                     **{"WWW-Authenticate": header})

    # -- token endpoint ---------------------------------------------------------------------------
    def handle_token(self, method: str, headers, body: bytes) -> Response:
        self._count(TOKEN_KEY)
        fault = self._take_fault(TOKEN_KEY)
        if fault is not None:
            answer = self._fault_response(fault)
            if answer is not None:
                return answer
        self._sleep_latency()
        if method != "POST":
            return _json({"error": "invalid_request", "error_description": "POST expected"}, 405)
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Basic ") and not client_id:
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                client_id, _sep, client_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type",
                          "error_description": "grant_type must be client_credentials"}, 400)
        with self.lock:
            account = self.world.account
            valid = (secrets.compare_digest(client_id, account.client_id)
                     and secrets.compare_digest(client_secret, account.client_secret))
            if not valid:
                return _json({"error": "invalid_client",
                              "error_description": "Client authentication failed"}, 401)
            token = secrets.token_urlsafe(32)
            ttl = self.config.token_ttl
            now = time.monotonic()
            if len(self.tokens) > 1000:
                self.tokens = {k: v for k, v in self.tokens.items() if v > now}
            self.tokens[token] = now + ttl
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": ttl,
                      "scope": "openid"})

    def _sleep_latency(self) -> None:
        latency = self.config.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)

    # -- API entry point --------------------------------------------------------------------------
    def handle_api(self, method: str, path: str, headers, body: bytes) -> Response:
        key = path[len(API_PREFIX):].strip("/")
        route = ROUTES.get(key)
        if route is None:
            return _json({"error": "not_found",
                          "error_description": f"No API operation at {path}"}, 404)
        route_method, handler_name = route
        self._count(key)
        fault = self._take_fault(key)
        if fault is not None:
            answer = self._fault_response(fault)
            if answer is not None:
                return answer
        self._sleep_latency()
        with self.lock:
            failing = self.config.fail_rate > 0 and self._fail_rng.random() < self.config.fail_rate
        if failing:
            return _json({"error": "Service Unavailable",
                          "error_description": "random failure (--fail-rate)"}, 503)
        if method != route_method:
            return _json({"error": "method_not_allowed",
                          "error_description": f"{method} not allowed on {path}"}, 405,
                         Allow=route_method)
        denied = self._authenticate(headers, needs_account=route_method == "POST")
        if denied is not None:
            return denied
        payload: dict = {}
        if route_method == "POST":
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _json({"error": "unsupported_media_type",
                              "error_description": "Content-Type must be application/json"}, 415)
            try:
                payload = json.loads(body.decode("utf-8")) if body.strip() else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                payload = None
            if not isinstance(payload, dict):
                return _functional(CODE_INVALID_REQUEST,
                                   "Requête invalide : le corps doit être un objet JSON", 400)
        try:
            return getattr(self, handler_name)(payload)
        except BadRequest as exc:
            return _functional(CODE_INVALID_REQUEST, f"Requête invalide : {exc}", 400)
        except Forbidden:
            return Response(403, None)

    def _authenticate(self, headers, needs_account: bool) -> Optional[Response]:
        authorization = headers.get("Authorization") or ""
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            return self._unauthorized("invalid_token", "Missing bearer access token")
        token = authorization[7:].strip()
        with self.lock:
            expiry = self.tokens.get(token)
            if expiry is None:
                return self._unauthorized("invalid_token", "Unknown access token")
            if expiry <= time.monotonic():
                return self._unauthorized("invalid_token", "Access token expired")
            if not needs_account:
                return None
            account = self.world.account
            try:
                decoded = base64.b64decode(headers.get("cpro-account") or "", validate=True)
                login, _sep, password = decoded.decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                login, password = "", ""
            if not (secrets.compare_digest(login.encode(), account.login.encode())
                    and secrets.compare_digest(password.encode(), account.password.encode())):
                return self._unauthorized("Unauthorized", "login or password incorrects")
            if account.password_expiry < paris_today():
                return self._unauthorized(
                    "Unauthorized", "password expired: the technical account password must be "
                                    "renewed")
        return None

    # -- shared look-ups (call with the lock held) ------------------------------------------------
    def _scope(self, id_destinataire) -> list[int]:
        world = self.world
        attached = [s.id for s in world.attached_structures()]
        structure_id = _as_int(id_destinataire, "idDestinataire")
        if structure_id is None:
            return attached
        if structure_id not in attached:
            raise Forbidden()
        return [structure_id]

    def _service_of(self, invoice: SimInvoice):
        return self.world.structures[invoice.structure_id].service_by_code(invoice.service_code)

    def _search_item(self, invoice: SimInvoice, with_size: bool) -> dict:
        world = self.world
        structure = world.structures[invoice.structure_id]
        service = self._service_of(invoice)
        supplier = world.supplier_of(invoice)
        item = {
            "idFacture": invoice.id,
            "numeroFacture": invoice.number,
            "typeDemandePaiement": invoice.payment_request_type,
            "typeFacture": invoice.invoice_type,
            "statut": invoice.status,
            "dateHeureEtatCourant": _iso(invoice.status_at),
            "commentaireEtatCourant": invoice.status_comment,
            "dateFacture": invoice.invoice_date.isoformat(),
            "dateDepot": invoice.deposit_date.isoformat(),
            "devise": invoice.currency,
            "montantHT": _money(invoice.amount_ht),
            "montantTTC": _money(invoice.amount_ttc),
            "montantAPayer": _money(invoice.amount_to_pay),
            "idDestinataire": structure.id,
            "codeDestinataire": structure.siret,
            "designationDestinataire": structure.name,
            "idServiceExecutant": service.id if service else None,
            "codeServiceExecutant": service.code if service else "",
            "nomServiceExecutant": service.name if service else "",
            "codeFournisseur": supplier.siret,
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": supplier.name,
            "codeServiceFournisseur": "",
            "nomServiceFournisseur": "",
            "numeroBonCommande": invoice.purchase_order,
            "numeroMarche": invoice.contract,
            "factureTelechargeeParDestinataire": invoice.downloaded,
        }
        if invoice.is_works:
            item["typeFactureTravaux"] = invoice.works_type
        if with_size:
            item["taille"] = invoice.size
        return item

    def _invoice(self, value, name: str) -> Optional[SimInvoice]:
        invoice_id = _as_int(value, name, required=True)
        invoice = self.world.invoices.get(invoice_id)
        if invoice is None or not self.world.structures[invoice.structure_id].attached:
            return None
        return invoice

    # -- factures/v1/rechercher/recipiendaire -----------------------------------------------------
    SORT_KEYS: dict[str, Callable[[SimInvoice], Any]] = {
        "datedepot": lambda inv: inv.deposit_date,
        "numerofacture": lambda inv: inv.number,
        "dateheureetatcourant": lambda inv: inv.status_at,
        "datefacture": lambda inv: inv.invoice_date,
        "montantttc": lambda inv: inv.amount_ttc,
        "montantht": lambda inv: inv.amount_ht,
        "montantapayer": lambda inv: inv.amount_to_pay,
        "idfacture": lambda inv: inv.id,
        "statut": lambda inv: inv.status,
        "facturetelechargeepardestinataire": lambda inv: inv.downloaded,
    }

    def _sorted(self, invoices: list, column, direction) -> list:
        key = self.SORT_KEYS.get(str(column or "").lower())
        reverse = str(direction or "").strip().lower().startswith("desc")
        if key is None:
            return sorted(invoices, key=lambda inv: inv.id, reverse=reverse)
        return sorted(invoices, key=lambda inv: (key(inv), inv.id), reverse=reverse)

    def op_search_recipient(self, body: dict) -> Response:
        request_type = body.get("typeDemandePaiement") or "FACTURE"
        if request_type not in ("FACTURE", "FACTURE_TRAVAUX"):
            raise BadRequest("typeDemandePaiement doit valoir FACTURE ou FACTURE_TRAVAUX")
        statuses = _str_list(body.get("statutCourant"), "statutCourant")
        invoice_types = _str_list(body.get("listeTypeFacture"), "listeTypeFacture")
        frame = body.get("cadreFacturation") or None
        status_from = _bound(body.get("periodeDateHeureEtatCourantDu"),
                             "periodeDateHeureEtatCourantDu", upper=False)
        status_to = _bound(body.get("periodeDateHeureEtatCourantAu"),
                           "periodeDateHeureEtatCourantAu", upper=True)
        deposit_from = _date_bound(body.get("periodeDateDepotDu"), "periodeDateDepotDu")
        deposit_to = _date_bound(body.get("periodeDateDepotAu"), "periodeDateDepotAu")
        invoice_from = _date_bound(body.get("periodeDateFactureDu"), "periodeDateFactureDu")
        invoice_to = _date_bound(body.get("periodeDateFactureAu"), "periodeDateFactureAu")
        downloaded = _as_bool(body.get("factureTelechargeeParDestinataire"),
                              "factureTelechargeeParDestinataire")
        with_size = bool(_as_bool(body.get("recupererTaille"), "recupererTaille"))
        service_id = _as_int(body.get("idServiceExecutant"), "idServiceExecutant")
        amounts = {
            name: _as_decimal(body.get(name), name)
            for name in ("montantHTMin", "montantHTMax", "montantTTCMin", "montantTTCMax",
                         "montantApayerMin", "montantApayerMax")
        }
        supplier_ids = None
        if body.get("listeFournisseurs"):
            entries = body["listeFournisseurs"]
            if not isinstance(entries, list):
                raise BadRequest("listeFournisseurs doit être une liste")
            supplier_ids = {_as_int((e or {}).get("idFournisseur"), "idFournisseur")
                            for e in entries if isinstance(e, dict)}
        page, size = _paging(body.get("paramRecherche"), "pageResultatDemandee",
                             "nbResultatsParPage")
        sort = body.get("paramRecherche") or {}

        with self.lock:
            scope = set(self._scope(body.get("idDestinataire")))
            world = self.world

            def matches(inv: SimInvoice) -> bool:
                if inv.structure_id not in scope or inv.payment_request_type != request_type:
                    return False
                if inv.status in HIDDEN_FROM_RECIPIENT:
                    return False
                if statuses and inv.status not in statuses:
                    return False
                if invoice_types and inv.invoice_type not in invoice_types:
                    return False
                if frame and frame not in (inv.frame, inv.frame.split("_", 1)[0]):
                    return False
                if status_from and inv.status_at < status_from:
                    return False
                if status_to and inv.status_at > status_to:
                    return False
                if deposit_from and inv.deposit_date < deposit_from:
                    return False
                if deposit_to and inv.deposit_date > deposit_to:
                    return False
                if invoice_from and inv.invoice_date < invoice_from:
                    return False
                if invoice_to and inv.invoice_date > invoice_to:
                    return False
                if downloaded is not None and inv.downloaded != downloaded:
                    return False
                if body.get("numeroFacture") and inv.number != body["numeroFacture"]:
                    return False
                purchase_order = body.get("numeroBonCommande")
                if purchase_order and inv.purchase_order != purchase_order:
                    return False
                if body.get("numeroMarche") and inv.contract != body["numeroMarche"]:
                    return False
                if service_id is not None:
                    service = self._service_of(inv)
                    if service is None or service.id != service_id:
                        return False
                if supplier_ids is not None and world.supplier_of(inv).id not in supplier_ids:
                    return False
                for name, limit in amounts.items():
                    if limit is None:
                        continue
                    value = {"montantHT": inv.amount_ht, "montantTTC": inv.amount_ttc,
                             "montantApayer": inv.amount_to_pay}[name[:-3]]
                    if (name.endswith("Min") and value < limit) or (
                            name.endswith("Max") and value > limit):
                        return False
                return True

            found = self._sorted([inv for inv in world.invoices.values() if matches(inv)],
                                 sort.get("triColonne"), sort.get("triSens"))
            chunk, pages, total = _page_of(found, page, size)
            items = [self._search_item(inv, with_size) for inv in chunk]
        pagination = {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                      "total": total}
        if not items:
            return _functional(CODE_NO_RESULT, LABEL_NO_RESULT, **pagination, listeFactures=[])
        return _ok(**pagination, listeFactures=items)

    # -- facturesTravaux/v1/rechercher ------------------------------------------------------------
    def _works_item(self, invoice: SimInvoice) -> dict:
        world = self.world
        structure = world.structures[invoice.structure_id]
        service = self._service_of(invoice)
        supplier = world.supplier_of(invoice)
        return {
            "idFactureTravaux": invoice.id,
            "numeroFactureTravaux": invoice.number,
            "statutFactureTravaux": invoice.status,
            "typeFactureTravaux": invoice.works_type,
            "typeDemandePaiement": invoice.payment_request_type,
            "identifiantFournisseur": supplier.siret,
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": supplier.name,
            "idDestinataire": structure.id,
            "identifiantDestinataire": structure.siret,
            "designationDestinataire": structure.name,
            "dateDepot": invoice.deposit_date.isoformat(),
            "dateFacture": invoice.invoice_date.isoformat(),
            "dateFactureTravaux": invoice.invoice_date.isoformat(),
            "dateHeureEtatCourant": _iso(invoice.status_at),
            "montantHT": _money(invoice.amount_ht),
            "montantTTC": _money(invoice.amount_ttc),
            "montantAPayer": _money(invoice.amount_to_pay),
            "devise": invoice.currency,
            "idServiceExecutant": service.id if service else None,
            "codeServiceExecutant": service.code if service else "",
            "nomServiceExecutant": service.name if service else "",
            "numeroBonCommande": invoice.purchase_order,
            "numeroMarche": invoice.contract,
            "factureTelechargeeParDestinataire": invoice.downloaded,
            "taille": invoice.size,
        }

    def op_search_works(self, body: dict) -> Response:
        role = str(body.get("roleUtilisateur") or "").upper()
        status_from = _bound(body.get("periodeDateHeureEtatCourantDu"),
                             "periodeDateHeureEtatCourantDu", upper=False)
        status_to = _bound(body.get("periodeDateHeureEtatCourantAu"),
                           "periodeDateHeureEtatCourantAu", upper=True)
        downloaded = _as_bool(body.get("flagTelecharge"), "flagTelecharge")
        service_id = _as_int(body.get("idServiceExecutant"), "idServiceExecutant")
        statuses = _str_list(body.get("statutFactureTravaux") or body.get("statutCourant"),
                             "statutFactureTravaux")
        params = body.get("rechercheFactureTravaux") or {}
        page, size = _paging(params, "pageResultatDemandee", "nbResultatsParPage")
        with self.lock:
            scope = set(self._scope(body.get("idDestinataire")))
            found = []
            # We are the contracting authority: a search as supplier / MOE / validator is empty.
            if role in ("", "MOA", "DESTINATAIRE"):
                for inv in self.world.invoices.values():
                    if not inv.is_works or inv.structure_id not in scope:
                        continue
                    if inv.status in HIDDEN_FROM_RECIPIENT:
                        continue
                    if statuses and inv.status not in statuses:
                        continue
                    if status_from and inv.status_at < status_from:
                        continue
                    if status_to and inv.status_at > status_to:
                        continue
                    if downloaded is not None and inv.downloaded != downloaded:
                        continue
                    if service_id is not None:
                        service = self._service_of(inv)
                        if service is None or service.id != service_id:
                            continue
                    found.append(inv)
            found = self._sorted(found, params.get("triColonne"), params.get("triSens"))
            chunk, pages, total = _page_of(found, page, size)
            items = [self._works_item(inv) for inv in chunk]
        returned = {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                    "total": total}
        if not items:
            return _functional(CODE_NO_WORKS_RESULT, LABEL_NO_WORKS_RESULT,
                               listeFacturesTravaux=[], parametresRetour=returned)
        return _ok(listeFacturesTravaux=items, parametresRetour=returned)

    # -- factures/v1/consulter/recipiendaire ------------------------------------------------------
    @staticmethod
    def _sub_page(rows: list, params, suffix_page: str, suffix_size: str, names: tuple) -> dict:
        """Paging of the consult sub-lists (lines, VAT recap, attachments)."""
        page, size = 1, max(len(rows), 1)
        if isinstance(params, dict):
            page = _as_int(params.get(f"pageResultatDemandee{suffix_page}"), "page") or 1
            size = min(_as_int(params.get(f"nbResultatsParPage{suffix_size}"), "size") or size,
                       MAX_PAGE_SIZE)
        chunk, pages, total = _page_of(rows, page, max(size, 1))
        list_name, page_name, pages_name, size_name, total_name = names
        return {list_name: chunk, page_name: page, pages_name: pages, size_name: size,
                total_name: total}

    def _consult_payload(self, invoice: SimInvoice, body: dict) -> dict:
        world = self.world
        structure = world.structures[invoice.structure_id]
        service = self._service_of(invoice)
        supplier = world.supplier_of(invoice)
        payee = world.payee_of(invoice)
        factor = world.factor_of(invoice)
        iban = payee.iban
        fournisseur = {
            "idFournisseur": supplier.id,
            "codeFournisseur": supplier.siret,
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": supplier.name,
            "idServiceFournisseur": None,
            "codeServiceFournisseur": "",
            "libelleServiceFournisseur": "",
            "numeroRcsFournisseur": supplier.rcs,
            "adresseFournisseurId": supplier.id * 10 + 1,
            "adresseFournisseurDetail": supplier.address.street,
            "adresseFournisseurComplement1": supplier.address.street2,
            "adresseFournisseurComplement2": "",
            "adresseFournisseurCodePostal": supplier.address.zip,
            "adresseFournisseurVille": supplier.address.city,
            "adresseFournisseurCodePays": supplier.address.country_code,
            "adresseFournisseurLibellePays": supplier.address.country_name,
            "coordBancairesFournisseurId": payee.bank_account_id,
            "coordBancairesFournisseurType": "IBAN",
            "coordBancairesFournisseurLibelle": (
                f"Compte {payee.name} (affacturage)" if factor else "Compte principal"),
            "coordBancairesFournisseurCodePays": iban[:2],
            # Full IBAN here; the RIB pieces below are derived from it (doc §10.6).
            "coordBancairesFournisseurCompteBancaire": iban,
            "coordBancairesFournisseurCleIban": iban[2:4],
            "coordBancairesFournisseurCodeBanque": iban[4:9],
            "coordBancairesCodeGuichet": iban[9:14],
            "coordBancairesFournisseurCleRib": iban[-2:],
            "coordBancairesBicSwift": payee.bic,
        }
        if factor is not None:
            fournisseur["affactureur"] = {
                "affactureurId": factor.id,
                "affactureurCode": factor.siret,
                "affactureurTypeIdentifiant": "SIRET",
                "affactureurRaisonSociale": factor.name,
                "affactureurCodePays": "FR",
            }
        lines = [{
            "lignePosteNumero": line.number,
            "lignePosteReference": line.reference,
            "lignePosteDenomination": line.name,
            "lignePosteQuantite": float(line.quantity),
            "lignePosteUniteCode": line.unit_code,
            "lignePosteUniteLibelle": line.unit_label,
            "lignePosteMontantUnitaireHT": _money(line.unit_price),
            "lignePosteMontantRemiseHT": _money(line.discount),
            "lignePosteTauxTva": _rate_code(line.vat_rate),
            "lignePosteTauxTvaManuel": float(line.vat_rate),
            "lignePosteMontantTva": _money(line.amount_vat),
            "lignePosteMontantHtApresRemise": _money(line.amount_ht),
            "lignePosteMontantTtcApresRemise": _money(line.amount_ht + line.amount_vat),
        } for line in invoice.lines]
        vat_rows = [{
            "ligneTvaTauxRefCode": _rate_code(vat.rate),
            "ligneTvaTauxRefValeur": float(vat.rate),
            "ligneTvaTauxRefLibelle": f"{documents.format_rate(vat.rate)}",
            "ligneTvaTauxManuel": None,
            "ligneTvaMontantBaseHtParTaux": _money(vat.base),
            "ligneTvaMontantTvaParTaux": _money(vat.amount),
        } for vat in invoice.vat]
        attachments = [{
            "pieceJointeId": a.id,
            "pieceJointeDesignation": a.name.rsplit(".", 1)[0],
            "pieceJointeExtension": "PDF",
            "pieceJointeTypeCode": a.type_code,
            "pieceJointeTypeLibelle": a.type_label,
            "pieceJointeIdLiaison": a.id + 500000,
            "pieceJointeNumeroLigneFacture": None,
        } for a in invoice.attachments]
        main = invoice.main_attachment
        return {
            "identifiantFactureCPP": invoice.id,
            "numeroFacture": invoice.number,
            "statutFacture": invoice.status,
            "modeDepot": invoice.deposit_mode,
            "commentaire": invoice.comment,
            "cadreDeFacturation": {"codeCadreFacturation": invoice.frame},
            "destinataire": {
                "idDestinataire": structure.id,
                "codeDestinataire": structure.siret,
                "libelleDestinataire": structure.name,
                "idServiceExecutant": service.id if service else None,
                "codeServiceExecutant": service.code if service else "",
                "libelleServiceExecutant": service.name if service else "",
                "destinataireEtat": "NON",
                "adresseDestinataireId": structure.id * 10 + 1,
                "adresseDestinataireDetail": structure.address.street,
                "adresseDestinataireComplement1": structure.address.street2,
                "adresseDestinataireCodePostal": structure.address.zip,
                "adresseDestinataireVille": structure.address.city,
                "adresseDestinataireCodePays": structure.address.country_code,
                "adresseDestinataireLibellePays": structure.address.country_name,
            },
            "fournisseur": fournisseur,
            "references": {
                "codeDeviseFacture": invoice.currency,
                "libelleDeviseFacture": "Euro",
                "dateFacture": invoice.invoice_date.isoformat(),
                "dateDepot": invoice.deposit_date.isoformat(),
                "dateCreationFacture": _iso(invoice.history[0].at),
                "dateEcheancePaiement": invoice.due_date.isoformat(),
                "modePaiement": invoice.payment_mode,
                "typeFacture": invoice.invoice_type,
                "typeTva": invoice.vat_type,
                "motifExonerationTva": "",
                "libelleMotifExonerationTva": "",
                "numeroBonCommande": invoice.purchase_order,
                "numeroMarche": invoice.contract,
                "numeroFactureOrigine": invoice.origin_invoice_number,
                "numeroDpMandat": invoice.mandate_number,
                "typeFactureTravaux": invoice.works_type,
                "tailleTotalePiecesJointes": invoice.size,
            },
            "montantTotal": {
                "montantHtTotal": _money(invoice.amount_ht),
                "montantTVA": _money(invoice.amount_vat),
                "montantTtcTotal": _money(invoice.amount_ttc),
                "montantTtcAvantRemiseGlobalTTC": _money(invoice.amount_ttc),
                "montantRemiseGlobaleTTC": 0.0,
                "motifRemiseGlobaleTTC": "",
                "montantAPayer": _money(invoice.amount_to_pay),
            },
            "lignesDePoste": self._sub_page(
                lines, body.get("rechercheLignePoste"), "LignesPoste", "LignesPoste",
                ("lignePoste", "pageCouranteLignesPoste", "pagesLignesPoste",
                 "nbResultatsParPageLignesPoste", "totalLignesPoste")),
            "recapitulatifDeTva": self._sub_page(
                vat_rows, body.get("rechercheligneTvaRecap"), "ListeRecapitulatifTVA",
                "ListeRecapitulatifTVA",
                ("ligneTva", "pageCouranteLignesRecapitulativesTVA",
                 "pagesLignesRecapitulativesTVA", "nbResultatsParPageLignesRecapitulativesTVA",
                 "totalLignesRecapitulativesTVA")),
            "listeDesPiecesJointes": self._sub_page(
                attachments, body.get("recherchePj"), "ListePieceJointe", "ListePieceJointe",
                ("pieceJointe", "pageCouranteListePiecesJointe", "pagesListePiecesJointe",
                 "nbResultatsParPageListePiecesJointe", "totalListePiecesJointe")),
            "pieceJointePrincipale": {"idPieceJointePrincipale": main.id,
                                      "idLiaisonPieceJointePrincipale": main.id + 500000},
        }

    def op_consult(self, body: dict) -> Response:
        with self.lock:
            invoice = self._invoice(body.get("identifiantFactureCPP"), "identifiantFactureCPP")
            if invoice is None:
                return _functional(CODE_UNKNOWN, LABEL_UNKNOWN_INVOICE)
            return _ok(facture=self._consult_payload(invoice, body))

    # -- factures/v1/telecharger/groupe -----------------------------------------------------------
    def op_download(self, body: dict) -> Response:
        entries = body.get("listeFacture")
        if not isinstance(entries, list) or not entries:
            raise BadRequest("listeFacture doit être une liste non vide de {idFacture}")
        ids = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise BadRequest("listeFacture doit contenir des objets {idFacture}")
            ids.append(_as_int(entry.get("idFacture"), "idFacture", required=True))
        file_format = str(body.get("format") or "").upper()
        if file_format not in ("PDF", "PIVOT"):
            raise BadRequest("format doit valoir PDF ou PIVOT")
        with_complementary = bool(_as_bool(body.get("avecPiecesJointesComplementaires"),
                                           "avecPiecesJointesComplementaires"))
        limit = int(self.config.max_download_mb * 1024 * 1024)
        with self.lock:
            invoices = []
            for invoice_id in dict.fromkeys(ids):
                invoice = self.world.invoices.get(invoice_id)
                if invoice is None or not self.world.structures[invoice.structure_id].attached:
                    return _functional(CODE_UNKNOWN, f"{LABEL_UNKNOWN_INVOICE} ({invoice_id})")
                if invoice.download_refused:
                    return _functional(
                        CODE_DOWNLOAD_REFUSED,
                        f"GDP_MSG_11.017 Le fichier de la facture {invoice.number} "
                        f"({invoice.id}) n'est pas disponible au téléchargement",
                    )
                invoices.append(invoice)
            announced = sum(inv.size for inv in invoices)
            world = self.world
            self._flow_counter += 1
            flow_id = f"CPP{self.now():%Y%m%d%H%M%S}{self._flow_counter:06d}"
        if announced > limit:
            return self._too_large(announced, limit)
        # Rendering happens outside the lock (documents only depend on immutable fields).
        if file_format == "PIVOT":
            content = documents.build_pivot(world, invoices, produced_at=self.now(),
                                            flow_id=flow_id, cache=self.cache)
        else:
            content, _kind = documents.build_pdf_bundle(world, invoices, with_complementary,
                                                        self.cache)
        if len(content) > limit:
            return self._too_large(len(content), limit)
        with self.lock:
            for invoice in invoices:
                invoice.downloaded = True  # our choice on doc §10.4
            self.mark_dirty()
        return _ok(fichierResultat=base64.b64encode(content).decode("ascii"))

    @staticmethod
    def _too_large(size: int, limit: int) -> Response:
        return _json({"error": "payload_too_large",
                      "error_description": f"Download bundle of {size} bytes exceeds the limit of "
                                           f"{limit} bytes"}, 413)

    # -- factures/v1/traiter/recue ----------------------------------------------------------------
    def op_process(self, body: dict) -> Response:
        target = body.get("nouveauStatut")
        if not isinstance(target, str) or not target:
            raise BadRequest("paramètre obligatoire manquant : nouveauStatut")
        motif = body.get("motif")
        if motif is not None and not isinstance(motif, str):
            raise BadRequest("motif doit être une chaîne")
        motif = (motif or "").strip()
        mandate = body.get("numeroDPMandat")
        with self.lock:
            invoice = self._invoice(body.get("idFacture"), "idFacture")
            if invoice is None:
                return _functional(CODE_UNKNOWN, LABEL_UNKNOWN_INVOICE)
            if not st.is_allowed(invoice.status, target):
                return _functional(CODE_TRANSITION, LABEL_TRANSITION)
            if len(motif) > st.MOTIF_MAX_LENGTH:
                return _functional(
                    CODE_MOTIF_TOO_LONG,
                    f"Le motif ne doit pas dépasser {st.MOTIF_MAX_LENGTH} caractères.")
            if st.motif_required(target) and not motif:
                return _functional(
                    CODE_MOTIF_MISSING,
                    f"Le motif est obligatoire pour passer la facture au statut {target}.")
            now = self.now()
            account = self.world.account
            self._add_history(invoice, target, now, motif, (
                account.login, account.last_name, account.first_name, account.login))
            if target == st.MANDATEE and mandate not in (None, ""):
                invoice.mandate_number = str(mandate)
            self.mark_dirty()
            return _ok(idFacture=invoice.id, numeroFacture=invoice.number,
                       dateTraitement=now.date().isoformat(), nouveauStatut=target)

    def _add_history(self, invoice: SimInvoice, code: str, at: datetime, comment: str,
                     actor: tuple) -> SimHistoryEntry:
        # Never before the current event (same second allowed: the history id breaks ties), and
        # never in the future, so that a search with "...Au = now" sees the change at once.
        at = max(at, invoice.status_at)
        user, last_name, first_name, email = actor
        entry = SimHistoryEntry(
            id=self.world.allocate_history_id(), code=code, at=at.replace(microsecond=0),
            comment=comment, user=user, user_last_name=last_name, user_first_name=first_name,
            user_email=email,
        )
        invoice.history.append(entry)
        return entry

    # -- factures/v1/consulter/historique ---------------------------------------------------------
    def op_history(self, body: dict) -> Response:
        params = body.get("paramRechercheHistoStatuts") or {}
        with self.lock:
            invoice = self._invoice(body.get("idFacture"), "idFacture")
            if invoice is None:
                return _functional(CODE_UNKNOWN, LABEL_UNKNOWN_INVOICE)
            entries = invoice.history_newest_first()
            if str(params.get("triSensListeHistoStatut") or "").lower().startswith("asc"):
                entries.reverse()
            page, size = _paging(params, "pageResultatDemandeeListeHistoStatut",
                                 "nbResultatsParPageListeHistoStatut",
                                 default_size=max(len(entries), 1))
            chunk, pages, total = _page_of(entries, page, size)
            rows = [{
                "histoStatutId": entry.id,
                "histoStatutCode": entry.code,
                "histoStatutDatePassage": entry.at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M"),
                "histoStatutCommentaire": entry.comment,
                "histoStatutUtilisateurNom": entry.user_last_name,
                "histoStatutUtilisateurPrenom": entry.user_first_name,
                "histoStatutUtilisateurEmail": entry.user_email,
                "histoStatutUtilisateurTelephone": "",
            } for entry in chunk]
            current = invoice.current
            return _ok(
                idFacture=invoice.id, numeroFacture=invoice.number,
                modeDepot=invoice.deposit_mode, statutCourantCode=invoice.status,
                derniereAction={"derniereActionId": current.id,
                                "derniereActionCode": current.code},
                historiquesDesStatuts={
                    "histoStatut": rows, "pageCouranteHistoStatut": page,
                    "pagesHistoStatut": pages, "nbResultatsParPageHistoStatut": size,
                    "totalHistoStatut": total,
                },
                historiquesDesActionsUtilisateurs={
                    "histoAction": [], "pageCouranteHistoAction": 1, "pagesHistoAction": 0,
                    "nbResultatsParPageHistoAction": size, "totalHistoAction": 0,
                },
                historiquesDesEvenementsComplementaires={
                    "evenement": [], "pageCouranteEvenement": 1, "pagesEvenement": 0,
                    "nbResultatsParPageEvenement": size, "totalEvenement": 0,
                },
            )

    # -- transverses ------------------------------------------------------------------------------
    def op_possible_states(self, body: dict) -> Response:
        current = body.get("statutCourant")
        if not isinstance(current, str) or not current:
            raise BadRequest("paramètre obligatoire manquant : statutCourant")
        return _ok(listeStatutsPossiblesPourTraitement=[
            {"statutPossiblePourTraitement": code} for code in st.possible_targets(current)
        ])

    def op_states_by_type(self, body: dict) -> Response:
        return _ok(listeEtatDemandePaiement=[{"etatDemandePaiement": code} for code in st.CODES])

    def op_active_structures(self, body: dict) -> Response:
        with self.lock:
            return _ok(listeStructures=[
                {"idStructureCPP": s.id, "identifiant": s.siret, "designationStructure": s.name}
                for s in self.world.attached_structures()
            ])

    def op_vat_rates(self, body: dict) -> Response:
        rates = [("TVA20", 20.0), ("TVA10", 10.0), ("TVA5_5", 5.5), ("TVA2_1", 2.1),
                 ("TVA0", 0.0)]
        return _ok(listeTauxTva=[
            {"codeTauxTva": code, "libelleTauxTva": f"{value:g} %".replace(".", ","),
             "valeurTauxTva": value} for code, value in rates
        ])

    def op_health(self, body: dict) -> Response:
        return _json({"body": "OK", "statusCode": "OK", "statusCodeValue": 200})

    # -- structures -------------------------------------------------------------------------------
    def _all_parties(self) -> list[dict]:
        """Every structure a search can find: public bodies, then suppliers and factors."""
        world = self.world
        parties = [{"id": s.id, "siret": s.siret, "name": s.name, "public": True,
                    "attached": s.attached} for s in world.structures.values()]
        parties += [{"id": s.id, "siret": s.siret, "name": s.name, "public": False,
                     "attached": False} for s in world.suppliers + world.factors]
        return parties

    def op_search_structures(self, body: dict) -> Response:
        criteria = body.get("structure") or {}
        if not isinstance(criteria, dict):
            raise BadRequest("structure doit être un objet")
        identifier = str(criteria.get("identifiantStructure") or "").replace(" ", "")
        identifier_type = criteria.get("typeIdentifiantStructure")
        name = str(criteria.get("raisonSocialeStructure") or criteria.get("libelleStructure")
                   or "").lower()
        restrict = _as_bool(body.get("restreindreStructuresPrivees"),
                            "restreindreStructuresPrivees")
        restrict = True if restrict is None else restrict
        page, size = _paging(body.get("parametres"), "pageResultatDemandee", "nbResultatsParPage")
        if identifier_type not in (None, "", "SIRET"):
            found = []
        else:
            with self.lock:
                found = [
                    p for p in self._all_parties()
                    if (not identifier or p["siret"] == identifier)
                    and (not name or name in p["name"].lower())
                    and (p["public"] or p["attached"] or not restrict)
                ]
        chunk, pages, total = _page_of(found, page, size)
        return _json({
            "codeRetour": 0, "libelle": "GCU_MSG_01_000",
            "listeStructures": [{
                "idStructureCPP": p["id"], "identifiantStructure": p["siret"],
                "typeIdentifiantStructure": "SIRET", "designationStructure": p["name"],
                "statut": "ACTIF",
            } for p in chunk],
            "parametresRetour": {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                                 "total": total},
        })

    def op_consult_structure(self, body: dict) -> Response:
        value = body.get("idStructureCPP", body.get("idStructure"))
        structure_id = _as_int(value, "idStructureCPP", required=True)
        with self.lock:
            world = self.world
            structure = world.structures.get(structure_id)
            if structure is not None:
                info = {
                    "idStructureCPP": structure.id, "identifiantStructure": structure.siret,
                    "typeIdentifiantStructure": "SIRET", "raisonSocialeStructure": structure.name,
                    "libelleStructure": structure.name, "nomStructure": "", "prenomStructure": "",
                    "emailStructure": structure.email, "numeroTVA": structure.vat_number,
                    "numeroRcsStructure": "", "structurePriveePublique": "PUBLIQUE",
                    "estValideurDeleguee": False,
                    "dateExpirationMotPasseCompteTech": (
                        world.account.password_expiry.isoformat() if structure.attached
                        else None),
                }
                address = structure.address
                parameters = {
                    "codeServiceDoitEtreRenseigne": structure.service_code_required,
                    "numeroEJDoitEtreRenseigne": structure.ej_required,
                    "gestionNumeroEJOuCodeService": False,
                    "statutMiseEnPaiementNestPasRemonte": False,
                    "connexionEDI": False, "recevoirDonneesViaEDI": False,
                    "estMoaUniquement": False, "estValideurDelegue": False, "getaMoa": False,
                    "nonDiffusibleInsee": False,
                }
            else:
                company = world.supplier_by_id(structure_id)
                if company is None:
                    return _functional(CODE_UNKNOWN, "GCU_MSG_05.001 La structure est inconnue")
                info = {
                    "idStructureCPP": company.id, "identifiantStructure": company.siret,
                    "typeIdentifiantStructure": "SIRET", "raisonSocialeStructure": company.name,
                    "libelleStructure": company.name, "nomStructure": "", "prenomStructure": "",
                    "emailStructure": company.email, "numeroTVA": company.vat_number,
                    "numeroRcsStructure": company.rcs, "structurePriveePublique": "PRIVEE",
                    "estValideurDeleguee": False, "dateExpirationMotPasseCompteTech": None,
                }
                address = company.address
                parameters = {
                    "codeServiceDoitEtreRenseigne": False, "numeroEJDoitEtreRenseigne": False,
                    "gestionNumeroEJOuCodeService": False,
                    "statutMiseEnPaiementNestPasRemonte": False, "connexionEDI": False,
                    "recevoirDonneesViaEDI": False, "estMoaUniquement": False,
                    "estValideurDelegue": False, "getaMoa": False, "nonDiffusibleInsee": False,
                }
            return _json({
                "codeRetour": 0, "libelle": "GCU_MSG_01_000",
                "informationGenerales": info,
                "adressePostaleDuSiege": {
                    "adresse": address.street, "complementAdresse1": address.street2,
                    "complementAdresse2": "", "codePostal": address.zip, "ville": address.city,
                    "pays": address.country_code, "telephone": "", "indicatifTelephone": "",
                    "fax": "", "indicatifFax": "",
                },
                "parametres": parameters,
            })

    def op_search_services(self, body: dict) -> Response:
        value = body.get("idStructure", body.get("idStructureCPP"))
        structure_id = _as_int(value, "idStructure", required=True)
        page, size = _paging(body.get("parametresRechercherServicesStructure"),
                             "pageResultatDemandee", "nbResultatsParPage")
        with self.lock:
            structure = self.world.structures.get(structure_id)
            if structure is None:
                if self.world.supplier_by_id(structure_id) is None:
                    return _functional(CODE_UNKNOWN, "GCU_MSG_05.001 La structure est inconnue")
                services = []
            else:
                services = list(structure.services)
        chunk, pages, total = _page_of(services, page, size)
        return _json({
            "codeRetour": 0, "libelle": "GCU_MSG_01_000",
            "listeServices": [{
                "idService": s.id, "codeService": s.code, "libelleService": s.name,
                "estActif": s.active, "statutService": "ACTIF" if s.active else "INACTIF",
            } for s in chunk],
            "parametresRetour": {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                                 "total": total},
        })

    def op_consult_service(self, body: dict) -> Response:
        structure_id = _as_int(body.get("idStructure"), "idStructure", required=True)
        service_id = _as_int(body.get("idService"), "idService", required=True)
        with self.lock:
            structure = self.world.structures.get(structure_id)
            service = structure.service_by_id(service_id) if structure else None
            if service is None:
                return _functional(CODE_UNKNOWN, "GCU_MSG_05.002 Le service est inconnu")
            address = structure.address
            return _json({
                "codeRetour": 0, "libelle": "GCU_MSG_01_000",
                "informationsGenerales": {"codeService": service.code, "nomService": service.name,
                                          "descriptionService": service.name},
                "parametres": {"numeroEngagement": service.ej_required, "miseEnPaiement": False,
                               "dateDebutValidite": None, "dateFinValidite": None,
                               "dateCreation": None, "dateModification": None},
                "adressePostale": {"adresse": address.street, "codePostal": address.zip,
                                   "ville": address.city, "pays": address.country_code},
            })

    # =============================================================================================
    # Admin interface
    # =============================================================================================
    def handle_admin(self, method: str, path: str, query: dict, body: bytes) -> Response:
        sub = path[len(ADMIN_PREFIX):].strip("/")
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _json({"error": "body must be JSON"}, 400)
        if not isinstance(data, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        routes = {
            ("GET", ""): self.admin_index,
            ("GET", "state"): self.admin_state,
            ("GET", "invoices"): lambda d: self.admin_invoices(query),
            ("POST", "deposit"): self.admin_deposit,
            ("POST", "complete"): self.admin_complete,
            ("POST", "move"): self.admin_move,
            ("GET", "faults"): self.admin_list_faults,
            ("POST", "faults"): self.admin_add_fault,
            ("DELETE", "faults"): self.admin_clear_faults,
            ("POST", "faults/clear"): self.admin_clear_faults,
            ("POST", "expire-tokens"): self.admin_expire_tokens,
            ("POST", "credentials"): self.admin_credentials,
            ("POST", "corrupt"): self.admin_corrupt,
            ("GET", "counters"): self.admin_counters,
            ("POST", "counters/reset"): self.admin_reset_counters,
            ("GET", "config"): lambda d: _json(self.config.to_dict()),
            ("POST", "config"): self.admin_config,
            ("POST", "reset"): self.admin_reset,
        }
        if sub.startswith("invoice/") and method == "GET":
            return self.admin_invoice(sub[len("invoice/"):])
        handler = routes.get((method, sub))
        if handler is None:
            known = any(route_sub == sub for _m, route_sub in routes)
            return _json({"error": f"{'method not allowed' if known else 'unknown admin path'}: "
                                   f"{method} {path}"}, 405 if known else 404)
        try:
            return handler(data)
        except (ValueError, TypeError, KeyError) as exc:
            return _json({"error": str(exc)}, 400)

    def admin_index(self, data: dict) -> Response:
        return _json({"endpoints": [
            "GET /_admin/state", "GET /_admin/invoices?tag=&status=&structure_id=",
            "GET /_admin/invoice/<id>", "POST /_admin/deposit", "POST /_admin/complete",
            "POST /_admin/move", "GET|POST|DELETE /_admin/faults", "POST /_admin/faults/clear",
            "POST /_admin/expire-tokens", "POST /_admin/credentials", "POST /_admin/corrupt",
            "GET /_admin/counters", "POST /_admin/counters/reset", "GET|POST /_admin/config",
            "POST /_admin/reset",
        ], "tags": sorted(TAGS)})

    def admin_state(self, data: dict) -> Response:
        with self.lock:
            world = self.world
            by_status: dict[str, int] = {}
            for invoice in world.invoices.values():
                by_status[invoice.status] = by_status.get(invoice.status, 0) + 1
            now = time.monotonic()
            return _json({
                "invoices": len(world.invoices),
                "invoices_by_status": dict(sorted(by_status.items())),
                "structures": [{
                    "idStructureCPP": s.id, "siret": s.siret, "name": s.name, "kind": s.kind,
                    "attached": s.attached, "invoices": len(world.invoices_of(s.id)),
                    "services": [{"idService": v.id, "codeService": v.code, "name": v.name}
                                 for v in s.services],
                } for s in world.structures.values()],
                "suppliers": [{"index": s.index, "idStructureCPP": s.id, "siret": s.siret,
                               "name": s.name, "activity": s.activity}
                              for s in world.suppliers],
                "factors": [{"index": s.index, "idStructureCPP": s.id, "siret": s.siret,
                             "name": s.name} for s in world.factors],
                "seed": world.seed,
                "anchor_date": world.anchor_date.isoformat(),
                "password_expiry": world.account.password_expiry.isoformat(),
                "tokens_active": sum(1 for expiry in self.tokens.values() if expiry > now),
                "faults": [f.to_dict() for f in self.faults],
                "counters": dict(self.counters),
                "config": self.config.to_dict(),
                "documents_cached": len(self.cache),
            })

    def _admin_summary(self, invoice: SimInvoice) -> dict:
        supplier = self.world.supplier_of(invoice)
        return {
            "idFacture": invoice.id, "numeroFacture": invoice.number, "statut": invoice.status,
            "dateHeureEtatCourant": _iso(invoice.status_at), "tags": sorted(invoice.tags),
            "idDestinataire": invoice.structure_id, "codeServiceExecutant": invoice.service_code,
            "typeDemandePaiement": invoice.payment_request_type,
            "typeFacture": invoice.invoice_type, "cadreFacturation": invoice.frame,
            "montantHT": str(invoice.amount_ht), "montantTTC": str(invoice.amount_ttc),
            "montantAPayer": str(invoice.amount_to_pay),
            "supplier_index": invoice.supplier_index, "supplier_siret": supplier.siret,
            "supplier_name": supplier.name, "supplier_id": supplier.id,
            "downloaded": invoice.downloaded, "numeroDPMandat": invoice.mandate_number,
            "structured": invoice.structured, "attachments": len(invoice.attachments),
            "download_refused": invoice.download_refused, "corruption": invoice.corruption,
        }

    def admin_invoices(self, query: dict) -> Response:
        tag = (query.get("tag") or [None])[0]
        status = (query.get("status") or query.get("statut") or [None])[0]
        structure = (query.get("structure_id") or [None])[0]
        with self.lock:
            rows = [
                self._admin_summary(inv) for inv in self.world.invoices.values()
                if (not tag or tag in inv.tags) and (not status or inv.status == status)
                and (not structure or str(inv.structure_id) == structure)
            ]
        return Response(200, json.dumps(rows, ensure_ascii=False).encode("utf-8"))

    def admin_invoice(self, raw_id: str) -> Response:
        with self.lock:
            invoice = self.world.invoices.get(int(raw_id)) if raw_id.isdigit() else None
            if invoice is None:
                return _json({"error": f"unknown invoice {raw_id}"}, 404)
            data = invoice.to_dict()
            data.update(self._admin_summary(invoice))
            # The full state: the attachment list, not the summary's count.
            data["attachments"] = [a.to_dict() for a in invoice.attachments]
            data["history"] = [{
                "id": e.id, "code": e.code, "date": _iso(e.at), "comment": e.comment,
                "user": e.user, "user_last_name": e.user_last_name,
                "user_first_name": e.user_first_name,
            } for e in sorted(invoice.history, key=lambda e: (e.at, e.id))]
            data["size"] = invoice.size
            return _json(data)

    def _admin_target(self, data: dict) -> SimInvoice:
        invoice_id = _as_int(data.get("idFacture"), "idFacture", required=True)
        invoice = self.world.invoices.get(invoice_id)
        if invoice is None:
            raise KeyError(f"unknown invoice {invoice_id}")
        return invoice

    def admin_deposit(self, data: dict) -> Response:
        with self.lock:
            invoice = deposit_invoice(self.world, self.now(), **data)
            self.mark_dirty()
            return _json({"idFacture": invoice.id, "numeroFacture": invoice.number,
                          "statut": invoice.status,
                          "dateHeureEtatCourant": _iso(invoice.status_at)})

    def admin_complete(self, data: dict) -> Response:
        with self.lock:
            invoice = self._admin_target(data)
            if invoice.status != st.SUSPENDUE:
                return _json({"error": f"invoice {invoice.id} is {invoice.status}, not SUSPENDUE"},
                             409)
            supplier = self.world.supplier_of(invoice)
            self._add_history(invoice, st.COMPLETEE, self.now(),
                              str(data.get("comment") or "Pièces complémentaires ajoutées"),
                              (supplier.email, supplier.contact_last_name,
                               supplier.contact_first_name, supplier.email))
            invoice.redelivery = "Complétée"
            if data.get("then_available"):
                self._add_history(invoice, st.MISE_A_DISPOSITION, self.now(), "",
                                  ("SYSTEME", "CHORUS PRO", "", ""))
            self.mark_dirty()
            return _json(self._admin_summary(invoice))

    def admin_move(self, data: dict) -> Response:
        code = data.get("statut")
        if not isinstance(code, str) or not code:
            raise ValueError("statut is required")
        with self.lock:
            invoice = self._admin_target(data)
            actor_name = str(data.get("user") or "HELIOS")
            at = parse_datetime(data["at"]) if data.get("at") else self.now()
            if at is None:
                raise ValueError("at is not a date-time")
            entry = self._add_history(invoice, code, at.astimezone(PARIS),
                                      str(data.get("comment") or ""),
                                      (actor_name, actor_name, "", ""))
            if data.get("numeroDPMandat"):
                invoice.mandate_number = str(data["numeroDPMandat"])
            if code == st.COMPLETEE:
                invoice.redelivery = "Complétée"
            self.mark_dirty()
            summary = self._admin_summary(invoice)
            summary["history_id"] = entry.id
            return _json(summary)

    def admin_list_faults(self, data: dict) -> Response:
        with self.lock:
            return _json({"faults": [f.to_dict() for f in self.faults]})

    def admin_add_fault(self, data: dict) -> Response:
        kind = str(data.get("kind") or "")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
        path = str(data.get("path") or "*").strip()
        path = path.lstrip("/")
        if path.startswith("cpro/"):
            path = path[len("cpro/"):]
        if path not in ("*", TOKEN_KEY) and path not in ROUTES:
            raise ValueError(f"unknown API path {path!r}")
        count = int(data.get("count") or 1)
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = Fault(path=path, kind=kind, remaining=count,
                      retry_after=None if data.get("retry_after") is None
                      else int(data["retry_after"]),
                      delay_s=float(data["delay_s"]) if data.get("delay_s") is not None else 10.0)
        with self.lock:
            self.faults.append(fault)
            return _json({"faults": [f.to_dict() for f in self.faults]})

    def admin_clear_faults(self, data: dict) -> Response:
        with self.lock:
            self.faults.clear()
        return _json({"faults": []})

    def admin_expire_tokens(self, data: dict) -> Response:
        with self.lock:
            expired = len(self.tokens)
            self.tokens.clear()
        return _json({"expired": expired})

    def admin_credentials(self, data: dict) -> Response:
        allowed = {"password", "password_expiry", "client_secret", "client_id", "login"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        with self.lock:
            account = self.world.account
            if data.get("password_expiry") is not None:
                expiry = date.fromisoformat(str(data["password_expiry"]))
            elif data.get("password"):
                expiry = paris_today() + timedelta(days=PASSWORD_VALIDITY_DAYS)
            else:
                expiry = account.password_expiry
            for key in ("password", "client_secret", "client_id", "login"):
                if data.get(key):
                    setattr(account, key, str(data[key]))
            account.password_expiry = expiry
            self.mark_dirty()
            return _json({"login": account.login, "client_id": account.client_id,
                          "password_expiry": account.password_expiry.isoformat()})

    def admin_corrupt(self, data: dict) -> Response:
        kind = str(data.get("kind") or "")
        if kind not in CORRUPTION_KINDS | {"clear"}:
            raise ValueError(f"kind must be one of {sorted(CORRUPTION_KINDS | {'clear'})}")
        with self.lock:
            invoice = self._admin_target(data)
            if kind == "clear":
                invoice.corruption, invoice.download_refused = "", False
            elif kind == CORRUPT_DOWNLOAD_REFUSED:
                invoice.download_refused = True
            else:
                invoice.corruption = kind
            self.mark_dirty()
            return _json(self._admin_summary(invoice))

    def admin_counters(self, data: dict) -> Response:
        with self.lock:
            return _json(dict(self.counters))

    def admin_reset_counters(self, data: dict) -> Response:
        with self.lock:
            self.counters.clear()
        return _json({})

    def admin_config(self, data: dict) -> Response:
        unknown = set(data) - {"latency_ms", "fail_rate", "max_download_mb", "token_ttl"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        with self.lock:
            self.config.update(data)
            return _json(self.config.to_dict())

    def admin_reset(self, data: dict) -> Response:
        """Back to the seeded initial world and the start-up configuration; faults and counters
        cleared; issued tokens stay valid."""
        world = generate_world(**self._generation_args)
        with self.lock:
            self.world = world
            self.config.update(self._initial_config)
            self.faults.clear()
            self.counters.clear()
            self.cache.clear()
            self._fail_rng = random.Random(f"{world.seed}:failures")
            self.mark_dirty()
            return _json({"invoices": len(world.invoices)})


# operation path -> (HTTP method, SimulatorCore method)
ROUTES = {
    "factures/v1/rechercher/recipiendaire": ("POST", "op_search_recipient"),
    "facturesTravaux/v1/rechercher": ("POST", "op_search_works"),
    "factures/v1/consulter/recipiendaire": ("POST", "op_consult"),
    "factures/v1/telecharger/groupe": ("POST", "op_download"),
    "factures/v1/traiter/recue": ("POST", "op_process"),
    "factures/v1/consulter/historique": ("POST", "op_history"),
    "transverses/v1/recuperer/etats/traitement": ("POST", "op_possible_states"),
    "transverses/v1/recuperer/etat/typedp": ("POST", "op_states_by_type"),
    "transverses/v1/recuperer/structures/actives/destinataire": ("POST", "op_active_structures"),
    "transverses/v1/recuperer/tauxtva": ("POST", "op_vat_rates"),
    "transverses/v1/health-check": ("GET", "op_health"),
    "structures/v1/rechercher": ("POST", "op_search_structures"),
    "structures/v1/consulter": ("POST", "op_consult_structure"),
    "structures/v1/rechercher/services": ("POST", "op_search_services"),
    "structures/v1/consulter/service": ("POST", "op_consult_service"),
}


# ================================================================================================
# HTTP layer
# ================================================================================================
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    server_version = "ChorusProSimulator/1.0"
    server: "_HTTPServer"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add
        # ~40 ms to every keep-alive exchange.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):  # noqa: N802 (http.server naming)
        self._dispatch()

    def do_POST(self):  # noqa: N802
        self._dispatch()

    def do_DELETE(self):  # noqa: N802
        self._dispatch()

    def do_PUT(self):  # noqa: N802
        self._dispatch()

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        _logger.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        started = time.monotonic()
        core = self.server.core
        split = urlsplit(self.path)
        path = unquote(split.path)
        body = self._read_body()
        method = self.command
        admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        if admin:
            peer = ipaddress.ip_address(self.client_address[0].split("%")[0])
            mapped = getattr(peer, "ipv4_mapped", None)
            if not (peer.is_loopback or (mapped is not None and mapped.is_loopback)):
                response = _json({"error": "admin interface is loopback only"}, 403)
            else:
                response = core.handle_admin(method, path, parse_qs(split.query), body)
        elif path == TOKEN_PATH:
            response = core.handle_token(method, self.headers, body)
        elif path.startswith(API_PREFIX):
            response = core.handle_api(method, path, self.headers, body)
        else:
            response = _json({"error": "not_found", "error_description": f"No route {path}"}, 404)
        self._send(response)
        level = logging.DEBUG if admin else logging.INFO
        _logger.log(level, "%s %s -> %s in %.1f ms codeRetour=%s", method, path,
                    "RESET" if response.reset else response.status,
                    (time.monotonic() - started) * 1000, response.code_retour)

    def _send(self, response: Response) -> None:
        if response.reset:
            # Abortive close: SO_LINGER 0 makes close() send a TCP RST.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        body = response.body()
        self.send_response(response.status)
        headers = {"Content-Type": "application/json;charset=utf-8"} if body else {}
        headers.update(response.headers)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # connection already reset on purpose


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, core: SimulatorCore):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.core = core
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        _logger.debug("connection error from %s", client_address, exc_info=True)


class Simulator:
    """The simulator bound to a port: in a background thread (``start_in_thread``) for tests,
    or in the foreground (``serve_forever``) for ``python -m chorus_pro.simulator``.

    >>> with Simulator(seed=1).start_in_thread() as sim:   # doctest: +SKIP
    ...     requests.post(sim.token_url, data={...})
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        invoices: Optional[int] = None,
        seed: Optional[int] = None,
        anchor_date: Optional[date] = None,
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        token_ttl: int = 3600,
        max_download_mb: float = 120.0,
        state_path: Optional[str] = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        login: str = DEFAULT_LOGIN,
        password: str = DEFAULT_PASSWORD,
        allow_remote: bool = False,
    ):
        check_bind_host(host, allow_remote)
        config = SimulatorConfig()
        config.update({"latency_ms": latency_ms, "fail_rate": fail_rate, "token_ttl": token_ttl,
                       "max_download_mb": max_download_mb})  # validates the ranges
        self.core = SimulatorCore(
            seed=seed, invoices=invoices, anchor_date=anchor_date, config=config,
            state_path=state_path, client_id=client_id, client_secret=client_secret, login=login,
            password=password,
        )
        self.httpd = _HTTPServer((host, port), self.core)
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    # -- connection data --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def admin_url(self) -> str:
        return self.base_url + ADMIN_PREFIX

    @property
    def world(self) -> World:
        return self.core.world

    @property
    def info(self) -> dict:
        """What the first stdout line of ``python -m chorus_pro.simulator`` holds."""
        world = self.core.world
        account = world.account
        return {
            "base_url": self.base_url,
            "token_url": self.token_url,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "login": account.login,
            "password": account.password,
            "admin_url": self.admin_url,
            "structure_id": world.commune.id,
            "structure_siret": world.commune.siret,
            "second_structure_id": world.ccas.id,
            "second_structure_siret": world.ccas.siret,
            "foreign_structure_id": world.foreign_id,
            "invoices": len(world.invoices),
            "seed": world.seed,
            "anchor_date": world.anchor_date.isoformat(),
            "pid": os.getpid(),
        }

    @property
    def admin(self):
        from .testing import SimulatorAdmin

        return SimulatorAdmin(self.admin_url)

    # -- life cycle -------------------------------------------------------------------------------
    def start_in_thread(self) -> "Simulator":
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"chorus-sim-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving, close the socket and flush the state file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()
        self.core.close()

    def __enter__(self) -> "Simulator":
        if self._thread is None:
            self.start_in_thread()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
