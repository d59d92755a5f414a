"""Typed errors raised by the Chorus Pro client.

Every error carries what is needed to explain it to an accountant (``message``, in plain words)
and to a developer (``operation``, ``http_status``, ``code`` = ``codeRetour``, ``label`` =
``libelle``). ``temporary`` tells whether trying again later may succeed (network fault, Chorus
down, rate limit): the addon keeps the work pending and retries; other errors need a human.
Messages never contain secrets, IBANs or file contents.
"""

from __future__ import annotations

from typing import Optional


class ChorusProError(Exception):
    """Base class of every Chorus Pro client error.

    ``request_body`` / ``response_body``: the exact bytes exchanged, when the client kept them
    (status changes, so that a refusal can be stored as evidence too); empty otherwise.
    """

    temporary = False
    request_body = b""
    response_body = b""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        http_status: Optional[int] = None,
        code: Optional[int] = None,
        label: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.http_status = http_status
        self.code = code
        self.label = label

    def __str__(self) -> str:
        return self.message


class ChorusTransportError(ChorusProError):
    """Chorus Pro could not be reached (connection refused, DNS, timeout), retries exhausted."""

    temporary = True


class ChorusServerError(ChorusTransportError):
    """Chorus Pro answered 5xx or 429 (rate limit) until the retries were exhausted."""

    temporary = True


class ChorusMalformedResponse(ChorusProError):
    """The answer could not be understood (not JSON, missing pagination, broken file)."""

    temporary = True


class ChorusOutcomeUnknown(ChorusMalformedResponse):
    """A status change answered HTTP 200 without ``codeRetour``: Chorus may or may not have
    applied it. Not a success: read the history before saying it was sent, or sending it again."""


class ChorusCredentialsError(ChorusProError):
    """PISTE token refused, or HTTP 401 twice (token renewed once): credentials are wrong or expired.

    ``reason`` quotes the ``WWW-Authenticate`` header or the token endpoint's
    ``error_description``.
    """

    def __init__(self, message: str, *, reason: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.reason = reason


class ChorusAuthorizationError(ChorusProError):
    """HTTP 403: the PISTE application or the technical account may not use this API/structure."""


class ChorusNotFoundError(ChorusProError):
    """The invoice or structure does not exist (or is not visible to the technical account)."""


class ChorusTransitionRefused(ChorusProError):
    """``codeRetour`` 20002: the status change is not possible from the invoice's current status."""


class ChorusPayloadTooLarge(ChorusProError):
    """HTTP 413: the requested download bundle is over Chorus's size limit."""


class ChorusFunctionalError(ChorusProError):
    """Any other non-zero ``codeRetour``."""
