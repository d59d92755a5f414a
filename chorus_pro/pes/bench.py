"""Figures of one PES write, for ``bench/pes.py`` (the Odoo benchmark) and quick library runs.

``measure(flow, path, signer=None)`` writes the file (:func:`~chorus_pro.pes.writer.
write_pes_file`) and returns ``{"mandates", "pj", "generate_s", "sign_s", "per_mandate_ms",
"bytes"}``; ``figures_line(figures)`` formats them as the ``key=value`` line the benchmark
prints last. Peak memory is the caller's to add (``peak_rss_mb``: in a fresh process,
``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

``python -m chorus_pro.pes.bench --mandates 500 --files 2 --out /tmp/pes.xml`` runs it on a
synthetic flow (:func:`chorus_pro.pes.testing.sample_flow`), unsigned.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from typing import Optional, Sequence

from .writer import write_pes_file


def measure(flow, path, *, signer=None, **write_options) -> dict:
    """Write ``flow`` to ``path`` and return the benchmark's figures."""
    result = write_pes_file(flow, path, signer=signer, **write_options)
    mandates = result.pieces
    total = result.generate_seconds + result.sign_seconds
    return {
        "mandates": mandates,
        "pj": result.files,
        "generate_s": round(result.generate_seconds, 3),
        "sign_s": round(result.sign_seconds, 3),
        "per_mandate_ms": round(total * 1000 / mandates, 2) if mandates else 0.0,
        "bytes": result.bytes_written,
    }


def figures_line(figures: dict) -> str:
    """``mandates=500 pj=1000 generate_s=...`` (one line, keys in the given order)."""
    return " ".join("%s=%s" % (key, value) for key, value in figures.items())


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .testing import sample_flow

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mandates", type=int, default=500)
    parser.add_argument("--files", type=int, default=2, help="PDF files per mandate")
    parser.add_argument("--file-kb", type=int, default=100, help="size of each PDF in KiB")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pes-bench-") as pj_dir:
        flow = sample_flow(args.mandates, pj_dir=pj_dir, files_per_mandate=args.files,
                           file_size=args.file_kb * 1024)
        figures = measure(flow, args.out)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(figures_line(figures))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
