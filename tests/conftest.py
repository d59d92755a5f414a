"""Shared fixtures of the library tests: pytest loads this file before every test module.

The helper modules of this folder (``softhsm``, ``pivot_schemas``...) import as top-level modules
whatever pytest's import mode; the SoftHSM2 tokens fixture (``softhsm_tokens``, one set of tokens
per session) is available to every test without an import.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from softhsm import softhsm_tokens  # noqa: E402,F401 (fixture)
