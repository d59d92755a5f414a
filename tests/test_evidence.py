"""chorus_pro.evidence: canonical, optionally signed evidence of a Chorus Pro exchange."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chorus_pro import token as tk
from chorus_pro.evidence import (
    EVIDENCE_FORMAT,
    Evidence,
    canonical_payload,
    sign_evidence,
    unsigned_evidence,
    verify_evidence,
)
from chorus_pro.timeutil import from_utc_naive

REQUEST = b'{"idFacture":4242,"idNouveauStatut":"MISE_EN_PAIEMENT","motif":"ok"}'
RESPONSE = b'{"codeRetour":0,"libelle":"GCU_MSG_01_000","iban":"FR7630006000011234567890189"}'
AT = datetime(2026, 3, 5, 14, 30, 15, 123456, tzinfo=timezone.utc)
EXTRA = {"operation": "traiterFactureRecue", "invoice_id": 4242, "user": "Jeanne"}


class SoftwareSigner:
    """Same interface as RgsToken.sign, with a software key: evidence tests need no token."""

    def __init__(self, key_type="ec", not_before=None, not_after=None):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import NameOID

        if key_type == "ec":
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_type = key_type
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Software Signer")])
        now = datetime.utcnow()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=1000))
            .not_valid_after(not_after or now + timedelta(days=1000))
            .sign(self.key, hashes.SHA256())
        )
        self.certificate_der = certificate.public_bytes(serialization.Encoding.DER)
        self.calls = []

    def sign(self, data, *, scheme=None):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        self.calls.append((bytes(data), scheme))
        if self.key_type == "ec":
            value = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
            algorithm = tk.ALGORITHM_ECDSA_SHA256
        else:
            value = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            algorithm = tk.ALGORITHM_RSA_PKCS1V15_SHA256
        return tk.Signature(
            value=value,
            algorithm=algorithm,
            certificate_der=self.certificate_der,
            signed_at=datetime.now(timezone.utc),
        )


@pytest.fixture(scope="module")
def signer():
    pytest.importorskip("cryptography")
    return SoftwareSigner("ec")


def flip_one_byte(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


# ------------------------------------------------------------------ canonical payload
def test_canonical_payload_is_deterministic_and_holds_digests_not_bodies():
    payload = canonical_payload(REQUEST, RESPONSE, AT, EXTRA)
    reordered = dict(reversed(list(EXTRA.items())))
    assert canonical_payload(REQUEST, RESPONSE, AT, reordered) == payload

    document = json.loads(payload)
    assert document == {
        "format": EVIDENCE_FORMAT,
        "at": "2026-03-05T14:30:15.123456Z",
        "request": {"sha256": hashlib.sha256(REQUEST).hexdigest(), "length": len(REQUEST)},
        "response": {"sha256": hashlib.sha256(RESPONSE).hexdigest(), "length": len(RESPONSE)},
        "extra": EXTRA,
    }
    assert payload == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert b"FR7630006000011234567890189" not in payload  # no IBAN copied into the evidence
    assert canonical_payload(REQUEST + b" ", RESPONSE, AT, EXTRA) != payload


def test_canonical_payload_time_is_utc_whatever_the_input_zone():
    paris = AT.astimezone(ZoneInfo("Europe/Paris"))
    naive_paris = paris.replace(tzinfo=None)  # the library's rule: naive = Paris time
    naive_utc = AT.replace(tzinfo=None)  # Odoo stores naive UTC: converted at the boundary
    expected = canonical_payload(REQUEST, RESPONSE, AT)
    assert canonical_payload(REQUEST, RESPONSE, paris) == expected
    assert canonical_payload(REQUEST, RESPONSE, naive_paris) == expected
    assert canonical_payload(REQUEST, RESPONSE, from_utc_naive(naive_utc)) == expected
    # A naive UTC value handed over as it is would be read as Paris time, an hour off in March.
    assert canonical_payload(REQUEST, RESPONSE, naive_utc) != expected


def test_canonical_payload_extra_values():
    payload = canonical_payload(
        REQUEST, RESPONSE, AT,
        {"amount": Decimal("12.50"), "day": date(2026, 1, 2), "é": ["ü"]},
    )
    document = json.loads(payload.decode("utf-8"))
    assert document["extra"] == {"amount": "12.50", "day": "2026-01-02", "é": ["ü"]}
    assert "é".encode("utf-8") in payload  # UTF-8, not \\u escapes
    with pytest.raises(TypeError):
        canonical_payload(REQUEST, RESPONSE, AT, {"amount": 12.5})
    with pytest.raises(TypeError):
        canonical_payload(REQUEST, RESPONSE, AT, {"when": object()})
    with pytest.raises(TypeError):
        canonical_payload("text body", RESPONSE, AT)


# ------------------------------------------------------------------ signed evidence
def test_signed_evidence_verifies_with_its_certificate_alone(signer):
    evidence = sign_evidence(signer, REQUEST, RESPONSE, AT, EXTRA)

    assert evidence.is_signed
    assert evidence.payload == canonical_payload(REQUEST, RESPONSE, AT, EXTRA)
    assert signer.calls[-1] == (evidence.payload, None)
    assert evidence.signed_at == AT
    assert evidence.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    result = verify_evidence(evidence, REQUEST, RESPONSE)
    assert result.status == "valid" and result.valid, result.problems
    assert result.signature_valid and result.request_matches and result.response_matches
    assert result.certificate_subject == "CN=Software Signer"
    assert result.certificate_fingerprint == hashlib.sha256(signer.certificate_der).hexdigest()
    # Without the bodies, the signature alone is still checked.
    bare = verify_evidence(evidence)
    assert bare.valid and bare.request_matches is None and bare.response_matches is None


def test_evidence_json_round_trip(signer):
    evidence = sign_evidence(signer, REQUEST, RESPONSE, AT, EXTRA)
    text = evidence.to_json()
    stored = json.loads(text)
    assert stored["format"] == EVIDENCE_FORMAT and stored["algorithm"] == tk.ALGORITHM_ECDSA_SHA256
    restored = Evidence.from_json(text)
    assert restored == evidence
    assert verify_evidence(restored, REQUEST, RESPONSE).valid
    with pytest.raises(ValueError):
        Evidence.from_json('{"format": "something-else"}')
    with pytest.raises(ValueError):
        Evidence.from_json(json.dumps(dict(stored, payload="***not base64***")))


@pytest.mark.parametrize(
    "tamper, problem",
    [
        ("request", "request_mismatch"),
        ("response", "response_mismatch"),
        ("time", "time_mismatch"),
        ("signature", "signature_invalid"),
        ("payload", "signature_invalid"),
        ("payload_time", "signature_invalid"),
        ("certificate", "signature_invalid"),
    ],
)
def test_tampering_is_detected(signer, tamper, problem):
    evidence = sign_evidence(signer, REQUEST, RESPONSE, AT, EXTRA)
    request, response = REQUEST, RESPONSE
    if tamper == "request":
        request = flip_one_byte(REQUEST, 10)
    elif tamper == "response":
        response = flip_one_byte(RESPONSE, len(RESPONSE) - 3)
    elif tamper == "time":
        evidence = dataclasses.replace(evidence, signed_at=AT + timedelta(microseconds=1))
    elif tamper == "signature":
        evidence = dataclasses.replace(evidence, signature=flip_one_byte(evidence.signature, 20))
    elif tamper == "payload":  # someone rewrites the recorded request digest
        forged = canonical_payload(flip_one_byte(REQUEST, 10), RESPONSE, AT, EXTRA)
        evidence = dataclasses.replace(evidence, payload=forged)
        request = flip_one_byte(REQUEST, 10)
    elif tamper == "payload_time":  # time moved consistently in payload and record
        later = AT + timedelta(hours=1)
        evidence = dataclasses.replace(
            evidence, payload=canonical_payload(REQUEST, RESPONSE, later, EXTRA), signed_at=later
        )
    elif tamper == "certificate":  # signature swapped for another key's, with its certificate
        other = SoftwareSigner("ec")
        evidence = dataclasses.replace(
            evidence, certificate_pem=tk.der_to_pem(other.certificate_der)
        )
    result = verify_evidence(evidence, request, response)
    assert result.status == "invalid"
    assert problem in result.problems
    assert not result.valid
    assert result.message


def test_tampered_stored_json_is_detected(signer):
    text = sign_evidence(signer, REQUEST, RESPONSE, AT, EXTRA).to_json()
    stored = json.loads(text)
    stored["signed_at"] = "2026-03-05T14:30:16.123456Z"
    assert "time_mismatch" in verify_evidence(Evidence.from_json(json.dumps(stored))).problems


def test_expected_certificate_fingerprint(signer):
    evidence = sign_evidence(signer, REQUEST, RESPONSE, AT, EXTRA)
    fingerprint = hashlib.sha256(signer.certificate_der).hexdigest()
    colon_form = ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    assert verify_evidence(evidence, expected_certificate_fingerprint=colon_form).valid
    wrong = verify_evidence(evidence, expected_certificate_fingerprint="00" * 32)
    assert wrong.problems == ("certificate_fingerprint_mismatch",)


def test_certificate_must_be_valid_at_the_recorded_time():
    now = datetime.utcnow()
    short_lived = SoftwareSigner(
        "ec", not_before=now - timedelta(days=2), not_after=now + timedelta(days=2)
    )
    old_time = datetime.now(timezone.utc) - timedelta(days=30)
    evidence = sign_evidence(short_lived, REQUEST, RESPONSE, old_time)
    result = verify_evidence(evidence)
    assert result.signature_valid is True
    assert result.problems == ("certificate_not_valid_at_signing",)


def test_unreadable_or_incomplete_evidence():
    evidence = Evidence(payload=b"not json", signed_at=AT)
    assert verify_evidence(evidence).problems == ("payload_unreadable",)
    unsigned = unsigned_evidence(REQUEST, RESPONSE, AT)
    half_signed = dataclasses.replace(unsigned, signature=b"\x01\x02")
    assert verify_evidence(half_signed).problems == ("signature_incomplete",)
    unknown = dataclasses.replace(half_signed, algorithm="md5-rsa", certificate_pem="x")
    assert verify_evidence(unknown).problems == ("algorithm_unknown",)
    garbled = dataclasses.replace(
        half_signed, algorithm=tk.ALGORITHM_ECDSA_SHA256, certificate_pem="garbage"
    )
    assert verify_evidence(garbled).problems == ("certificate_unreadable",)


# ------------------------------------------------------------------ unsigned evidence
def test_unsigned_evidence(signer):
    evidence = unsigned_evidence(REQUEST, RESPONSE, AT, EXTRA)
    assert not evidence.is_signed
    assert evidence.payload == sign_evidence(signer, REQUEST, RESPONSE, AT, EXTRA).payload
    result = verify_evidence(evidence, REQUEST, RESPONSE)
    assert result.status == "unsigned" and not result.valid
    assert result.signature_valid is None and result.request_matches and result.response_matches
    assert "Unsigned" in result.message
    assert Evidence.from_json(evidence.to_json()) == evidence
    # Bodies are still compared with the recorded digests.
    altered = verify_evidence(evidence, flip_one_byte(REQUEST), RESPONSE)
    assert altered.status == "invalid" and altered.problems == ("request_mismatch",)


# ------------------------------------------------------------------ with the SoftHSM token
@pytest.mark.parametrize("token_name, scheme", [("rsa", None), ("rsa", "pss"), ("ec", None)])
def test_evidence_signed_by_the_token(softhsm_tokens, token_name, scheme):
    fixture = getattr(softhsm_tokens, token_name)
    token = tk.RgsToken(fixture.config(), pin_guard=tk.PinGuard())
    exchanged_at = datetime.now(timezone.utc)  # within the token certificate's validity
    evidence = sign_evidence(token, REQUEST, RESPONSE, exchanged_at, EXTRA, scheme=scheme)
    assert evidence.signed_at == exchanged_at

    restored = Evidence.from_json(evidence.to_json())
    result = verify_evidence(
        restored, REQUEST, RESPONSE,
        expected_certificate_fingerprint=hashlib.sha256(fixture.certificate_der).hexdigest(),
    )
    assert result.valid, result.problems
    tampered = dataclasses.replace(restored, signature=flip_one_byte(restored.signature, 8))
    assert verify_evidence(tampered).problems == ("signature_invalid",)
    altered_response = flip_one_byte(RESPONSE, 5)
    assert verify_evidence(restored, REQUEST, altered_response).problems == ("response_mismatch",)


def test_evidence_with_an_unusable_token_raises_the_token_error(softhsm_tokens):
    token = tk.RgsToken(softhsm_tokens.expired.config(), pin_guard=tk.PinGuard())
    with pytest.raises(tk.CertificateExpired):
        sign_evidence(token, REQUEST, RESPONSE, AT, EXTRA)
