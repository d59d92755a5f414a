#!/usr/bin/env python3
"""Step 4 benchmark: N invoices ready to mandate, mandated in one "Mandater" action.

In a fresh Odoo database with the addon, against the simulator started with enough invoices,
through the real steps:

1. the real retrieval brings the invoices in;
2. Service fait: N of them are certified in Chorus (simulator admin ``move``, as an agent on
   the portal would) and the real retrieval brings the new status (step 1);
3. supplier matching, set-based, with step 3's own machinery: one partner per supplier, the
   supplier remembered (``chorus.pro.supplier``), then ``_chorus_match_suppliers()`` on the N
   invoices (what the retrieval runs); the invoices' IBANs are created as trusted bank accounts
   by a user of ``account.group_validate_bank_account``, and step 3 computes
   ``partner_bank_id`` / ``bank_state``;
4. the mandating screen is opened on them and "Mandater" is clicked once: the run it starts (in
   the background above the threshold, executed here as the job cron would) is timed until every
   mandate is created, validated, numbered and its MANDATEE pushed through step 2's
   ``chorus.pro.status.push``.

Prints progress on stderr and, on its LAST line:
``mandates=… mandate_s=… per_mandate_ms=… chorus_calls=…`` (chorus_calls: Chorus Pro API calls
made during the action, the OAuth token excluded). Target: 500 mandates in under 60 s on 2
cores, at most one Chorus call per mandate.
"""

from __future__ import annotations

import argparse
import json
import os

from _common import CONFIGURE_ACCOUNT, OdooDatabase, SimulatorProcess, log

TOKEN = "api/oauth/token"

SETUP = r"""
import json
company = env.ref("base.main_company")
euro = env.ref("base.EUR")
if company.currency_id != euro:
    euro.active = True
    company.write({"currency_id": euro.id, "country_id": env.ref("base.fr").id})
admin = env.ref("base.user_admin")
# The mandating officer who clicks "Mandater", also allowed to trust bank accounts.
admin.groups_id |= (env.ref("chorus_pro_liaison.group_chorus_pro_mandating")
                    | env.ref("chorus_pro_liaison.group_chorus_pro_processor")
                    | env.ref("account.group_validate_bank_account"))
expense = env["account.account"].create({"code": "604200", "name": "Achats de prestations de services",
                                         "account_type": "expense", "company_ids": [(4, company.id)]})
budget = env["chorus.pro.budget"].create({"name": "Budget principal", "code": "00",
                                          "vat_recovering": False, "company_id": company.id})
env["chorus.pro.budget.article"].create({"budget_id": budget.id, "code": "6042", "chapter": "011",
                                         "name": "Achats de prestations de services",
                                         "account_id": expense.id})
env.cr.commit()
print("RESULT " + json.dumps({"budget": budget.id}))
"""

SYNC = r"""
import json, time
account = env["chorus.pro.account"]._for_company(env.ref("base.main_company"))
run = env["chorus.pro.run"].create({"company_id": account.company_id.id, "account_id": account.id,
                                    "run_type": "sync", "trigger": "cron"})
env.cr.commit()
started = time.monotonic()
run._execute()
env.cr.commit()
Invoice = env["chorus.pro.invoice"]
candidates = Invoice.search([
    ("chorus_status", "=", "MISE_A_DISPOSITION"), ("invoice_type", "=", "invoice"),
    ("frame", "=", "A1_FACTURE_FOURNISSEUR"), ("is_works", "=", False), ("is_factored", "=", False),
    ("files_state", "=", "done"), ("imported_as_history", "=", False),
    ("supplier_identifier_type", "=", "SIRET"), ("supplier_identifier_valid", "=", True),
    ("bank_account_valid", "=", True), ("is_duplicate_suspect", "=", False),
], order="id")
print("RESULT " + json.dumps({"seconds": time.monotonic() - started, "state": run.state,
                              "summary": run.summary, "candidates": candidates.mapped("chorus_id"),
                              "service_fait": Invoice.search_count([("chorus_status", "=", "SERVICE_FAIT")])}))
"""

MATCH = r"""
import json, time
chorus_ids = json.loads({chorus_ids!r})
started = time.monotonic()
company = env.ref("base.main_company")
Invoice = env["chorus.pro.invoice"]
invoices = Invoice.search([("chorus_id", "in", chorus_ids)])
# Step 3, set-based: one partner per supplier, remembered, applied to the invoices at once.
first_of = {{}}
for invoice in invoices:
    first_of.setdefault(invoice.supplier_identifier_key, invoice)
keys = sorted(first_of)
partners = env["res.partner"].create([
    {{"name": first_of[key].supplier_name, "siret": key, "is_company": True, "supplier_rank": 1}}
    for key in keys
])
env["chorus.pro.supplier"].create([
    {{"company_id": company.id, "identifier": key, "identifier_type": "SIRET",
      "name": first_of[key].supplier_name, "partner_id": partner.id, "role": "supplier"}}
    for key, partner in zip(keys, partners)
])
counts = invoices._chorus_match_suppliers()
# The IBANs, trusted by someone allowed to validate bank accounts.
bank_user = env.ref("base.user_admin")
pairs = {{}}
for invoice in invoices:
    pairs.setdefault((invoice.partner_id.id, invoice.payment_iban), True)
env["res.partner.bank"].with_user(bank_user).create([
    {{"partner_id": partner_id, "acc_number": iban, "allow_out_payment": True}}
    for partner_id, iban in pairs
])
env.cr.commit()
invoices.invalidate_recordset()
ready = invoices.filtered("mandate_ready")
print("RESULT " + json.dumps({{
    "seconds": time.monotonic() - started, "invoices": len(invoices), "ready": len(ready),
    "partners": len(partners), "banks": len(pairs), "remembered": counts["remembered"],
    "trusted": len(invoices.filtered(lambda i: i.bank_state == "trusted")),
    "blocked": [i.mandate_blocking_reason for i in invoices - ready][:5],
}}))
"""

MANDATE = r"""
import json, time
from chorus_pro.simulator.testing import SimulatorAdmin
admin = SimulatorAdmin({admin_url!r})
env = env(user=env.ref("base.user_admin").id)
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
sql_stats_path = {sql_stats!r}
if sql_stats_path:
    # Every query of the click, by its text (numbers blanked) and the addon's function that
    # made it: where the database round trips go.
    import re, sys as _sys, collections
    import odoo.sql_db
    _stats = collections.defaultdict(lambda: [0, 0.0])
    _execute = odoo.sql_db.Cursor.execute
    def _timed_execute(self, query, params=None, log_exceptions=True):
        start = time.perf_counter()
        try:
            return _execute(self, query, params, log_exceptions)
        finally:
            frame, where = _sys._getframe(1), "?"
            while frame is not None:
                name = frame.f_code.co_filename
                if "chorus_pro_liaison" in name and "services/transactions" not in name:
                    where = name.rsplit("/", 1)[-1] + ":" + frame.f_code.co_name
                    break
                frame = frame.f_back
            text = re.sub(r"\b\d+\b", "N", str(query))[:160]
            entry = _stats[(where, text)]
            entry[0] += 1
            entry[1] += time.perf_counter() - start
    odoo.sql_db.Cursor.execute = _timed_execute
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
if sql_stats_path:
    odoo.sql_db.Cursor.execute = _execute
    with open(sql_stats_path, "w") as _out:
        _by_where = collections.defaultdict(lambda: [0, 0.0])
        for (where, text), (count, seconds) in _stats.items():
            _by_where[where][0] += count
            _by_where[where][1] += seconds
        _out.write("queries=%d seconds=%.2f\n" % (sum(v[0] for v in _stats.values()),
                                                   sum(v[1] for v in _stats.values())))
        for where, (count, seconds) in sorted(_by_where.items(), key=lambda i: -i[1][0]):
            _out.write("%7d %7.2f  %s\n" % (count, seconds, where))
        _out.write("\n")
        for (where, text), (count, seconds) in sorted(_stats.items(), key=lambda i: -i[1][0])[:80]:
            _out.write("%7d %7.2f  %s  %s\n" % (count, seconds, where, text.replace("\n", " ")))
run.invalidate_recordset()
moves = run.mandate_request_ids.move_id
numbers = sorted(moves.mapped("chorus_pro_mandate_number"))
pushes = moves.chorus_pro_push_id
counters = admin.counters()
print("RESULT " + json.dumps({{
    "mandate_s": mandate_s, "state": run.state, "summary": run.summary, "counters": counters,
    "screen_s": screen_s, "selected": selected,
    "mandates": len(moves.filtered(lambda m: m.state == "posted")),
    "pushes": len(pushes),
    "pushed": len(pushes.filtered(lambda p: p.state in ("sent", "already"))),
    "mandatee_status": len(invoices.filtered(lambda i: i.chorus_status == "MANDATEE")),
    "numbers_contiguous": numbers == list(range(1, len(numbers) + 1)),
    "background": len(invoices) > run.account_id.mandate_background_threshold,
}}))
"""


def mandate_invoices(database, simulator, wanted, profile="", sql_stats=""):
    """Steps 1 to 4 in ``database`` against ``simulator``: ``wanted`` invoices retrieved,
    certified Service fait in Chorus and retrieved again, matched and trusted, then mandated in
    one "Mandater" click. Returns (their Chorus ids, the figures of the click)."""
    database.shell(CONFIGURE_ACCOUNT.format(info=json.dumps(simulator.info)) + SETUP)
    first = database.shell(SYNC)[-1]
    log(f"first retrieval: {first['state']} in {first['seconds']:.1f} s ({first['summary']})")
    chosen = first["candidates"][:wanted]
    if len(chosen) < wanted:
        raise SystemExit(f"only {len(chosen)} invoices can be made ready; ask for fewer")
    # Service fait, set on the Chorus side for all of them, then retrieved.
    for chorus_id in chosen:
        simulator.admin.move(chorus_id, "SERVICE_FAIT", user="AGENT")
    second = database.shell(SYNC)[-1]
    log(f"Service fait retrieved: {second['state']} in {second['seconds']:.1f} s "
        f"({second['service_fait']} invoices Service fait)")
    matched = database.shell(MATCH.format(chorus_ids=json.dumps(chosen)))[-1]
    log(f"suppliers matched and IBANs trusted (step 3): {json.dumps(matched)}")
    if matched["ready"] != wanted:
        raise SystemExit(f"{matched['ready']} of {wanted} invoices are ready to mandate")
    result = database.shell(MANDATE.format(
        chorus_ids=json.dumps(chosen), admin_url=simulator.info["admin_url"],
        profile=os.path.abspath(profile) if profile else "",
        sql_stats=os.path.abspath(sql_stats) if sql_stats else "",
    ))[-1]
    return chosen, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=500, help="invoices to mandate")
    parser.add_argument("--latency-ms", type=int, default=0, help="simulator latency per call")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", metavar="FILE", default="",
                        help="write a cProfile of the Mandater action to FILE")
    parser.add_argument("--sql-stats", metavar="FILE", default="",
                        help="write the queries of the Mandater action, counted, to FILE")
    args = parser.parse_args()
    wanted = args.invoices

    database = OdooDatabase(name=f"chorus_bench_mandate_{os.getpid()}", keep=args.keep_db)
    database.create()
    # About half of a generated world is a plain invoice waiting for a decision.
    simulator = SimulatorProcess(invoices=int(wanted / 0.5) + 80, latency_ms=args.latency_ms)
    simulator.start()
    try:
        chosen, result = mandate_invoices(
            database, simulator, wanted, profile=args.profile, sql_stats=args.sql_stats)
        log(f"mandating screen: {result['selected']} selected, opened in {result['screen_s']:.1f} s")
        counters = result["counters"]
        calls = sum(v for k, v in counters.items() if not k.startswith("_") and k != TOKEN)
        chosen_set = set(chosen)
        mandated_in_chorus = sum(
            1 for item in simulator.admin.invoices(status="MANDATEE") if item["idFacture"] in chosen_set
        )
        log(f"run: {result['state']} — {result['summary']}")
        log(f"checks: {result['mandates']} posted, {result['pushes']} MANDATEE pushes "
            f"({result['pushed']} accepted), {result['mandatee_status']} invoices Mandatée in "
            f"Odoo, numbers contiguous: {result['numbers_contiguous']}, MANDATEE in the "
            f"simulator: {mandated_in_chorus}, calls by operation: {json.dumps(counters)}")
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
    ok = mandates == wanted and mandated_in_chorus == wanted and result["pushed"] == wanted
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
