"""A client of the simulator's admin interface (``/_admin``): :class:`SimulatorAdmin`.

Used by tests, benchmarks and :attr:`chorus_pro.simulator.Simulator.admin`; also re-exported by
:mod:`chorus_pro.simulator.testing`. Only ``urllib`` is used, so it works without ``requests``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional


class SimulatorError(RuntimeError):
    """The simulator process could not be started, or an admin call failed."""

    def __init__(self, message: str, status: Optional[int] = None, body=None):
        super().__init__(message)
        self.status = status
        self.body = body


class SimulatorAdmin:
    """One method per ``/_admin`` endpoint; every method returns the decoded JSON answer."""

    def __init__(self, admin_url: str, timeout: float = 30.0):
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Optional[dict] = None,
              query: Optional[dict] = None):
        url = f"{self.admin_url}/{path}" if path else self.admin_url
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        # The admin interface is on loopback: never go through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw.decode("utf-8"))
            except ValueError:
                detail = raw.decode("utf-8", "replace")
            raise SimulatorError(f"admin {method} /{path} failed: HTTP {exc.code} {detail}",
                                 exc.code, detail) from None
        return json.loads(body.decode("utf-8")) if body else None

    # -- reading -----------------------------------------------------------------------------
    def state(self) -> dict:
        return self._call("GET", "state")

    def invoices(self, tag: Optional[str] = None, status: Optional[str] = None,
                 structure_id: Optional[int] = None) -> list:
        """Summaries (idFacture, numeroFacture, statut, tags, idDestinataire, supplier_siret...)."""
        return self._call("GET", "invoices", query={"tag": tag, "status": status,
                                                    "structure_id": structure_id})

    def invoice(self, invoice_id: int) -> dict:
        """Full internal state of one invoice, history entries included, and how often it was
        asked in a download since the counters were reset (``downloads_asked``: by format)."""
        return self._call("GET", f"invoice/{int(invoice_id)}")

    def first(self, tag: str) -> dict:
        """The first invoice carrying ``tag`` (summary)."""
        found = self.invoices(tag=tag)
        if not found:
            raise SimulatorError(f"no invoice tagged {tag!r}")
        return found[0]

    def counters(self) -> dict:
        return self._call("GET", "counters")

    def in_flight(self) -> dict:
        """``{in_flight, max_in_flight}``: Chorus and token calls being served, and the most at
        once since the counters were reset."""
        return self._call("GET", "in-flight")

    def wait_until_idle(self, timeout: float = 15.0) -> None:
        """Wait (at most ``timeout`` seconds) until no call is being served: calls a client gave
        up on (a timeout fault) may still be served for a moment."""
        deadline = time.monotonic() + timeout
        while self.in_flight()["in_flight"]:
            if time.monotonic() > deadline:
                raise SimulatorError(f"calls still served after {timeout} s")
            time.sleep(0.05)

    def faults(self) -> list:
        return self._call("GET", "faults")["faults"]

    def get_config(self) -> dict:
        return self._call("GET", "config")

    # -- acting ------------------------------------------------------------------------------
    def deposit(self, **overrides) -> dict:
        """New invoice in MISE_A_DISPOSITION; returns ``{"idFacture": ..., ...}``."""
        return self._call("POST", "deposit", overrides)

    def arrive_between_pages(self, path: str, deposits: Optional[list] = None,
                             page: int = 2) -> list:
        """Deposit ``deposits`` (each a dict of :meth:`deposit` overrides; default one invoice)
        just before page ``page`` of the next search on ``path`` is served."""
        return self._call("POST", "arrivals", {"path": path, "page": page,
                                               "deposits": deposits or [{}]})["arrivals"]

    def complete(self, invoice_id: int, comment: Optional[str] = None,
                 then_available: bool = False) -> dict:
        payload = {"idFacture": int(invoice_id), "then_available": then_available}
        if comment is not None:
            payload["comment"] = comment
        return self._call("POST", "complete", payload)

    def move(self, invoice_id: int, status: str, comment: str = "", **extra) -> dict:
        return self._call("POST", "move", {"idFacture": int(invoice_id), "statut": status,
                                           "comment": comment, **extra})

    def fault(self, path: str, kind: str, count: int = 1, retry_after: Optional[int] = None,
              delay_s: Optional[float] = None) -> list:
        payload = {"path": path, "kind": str(kind), "count": count}
        if retry_after is not None:
            payload["retry_after"] = retry_after
        if delay_s is not None:
            payload["delay_s"] = delay_s
        return self._call("POST", "faults", payload)["faults"]

    def clear_faults(self) -> None:
        self._call("POST", "faults/clear", {})

    def expire_tokens(self) -> dict:
        return self._call("POST", "expire-tokens", {})

    def credentials(self, **values) -> dict:
        """``password``, ``password_expiry`` (YYYY-MM-DD), ``client_secret``, ``client_id``,
        ``login``."""
        return self._call("POST", "credentials", values)

    def corrupt(self, invoice_id: int, kind: str) -> dict:
        """``malformed_pivot`` | ``broken_xml`` | ``too_large`` | ``download_refused`` |
        ``zip_bomb`` | ``path_member`` | ``no_rendering`` | ``clear``."""
        return self._call("POST", "corrupt", {"idFacture": int(invoice_id), "kind": kind})

    def reset_counters(self) -> None:
        self._call("POST", "counters/reset", {})

    def config(self, **values) -> dict:
        """``latency_ms``, ``fail_rate``, ``max_download_mb``, ``token_ttl``."""
        return self._call("POST", "config", values)

    def reset(self) -> dict:
        return self._call("POST", "reset", {})
