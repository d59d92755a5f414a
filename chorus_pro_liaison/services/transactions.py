# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""When the addon commits: background work commits batch by batch (a crash loses at most the
current batch), never inside tests, which keep their one transaction (Odoo's own pattern)."""

import logging

from odoo import modules, tools

_logger = logging.getLogger(__name__)


def can_commit():
    """False inside tests: they run in one transaction that is rolled back at the end."""
    return not tools.config["test_enable"] and not modules.module.current_test


def commit(cr):
    """Commit what is done so far (background work, batch by batch; never in tests)."""
    if can_commit():
        cr.commit()  # pylint: disable=invalid-commit


def rollback(cr):
    """Roll the transaction back on an error path (never in tests), quietly: what failed is
    reported by the caller."""
    if can_commit():
        try:
            cr.rollback()
        except Exception:
            _logger.warning("Chorus Pro: rollback failed", exc_info=True)
