"""The admin interface of the simulator (``/_admin``): JSON in and out, loopback only.

Deposits, the supplier's completion, Hélios moves, faults, token expiry, credentials, corruption,
counters, configuration and reset (the README's section "Admin interface" lists them).
:class:`AdminInterface` is a part of :class:`.core.SimulatorCore`.
"""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import date

from chorus_pro import statuses as st
from chorus_pro.account import password_expiry
from chorus_pro.timeutil import PARIS, paris_today, parse_datetime

from . import documents
from .checks import _as_int
from .generator import deposit_invoice, generate_world
from .operations import ROUTES, _iso
from .protocol import ADMIN_PREFIX, TOKEN_KEY, Response, _json
from .runtime import FAULT_KINDS, Fault, SimulatorConfig
from .world import CORRUPT_DOWNLOAD_REFUSED, CORRUPTION_KINDS, TAGS, SimInvoice, World


class AdminInterface:
    """``/_admin`` endpoints; mixed into :class:`.core.SimulatorCore`."""

    # Held by SimulatorCore.
    lock: threading.RLock
    world: World
    config: SimulatorConfig
    cache: documents.DocumentCache
    tokens: dict
    faults: list
    counters: dict
    in_flight: int
    max_in_flight: int
    downloads_asked: dict

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
            ("GET", "arrivals"): lambda d: _json({"arrivals": list(self.arrivals)}),
            ("POST", "arrivals"): self.admin_arrivals,
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
            ("GET", "in-flight"): self.admin_in_flight,
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
            "GET /_admin/counters", "GET /_admin/in-flight", "POST /_admin/counters/reset",
            "GET|POST /_admin/config",
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
            data["downloads_asked"] = {
                file_format: self.downloads_asked.get((file_format, invoice.id), 0)
                for file_format in ("PIVOT", "PDF")
            }
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

    def admin_arrivals(self, data: dict) -> Response:
        """``{path, page?, deposits: [deposit overrides...]}``: those invoices are deposited
        just before page ``page`` (default 2) of the next search on ``path`` is served."""
        path = str(data.get("path") or "").strip("/")
        if path not in ROUTES:
            raise ValueError(f"unknown API path {path!r}")
        page = _as_int(data.get("page"), "page") or 2
        deposits = data.get("deposits") or [{}]
        if not isinstance(deposits, list) or not all(isinstance(d, dict) for d in deposits):
            raise ValueError("deposits must be a list of deposit overrides")
        with self.lock:
            self.arrivals.append({"path": path, "page": page, "deposits": deposits})
            return _json({"arrivals": list(self.arrivals)})

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
                expiry = password_expiry(paris_today())
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

    def admin_in_flight(self, data: dict) -> Response:
        with self.lock:
            return _json({"in_flight": self.in_flight, "max_in_flight": self.max_in_flight})

    def admin_reset_counters(self, data: dict) -> Response:
        self.reset_counters()
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
            self.arrivals.clear()
            self.reset_counters()
            self.cache.clear()
            self._fail_rng = random.Random(f"{world.seed}:failures")
            self.mark_dirty()
            return _json({"invoices": len(world.invoices)})
