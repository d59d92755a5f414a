"""The simulator's state and request entry points (:class:`SimulatorCore`), without HTTP.

:class:`SimulatorCore` holds the world and every piece of mutable state (tokens, queued faults,
counters, configuration) behind one re-entrant lock, authenticates requests (token endpoint,
bearer token, ``cpro-account``) and hands them to the Chorus operations (:mod:`.operations`) or
the admin interface (:mod:`.admin`), which turn them into :class:`.protocol.Response` objects.
The HTTP layer is :mod:`.http_server`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import secrets
import threading
import time
from datetime import datetime
from typing import Optional
from urllib.parse import parse_qs

from chorus_pro.timeutil import PARIS, paris_today

from . import documents
from .admin import AdminInterface
from .checks import BadRequest, Forbidden
from .generator import generate_world
from .operations import ROUTES, ChorusOperations
from .protocol import (
    API_PREFIX, CODE_INVALID_REQUEST, TOKEN_KEY, Response, _functional, _json,
)
from .runtime import Fault, SimulatorConfig
from .world import World

_logger = logging.getLogger("chorus_pro.simulator")


# Marker of a "no_code" fault: the operation runs, its answer loses codeRetour and libelle.
WITHOUT_CODE = Response(200, None)


def _without_code(response: Response) -> Response:
    if response.status == 200 and isinstance(response.payload, dict):
        payload = {key: value for key, value in response.payload.items()
                   if key not in ("codeRetour", "libelle")}
        return Response(200, payload, dict(response.headers))
    return response


class SimulatorCore(ChorusOperations, AdminInterface):
    """All the simulator's state and protocol logic, independent of the HTTP plumbing."""

    def __init__(
        self,
        *,
        config: Optional[SimulatorConfig] = None,
        state_path: Optional[str] = None,
        **world_options,
    ):
        """``world_options`` are :func:`generate_world`'s (seed, invoices, anchor_date, the
        account's credentials); the anchor date defaults to today in Paris."""
        self.lock = threading.RLock()
        self.config = config or SimulatorConfig()
        self._generation_args = dict(world_options)
        self._generation_args["anchor_date"] = world_options.get("anchor_date") or paris_today()
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
        # Invoices deposited while a search is being paged (see AdminInterface.admin_arrivals).
        self.arrivals: list[dict] = []
        self.counters: dict[str, int] = {}
        # Chorus and token calls being served now, and the most at once since the counters were
        # reset (a client's limit on its calls in flight is checked against it).
        self.in_flight = 0
        self.max_in_flight = 0
        # How often each invoice was asked in a download, by format ("PIVOT", "PDF"), since the
        # counters were reset (what a retry asks again is checked against it).
        self.downloads_asked: dict[tuple[str, int], int] = {}
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

    def call_started(self) -> None:
        """A Chorus or token call is being served (see :meth:`call_ended`)."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def call_ended(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def reset_counters(self) -> None:
        """Calls per operation, the most calls at once and the downloads asked start again."""
        with self.lock:
            self.counters.clear()
            self.max_in_flight = self.in_flight
            self.downloads_asked.clear()

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
        """The answer a queued fault imposes (None: go on normally, e.g. after a timeout;
        :data:`WITHOUT_CODE`: go on, then drop codeRetour from the answer)."""
        if fault.kind == "no_code":
            return WITHOUT_CODE
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
        answer = self._before_call(TOKEN_KEY)
        if answer is not None and answer is not WITHOUT_CODE:
            return answer
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

    def _before_call(self, key: str) -> Optional[Response]:
        """Count the call, play a queued fault (its answer, if it imposes one), then the
        configured latency."""
        self._count(key)
        fault = self._take_fault(key)
        answer = None
        if fault is not None:
            answer = self._fault_response(fault)
            if answer is not None and answer is not WITHOUT_CODE:
                return answer
        latency = self.config.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        return answer

    # -- API entry point --------------------------------------------------------------------------
    def handle_api(self, method: str, path: str, headers, body: bytes) -> Response:
        key = path[len(API_PREFIX):].strip("/")
        route = ROUTES.get(key)
        if route is None:
            return _json({"error": "not_found",
                          "error_description": f"No API operation at {path}"}, 404)
        answer = self._before_call(key)
        if answer is WITHOUT_CODE:
            return _without_code(self._dispatch(method, path, key, route, headers, body))
        if answer is not None:
            return answer
        return self._dispatch(method, path, key, route, headers, body)

    def _dispatch(self, method: str, path: str, key: str, route, headers, body: bytes) -> Response:
        route_method, handler_name = route
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
        if payload and self.arrivals:
            self._play_arrivals(key, payload)
        try:
            return getattr(self, handler_name)(payload)
        except BadRequest as exc:
            return _functional(CODE_INVALID_REQUEST, f"Requête invalide : {exc}", 400)
        except Forbidden:
            return Response(403, None)

    def _play_arrivals(self, key: str, payload: dict) -> None:
        """Deposit the invoices queued to arrive just before page N of a search on ``key`` is
        served: the listing changes between two pages, as on the real portal during a long
        first retrieval."""
        page = next((value.get("pageResultatDemandee") for value in payload.values()
                     if isinstance(value, dict) and "pageResultatDemandee" in value), None)
        with self.lock:
            due = [arrival for arrival in self.arrivals
                   if arrival["path"] == key and str(arrival["page"]) == str(page)]
            for arrival in due:
                self.arrivals.remove(arrival)
                for overrides in arrival["deposits"]:
                    self.admin_deposit(dict(overrides))

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
