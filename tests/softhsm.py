"""Reusable pytest fixtures for SoftHSM2 test tokens (RGS**-like key + certificate).

``tests/conftest.py`` makes the ``softhsm_tokens`` fixture available to every test module; the
token creation code lives in :mod:`chorus_pro.testing_softhsm` so that the Odoo addon tests can use it
without pytest.

One SoftHSM configuration per process: every token below lives in the same per-process
directory, created on first use and activated (``SOFTHSM2_CONF``) before this process's first
``pkcs11.lib()`` call - python-pkcs11 initialises the library once per module path and SoftHSM
reads its configuration then. Several test modules using the fixture get the same tokens
(creation is memoised per label in :func:`chorus_pro.testing_softhsm.shared_softhsm_tokens`).
When SoftHSM2 is missing, every test using these fixtures is skipped with a loud reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from chorus_pro import testing_softhsm
from chorus_pro.testing_softhsm import TokenSpec

RSA_LABEL = "rgs-rsa"
EC_LABEL = "rgs-ec"
EXPIRED_LABEL = "rgs-expired"
NOT_YET_VALID_LABEL = "rgs-not-yet-valid"
NO_CERTIFICATE_LABEL = "rgs-no-certificate"
PIN_LABEL = "rgs-pin-guard"
COMMON_NAME = "Jeanne Ordonnatrice"

_NOW = datetime.now(timezone.utc).replace(microsecond=0)
TOKEN_SPECS = (
    TokenSpec(RSA_LABEL, pin="4321", key_type="rsa", common_name=COMMON_NAME),
    TokenSpec(EC_LABEL, pin="4321", key_type="ec", common_name="Paul Comptable"),
    TokenSpec(
        EXPIRED_LABEL,
        key_type="rsa",
        not_before=_NOW - timedelta(days=400),
        not_after=_NOW - timedelta(days=2),
    ),
    TokenSpec(
        NOT_YET_VALID_LABEL,
        key_type="ec",
        not_before=_NOW + timedelta(days=10),
        not_after=_NOW + timedelta(days=400),
    ),
    TokenSpec(NO_CERTIFICATE_LABEL, key_type="ec", store_certificate=False),
    # Its own token: PIN tests read this token's PIN counter flags, nobody else logs in here.
    TokenSpec(PIN_LABEL, pin="2468", key_type="ec"),
)


def require_softhsm() -> None:
    """Skip LOUDLY when SoftHSM2 (or python-pkcs11) is not installed."""
    reason = testing_softhsm.softhsm_unavailable_reason()
    if reason:
        pytest.skip("SoftHSM2 not installed: %s - PKCS#11 token tests NOT run." % reason)


@pytest.fixture(scope="session")
def softhsm_tokens():
    """``SimpleNamespace`` of :class:`chorus_pro.testing_softhsm.TokenFixture`:
    ``rsa``, ``ec``, ``expired``, ``not_yet_valid``, ``no_certificate``, ``pin_guard``."""
    require_softhsm()
    fixtures = testing_softhsm.shared_softhsm_tokens(TOKEN_SPECS)
    return SimpleNamespace(
        rsa=fixtures[RSA_LABEL],
        ec=fixtures[EC_LABEL],
        expired=fixtures[EXPIRED_LABEL],
        not_yet_valid=fixtures[NOT_YET_VALID_LABEL],
        no_certificate=fixtures[NO_CERTIFICATE_LABEL],
        pin_guard=fixtures[PIN_LABEL],
    )


class CountingLibrary:
    """Wraps a python-pkcs11 ``lib`` and counts login attempts (``C_Login`` calls).

    ``extra_token_flags`` are OR-ed into the token flags and ``login_error`` is raised instead of
    logging in: ways to simulate token states SoftHSM cannot reach (e.g. a locked user PIN).
    ``mechanisms`` restricts the mechanism list the slot reports.
    """

    def __init__(self, library, *, extra_token_flags=0, login_error=None, mechanisms=None):
        self._library = library
        self.extra_token_flags = extra_token_flags
        self.login_error = login_error
        self.mechanisms = mechanisms
        self.login_attempts = 0
        self.get_token_calls = 0

    def __getattr__(self, name):
        return getattr(self._library, name)

    def get_token(self, **kwargs):
        self.get_token_calls += 1
        return _CountingToken(self._library.get_token(**kwargs), self)


class _Counting:
    """Everything of the wrapped python-pkcs11 object, but what a subclass overrides."""

    def __init__(self, wrapped, owner):
        self._wrapped = wrapped
        self._owner = owner

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


class _CountingSlot(_Counting):
    def get_mechanisms(self):
        mechanisms = self._wrapped.get_mechanisms()
        if self._owner.mechanisms is not None:
            mechanisms = {m for m in mechanisms if m in self._owner.mechanisms}
        return mechanisms


class _CountingToken(_Counting):
    @property
    def flags(self):
        return int(self._wrapped.flags) | self._owner.extra_token_flags

    @property
    def slot(self):
        return _CountingSlot(self._wrapped.slot, self._owner)

    def open(self, *args, **kwargs):
        if kwargs.get("user_pin") is not None or kwargs.get("so_pin") is not None:
            self._owner.login_attempts += 1
            if self._owner.login_error is not None:
                raise self._owner.login_error
        return self._wrapped.open(*args, **kwargs)


class CountingLoader:
    """``library_loader`` for :class:`chorus_pro.token.RgsToken`: a :class:`CountingLibrary`.

    ``load_calls`` counts module loads: zero means the token was not touched at all.
    """

    def __init__(self, **library_options):
        self.load_calls = 0
        self.library = None
        self._options = library_options

    def __call__(self, module_path):
        from chorus_pro.token import load_pkcs11_library

        self.load_calls += 1
        if self.library is None:
            self.library = CountingLibrary(load_pkcs11_library(module_path), **self._options)
        return self.library

    @property
    def login_attempts(self) -> int:
        return self.library.login_attempts if self.library is not None else 0
