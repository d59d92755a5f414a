#!/usr/bin/env python3
"""Step 1 benchmark: retrieve N invoices from the simulator (L ms latency per call) into a fresh
Odoo database through the real addon code, then retrieve again.

Prints progress on stderr and, on its LAST line, ``key=value`` pairs: invoices, first_sync_s,
api_calls_per_invoice, resync_s, resync_download_calls, duplicates, peak_rss_mb.
Targets (issue): ≤ 3 calls per new invoice (aim ≤ 1.5), 0 downloads on the re-sync, 0 duplicates,
memory flat in N, 1,000 invoices at 50 ms in under 60 s on 2 cores.
"""

import argparse
import json

from _common import CONFIGURE_ACCOUNT, RUN_SYNC, OdooDatabase, SimulatorProcess, log

DOWNLOAD = "factures/v1/telecharger/groupe"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    database = OdooDatabase(keep=args.keep_db)
    database.create()
    simulator = SimulatorProcess(invoices=args.invoices, latency_ms=args.latency_ms)
    simulator.start()
    try:
        visible = len([
            item for item in simulator.admin.invoices()
            if item.get("idDestinataire") == simulator.info["structure_id"]
            and item.get("statut") not in ("BROUILLON", "DEPOSEE", "EN_COURS_ACHEMINEMENT")
        ])
        log(f"simulator: {visible} invoices for the commune, {args.latency_ms} ms per call")
        database.shell(CONFIGURE_ACCOUNT.format(info=json.dumps(simulator.info)) + "\nprint('RESULT {}')")
        simulator.admin.reset_counters()
        first = database.shell(RUN_SYNC.format())[0]
        log(f"first sync: {json.dumps(first)}")
        first_calls = sum(v for k, v in simulator.admin.counters().items())
        simulator.admin.reset_counters()
        second = database.shell(RUN_SYNC.format())[0]
        log(f"re-sync: {json.dumps(second)}")
        resync_downloads = simulator.admin.counters().get(DOWNLOAD, 0)
    finally:
        simulator.stop()
        database.drop()
    figures = {
        "invoices": first["rows"],
        "first_sync_s": round(first["seconds"], 2),
        "api_calls_per_invoice": round(first_calls / max(1, first["rows"]), 3),
        "resync_s": round(second["seconds"], 2),
        "resync_download_calls": resync_downloads,
        "duplicates": second["duplicates"],
        "peak_rss_mb": round(max(first["peak_rss_mb"], second["peak_rss_mb"]), 1),
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
