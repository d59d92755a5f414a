# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The addon's code that is not a model: the retrieval and mandating engines that a run
executes, Chorus errors in words, transactions, the RGS** key's refused-PIN store.

Modules here import ``chorus_pro`` and Odoo's API, never the addon's models: models import
services, not the other way round (no import circle)."""
