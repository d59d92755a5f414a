#!/usr/bin/env python3
"""Install our Python requirements without ever upgrading a package Odoo 18 pins.

Odoo's own ``requirements.txt`` is used as a pip constraint file (``-c``); ours declares lower
bounds only. After installing, Odoo must still import: a newer lxml or cryptography breaks it,
and that is reported as a failure.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import odoo_env  # noqa: E402
from odoo_env import REPO, say  # noqa: E402


def main() -> int:
    info = odoo_env.odoo_info()
    command = [sys.executable, "-m", "pip", "install", "-q"]
    constraints = odoo_env.odoo_requirements(info)
    if constraints:
        # pip constraints cannot carry comments-with-markers quirks; keep only requirement lines.
        cleaned = Path(tempfile.mkdtemp()) / "odoo-constraints.txt"
        lines = [
            line for line in constraints.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        cleaned.write_text("\n".join(re.sub(r"\s+#.*$", "", line) for line in lines) + "\n")
        say(f"installing requirements with Odoo's pins as constraints ({constraints})")
        command += ["-c", str(cleaned)]
    else:
        say("installing requirements (Odoo not found: no constraint file)")
    command += ["-r", str(REPO / "requirements.txt"), "-r", str(REPO / "requirements-test.txt")]
    # ``wheel`` lets an old setuptools (65 on Python 3.11) build our editable install without
    # build isolation; it is no package Odoo pins.
    command += ["wheel"]
    status = subprocess.call(command)
    if status:
        return status
    # Our own library, editable, without touching its dependencies again.
    status = subprocess.call(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(REPO)]
    )
    if status:
        return status
    if info is not None and odoo_env.odoo_info() is None:
        print("FAILED: Odoo no longer imports after installing the requirements.", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
