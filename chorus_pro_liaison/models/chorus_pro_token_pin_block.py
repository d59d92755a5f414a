# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Refused PINs of the RGS** key, kept in the database so that no worker retries them.

A real token locks itself for good after a few wrong PINs (often 3). Once the key refused a PIN,
:class:`DatabasePinGuardStore` remembers the fingerprint of that configuration (module path +
token label + key label + salted hash of the PIN - never the PIN) and every later attempt with
the same configuration stops before touching the key, in every Odoo worker and cron, until the
PIN or the labels change (or a manager forgets the refusal).
"""

import logging
from datetime import timezone

from odoo import SUPERUSER_ID, api, fields, models, modules, tools

from chorus_pro.token import PinGuardStore, PinGuardUnavailable

_logger = logging.getLogger(__name__)


class ChorusProTokenPinBlock(models.Model):
    _name = "chorus.pro.token.pin.block"
    _description = "Chorus Pro RGS** key: refused PIN (fingerprint only)"
    _order = "blocked_at desc"

    account_id = fields.Many2one(
        "chorus.pro.account", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    fingerprint = fields.Char(required=True, index=True, help="Opaque: never reveals the PIN.")
    blocked_at = fields.Datetime(string="Refused on", required=True)

    _sql_constraints = [
        (
            "fingerprint_unique",
            "unique(account_id, fingerprint)",
            "This PIN refusal is already recorded.",
        ),
    ]


def _in_tests():
    # Same rule as chorus.pro.run._can_commit: a test keeps one transaction, never commits.
    return tools.config["test_enable"] or modules.module.current_test


class DatabasePinGuardStore(PinGuardStore):
    """:class:`chorus_pro.token.PinGuardStore` on ``chorus.pro.token.pin.block`` rows.

    Outside tests, reads and writes go through their own cursor, committed at once: a refusal
    must survive the rollback of the action that met it (a guard error rolls the request back),
    and a refusal recorded by another worker after this transaction began must be seen.
    """

    def __init__(self, account):
        self.env = account.env
        self.account_id = account.id

    # ------------------------------------------------------------------ plumbing
    def _run(self, function):
        """``function(env)`` in a separate committed transaction when possible."""
        if not _in_tests():
            try:
                with self.env.registry.cursor() as cr:
                    return function(api.Environment(cr, SUPERUSER_ID, {}))
            except Exception:  # noqa: BLE001 - e.g. the account is not committed yet
                _logger.warning(
                    "Chorus Pro PIN guard: separate transaction failed for account %s; using "
                    "the current one",
                    self.account_id,
                    exc_info=True,
                )
        return function(self.env(su=True))

    def _blocks(self, env, fingerprint=None):
        domain = [("account_id", "=", self.account_id)]
        if fingerprint is not None:
            domain.append(("fingerprint", "=", fingerprint))
        return env["chorus.pro.token.pin.block"].sudo().search(domain)

    # ------------------------------------------------------------------ PinGuardStore
    def get(self, fingerprint):
        try:
            found = self._run(lambda env: self._blocks(env, fingerprint)[:1].blocked_at)
            if not found and not _in_tests():
                # A refusal recorded in this very transaction (fallback of ``set``).
                found = self._blocks(self.env(su=True), fingerprint)[:1].blocked_at
        except Exception as error:  # noqa: BLE001 - unknown means "do not log in"
            raise PinGuardUnavailable(
                "The record of refused PINs cannot be read.", detail=type(error).__name__
            ) from error
        return found.replace(tzinfo=timezone.utc) if found else None

    def set(self, fingerprint, blocked_at):
        naive = blocked_at.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)

        def record(env):
            if not self._blocks(env, fingerprint):
                env["chorus.pro.token.pin.block"].sudo().create(
                    {"account_id": self.account_id, "fingerprint": fingerprint,
                     "blocked_at": naive}
                )

        self._run(record)

    def delete(self, fingerprint=None):
        self._run(lambda env: self._blocks(env, fingerprint).unlink())
