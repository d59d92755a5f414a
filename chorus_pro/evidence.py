"""Evidence of an exchange with Chorus Pro, optionally signed with the RGS** token.

An evidence record proves, later and to a third party, what was sent to Chorus Pro and what
Chorus answered, and when. Its *canonical payload* is a deterministic JSON document (sorted
keys, compact separators, UTF-8) holding:

* ``request`` / ``response``: SHA-256 (hex) and length of the EXACT bytes sent and received -
  digests rather than copies, because bodies may carry IBANs or invoice files that must not be
  duplicated; the caller keeps the bodies where it already stores them, and
  :func:`verify_evidence` checks them against the digests;
* ``at``: the time of the exchange, ISO 8601 UTC with microseconds and a ``Z``;
* ``extra``: caller metadata (operation, invoice id, user...), JSON values only;
* ``format``: :data:`EVIDENCE_FORMAT`.

:func:`sign_evidence` signs those exact bytes with the token (see :mod:`chorus_pro.token`);
:func:`unsigned_evidence` builds the same payload without a signature, for databases without a
token. :func:`verify_evidence` needs only the certificate stored in the evidence. It proves
integrity and which certificate signed - not that the certificate is trusted: compare its
fingerprint with the registered one (``expected_certificate_fingerprint``).

Imports nothing outside the standard library at import time; ``cryptography`` is needed only to
verify a signed evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Dict, Mapping, Optional, Tuple

from chorus_pro.timeutil import as_aware
from chorus_pro.token import ALGORITHMS, certificate_info, der_to_pem, load_certificate, verify

EVIDENCE_FORMAT = "chorus_pro.evidence/1"

STATUS_VALID = "valid"
STATUS_UNSIGNED = "unsigned"
STATUS_INVALID = "invalid"

_PROBLEM_MESSAGES = {
    "payload_unreadable": "The evidence payload is not a readable evidence document.",
    "time_mismatch": "The stored time differs from the signed time.",
    "request_mismatch": "The request body does not match the one recorded in the evidence.",
    "response_mismatch": "The Chorus Pro answer does not match the one recorded in the evidence.",
    "signature_incomplete": "The signature, its algorithm or its certificate is missing.",
    "algorithm_unknown": "The signature algorithm is unknown.",
    "certificate_unreadable": "The certificate stored with the signature cannot be read.",
    "certificate_fingerprint_mismatch": "The evidence was signed with another certificate.",
    "certificate_not_valid_at_signing": "The certificate was not valid at the recorded time.",
    "signature_invalid": "The signature does not match the evidence (it was altered).",
}


# ----------------------------------------------------------------------- canonical payload
def _iso_utc(value: datetime) -> str:
    """ISO 8601 UTC with microseconds and ``Z``; a naive value is Paris time (the library's
    rule, :mod:`chorus_pro.timeutil`: convert Odoo's naive UTC with ``from_utc_naive``)."""
    if not isinstance(value, datetime):
        raise TypeError("a datetime is required, not %s" % type(value).__name__)
    return as_aware(value).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _json_value(value: Any, path: str = "extra") -> Any:
    """Deterministic JSON value: floats, sets and arbitrary objects are refused."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise TypeError("%s: floats are not portable in signed JSON; use str or Decimal" % path)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("%s: keys must be strings, not %r" % (path, key))
            result[key] = _json_value(item, "%s.%s" % (path, key))
        return result
    if isinstance(value, (list, tuple)):
        return [_json_value(item, "%s[%d]" % (path, index)) for index, item in enumerate(value)]
    raise TypeError("%s: %s is not a JSON value" % (path, type(value).__name__))


def _digest(body: bytes) -> Dict[str, Any]:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError("bodies must be the exact bytes exchanged, not %s" % type(body).__name__)
    body = bytes(body)
    return {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


def _canonical_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_payload(
    request_body: bytes,
    response_body: bytes,
    at: datetime,
    extra: Optional[Mapping[str, Any]] = None,
) -> bytes:
    """The exact bytes that are signed (same inputs, same bytes, on any machine)."""
    document = {
        "format": EVIDENCE_FORMAT,
        "at": _iso_utc(at),
        "request": _digest(request_body),
        "response": _digest(response_body),
        "extra": _json_value(dict(extra or {})),
    }
    return _canonical_bytes(document)


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Evidence:
    """One evidence record: canonical payload bytes and, when signed, signature + certificate.

    ``signed_at`` is the exchange time written in the payload (aware UTC). Store it with
    :meth:`to_json` and read it back with :meth:`from_json`: the payload travels as base64 so
    that its bytes never change.
    """

    payload: bytes = field(repr=False)
    signed_at: datetime
    signature: Optional[bytes] = field(default=None, repr=False)
    algorithm: Optional[str] = None
    certificate_pem: Optional[str] = field(default=None, repr=False)

    @property
    def is_signed(self) -> bool:
        """True when a signature is attached."""
        return self.signature is not None

    @property
    def document(self) -> Dict[str, Any]:
        """The payload as a dict (``ValueError`` if it is not valid JSON)."""
        return json.loads(self.payload.decode("utf-8"))

    def to_json(self) -> str:
        """Storage form (a JSON text; the payload and signature are base64)."""
        return json.dumps(
            {
                "format": EVIDENCE_FORMAT,
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "signed_at": _iso_utc(self.signed_at),
                "signature": (
                    base64.b64encode(self.signature).decode("ascii")
                    if self.signature is not None
                    else None
                ),
                "algorithm": self.algorithm,
                "certificate_pem": self.certificate_pem,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "Evidence":
        """Read :meth:`to_json` output back (``ValueError`` when it is not an evidence record)."""
        try:
            data = json.loads(text)
            if data.get("format") != EVIDENCE_FORMAT:
                raise ValueError("unknown evidence format %r" % data.get("format"))
            signature = data.get("signature")
            if signature is not None:
                signature = base64.b64decode(signature, validate=True)
            return cls(
                payload=base64.b64decode(data["payload"], validate=True),
                signed_at=_parse_iso_utc(data["signed_at"]),
                signature=signature,
                algorithm=data.get("algorithm"),
                certificate_pem=data.get("certificate_pem"),
            )
        except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ValueError("not an evidence record: %s" % exc) from exc


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of :func:`verify_evidence`.

    ``status`` is ``"valid"`` (signed, signature and every given body check out),
    ``"unsigned"`` (no signature; the given bodies match) or ``"invalid"`` (see ``problems``).
    ``request_matches``/``response_matches`` are ``None`` when that body was not given;
    ``signature_valid`` is ``None`` for unsigned evidence.
    """

    status: str
    problems: Tuple[str, ...] = ()
    signature_valid: Optional[bool] = None
    request_matches: Optional[bool] = None
    response_matches: Optional[bool] = None
    signed_at: Optional[datetime] = None
    certificate_subject: Optional[str] = None
    certificate_fingerprint: Optional[str] = None

    @property
    def valid(self) -> bool:
        """True only for a signed evidence that checks out."""
        return self.status == STATUS_VALID

    @property
    def message(self) -> str:
        """Plain-words summary."""
        if self.status == STATUS_VALID:
            return "Signed evidence verified (certificate %s)." % self.certificate_subject
        if self.status == STATUS_UNSIGNED:
            return "Unsigned evidence: integrity cannot be proven by a signature."
        return " ".join(_PROBLEM_MESSAGES.get(code, code) for code in self.problems)


# ----------------------------------------------------------------------------- API
def unsigned_evidence(
    request_body: bytes,
    response_body: bytes,
    at: datetime,
    extra: Optional[Mapping[str, Any]] = None,
) -> Evidence:
    """Evidence without a signature (no token configured): same canonical payload."""
    payload = canonical_payload(request_body, response_body, at, extra)
    return Evidence(payload=payload, signed_at=_parse_iso_utc(json.loads(payload)["at"]))


def sign_evidence(
    token,
    request_body: bytes,
    response_body: bytes,
    at: datetime,
    extra: Optional[Mapping[str, Any]] = None,
    *,
    scheme: Optional[str] = None,
) -> Evidence:
    """Evidence signed by ``token`` (an :class:`chorus_pro.token.RgsToken`, or any object with
    the same ``sign(data, scheme=...) -> Signature``). Token errors propagate unchanged
    (:class:`chorus_pro.token.TokenError`): the caller decides whether to keep an unsigned one.
    """
    evidence = unsigned_evidence(request_body, response_body, at, extra)
    signature = token.sign(evidence.payload, scheme=scheme)
    return Evidence(
        payload=evidence.payload,
        signed_at=evidence.signed_at,
        signature=bytes(signature.value),
        algorithm=signature.algorithm,
        certificate_pem=der_to_pem(bytes(signature.certificate_der)),
    )


def verify_evidence(
    evidence: Evidence,
    request_body: Optional[bytes] = None,
    response_body: Optional[bytes] = None,
    *,
    expected_certificate_fingerprint: Optional[str] = None,
) -> VerificationResult:
    """Check an evidence record with its own certificate (no token needed).

    Checks that the payload is an evidence document whose time equals ``signed_at``; that the
    given bodies (when given) have the recorded digests; for signed evidence, that the
    signature matches the payload, that the certificate was valid at the recorded time and,
    when given, that its SHA-256 fingerprint (hex, any case, colons allowed) is the expected one.
    """
    problems = []
    request_matches = response_matches = signature_valid = None
    subject = fingerprint = None

    try:
        document = evidence.document
        recorded_at = document["at"]
        recorded_request = document["request"]["sha256"]
        recorded_response = document["response"]["sha256"]
        if document.get("format") != EVIDENCE_FORMAT:
            raise ValueError("format")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        document = None
        problems.append("payload_unreadable")

    if document is not None:
        if recorded_at != _iso_utc(evidence.signed_at):
            problems.append("time_mismatch")
        if request_body is not None:
            request_matches = _digest(request_body)["sha256"] == recorded_request
            if not request_matches:
                problems.append("request_mismatch")
        if response_body is not None:
            response_matches = _digest(response_body)["sha256"] == recorded_response
            if not response_matches:
                problems.append("response_mismatch")

    if evidence.is_signed:
        signature_valid = False
        if not evidence.algorithm or not evidence.certificate_pem:
            problems.append("signature_incomplete")
        elif evidence.algorithm not in ALGORITHMS:
            problems.append("algorithm_unknown")
        else:
            try:
                certificate = load_certificate(evidence.certificate_pem)
                info = certificate_info(certificate)
            except (ValueError, TypeError):
                info = None
                problems.append("certificate_unreadable")
            if info is not None:
                subject, fingerprint = info.subject, info.sha256_fingerprint
                if expected_certificate_fingerprint is not None and _normalise_fingerprint(
                    expected_certificate_fingerprint
                ) != fingerprint:
                    problems.append("certificate_fingerprint_mismatch")
                if not info.is_valid_at(evidence.signed_at):
                    problems.append("certificate_not_valid_at_signing")
                signature_valid = verify(
                    evidence.payload, evidence.signature, certificate, evidence.algorithm
                )
                if not signature_valid:
                    problems.append("signature_invalid")

    if problems:
        status = STATUS_INVALID
    elif evidence.is_signed:
        status = STATUS_VALID
    else:
        status = STATUS_UNSIGNED
    return VerificationResult(
        status=status,
        problems=tuple(problems),
        signature_valid=signature_valid,
        request_matches=request_matches,
        response_matches=response_matches,
        signed_at=evidence.signed_at,
        certificate_subject=subject,
        certificate_fingerprint=fingerprint,
    )


def _normalise_fingerprint(value: str) -> str:
    return value.replace(":", "").replace(" ", "").lower()
