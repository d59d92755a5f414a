"""``python -m chorus_pro.simulator``: run the Chorus Pro simulator until SIGTERM / SIGINT.

The first line written to stdout (flushed at once) is one JSON object with the connection data
(``base_url``, ``token_url``, credentials, ``admin_url``, ``structure_id``, ``pid``...); nothing
else is ever written to stdout. Logs (method, path, status, duration, codeRetour) go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import date, datetime
from typing import Optional

from chorus_pro.timeutil import PARIS

from .generator import (
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_LOGIN, DEFAULT_PASSWORD,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chorus_pro.simulator",
        description="Local Chorus Pro (PISTE) simulator for development, tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback only)")
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 = pick a free one")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback bind address (not recommended)")
    parser.add_argument("--invoices", type=int, default=None,
                        help="number of invoices for the commune (default 48; minimum = the "
                             "notable invoices)")
    parser.add_argument("--seed", type=int, default=None, help="data seed (default 20260101)")
    parser.add_argument("--anchor-date", type=date.fromisoformat, default=None,
                        help="YYYY-MM-DD the generated dates are relative to (default: today, "
                             "Paris)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per API call")
    parser.add_argument("--fail-rate", type=float, default=0.0,
                        help="fraction (0..1) of API calls answering 503")
    parser.add_argument("--token-ttl", type=int, default=3600, help="expires_in of tokens (s)")
    parser.add_argument("--max-download-mb", type=float, default=120.0,
                        help="download bundle limit, above it HTTP 413")
    parser.add_argument("--state", default=None, metavar="FILE",
                        help="JSON file the world is loaded from and saved to")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--login", default=DEFAULT_LOGIN)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, args.log_level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .http_server import Simulator

    try:
        simulator = Simulator(
            host=args.host, port=args.port, invoices=args.invoices, seed=args.seed,
            anchor_date=args.anchor_date, latency_ms=args.latency_ms, fail_rate=args.fail_rate,
            token_ttl=args.token_ttl, max_download_mb=args.max_download_mb,
            state_path=args.state, client_id=args.client_id, client_secret=args.client_secret,
            login=args.login, password=args.password, allow_remote=args.allow_remote,
        )
    except (ValueError, OSError) as exc:
        print(f"chorus_pro.simulator: {exc}", file=sys.stderr, flush=True)
        return 2

    stop = threading.Event()

    def request_stop(signum, _frame):
        logging.getLogger("chorus_pro.simulator").info("signal %s received, stopping", signum)
        stop.set()

    today = datetime.now(PARIS).date()
    if simulator.world.anchor_date > today:
        logging.getLogger("chorus_pro.simulator").warning(
            "anchor date %s is after today: generated dates may lie in the future",
            simulator.world.anchor_date)
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    simulator.start_in_thread()
    sys.stdout.write(json.dumps(simulator.info) + "\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        simulator.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
