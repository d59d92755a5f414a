#!/usr/bin/env python3
"""Installing the addon on a database that already has many moves: the stored mandate amounts
of account.move (``chorus_pro_mandate_untaxed`` / ``_total``).

1. A fresh database with the addon's dependencies only (account, l10n_fr) and N vendor bills:
   one made by the ORM, copied in SQL (the mandate amounts depend only on the move's own row:
   its signed amounts and its Chorus invoice).
2. The addon is installed (``-i``), timed; Odoo's "Prepare computation" lines for the mandate
   amounts are counted (0: the addon's ``_auto_init`` created and filled the columns itself).
3. In that database, in transactions rolled back, the ways of filling the amounts of the N
   moves side by side: what the install does (``_chorus_pro_create_mandate_amount_columns`` on
   dropped columns: added with 0 everywhere, then the mandates updated), one UPDATE of every
   move (``_chorus_pro_fill_mandate_amounts``, from emptied columns), and Odoo's computation of
   every move (what the install did before: every move marked to compute, then flushed).

Prints progress on stderr and, on its LAST line:
``moves=… install_s=… computed_on_install=… columns_s=… update_all_s=… orm_compute_s=…
orm_compute_mb=…``
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time

from _common import REPO, OdooDatabase, log, odoo_env

BILLS = r"""
import json
from odoo import Command
company = env.company
journal = env["account.journal"].search([("type", "=", "purchase"),
                                         ("company_id", "=", company.id)], limit=1)
expense = env["account.account"].search([("account_type", "=", "expense"),
                                         ("company_ids", "in", company.id)], limit=1)
partner = env["res.partner"].create({{"name": "Fournisseur", "is_company": True}})
bill = env["account.move"].create({{
    "move_type": "in_invoice", "partner_id": partner.id, "journal_id": journal.id,
    "invoice_date": "2026-01-15",
    "invoice_line_ids": [Command.create({{"name": "Fournitures", "quantity": 1,
                                          "price_unit": 120.0, "account_id": expense.id}})],
}})
env.flush_all()
env.cr.execute("SELECT column_name FROM information_schema.columns "
               "WHERE table_name = 'account_move' AND column_name != 'id'")
columns = ", ".join('"%s"' % name for (name,) in env.cr.fetchall())
env.cr.execute(f"INSERT INTO account_move ({{columns}}) SELECT {{columns}} FROM account_move, "
               "generate_series(2, %s) WHERE id = %s", [{moves}, bill.id])
env.cr.commit()
env.cr.execute("SELECT count(*) FROM account_move")
print("RESULT " + json.dumps({{"moves": env.cr.fetchone()[0]}}))
"""

SIDE_BY_SIDE = r"""
import json, resource, time
Move = env["account.move"]
names = ["chorus_pro_mandate_untaxed", "chorus_pro_mandate_total"]
emptied = "UPDATE account_move SET chorus_pro_mandate_untaxed = NULL, chorus_pro_mandate_total = NULL"

def timed(function):
    started = time.monotonic()
    function()
    return time.monotonic() - started

env.cr.execute("ALTER TABLE account_move DROP COLUMN chorus_pro_mandate_untaxed, "
               "DROP COLUMN chorus_pro_mandate_total")
columns_s = timed(Move._chorus_pro_create_mandate_amount_columns)
env.cr.rollback()

env.cr.execute(emptied)
update_all_s = timed(Move._chorus_pro_fill_mandate_amounts)
env.cr.rollback()

env.cr.execute(emptied)
env.invalidate_all()
env.cr.execute("SELECT id FROM account_move")
moves = Move.browse(row[0] for row in env.cr.fetchall())
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

def orm_compute():
    for name in names:
        env.add_to_compute(Move._fields[name], moves)
    env.flush_all()

orm_compute_s = timed(orm_compute)
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
env.cr.rollback()
print("RESULT " + json.dumps({"columns_s": columns_s, "update_all_s": update_all_s,
                              "orm_compute_s": orm_compute_s,
                              "orm_compute_mb": rss_after - rss_before}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moves", type=int, default=20000, help="moves before the install")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    database = OdooDatabase(name=f"chorus_bench_install_{os.getpid()}", keep=args.keep_db)
    database.create("account,l10n_fr")
    try:
        moves = database.shell(BILLS.format(moves=args.moves))[-1]["moves"]
        log(f"{moves} moves in the database")
        started = time.monotonic()
        result = subprocess.run(
            [*database.base_command(), "-i", odoo_env.ADDON, "--without-demo", "all",
             "--stop-after-init", "--log-level", "info", "--http-port", str(odoo_env.free_port())],
            cwd=REPO, capture_output=True, text=True,
        )
        install_s = time.monotonic() - started
        if result.returncode:
            raise SystemExit(f"installing the addon failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        computed = len(re.findall(r"Prepare computation of account\.move\.chorus_pro_mandate_",
                                  result.stdout + result.stderr))
        log(f"addon installed in {install_s:.1f} s")
        side = database.shell(SIDE_BY_SIDE)[-1]
    finally:
        database.drop()
    figures = {
        "moves": moves, "install_s": round(install_s, 1), "computed_on_install": computed,
        "columns_s": round(side["columns_s"], 3), "update_all_s": round(side["update_all_s"], 2),
        "orm_compute_s": round(side["orm_compute_s"], 2),
        "orm_compute_mb": round(side["orm_compute_mb"]),
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    return 0 if computed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
