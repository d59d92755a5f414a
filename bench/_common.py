"""Shared plumbing of the benchmarks: a fresh Odoo database with the addon, a simulator, and
Python code run inside ``odoo shell`` (a real Odoo process, committing like production)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO))

import odoo_env  # noqa: E402

from chorus_pro.simulator.testing import SimulatorProcess  # noqa: E402,F401


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


class OdooDatabase:
    """A fresh database with the addon installed; dropped at the end unless kept."""

    def __init__(self, name: str | None = None, keep: bool = False):
        self.info = odoo_env.odoo_info()
        if self.info is None:
            raise SystemExit("Odoo 18 is not importable: the benchmarks need it.")
        odoo_env.check_postgres()
        odoo_env.ensure_db_user()
        self.name = name or f"chorus_bench_{os.getpid()}"
        self.keep = keep
        self.data_dir = Path("/tmp") / f"{self.name}_data"

    def base_command(self, subcommand: str | None = None) -> list[str]:
        return [
            *odoo_env.odoo_command(self.info),
            *([subcommand] if subcommand else []),
            "--addons-path", odoo_env.addons_path(self.info),
            *odoo_env.db_args(),
            "-d", self.name,
            "--data-dir", str(self.data_dir),
        ]

    def create(self, modules: str = odoo_env.ADDON) -> None:
        odoo_env.drop_database(self.name)
        started = time.time()
        log(f"creating database {self.name} with {modules}")
        result = subprocess.run(
            [*self.base_command(), "-i", modules, "--without-demo", "all",
             "--stop-after-init", "--log-level", "warn", "--http-port", str(odoo_env.free_port())],
            cwd=REPO, capture_output=True, text=True,
        )
        if result.returncode:
            raise SystemExit(f"installing {modules} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        log(f"database ready in {time.time() - started:.0f} s")

    def shell(self, code: str, *, log_level: str = "warn", popen: bool = False):
        """Run ``code`` inside ``odoo shell`` (``env`` is defined). Lines the code prints as
        ``RESULT <json>`` are returned as dicts."""
        command = [*self.base_command("shell"), "--no-http", "--log-level", log_level]
        if popen:
            process = subprocess.Popen(
                command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, start_new_session=True,
            )
            process.stdin.write(code)
            process.stdin.close()
            return process
        result = subprocess.run(command, cwd=REPO, input=code, capture_output=True, text=True)
        results = [
            json.loads(line[len("RESULT "):]) for line in result.stdout.splitlines()
            if line.startswith("RESULT ")
        ]
        if result.returncode or not results:
            raise SystemExit(
                f"odoo shell failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return results

    def drop(self) -> None:
        if not self.keep:
            odoo_env.drop_database(self.name)
            subprocess.run(["rm", "-rf", str(self.data_dir)])


CONFIGURE_ACCOUNT = r"""
import json
info = json.loads({info!r})
company = env.ref("base.main_company")
Account = env["chorus.pro.account"]
account = Account._for_company(company) or Account.create({{"company_id": company.id}})
account.write(dict(Account._simulator_values(info),
                   sync_cutoff_date="2000-01-01", sync_cutoff_mode="history"))
env.cr.commit()
"""

RUN_SYNC = r"""
import json, resource, time
account = env["chorus.pro.account"]._for_company(env.ref("base.main_company"))
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
run = env["chorus.pro.run"].create({{"company_id": account.company_id.id, "account_id": account.id,
                                     "run_type": "sync", "trigger": "cron"}})
env.cr.commit()
import threading
thread = threading.current_thread()
thread.query_count, thread.query_time = 0, 0.0  # counted by odoo.sql_db
profile_path = {profile!r}
profiler = None
if profile_path:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
cpu_before = resource.getrusage(resource.RUSAGE_SELF)
started = time.monotonic()
run._execute()
elapsed = time.monotonic() - started
cpu_after = resource.getrusage(resource.RUSAGE_SELF)
if profiler:
    profiler.disable()
    profiler.dump_stats(profile_path)
queries = thread.query_count
env.cr.commit()
env.cr.execute("SELECT count(*), count(DISTINCT (company_id, chorus_id)) FROM chorus_pro_invoice")
rows, distinct = env.cr.fetchone()
print("RESULT " + json.dumps({{
    "seconds": elapsed, "state": run.state, "new": run.count_new, "updated": run.count_updated,
    "unchanged": run.count_unchanged, "failed": run.count_failed, "calls": run.count_calls,
    "downloads": run.count_downloads, "rows": rows, "duplicates": rows - distinct,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "rss_before_mb": rss_before, "summary": run.summary,
    # CPU time of this Odoo process (all its threads), less sensitive to a busy machine.
    "odoo_cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime
                        - cpu_before.ru_utime - cpu_before.ru_stime, 2), "queries": queries,
}}))
"""
