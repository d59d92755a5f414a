#!/usr/bin/env python3
"""``make demo``: a usable Odoo with the addon connected to the local Chorus Pro simulator.

Steps, each announced: install the Python requirements (Odoo's pins as constraints), start the
simulator (background, PID in var/demo/), create or reuse the database ``chorus_demo`` with the
addon and a French company (a commune) configured against the simulator, then run Odoo on
http://127.0.0.1:8069 (login ``admin``, password ``admin``) until Ctrl-C, which also stops the
simulator. ``--stop`` stops a simulator left running.

The database holds no demo data of Odoo's (``--without-demo all``: no demo companies, partners or
products); only ours: the commune, its Chorus Pro account, its budgets and articles
(``chorus.pro.budget._create_demo_data``) and the invoices of the first retrieval.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import odoo_env  # noqa: E402
from odoo_env import ADDON, REPO, say  # noqa: E402

DATABASE = os.environ.get("CHORUS_DEMO_DB", "chorus_demo")
VAR = REPO / "var" / "demo"
SIMULATOR_PORT = int(os.environ.get("CHORUS_DEMO_SIMULATOR_PORT", "8123"))
ODOO_PORT = int(os.environ.get("CHORUS_DEMO_ODOO_PORT", "8069"))
# Measured on 2 cores: creating the database (Odoo, the French chart, the addon, the French
# translation) and the first retrieval; later starts reuse the database.
FIRST_START = "about 3 minutes"

SETUP_SCRIPT = r"""
import json
info = json.loads(%(info)r)
company = env.ref("base.main_company")
france = env.ref("base.fr")
company.write({"name": "Commune de Saint-Exemple", "country_id": france.id, "city": "Saint-Exemple",
               "zip": "73000", "street": "1 place de la Mairie", "siret": info.get("structure_siret") or False})
if company.chart_template != "fr":
    env["account.chart.template"].try_loading("fr", company, install_demo=False)
# Our demo data only: a budget principal and a VAT-recovering budget annexe, with M57 articles.
env["chorus.pro.budget"]._create_demo_data(company)
env.user.write({"lang": "fr_FR"}) if env["res.lang"]._lang_get("fr_FR") else None
Account = env["chorus.pro.account"]
account = Account._for_company(company) or Account.create({"company_id": company.id})
account.write(dict(Account._simulator_values(info),
                   reminder_user_ids=[(6, 0, env.ref("base.user_admin").ids)]))
account.action_test_connection()
print("DEMO-SETUP connection test:", "OK" if account.last_test_ok else "FAILED")
print(account.last_test_report)
env.cr.commit()
if account.last_test_ok and not account.last_sync_at:
    run = env["chorus.pro.run"].create({"company_id": company.id, "account_id": account.id,
                                         "run_type": "sync", "trigger": "manual",
                                         "user_id": env.ref("base.user_admin").id})
    run._execute()
    print("DEMO-SETUP first retrieval:", run.summary)
env.cr.commit()
"""


def start_simulator(port: int) -> dict:
    VAR.mkdir(parents=True, exist_ok=True)
    pid_file = VAR / "simulator.pid"
    info_file = VAR / "simulator.json"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), 0)
            say(f"simulator already running (PID {pid_file.read_text().strip()})")
            return json.loads(info_file.read_text())
        except (OSError, ValueError):
            pid_file.unlink()
    say(f"starting the Chorus Pro simulator on 127.0.0.1:{port}")
    log = open(VAR / "simulator.log", "a")
    process = subprocess.Popen(
        [sys.executable, "-m", "chorus_pro.simulator", "--host", "127.0.0.1",
         "--port", str(port), "--state", str(VAR / "simulator-state.json")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True,
    )
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"the simulator did not start; see {VAR / 'simulator.log'}")
    info = json.loads(line)
    pid_file.write_text(str(process.pid))
    info_file.write_text(json.dumps(info))
    say(f"simulator ready at {info['base_url']} (PID {process.pid})")
    return info


def stop_simulator() -> None:
    pid_file = VAR / "simulator.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        say(f"simulator stopped (PID {pid})")
    except OSError:
        pass
    pid_file.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stop", action="store_true")
    parser.add_argument("--no-serve", action="store_true", help="prepare everything, don't run Odoo")
    parser.add_argument("--no-install", action="store_true",
                        help="skip installing the Python requirements (already done)")
    parser.add_argument("--reset", action="store_true",
                        help=f"drop the database {DATABASE} first and create it again")
    parser.add_argument("--port", type=int, default=ODOO_PORT,
                        help="Odoo's HTTP port (default %(default)s, env CHORUS_DEMO_ODOO_PORT)")
    parser.add_argument("--simulator-port", type=int, default=SIMULATOR_PORT,
                        help="the simulator's port (default %(default)s, "
                        "env CHORUS_DEMO_SIMULATOR_PORT)")
    args = parser.parse_args()
    if args.stop:
        stop_simulator()
        return 0

    say("checking Odoo 18")
    info = odoo_env.odoo_info()
    if info is None:
        raise SystemExit(
            "Odoo 18.0 is not importable by this python3: install Odoo 18.0 Community into this "
            "environment first (see README, Requirements)."
        )
    if not str(info["serie"]).startswith("18."):
        raise SystemExit(f"Odoo {info['version']} found; this addon needs 18.0.")
    say("checking PostgreSQL")
    odoo_env.check_postgres()
    odoo_env.ensure_db_user()
    if not args.no_install:
        say("installing the Python requirements")
        if subprocess.call([sys.executable, str(REPO / "tools" / "install_requirements.py")]):
            raise SystemExit("installing the requirements failed")

    started = time.monotonic()
    sim = start_simulator(args.simulator_port)
    options = ["--addons-path", odoo_env.addons_path(info), *odoo_env.db_args(), "-d", DATABASE,
               "--data-dir", str(VAR / "data")]
    odoo = [*odoo_env.odoo_command(info), *options]
    odoo_shell = [*odoo_env.odoo_command(info), "shell", *options]
    try:
        if args.reset and odoo_env.database_exists(DATABASE):
            say(f"dropping database {DATABASE} (--reset)")
            odoo_env.drop_database(DATABASE)
        if odoo_env.database_exists(DATABASE):
            say(f"reusing database {DATABASE}; updating the addon (--reset starts afresh)")
            init = ["-u", ADDON]
        else:
            say(f"creating database {DATABASE} with the addon and the French chart of accounts, "
                f"without Odoo's demo data; the first start takes {FIRST_START}")
            init = ["-i", f"{ADDON},l10n_fr_account", "--load-language", "fr_FR",
                    "--without-demo", "all"]
        if subprocess.call([*odoo, *init, "--stop-after-init", "--log-level", "warn"]):
            raise SystemExit("installing the addon failed (see the log above)")
        say("configuring the commune's Chorus Pro account against the simulator")
        setup = SETUP_SCRIPT % {"info": json.dumps(sim)}
        result = subprocess.run([*odoo_shell, "--no-http", "--log-level", "warn"],
                                input=setup, text=True, capture_output=True)
        print("\n".join(l for l in result.stdout.splitlines() if l.strip()))
        if result.returncode or "DEMO-SETUP" not in result.stdout:
            print(result.stderr[-3000:])
            raise SystemExit("configuring the demo failed")
        say(f"ready in {time.monotonic() - started:.0f} s")
        if args.no_serve:
            return 0
        say(f"starting Odoo on http://127.0.0.1:{args.port} — login admin / password admin "
            "(Ctrl-C stops Odoo and the simulator)")
        process = subprocess.Popen([*odoo, "--http-interface", "127.0.0.1",
                                    "--http-port", str(args.port)])
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
            return 0
    finally:
        if not args.no_serve:
            stop_simulator()


if __name__ == "__main__":
    time.tzset() if hasattr(time, "tzset") else None
    sys.exit(main())
