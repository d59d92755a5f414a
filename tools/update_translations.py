#!/usr/bin/env python3
"""Re-export the addon's translation template and bring ``fr.po`` in line with it.

A fresh database gets the addon (no demo data), Odoo exports the template
(``i18n/chorus_pro_liaison.pot``: Python, JS and XML strings with the ``#. odoo-python`` /
``#. odoo-javascript`` marks Odoo 18 needs to load them), and ``fr.po`` is merged with it
(no fuzzy guesses). Entries that no longer exist in the code go to obsolete (``#~``) and are
then removed. The script ends by listing the French entries still empty, and exits non-zero when
there are some, so that "complete fr.po" is a command, not a hope.

Usage: ``python3 tools/update_translations.py [--check]`` (``--check``: only list what is
untranslated in the current ``fr.po``, no database).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import odoo_env  # noqa: E402
from odoo_env import ADDON, REPO, say  # noqa: E402

I18N = REPO / ADDON / "i18n"
TEMPLATE = I18N / f"{ADDON}.pot"
FRENCH = I18N / "fr.po"


def export_template(info: dict) -> None:
    database = f"chorus_i18n_{os.getpid()}"
    odoo_env.check_postgres()
    odoo_env.ensure_db_user()
    work = Path(tempfile.mkdtemp(prefix="chorus-i18n-"))
    base = [
        *odoo_env.odoo_command(info),
        *odoo_env.server_options(info, database, work / "data"),
        "--http-port", str(odoo_env.free_port()),
        "--stop-after-init",
    ]
    try:
        say(f"installing {ADDON} in {database}")
        subprocess.run([*base, "-i", ADDON], cwd=REPO, check=True)
        say(f"exporting {TEMPLATE.relative_to(REPO)}")
        exported = work / TEMPLATE.name
        subprocess.run([*base, "--i18n-export", str(exported), "--modules", ADDON],
                       cwd=REPO, check=True)
        if not exported.exists() or exported.stat().st_size == 0:
            raise SystemExit("the template was not exported")
        # Only a complete export replaces the template (a failed one never merges an old one).
        shutil.move(exported, TEMPLATE)
    finally:
        odoo_env.drop_database(database)


def merge_french() -> None:
    """``msgmerge`` without fuzzy guesses, written back the way Odoo writes its catalogues
    (polib, 78 columns), so that a merge changes only what changed."""
    import polib

    say(f"merging {FRENCH.relative_to(REPO)}")
    catalogue = polib.pofile(str(FRENCH), wrapwidth=78)
    template = polib.pofile(str(TEMPLATE), wrapwidth=78)
    catalogue.merge(template)
    for entry in catalogue.obsolete_entries():
        catalogue.remove(entry)
    for entry in catalogue:
        # polib.merge() may mark near matches fuzzy: an unreviewed guess is no translation.
        if entry.fuzzy:
            entry.flags.remove("fuzzy")
            entry.msgstr = ""
    catalogue.metadata["POT-Creation-Date"] = template.metadata.get("POT-Creation-Date", "")
    catalogue.save(str(FRENCH))


def untranslated() -> list[str]:
    import polib

    catalogue = polib.pofile(str(FRENCH))
    return [entry.msgid for entry in catalogue.untranslated_entries() + catalogue.fuzzy_entries()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list the untranslated entries")
    args = parser.parse_args()
    if not args.check:
        info = odoo_env.odoo_info()
        if info is None:
            print("Odoo is not importable: cannot export the template.", flush=True)
            return 2
        export_template(info)
        merge_french()
    missing = untranslated()
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    print(f"fr.po: {len(missing)} untranslated or fuzzy entries", flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
