# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Where the RGS** key's refused PINs are remembered: ``chorus.pro.token.pin.block`` rows, read
and written in a transaction of their own (see :class:`DatabasePinGuardStore`)."""

import logging
from datetime import timezone

from odoo import SUPERUSER_ID, api

from odoo.addons.chorus_pro_liaison.services.transactions import can_commit

from chorus_pro.token import PinGuardStore, PinGuardUnavailable

_logger = logging.getLogger(__name__)


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
        if can_commit():
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
            if not found and can_commit():
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
