"""The CSV tables shipped in ``chorus_pro/data``: what is data (code lists, the simulator's
suppliers and catalogue) lives there, not in code."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def rows(name: str) -> tuple:
    """The rows of ``chorus_pro/data/<name>`` as dicts keyed by its header line."""
    text = resources.files("chorus_pro").joinpath(f"data/{name}").read_text("utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))
