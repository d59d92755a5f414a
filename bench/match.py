#!/usr/bin/env python3
"""Benchmark of step 3 (supplier matching): N unmatched invoices against P partners.

Self-contained: creates a fresh database with the addon (``tools/odoo_env.py``), generates P
partners (valid SIRETs, IBANs as bank accounts, realistic and partly similar names) and N
unmatched Chorus Pro invoices with SQL (fast), then measures ONLY the matching step —
``chorus.pro.invoice._chorus_match_suppliers()`` on the N invoices, i.e. what the retrieval runs
after each batch: remembered matches applied, and the best candidate (IBAN, SIRET, SIREN, then
similar names) proposed for every other invoice — and drops the database.

The indexes are rebuilt after installation (see ``main``) so that they are usable like in a
database installed long ago. The invoice mix: a third of the suppliers already remembered (some with a changed IBAN), the
others known by SIRET, by IBAN only, by another establishment (SIREN), or unknown (names only).

Usage: ``python bench/match.py --partners 50000 --invoices 5000``; the last line is
``partners=… invoices=… match_s=… per_invoice_ms=…``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import odoo_env  # noqa: E402
from odoo_env import ADDON, REPO, say  # noqa: E402

RESULT_RE = re.compile(r"^partners=\d+ invoices=\d+ match_s=[\d.]+ per_invoice_ms=[\d.]+$")

# Runs inside ``odoo shell`` (``env`` is given); parameters come from the environment.
SHELL_SCRIPT = r'''
import os, random, time
from stdnum import iban as stdnum_iban, luhn

P = int(os.environ["BENCH_PARTNERS"])
N = int(os.environ["BENCH_INVOICES"])
rng = random.Random(int(os.environ.get("BENCH_SEED", "2026")))
cr = env.cr
company = env.company
eur = env.ref("base.EUR")

ACTIVITIES = ["BOULANGERIE", "TRANSPORTS", "GARAGE", "PLOMBERIE", "ELECTRICITE", "MENUISERIE",
              "PAYSAGES", "NETTOYAGE", "INFORMATIQUE", "RESTAURATION", "PEINTURE", "TOITURES",
              "LIBRAIRIE", "PAPETERIE", "QUINCAILLERIE", "IMPRIMERIE", "TRAITEUR", "ASCENSEURS",
              "CHAUFFAGE", "SECURITE", "BUREAUTIQUE", "TERRASSEMENT", "SIGNALISATION", "ELAGAGE"]
SURNAMES = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
            "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID",
            "BERTRAND", "ROUX", "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRE", "MERCIER",
            "DUPONT", "LAMBERT", "BONNET", "FRANCOIS", "MARTINEZ", "LEGRAND", "GARNIER", "FAURE",
            "ROUSSEAU", "BLANC", "GUERIN", "MULLER", "HENRY", "ROUSSEL", "NICOLAS", "PERRIN"]
PLACES = ["DES ALPES", "DU LAC", "SAVOYARDE", "DAUPHINOISE", "DU RHONE", "DE LA VALLEE",
          "DU MONT BLANC", "DE CHAMBERY", "D'ANNECY", "DE GRENOBLE", "DU BUGEY", "DE MAURIENNE",
          "DE TARENTAISE", "DU CHABLAIS", "DE BELLEDONNE", "DU VERCORS", "", "", "", ""]
FORMS = ["SARL", "SAS", "SA", "EURL", "SASU", "SNC", "SCOP"]
BANK_CODES = ["30004", "30003", "30002", "18106", "14505", "16807", "10278", "30066"]


def company_name():
    parts = [rng.choice(ACTIVITIES), rng.choice(SURNAMES), rng.choice(PLACES), rng.choice(FORMS)]
    return " ".join(part for part in parts if part)


siren_counter = [100000000 // 10]


def new_siren():
    siren_counter[0] += rng.randint(1, 50)
    body = str(siren_counter[0]).zfill(8)
    return body + luhn.calc_check_digit(body)


def siret_of(siren, establishment):
    body = siren + f"{establishment:04d}"
    return body + luhn.calc_check_digit(body)


def new_iban():
    bank = rng.choice(BANK_CODES)
    branch = f"{rng.randint(1, 99999):05d}"
    account = f"{rng.randint(10**9, 10**11 - 1):011d}"
    key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97)
    bban = f"{bank}{branch}{account}{key:02d}"
    return "FR" + stdnum_iban.calc_check_digits("FR00" + bban) + bban


# ---------------------------------------------------------------- partners (SQL, set-based)
names, sirets, sirens, ibans = [], [], [], []
for index in range(P):
    siren = new_siren()
    siret = siret_of(siren, rng.randint(1, 40))
    names.append(company_name())
    # One partner in ten was entered without its SIRET (only a name and a bank account).
    has_siret = rng.random() > 0.1
    sirets.append(siret if has_siret else None)
    sirens.append(siren if has_siret else None)
    ibans.append(new_iban())
cr.execute(
    """
    INSERT INTO res_partner (name, complete_name, active, is_company, type, siret,
                             chorus_pro_siret, chorus_pro_siren, supplier_rank, customer_rank,
                             autopost_bills, create_date, write_date, create_uid, write_uid)
    SELECT n, n, true, true, 'contact', s, s, sr, 1, 0, 'ask', now(), now(), 1, 1
      FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[]) AS t(n, s, sr)
    RETURNING id
    """,
    [names, sirets, sirens],
)
partner_ids = [row[0] for row in cr.fetchall()]
cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [partner_ids])
cr.execute(
    """
    INSERT INTO res_partner_bank (partner_id, acc_number, sanitized_acc_number, active,
                                  allow_out_payment, sequence, create_date, write_date,
                                  create_uid, write_uid)
    SELECT p, i, i, true, true, 10, now(), now(), 1, 1
      FROM unnest(%s::int[], %s::varchar[]) AS t(p, i)
    """,
    [partner_ids, ibans],
)

# ---------------------------------------------------------------- suppliers and invoices
suppliers = []  # (kind, name, siret, iban, partner index or None)
# About four invoices per supplier; each known supplier is a different partner.
for k in rng.sample(range(P), min(P, max(1, N // 4))):
    kind = rng.choices(
        ["remembered", "siret", "iban", "siren", "unknown"], [35, 30, 10, 10, 15]
    )[0]
    if kind == "remembered" or kind == "siret":
        if sirets[k] is None:
            kind = "iban"
    if kind in ("remembered", "siret"):
        iban = ibans[k] if rng.random() > 0.05 else new_iban()  # a few changed IBANs
        suppliers.append((kind, names[k], sirets[k], iban, k))
    elif kind == "iban":
        suppliers.append((kind, names[k], siret_of(new_siren(), 1), ibans[k], k))
    elif kind == "siren" and sirens[k]:
        suppliers.append((kind, names[k], siret_of(sirens[k], 77), new_iban(), k))
    else:
        # Unknown supplier: a name that shares words with existing partners.
        suppliers.append(("unknown", company_name(), siret_of(new_siren(), 1), new_iban(), None))

cr.execute(
    """
    INSERT INTO chorus_pro_supplier (company_id, identifier, identifier_type, name, partner_id,
                                     role, active, matched_at, create_date, write_date,
                                     create_uid, write_uid)
    SELECT %s, s, 'SIRET', n, p, 'supplier', true, now(), now(), now(), 1, 1
      FROM unnest(%s::varchar[], %s::varchar[], %s::int[]) AS t(s, n, p)
    """,
    [company.id,
     [s[2] for s in suppliers if s[0] == "remembered"],
     [s[1] for s in suppliers if s[0] == "remembered"],
     [partner_ids[s[4]] for s in suppliers if s[0] == "remembered"]],
)

picked = [rng.choice(suppliers) for _ in range(N)]
cr.execute(
    """
    INSERT INTO chorus_pro_invoice (company_id, chorus_id, number, supplier_name,
        supplier_identifier, supplier_identifier_type, bank_account, bank_account_type,
        is_factored, chorus_status, chorus_status_code, invoice_type, payment_request_type,
        amount_untaxed, amount_total, amount_to_pay, currency_id, files_state,
        imported_as_history, create_date, write_date, create_uid, write_uid)
    SELECT %s, 900000000 + g, 'BENCH-' || g, n, s, 'SIRET', i, 'IBAN', false,
           'MISE_A_DISPOSITION', 'MISE_A_DISPOSITION', 'invoice', 'FACTURE',
           1000, 1200, 1200, %s, 'done', false, now(), now(), 1, 1
      FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[]) WITH ORDINALITY AS t(n, s, i, g)
    RETURNING id
    """,
    [company.id, eur.id, [p[1] for p in picked], [p[2] for p in picked], [p[3] for p in picked]],
)
invoice_ids = [row[0] for row in cr.fetchall()]
Invoice = env["chorus.pro.invoice"]
invoices = Invoice.browse(invoice_ids)
# Stored computed fields of the rows inserted by SQL (what the ORM would have computed).
for name in ("supplier_identifier_key", "supplier_siren", "supplier_identifier_valid",
             "factor_identifier_key", "supplier_display", "payment_iban", "bank_account_valid",
             "partner_bank_id", "bank_state", "is_works", "has_lines"):
    env.add_to_compute(Invoice._fields[name], invoices)
env.flush_all()
cr.execute("ANALYZE res_partner")
cr.execute("ANALYZE res_partner_bank")
cr.execute("ANALYZE chorus_pro_invoice")
cr.execute("ANALYZE chorus_pro_supplier")
env.invalidate_all()
print(f"generated: {P} partners, {len(suppliers)} suppliers, {N} invoices", flush=True)

# ---------------------------------------------------------------- the measured step
started = time.perf_counter()
stats = Invoice.browse(invoice_ids)._chorus_match_suppliers()
env.flush_all()
elapsed = time.perf_counter() - started

cr.execute(
    """SELECT coalesce(partner_match_origin, '-'), coalesce(suggestion_reason, '-'), bank_state,
              count(*)
         FROM chorus_pro_invoice WHERE id = ANY(%s) GROUP BY 1, 2, 3 ORDER BY 4 DESC""",
    [invoice_ids],
)
for origin, reason, bank_state, count in cr.fetchall():
    print(f"  matched={origin:<10} proposed={reason:<10} bank={bank_state:<10} {count}")
print(f"stats: {stats}")
print(f"partners={P} invoices={N} match_s={elapsed:.3f} per_invoice_ms={elapsed * 1000 / N:.3f}",
      flush=True)
'''


def run(command: list[str], log_path: Path, stdin: str | None = None) -> tuple[int, str]:
    with open(log_path, "w") as log:
        result = subprocess.run(
            command, cwd=REPO, input=stdin, stdout=subprocess.PIPE, stderr=log, text=True,
        )
    return result.returncode, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=50000)
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-db", action="store_true", help="keep the database (debugging)")
    args = parser.parse_args()

    info = odoo_env.odoo_info()
    if info is None:
        print("BENCH SKIPPED: odoo is not importable", flush=True)
        return 1
    odoo_env.check_postgres()
    odoo_env.ensure_db_user()
    database = f"chorus_bench_match_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="chorus_bench_match_"))
    command = odoo_env.odoo_command(info)
    options = odoo_env.server_options(info, database, workdir / "data")
    try:
        say(f"fresh database {database} with {ADDON} (logs in {workdir})")
        started = time.time()
        code, _out = run(
            [*command, *options, "-i", ADDON, "--stop-after-init",
             "--http-port", str(odoo_env.free_port())],
            workdir / "install.log",
        )
        if code:
            print((workdir / "install.log").read_text()[-4000:])
            print(f"BENCH FAILED: installing {ADDON} exited with {code}")
            return 1
        say(f"installed in {time.time() - started:.0f} s; rebuilding the tables' indexes")
        # A production database's indexes are old. Freshly built ones are flagged
        # indcheckxmin when the build met broken HOT chains, and stay unusable while any
        # transaction older than the build runs anywhere in the cluster (other test runs on a
        # shared server): rebuilt CONCURRENTLY, they are usable at once.
        for table in ("res_partner", "res_partner_bank", "chorus_pro_invoice",
                      "chorus_pro_supplier"):
            rebuilt = odoo_env.psql(f"REINDEX TABLE CONCURRENTLY {table}",
                                    user=odoo_env.DB_USER, database=database)
            if rebuilt.returncode:
                print(f"warning: REINDEX {table}: {rebuilt.stderr.strip()}")
        say("generating data and matching")
        environment = dict(os.environ, BENCH_PARTNERS=str(args.partners),
                           BENCH_INVOICES=str(args.invoices), BENCH_SEED=str(args.seed))
        with open(workdir / "shell.log", "w") as log:
            result = subprocess.run(
                [*command, "shell", *options, "--no-http"], cwd=REPO, input=SHELL_SCRIPT,
                stdout=subprocess.PIPE, stderr=log, text=True, env=environment,
            )
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        results = [line for line in lines if RESULT_RE.match(line)]
        if result.returncode or not results:
            print("\n".join(lines))
            print((workdir / "shell.log").read_text()[-4000:])
            print(f"BENCH FAILED: the measurement did not complete (exit {result.returncode})")
            return 1
        for line in lines:
            if not RESULT_RE.match(line):
                print(line)
    finally:
        if not args.keep_db:
            odoo_env.drop_database(database)
    # The contract: the result is the very last line.
    print(results[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
