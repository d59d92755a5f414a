"""The Chorus Pro technical account: how long its password lives.

The *gestionnaire principal* creates the technical account; its password expires every 424 days
(``chorus-pro-api.md`` §1.4) and only the gestionnaire can renew it. Chorus also tells the date
in ``structures/v1/consulter`` (``dateExpirationMotPasseCompteTech``) for the structures the
account is attached to: that date, when known, wins over the computed one.
"""

from __future__ import annotations

from datetime import date, timedelta

TECHNICAL_PASSWORD_LIFETIME_DAYS = 424


def password_expiry(changed_on: date) -> date:
    """The day a technical password set on ``changed_on`` (a Paris date) expires."""
    return changed_on + timedelta(days=TECHNICAL_PASSWORD_LIFETIME_DAYS)
