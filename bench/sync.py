#!/usr/bin/env python3
"""Step 1 benchmark: retrieve N invoices from the simulator (L ms latency per call) into a fresh
Odoo database through the real addon code, then retrieve again.

Prints progress on stderr and, on its LAST line, ``key=value`` pairs: invoices, first_sync_s,
api_calls_per_invoice, resync_s, resync_download_calls, duplicates, peak_rss_mb, floor_s,
odoo_ratio.

``floor_s`` is the time the same Chorus calls take with the library alone, without Odoo: the
same simulator, latency and calls in flight, the same searches, histories, download bundles,
consults and PDF renderings of invoices deposited as XML (the PIVOT files are read to know them;
the call counts are compared on stderr); ``odoo_ratio`` = first_sync_s / floor_s.
Targets (issue): ≤ 0.44 calls per new invoice, 0 downloads on the re-sync, 0 duplicates, memory
flat in N, 1,000 invoices at 50 ms in under 20 s, odoo_ratio ≤ 2.
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from _common import CONFIGURE_ACCOUNT, RUN_SYNC, OdooDatabase, SimulatorProcess, log

from chorus_pro import statuses
from chorus_pro.client import OP_DOWNLOAD, ChorusProClient
from chorus_pro import retrieval as rules  # the addon's retrieval follows the same rules
from chorus_pro.pivot import iter_pivot_invoices

# The account's defaults (chorus.pro.account: sync_parallel_calls, sync_bundle_mb).
PARALLEL_CALLS, BUNDLE_MB = 3, 15

FACTORED = r"""
import json
print("RESULT " + json.dumps(env["chorus.pro.invoice"].search([("is_factored", "=", True)]).mapped("chorus_id")))
"""


def library_floor(info: dict, factored: list) -> float:
    """The Chorus calls of a first retrieval (the whole world: no cutoff), made with the library
    alone: searches, histories, PIVOT bundles, consults and PDF renderings (``chorus_pro.retrieval``
    rules), batch by batch, a few in flight."""
    started = time.monotonic()
    now = datetime.now(timezone.utc)
    with ChorusProClient.for_environment(
        "custom", api_url=info["base_url"], token_url=info["token_url"],
        client_id=info["client_id"], client_secret=info["client_secret"],
        login=info["login"], password=info["password"], max_retries=3,
    ) as client, ThreadPoolExecutor(max_workers=PARALLEL_CALLS) as pool:
        structure = info["structure_id"]
        searches = [{"recipient_id": structure, "statuses": [status]}
                    for status in sorted(statuses.AWAITING_DECISION)]
        searches.append({"recipient_id": structure, "status_changed_to": now})
        seen = set()
        for kwargs in searches:
            for works in (False, True):
                searcher = client.search_works_invoices if works else client.search_received_invoices
                search = searcher(page_size=rules.PAGE_SIZE, **kwargs)
                for chunk in rules.chunked(search, rules.BATCH_SIZE):
                    fresh = [s for s in chunk if s.chorus_id not in seen]
                    seen.update(s.chorus_id for s in fresh)
                    if not fresh:
                        continue
                    list(pool.map(client.get_history,
                                  [s.chorus_id for s in fresh if rules.history_needed(s)]))
                    bundles = rules.download_bundles(fresh, BUNDLE_MB * 1024 * 1024)

                    def download(ids):
                        """The invoices of the bundle deposited as XML (their PDF rendering
                        is asked next), read from the PIVOT like the addon reads it."""
                        try:
                            downloaded = client.download_invoices(ids, fmt="PIVOT")
                        except Exception:  # noqa: BLE001 - refused bundles: split like the addon
                            if len(ids) > 1:
                                return (download(ids[:len(ids) // 2])
                                        + download(ids[len(ids) // 2:]))
                            return []
                        unreadable, found = [], []
                        try:
                            for index, pivot in enumerate(iter_pivot_invoices(
                                    downloaded.path, on_error="skip", errors=unreadable)):
                                # Old PIVOT versions have no IdCPRO: their rank in the bundle.
                                position = index + len(unreadable)
                                if rules.pdf_rendering_needed(pivot):
                                    found.append(pivot.chorus_id or ids[position])
                            return found
                        finally:
                            downloaded.cleanup()

                    as_xml = [i for found in pool.map(download, bundles) for i in found]
                    ids = {s.chorus_id for s in fresh}
                    list(pool.map(client.get_invoice, [i for i in factored if i in ids]))
                    renderings = {}
                    for found in pool.map(client.download_invoice_pdfs,
                                          rules.pdf_rendering_bundles(as_xml)):
                        renderings.update(found)
                    list(pool.map(client.download_invoice_pdf,
                                  [i for i in as_xml if i not in renderings]))
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", metavar="PATH",
                        help="cProfile the first sync (Odoo side) into PATH (pstats format)")
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
        first = database.shell(RUN_SYNC.format(profile=args.profile or ""))[0]
        log(f"first sync: {json.dumps(first)}")
        log(f"SQL queries per new invoice: {first['queries'] / max(1, first['new']):.1f}; "
            f"Odoo CPU time: {first['odoo_cpu_s']} s")
        first_counters = simulator.admin.counters()
        first_calls = sum(v for k, v in first_counters.items())
        simulator.admin.reset_counters()
        second = database.shell(RUN_SYNC.format(profile=""))[0]
        log(f"re-sync: {json.dumps(second)}")
        resync_downloads = simulator.admin.counters().get(OP_DOWNLOAD, 0)
        factored = database.shell(FACTORED)[0]
        simulator.admin.reset_counters()
        floor = library_floor(simulator.info, factored)
        floor_counters = simulator.admin.counters()
        log(f"floor (library alone): {floor:.2f} s")
        for key in sorted(set(first_counters) | set(floor_counters)):
            if first_counters.get(key, 0) != floor_counters.get(key, 0):
                log(f"calls differ on {key}: Odoo {first_counters.get(key, 0)}, "
                    f"library {floor_counters.get(key, 0)}")
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
        "floor_s": round(floor, 2),
        "odoo_ratio": round(first["seconds"] / floor, 2) if floor else None,
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
