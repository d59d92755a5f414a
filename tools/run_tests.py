#!/usr/bin/env python3
"""``make test``: library tests, then the addon's Odoo tests on a fresh database, then the
browser tests.

- Library tests: plain pytest (no Odoo needed).
- When Odoo is not importable: prints ``ODOO TESTS SKIPPED: odoo is not importable`` and still
  exits with the library tests' status.
- Odoo tests: a fresh database, ``-i chorus_pro_liaison --test-enable``; browser tests (Odoo tours
  in headless Chromium) in a second run on the same database. A skipped test is a failure (Odoo
  skips tours silently without Chromium or websocket-client), and so are zero tests run.
- Exits non-zero on any failure; ends with the pytest and Odoo summary lines.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import odoo_env  # noqa: E402
from odoo_env import ADDON, REPO, say  # noqa: E402

SUMMARY_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
RECORD_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (\w+) ")
SKIP_RE = re.compile(r"odoo\.tests\.(?:result|stats)?.*\bskipped\b (.+?) : (.+)$|\bskipped (\S+) : (.+)$")


def run_library_tests(extra: list[str]) -> int:
    say("library tests (plain pytest, no Odoo)")
    return subprocess.call([sys.executable, "-m", "pytest", "-q", *extra], cwd=REPO)


def run_odoo(info: dict, database: str, args: list[str], log_path: Path) -> tuple[int, str]:
    command = [
        *odoo_env.odoo_command(info),
        *odoo_env.server_options(info, database, log_path.parent / "data", log_level="info"),
        "--http-interface", "127.0.0.1",
        "--http-port", str(odoo_env.free_port()),
        "--gevent-port", str(odoo_env.free_port()),
        "--stop-after-init",
        *args,
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in process.stdout:
            log.write(line)
            # Keep the console readable: test outcomes, warnings and errors only.
            if any(mark in line for mark in (" ERROR ", " CRITICAL ", " FAIL", "Ran ", "tests when", "skipped", "Starting Test")) or (
                " WARNING " in line and ADDON in line
            ):
                print(line.rstrip(), flush=True)
        returncode = process.wait()
    return returncode, log_path.read_text()


def failure_digest(text: str, max_lines: int = 60) -> list[str]:
    """The ERROR/CRITICAL log records of a run with their tracebacks, so that the tail of the
    output (all a CI page may keep) names what failed and why."""
    records, current = [], None
    for line in text.splitlines():
        match = RECORD_RE.match(line)
        if match:
            current = [line] if match.group(1) in ("ERROR", "CRITICAL") else None
            if current is not None:
                records.append(current)
        elif current is not None and len(current) < max_lines:
            current.append(line)
    return ["\n".join(record) for record in records]


def check_odoo_log(label: str, returncode: int, text: str, filtered: bool = False) -> tuple[bool, str]:
    summaries = SUMMARY_RE.findall(text)
    skipped = [line for line in text.splitlines() if re.search(r"\bskipped\b .* : ", line)]
    problems = []
    if returncode != 0:
        problems.append(f"odoo exited with {returncode}")
    total = sum(int(s[2]) for s in summaries)
    failed = sum(int(s[0]) + int(s[1]) for s in summaries)
    if failed:
        problems.append(f"{failed} failed/errored test(s)")
    if total == 0 and not filtered:
        problems.append("no test ran")
    if skipped:
        problems.append(f"{len(skipped)} skipped test(s) (a skipped test is a failure here)")
        for line in skipped:
            print("   " + line.strip())
    summary = f"{label}: {total - failed} passed, {failed} failed of {total} tests"
    if problems:
        summary += " — FAILED: " + "; ".join(problems)
    return not problems, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-library", action="store_true")
    parser.add_argument("--no-browser", action="store_true", help="for local loops only")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--tags", default="", help="extra Odoo test tags filter, e.g. :TestSync")
    args = parser.parse_args()
    started = time.time()
    results = []

    library_status = 0
    if not args.no_library:
        library_status = run_library_tests([])
        results.append(("library (pytest)", library_status == 0))

    info = odoo_env.odoo_info()
    if info is None:
        broken = odoo_env.odoo_installed_but_broken()
        if broken:
            print(f"ODOO TESTS FAILED: odoo is installed but no longer imports: {broken}", flush=True)
            return 1
        print("ODOO TESTS SKIPPED: odoo is not importable", flush=True)
        return library_status
    if not str(info.get("serie", "")).startswith("18."):
        print(f"ODOO TESTS FAILED: Odoo {info.get('version')} found, 18.0 is required", flush=True)
        return 1

    odoo_env.check_postgres()
    odoo_env.ensure_db_user()
    database = f"chorus_test_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="chorus_pro_tests_"))
    odoo_env.drop_database(database)
    say(f"Odoo {info['version']} tests on a fresh database {database} (logs in {workdir})")
    summaries = []
    digests = []
    # (label, announcement, log file, Odoo arguments): the browser tests run on the same database.
    runs = [("Odoo tests", None, "odoo-tests.log",
             ["-i", ADDON, "--test-enable", "--test-tags", f"/{ADDON}{args.tags},-chorus_pro_browser"])]
    if not args.no_browser:
        runs.append(("Browser tests", "browser tests (Odoo tours in headless Chromium)",
                     "browser-tests.log",
                     ["--test-enable", "--test-tags", f"chorus_pro_browser{args.tags}"]))
    try:
        for label, announcement, log_name, odoo_args in runs:
            if announcement:
                say(announcement)
            code, text = run_odoo(info, database, odoo_args, workdir / log_name)
            ok, summary = check_odoo_log(label, code, text, filtered=bool(args.tags))
            if not ok:
                digests += failure_digest(text)
            results.append((label, ok))
            summaries.append(summary)
    finally:
        if not args.keep_db:
            odoo_env.drop_database(database)

    if digests:
        print()
        say("what failed (the errors logged during the runs, with their tracebacks)")
        for digest in digests:
            print(digest)
            print()
    print()
    for summary in summaries:
        print(summary)
    failed = [name for name, ok in results if not ok]
    elapsed = time.time() - started
    if failed:
        print(f"FAILED: {', '.join(failed)} ({elapsed:.0f} s)")
        return 1
    print(f"ALL TESTS PASSED ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
