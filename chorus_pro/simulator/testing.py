"""Helpers for tests that need the simulator: a subprocess runner, and the admin client of
:mod:`.admin_client` (re-exported here).

>>> with SimulatorProcess(seed=1, extra_args=["--anchor-date", "2026-03-15"]) as sim:
...     sim.admin.deposit(amount_ht="100.00")
...     client = MyClient(sim.base_url, sim.token_url, sim.info["client_id"], ...)

:class:`SimulatorProcess` runs ``python -m chorus_pro.simulator --port 0`` in its own process
group and reads the JSON connection line; :meth:`SimulatorProcess.stop` ends exactly that
process (by PID: SIGTERM, then SIGKILL after a timeout) and reaps it. For faster tests,
:class:`chorus_pro.simulator.Simulator` runs the same server in a thread of the test process.
Only ``urllib`` is used here, so the helpers work without ``requests``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Optional, Sequence

from .admin_client import SimulatorAdmin, SimulatorError

__all__ = ["SimulatorAdmin", "SimulatorError", "SimulatorProcess"]

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SimulatorProcess:
    """``python -m chorus_pro.simulator`` as a child process (own process group)."""

    def __init__(
        self,
        invoices: Optional[int] = None,
        seed: Optional[int] = None,
        latency_ms: float = 0,
        extra_args: Sequence[str] = (),
        python: str = sys.executable,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        env: Optional[dict] = None,
    ):
        self.invoices = invoices
        self.seed = seed
        self.latency_ms = latency_ms
        self.extra_args = list(extra_args)
        self.python = python
        self.host = host
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.env = env
        self.process: Optional[subprocess.Popen] = None
        self.info: dict = {}
        self._stderr_file = None

    @property
    def command(self) -> list:
        command = [self.python, "-m", "chorus_pro.simulator", "--host", self.host, "--port", "0"]
        if self.invoices is not None:
            command += ["--invoices", str(self.invoices)]
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        if self.latency_ms:
            command += ["--latency-ms", str(self.latency_ms)]
        return command + self.extra_args

    def start(self) -> "SimulatorProcess":
        """Launch the process and wait for its JSON line; raise SimulatorError with the end of
        its stderr if it dies or stays silent."""
        if self.process is not None:
            raise SimulatorError("simulator already started")
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._stderr_file = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._stderr_file, env=env, start_new_session=True,
        )
        lines: "queue.Queue[bytes]" = queue.Queue()
        reader = threading.Thread(target=lambda: lines.put(self.process.stdout.readline()),
                                  daemon=True)
        reader.start()
        try:
            first_line = lines.get(timeout=self.startup_timeout)
        except queue.Empty:
            first_line = b""
        if not first_line.strip():
            tail = self.stderr_tail()
            self.stop()
            raise SimulatorError(f"simulator did not start (command {' '.join(self.command)}); "
                                 f"stderr tail:\n{tail}")
        try:
            self.info = json.loads(first_line.decode("utf-8"))
        except ValueError:
            tail = self.stderr_tail()
            self.stop()
            raise SimulatorError(f"unexpected first line {first_line[:200]!r}; stderr tail:\n"
                                 f"{tail}") from None
        return self

    def stderr_tail(self, size: int = 4000) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.seek(0, os.SEEK_END)
        end = self._stderr_file.tell()
        self._stderr_file.seek(max(0, end - size))
        return self._stderr_file.read().decode("utf-8", "replace")

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def token_url(self) -> str:
        return self.info["token_url"]

    @property
    def admin_url(self) -> str:
        return self.info["admin_url"]

    @property
    def admin(self) -> SimulatorAdmin:
        return SimulatorAdmin(self.admin_url)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> Optional[int]:
        """SIGTERM the process (by PID), SIGKILL it after ``stop_timeout``, reap it; returns its
        exit code (None if it was never started)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=self.stop_timeout)
            except ProcessLookupError:
                pass
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        self.process = None
        return process.returncode

    def __enter__(self) -> "SimulatorProcess":
        return self if self.process is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
