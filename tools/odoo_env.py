"""Find and drive the installed Odoo 18 without importing it in this process.

Shared by ``tools/run_tests.py`` (``make test``), ``tools/demo.py`` (``make demo``) and the
benchmarks. Odoo is started as ``python3 -m odoo`` when the installed package provides
``odoo/__main__.py``, else with ``odoo-bin`` found on the PATH; the database user is never
``postgres`` (Odoo refuses it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDON = "chorus_pro_liaison"
DB_HOST = os.environ.get("PGHOST_ODOO", "127.0.0.1")
DB_PORT = os.environ.get("PGPORT_ODOO", "5432")
DB_USER = os.environ.get("ODOO_DB_USER", "odoo")
PG_ADMIN_USER = os.environ.get("PG_ADMIN_USER", "postgres")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def odoo_info() -> dict | None:
    """Where Odoo is, asked to a child interpreter (so a broken Odoo cannot break us)."""
    code = (
        "import json, os, odoo, odoo.release as r;"
        "root = os.path.dirname(os.path.dirname(odoo.__file__));"
        "print(json.dumps({'version': r.version, 'serie': r.serie, 'package': os.path.dirname(odoo.__file__),"
        " 'root': root, 'main': os.path.exists(os.path.join(os.path.dirname(odoo.__file__), '__main__.py'))}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/"
    )
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def odoo_installed_but_broken() -> str | None:
    """When an ``odoo`` package is present but fails to import, the error (else None).

    Tells "Odoo is not installed" (tests skipped, said loudly) from "Odoo no longer imports"
    (e.g. a dependency upgraded past Odoo's pins: a failure)."""
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.find_spec('odoo')\n"
        "if spec is None: sys.exit(3)\n"
        "import odoo.release\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    if result.returncode in (0, 3):
        return None
    return (result.stderr.strip().splitlines() or ["unknown error"])[-1]


def odoo_requirements(info: dict | None) -> Path | None:
    """Odoo's own requirements.txt, used as a pip constraint so that nothing it pins moves."""
    candidates = []
    if info:
        candidates.append(Path(info["root"]) / "requirements.txt")
    if os.environ.get("ODOO_REQUIREMENTS"):
        candidates.insert(0, Path(os.environ["ODOO_REQUIREMENTS"]))
    return next((path for path in candidates if path.is_file()), None)


def odoo_command(info: dict) -> list[str]:
    if info.get("main"):
        return [sys.executable, "-m", "odoo"]
    odoo_bin = shutil.which("odoo-bin") or shutil.which("odoo")
    if odoo_bin:
        return [odoo_bin]
    root_bin = Path(info["root"]) / "odoo-bin"
    if root_bin.exists():
        return [sys.executable, str(root_bin)]
    raise SystemExit("Odoo is importable but neither `python3 -m odoo` nor odoo-bin is available.")


def addons_path(info: dict) -> str:
    paths = [str(REPO)]
    package_addons = Path(info["package"]) / "addons"
    if package_addons.is_dir():
        paths.append(str(package_addons))
    root_addons = Path(info["root"]) / "addons"
    if root_addons.is_dir() and (root_addons / "account").is_dir() and not (
        package_addons / "account"
    ).is_dir():
        paths.append(str(root_addons))
    return ",".join(paths)


def server_options(info: dict, database: str, data_dir, *, log_level: str = "warn") -> list[str]:
    """The options every scripted Odoo run of ours shares: our addons, the database, a data
    directory of its own, none of Odoo's demo data, no cron thread (tests and benches call the
    crons themselves)."""
    return [
        "--addons-path", addons_path(info),
        *db_args(),
        "-d", database,
        "--data-dir", str(data_dir),
        "--without-demo", "all",
        "--max-cron-threads", "0",
        "--log-level", log_level,
    ]


def db_args() -> list[str]:
    return ["--db_host", DB_HOST, "--db_port", DB_PORT, "--db_user", DB_USER]


def psql(sql: str, *, user: str = PG_ADMIN_USER, database: str = "postgres") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", "-h", DB_HOST, "-p", DB_PORT, "-U", user, "-d", database, "-tAc", sql],
        capture_output=True,
        text=True,
    )


def check_postgres() -> None:
    if not shutil.which("psql"):
        raise SystemExit("PostgreSQL client (psql) not found: install PostgreSQL (Debian: postgresql).")
    result = psql("SELECT 1")
    if result.returncode != 0:
        raise SystemExit(
            f"PostgreSQL is not reachable on {DB_HOST}:{DB_PORT} as {PG_ADMIN_USER}: "
            f"{result.stderr.strip()}\nStart it (e.g. pg_ctlcluster 15 main start)."
        )


def ensure_db_user() -> None:
    """Create the Odoo database role (not a superuser, allowed to create databases)."""
    if DB_USER == "postgres":
        raise SystemExit("Odoo refuses to run with the database user 'postgres': set ODOO_DB_USER.")
    exists = psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'").stdout.strip()
    if exists != "1":
        say(f"creating PostgreSQL role {DB_USER}")
        result = psql(f'CREATE ROLE "{DB_USER}" LOGIN CREATEDB')
        if result.returncode != 0:
            raise SystemExit(f"could not create role {DB_USER}: {result.stderr.strip()}")


def database_exists(name: str) -> bool:
    return psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").stdout.strip() == "1"


def drop_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
