#!/usr/bin/env python3
"""Step 4 benchmark: N invoices ready to mandate, mandated in one "Mandater" action.

In a fresh Odoo database with the addon, against the simulator started with enough invoices:
the real retrieval brings them in, N of them are certified Service fait in Chorus (simulator
admin) and retrieved again, their suppliers are matched and their bank accounts trusted
(set-based), then the mandating screen is opened on them and "Mandater" is clicked once: the
run it starts (in the background above the threshold, executed here as the job cron would) is
timed until every mandate is created, validated, numbered and pushed to Chorus as MANDATEE.

Prints progress on stderr and, on its LAST line:
``mandates=… mandate_s=… per_mandate_ms=… chorus_calls=…`` (chorus_calls: Chorus Pro API calls
made during the action, the OAuth token excluded). Target: 500 mandates in under 60 s on 2
cores, at most one Chorus call per mandate.
"""

from __future__ import annotations

import argparse
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

from chorus_pro.simulator.testing import SimulatorProcess  # noqa: E402

TOKEN = "api/oauth/token"


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


class Database:
    """A fresh database with the addon; code runs in ``odoo shell`` (commits like production)."""

    def __init__(self, keep: bool = False):
        self.info = odoo_env.odoo_info()
        if self.info is None:
            raise SystemExit("Odoo 18 is not importable: the benchmark needs it.")
        odoo_env.check_postgres()
        odoo_env.ensure_db_user()
        self.name = f"chorus_bench_mandate_{os.getpid()}"
        self.keep = keep
        self.data_dir = Path("/tmp") / f"{self.name}_data"

    def command(self, subcommand=None):
        return [
            *odoo_env.odoo_command(self.info), *([subcommand] if subcommand else []),
            "--addons-path", odoo_env.addons_path(self.info), *odoo_env.db_args(),
            "-d", self.name, "--data-dir", str(self.data_dir),
        ]

    def create(self):
        odoo_env.drop_database(self.name)
        started = time.time()
        result = subprocess.run(
            [*self.command(), "-i", odoo_env.ADDON, "--without-demo", "all", "--stop-after-init",
             "--log-level", "warn", "--http-port", str(odoo_env.free_port())],
            cwd=REPO, capture_output=True, text=True,
        )
        if result.returncode:
            raise SystemExit(f"installing the addon failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        log(f"database {self.name} ready in {time.time() - started:.0f} s")

    def shell(self, code: str) -> dict:
        result = subprocess.run(
            [*self.command("shell"), "--no-http", "--log-level", "warn"],
            cwd=REPO, input=code, capture_output=True, text=True,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        if result.returncode or not lines:
            raise SystemExit(f"odoo shell failed (exit {result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return json.loads(lines[-1][len("RESULT "):])

    def drop(self):
        if not self.keep:
            odoo_env.drop_database(self.name)
            subprocess.run(["rm", "-rf", str(self.data_dir)])


SETUP = r"""
import json
info = json.loads({info!r})
company = env.ref("base.main_company")
euro = env.ref("base.EUR")
if company.currency_id != euro:
    euro.active = True
    company.write({{"currency_id": euro.id, "country_id": env.ref("base.fr").id}})
env.user.groups_id |= env.ref("account.group_validate_bank_account")
Account = env["chorus.pro.account"]
account = Account._for_company(company) or Account.create({{"company_id": company.id}})
account.write({{
    "enabled": True, "environment": "custom",
    "custom_api_url": info["base_url"], "custom_token_url": info["token_url"],
    "technical_login": info["login"], "technical_password": info["password"],
    "piste_client_id": info["client_id"], "piste_client_secret": info["client_secret"],
    "structure_chorus_id": info["structure_id"],
    "sync_cutoff_date": "2000-01-01", "sync_cutoff_mode": "history",
}})
expense = env["account.account"].create({{"code": "604200", "name": "Achats de prestations de services",
                                         "account_type": "expense", "company_ids": [(4, company.id)]}})
budget = env["chorus.pro.budget"].create({{"name": "Budget principal", "code": "00",
                                          "vat_recovering": False, "company_id": company.id}})
env["chorus.pro.budget.article"].create({{"budget_id": budget.id, "code": "6042", "chapter": "011",
                                         "name": "Achats de prestations de services",
                                         "account_id": expense.id}})
env.cr.commit()
print("RESULT " + json.dumps({{"budget": budget.id}}))
"""

SYNC = r"""
import json, time
account = env["chorus.pro.account"]._for_company(env.ref("base.main_company"))
run = env["chorus.pro.run"].create({{"company_id": account.company_id.id, "account_id": account.id,
                                     "run_type": "sync", "trigger": "cron"}})
env.cr.commit()
started = time.monotonic()
run._execute()
env.cr.commit()
Invoice = env["chorus.pro.invoice"]
candidates = Invoice.search([
    ("chorus_status", "=", "MISE_A_DISPOSITION"), ("invoice_type", "=", "invoice"),
    ("frame", "=", "A1_FACTURE_FOURNISSEUR"), ("is_works", "=", False), ("is_factored", "=", False),
    ("files_state", "=", "done"), ("imported_as_history", "=", False),
], order="id")
print("RESULT " + json.dumps({{"seconds": time.monotonic() - started, "state": run.state,
                               "summary": run.summary, "candidates": candidates.mapped("chorus_id")}}))
"""

MATCH = r"""
import json
chorus_ids = json.loads({chorus_ids!r})
Invoice = env["chorus.pro.invoice"]
invoices = Invoice.search([("chorus_id", "in", chorus_ids)])
company = env.ref("base.main_company")
sirets = sorted(set(invoices.mapped("supplier_identifier")))
names = {{i.supplier_identifier: i.supplier_name for i in invoices}}
partners = env["res.partner"].create([{{"name": names[s], "siret": s, "is_company": True}} for s in sirets])
by_siret = dict(zip(sirets, partners))
banks = {{}}
for invoice in invoices:
    iban = invoice.bank_account.replace(" ", "")
    banks.setdefault(iban, by_siret[invoice.supplier_identifier])
env["res.partner.bank"].create([{{"partner_id": p.id, "acc_number": iban, "allow_out_payment": True}}
                                for iban, p in banks.items()])
# Step 3, when installed, records the match on the invoice.
if "partner_id" in Invoice._fields:
    bank_of = {{b.sanitized_acc_number: b for b in env["res.partner.bank"].search([])}}
    for invoice in invoices:
        vals = {{"partner_id": by_siret[invoice.supplier_identifier].id}}
        if "partner_bank_id" in Invoice._fields:
            vals["partner_bank_id"] = bank_of[invoice.bank_account.replace(" ", "")].id
        if "bank_state" in Invoice._fields:
            vals["bank_state"] = "trusted"
        invoice.write(vals)
env.cr.commit()
ready = invoices.filtered("mandate_ready")
print("RESULT " + json.dumps({{"invoices": len(invoices), "ready": len(ready), "partners": len(partners),
                               "banks": len(banks),
                               "blocked": [i.mandate_blocking_reason for i in invoices - ready][:5]}}))
"""

MANDATE = r"""
import json, time
from chorus_pro.simulator.testing import SimulatorAdmin
admin = SimulatorAdmin({admin_url!r})
chorus_ids = json.loads({chorus_ids!r})
Invoice = env["chorus.pro.invoice"]
invoices = Invoice.search([("chorus_id", "in", chorus_ids)])
article = env["chorus.pro.budget.article"].search([("code", "=", "6042")], limit=1)
started = time.monotonic()
action = env["chorus.pro.mandate.wizard"]._open(invoices)
wizard = env["chorus.pro.mandate.wizard"].browse(action["res_id"])
wizard.write({{"budget_id": article.budget_id.id, "article_id": article.id}})
env.cr.commit()
screen_s = time.monotonic() - started
selected = wizard.selected_count
admin.reset_counters()  # count the calls of the click only
profile_path = {profile!r}
if profile_path:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
started = time.monotonic()
result = wizard.action_mandate()
run = env["chorus.pro.run"].search([("run_type", "=", "mandate")], limit=1)
if run.state == "queued":
    # Large selection: the job cron runs it in the background; do what it does.
    env.cr.commit()
    env["chorus.pro.run"]._cron_process_queue()
env.cr.commit()
mandate_s = time.monotonic() - started
if profile_path:
    profiler.disable()
    profiler.dump_stats(profile_path)
run.invalidate_recordset()
moves = run.mandate_request_ids.move_id
numbers = sorted(moves.mapped("chorus_pro_mandate_number"))
counters = admin.counters()
print("RESULT " + json.dumps({{
    "mandate_s": mandate_s, "state": run.state, "summary": run.summary, "counters": counters,
    "screen_s": screen_s, "selected": selected,
    "mandates": len(moves.filtered(lambda m: m.state == "posted")),
    "pushed": len(moves.filtered(lambda m: m.chorus_pro_push_state in ("sent", "already"))),
    "numbers_contiguous": numbers == list(range(1, len(numbers) + 1)),
    "background": run.trigger == "manual" and len(invoices) > run.account_id.mandate_background_threshold,
}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=500, help="invoices to mandate")
    parser.add_argument("--latency-ms", type=int, default=0, help="simulator latency per call")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", metavar="FILE", default="",
                        help="write a cProfile of the Mandater action to FILE")
    args = parser.parse_args()
    wanted = args.invoices

    database = Database(keep=args.keep_db)
    database.create()
    # About 60 % of a generated world is waiting for a decision: generate enough of them.
    simulator = SimulatorProcess(invoices=int(wanted / 0.55) + 60, latency_ms=args.latency_ms)
    simulator.start()
    try:
        database.shell(SETUP.format(info=json.dumps(simulator.info)))
        first = database.shell(SYNC.format())
        log(f"first retrieval: {first['state']} in {first['seconds']:.1f} s ({first['summary']})")
        chosen = first["candidates"][:wanted]
        if len(chosen) < wanted:
            raise SystemExit(f"only {len(chosen)} invoices can be made ready; ask for fewer")
        for chorus_id in chosen:
            simulator.admin.move(chorus_id, "SERVICE_FAIT", user="AGENT")
        second = database.shell(SYNC.format())
        log(f"Service fait retrieved: {second['state']} in {second['seconds']:.1f} s")
        matched = database.shell(MATCH.format(chorus_ids=json.dumps(chosen)))
        log(f"suppliers matched: {json.dumps(matched)}")
        if matched["ready"] != wanted:
            raise SystemExit(f"{matched['ready']} of {wanted} invoices are ready to mandate")
        result = database.shell(MANDATE.format(chorus_ids=json.dumps(chosen),
                                               admin_url=simulator.info["admin_url"],
                                               profile=os.path.abspath(args.profile) if args.profile else ""))
        log(f"mandating screen: {result['selected']} selected, opened in {result['screen_s']:.1f} s")
        counters = result["counters"]
        calls = sum(v for k, v in counters.items() if not k.startswith("_") and k != TOKEN)
        mandated_in_chorus = sum(
            1 for item in simulator.admin.invoices(status="MANDATEE") if item["idFacture"] in set(chosen)
        )
        log(f"run: {result['state']} — {result['summary']}")
        log(f"checks: {result['mandates']} posted, {result['pushed']} pushed, numbers contiguous: "
            f"{result['numbers_contiguous']}, MANDATEE in the simulator: {mandated_in_chorus}, "
            f"calls by operation: {json.dumps(counters)}")
    finally:
        simulator.stop()
        database.drop()
    mandates = result["mandates"]
    figures = {
        "mandates": mandates,
        "mandate_s": round(result["mandate_s"], 2),
        "per_mandate_ms": round(1000 * result["mandate_s"] / max(1, mandates), 1),
        "chorus_calls": calls,
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    return 0 if mandates == wanted and mandated_in_chorus == wanted else 1


if __name__ == "__main__":
    raise SystemExit(main())
