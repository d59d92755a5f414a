"""Every string the addon shows has its French translation, loadable the way Odoo loads it.

The terms are read the way Odoo exports them (``TranslationModuleReader``: fields, views, menus,
selections, Python ``_()`` and JavaScript ``_t()``), so a string added without French fails here,
whatever file it lives in; the strings of the code are then looked up the way Odoo serves them
(``CodeTranslations``, which keeps only entries carrying the ``code`` occurrence and the
``odoo-python`` / ``odoo-javascript`` mark).
"""

from pathlib import Path

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import (
    JAVASCRIPT_TRANSLATION_COMMENT,
    PYTHON_TRANSLATION_COMMENT,
    CodeTranslations,
    TranslationModuleReader,
)

ADDON = "chorus_pro_liaison"
FRENCH = Path(__file__).resolve().parent.parent / "i18n" / "fr.po"


@tagged("post_install", "-at_install")
class TestFrenchCatalogue(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.french = {entry.msgid: entry.msgstr for entry in polib.pofile(str(FRENCH))
                      if not entry.obsolete}
        cls.terms = [
            (ttype, name, source, comments)
            for _module, ttype, name, _res_id, source, _value, comments in TranslationModuleReader(
                cls.env.cr, modules=[ADDON]
            )
        ]

    def test_every_term_has_its_french(self):
        self.assertGreater(len(self.terms), 500, "the addon's terms were not read")
        missing = sorted({f"{name}: {source!r}" for _ttype, name, source, _comments in self.terms
                          if not self.french.get(source, "").strip()})
        self.assertFalse(missing, "Strings without French in fr.po:\n" + "\n".join(missing[:40]))

    def test_code_strings_are_served_in_french(self):
        loader = CodeTranslations()  # a fresh one: reads fr.po as it is on disk now
        python = loader.get_python_translations(ADDON, "fr_FR")
        web = {m["id"] for m in loader.get_web_translations(ADDON, "fr_FR")["messages"]}
        unserved = []
        for _ttype, name, source, comments in self.terms:
            if PYTHON_TRANSLATION_COMMENT in comments and source not in python:
                unserved.append(f"{name}: {source!r} (Python)")
            if JAVASCRIPT_TRANSLATION_COMMENT in comments and source not in web:
                unserved.append(f"{name}: {source!r} (JavaScript)")
        self.assertGreater(len(python), 100)
        self.assertFalse(unserved, "French Odoo would not serve:\n" + "\n".join(sorted(unserved)[:40]))
        self.assertEqual(python[" Chorus Pro said: %(said)s"], " Réponse de Chorus Pro : %(said)s")
