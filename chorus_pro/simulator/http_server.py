"""HTTP plumbing of the simulator: a stdlib ``ThreadingHTTPServer`` on loopback around
:class:`.core.SimulatorCore`, and :class:`Simulator`, the server bound to a port (in a background
thread for tests, in the foreground for ``python -m chorus_pro.simulator``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from .admin_client import SimulatorAdmin
from .core import SimulatorCore
from .protocol import ADMIN_PREFIX, API_PREFIX, TOKEN_PATH, Response, _json
from .runtime import SimulatorConfig
from .world import World

_logger = logging.getLogger("chorus_pro.simulator")


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
            self._send(response)
        elif path == TOKEN_PATH or path.startswith(API_PREFIX):
            # In flight while it is served: ended before its answer goes out, so that a client
            # that has read the answer and sends its next call is never counted twice.
            core.call_started()
            try:
                if path == TOKEN_PATH:
                    response = core.handle_token(method, self.headers, body)
                else:
                    response = core.handle_api(method, path, self.headers, body)
            finally:
                core.call_ended()
            self._send(response)
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
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        token_ttl: int = 3600,
        max_download_mb: float = 120.0,
        state_path: Optional[str] = None,
        allow_remote: bool = False,
        **world_options,
    ):
        """``world_options``: the seeded world's (see :class:`SimulatorCore`)."""
        check_bind_host(host, allow_remote)
        config = SimulatorConfig()
        config.update({"latency_ms": latency_ms, "fail_rate": fail_rate, "token_ttl": token_ttl,
                       "max_download_mb": max_download_mb})  # validates the ranges
        self.core = SimulatorCore(
            config=config, state_path=state_path, **world_options,
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
    def admin(self) -> SimulatorAdmin:
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
        return self if self._thread is not None else self.start_in_thread()

    def __exit__(self, *exc) -> None:
        self.shutdown()
