"""chorus_pro.token: the RGS** key on a PKCS#11 token (SoftHSM2 stands in for the real token)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from chorus_pro import token as tk
from chorus_pro.token import (
    CKF_USER_PIN_COUNT_LOW,
    CKF_USER_PIN_LOCKED,
    JsonFilePinGuardStore,
    MemoryPinGuardStore,
    PinGuard,
    RgsToken,
    TokenConfig,
)

from softhsm import COMMON_NAME, CountingLoader  # tests/softhsm.py (conftest.py)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = b'{"idFacture": 4242, "statut": "MISE_A_DISPOSITION"}'


def make_token(fixture, *, guard=None, loader=None, **config_overrides) -> RgsToken:
    """A token object with its own PIN guard (tests never share the process-wide guard)."""
    return RgsToken(
        fixture.config(**config_overrides),
        pin_guard=guard if guard is not None else PinGuard(),
        library_loader=loader,
    )


def cryptography_certificate(der: bytes):
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


# ------------------------------------------------------------------ no token needed
def test_importing_the_module_does_not_import_pkcs11():
    code = (
        "import sys; import chorus_pro.token, chorus_pro.evidence; "
        "print(sorted(m for m in ('pkcs11', 'cryptography', 'asn1crypto') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_pin_from_environment():
    assert tk.pin_from_environment(environ={"CHORUS_PRO_TOKEN_PIN": "1234"}) == "1234"
    assert tk.pin_from_environment(environ={"CHORUS_PRO_TOKEN_PIN": ""}) is None
    assert tk.pin_from_environment(environ={}) is None
    assert tk.pin_from_environment("OTHER_PIN", environ={"OTHER_PIN": "9"}) == "9"


def test_pin_from_environment_reads_os_environ(monkeypatch):
    monkeypatch.setenv("CHORUS_PRO_TOKEN_PIN", "7788")
    assert tk.pin_from_environment() == "7788"


def test_config_never_shows_the_pin():
    config = TokenConfig("/lib/vendor.so", "token", "key", pin="98765")
    assert "98765" not in repr(config)
    assert "98765" not in repr(RgsToken(config))
    with pytest.raises(ValueError):
        TokenConfig("", "token", "key")


def test_every_error_has_a_code_and_a_plain_message():
    classes = [
        tk.Pkcs11Unavailable, tk.ModuleNotLoadable, tk.ModuleNotFound, tk.TokenAbsent,
        tk.PinMissing, tk.PinIncorrect, tk.PinRetryBlocked, tk.PinLocked, tk.PinExpired,
        tk.KeyNotFound, tk.CertificateNotFound, tk.CertificateExpired, tk.CertificateNotYetValid,
        tk.KeyCertificateMismatch, tk.MechanismNotSupported, tk.PinGuardUnavailable,
        tk.TokenOperationError,
    ]
    codes = {cls.code for cls in classes}
    assert len(codes) == len(classes)
    for cls in classes:
        error = cls("Plain words.")
        assert isinstance(error, tk.TokenError)
        assert str(error) == "Plain words."
    assert issubclass(tk.PinRetryBlocked, tk.PinIncorrect)
    assert issubclass(tk.ModuleNotFound, tk.ModuleNotLoadable)
    assert issubclass(tk.CertificateExpired, tk.CertificateNotValid)


def test_pkcs11_error_mapping():
    from pkcs11 import exceptions as p11

    expected = {
        p11.PinIncorrect: tk.PinIncorrect,
        p11.PinLenRange: tk.PinIncorrect,
        p11.PinLocked: tk.PinLocked,  # CKR_PIN_LOCKED
        p11.PinExpired: tk.PinExpired,
        p11.NoSuchToken: tk.TokenAbsent,
        p11.TokenNotPresent: tk.TokenAbsent,
        p11.DeviceRemoved: tk.TokenAbsent,
        p11.NoSuchKey: tk.KeyNotFound,
        p11.MechanismInvalid: tk.MechanismNotSupported,
        p11.DeviceError: tk.TokenOperationError,
    }
    for pkcs11_class, token_class in expected.items():
        error = tk.translate_pkcs11_error(pkcs11_class())
        assert type(error) is token_class, pkcs11_class
        assert error.detail == pkcs11_class.__name__
    ambiguous = tk.translate_pkcs11_error(p11.MultipleTokensReturned())
    assert ambiguous.code == "token_ambiguous"


# ------------------------------------------------------------------ PIN guard
def test_pin_guard_fingerprint_depends_on_every_field_and_hides_the_pin():
    guard = PinGuard()
    base = TokenConfig("/m.so", "token", "key", pin="1234")
    fingerprints = {
        guard.fingerprint(config)
        for config in (
            base,
            base.with_pin("1235"),
            TokenConfig("/other.so", "token", "key", pin="1234"),
            TokenConfig("/m.so", "token2", "key", pin="1234"),
            TokenConfig("/m.so", "token", "key2", pin="1234"),
        )
    }
    assert len(fingerprints) == 5
    same = TokenConfig("/m.so", "token", "key", pin="1234")
    assert guard.fingerprint(base) == guard.fingerprint(same)
    fingerprint = guard.fingerprint(base)
    assert "1234" not in fingerprint
    assert fingerprint != hashlib.sha256(b"1234").hexdigest()
    assert PinGuard(pepper=b"server secret").fingerprint(base) != fingerprint


def test_pin_guard_blocks_until_reset_or_config_change():
    guard = PinGuard(MemoryPinGuardStore())
    config = TokenConfig("/m.so", "token", "key", pin="0000")
    guard.ensure_allowed(config)
    guard.record_failure(config)
    with pytest.raises(tk.PinRetryBlocked):
        guard.ensure_allowed(config)
    guard.ensure_allowed(config.with_pin("1111"))  # a new PIN is a new configuration
    guard.reset(config)
    guard.ensure_allowed(config)


def test_json_file_store_persists_without_the_pin(tmp_path):
    path = tmp_path / "guard" / "pin-guard.json"
    config = TokenConfig("/m.so", "token", "key", pin="55667788")
    PinGuard(JsonFilePinGuardStore(str(path))).record_failure(config)

    reopened = PinGuard(JsonFilePinGuardStore(str(path)))
    assert reopened.is_blocked(config)
    assert not reopened.is_blocked(config.with_pin("55667789"))
    content = path.read_text()
    assert "55667788" not in content
    assert hashlib.sha256(b"55667788").hexdigest() not in content
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    reopened.reset()
    assert not PinGuard(JsonFilePinGuardStore(str(path))).is_blocked(config)


def test_json_file_store_refuses_an_unreadable_file(tmp_path):
    path = tmp_path / "pin-guard.json"
    path.write_text("{not json")
    guard = PinGuard(JsonFilePinGuardStore(str(path)))
    with pytest.raises(tk.PinGuardUnavailable):
        guard.ensure_allowed(TokenConfig("/m.so", "token", "key", pin="1"))


# ------------------------------------------------------------------ presence and details
def test_check_reports_presence_and_certificate_details(softhsm_tokens):
    fixture = softhsm_tokens.rsa
    status = make_token(fixture).check()

    assert status.ok, status.message
    assert status.problem is None and status.error is None
    assert status.module_loaded and status.token_present and status.pin_accepted
    assert status.key_found and status.certificate_found
    assert status.key_type == "RSA"
    assert status.token_manufacturer == "SoftHSM project"
    info = status.certificate
    expected = cryptography_certificate(fixture.certificate_der)
    assert info.common_name == COMMON_NAME
    assert "CN=%s" % COMMON_NAME in info.subject and "C=FR" in info.subject
    assert info.issuer == info.subject  # self-signed test certificate
    assert int(info.serial_hex, 16) == expected.serial_number
    assert info.not_before == fixture.not_before and info.not_before.tzinfo is not None
    assert info.not_after == fixture.not_after and info.not_after.utcoffset() == timedelta(0)
    assert info.key_usage == ("digitalSignature", "nonRepudiation")
    assert info.extended_key_usage == ("clientAuth", "emailProtection")
    assert (info.key_type, info.key_size, info.curve) == ("RSA", 2048, None)
    assert info.sha256_fingerprint == hashlib.sha256(fixture.certificate_der).hexdigest()
    assert info.der == fixture.certificate_der
    assert status.valid_today is True
    assert status.days_left == (fixture.not_after - status.checked_at) // timedelta(days=1)
    assert 360 <= status.days_left <= 365
    assert "ready" in status.message and COMMON_NAME in status.message
    json.dumps(status.to_dict())  # serialisable for the addon


def test_check_of_an_ec_token(softhsm_tokens):
    status = make_token(softhsm_tokens.ec).check()
    assert status.ok, status.message
    assert status.key_type == "EC"
    assert (status.certificate.key_type, status.certificate.key_size) == ("EC", 256)
    assert status.certificate.curve == "secp256r1"
    assert status.certificate.common_name == "Paul Comptable"


def test_check_at_a_given_moment(softhsm_tokens):
    fixture = softhsm_tokens.rsa
    status = make_token(fixture).check(at=fixture.not_after - timedelta(days=10, hours=1))
    assert status.ok and status.days_left == 10
    late = make_token(fixture).check(at=fixture.not_after + timedelta(seconds=1))
    assert late.problem == "certificate_expired" and late.valid_today is False


def test_test_certificate_is_self_signed_with_critical_key_usage(softhsm_tokens):
    # cryptography 3.4.8 has no verify_directly_issued_by: check the self-signature by hand.
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    for fixture in (softhsm_tokens.rsa, softhsm_tokens.ec):
        certificate = cryptography_certificate(fixture.certificate_der)
        public_key = certificate.public_key()
        if fixture.key_type == "rsa":
            public_key.verify(
                certificate.signature, certificate.tbs_certificate_bytes,
                padding.PKCS1v15(), certificate.signature_hash_algorithm,
            )
        else:
            public_key.verify(
                certificate.signature, certificate.tbs_certificate_bytes,
                ec.ECDSA(certificate.signature_hash_algorithm),
            )
        key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
        assert key_usage.critical
        assert key_usage.value.digital_signature and key_usage.value.content_commitment


# ------------------------------------------------------------------ signing
def test_sign_pkcs1v15_verified_with_the_certificate_alone(softhsm_tokens):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = make_token(softhsm_tokens.rsa).sign(DATA)

    assert signature.algorithm == tk.ALGORITHM_RSA_PKCS1V15_SHA256
    assert signature.certificate_der == softhsm_tokens.rsa.certificate_der
    assert signature.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    # Independent check: only cryptography and the PEM certificate.
    from cryptography import x509

    public_key = x509.load_pem_x509_certificate(signature.certificate_pem.encode()).public_key()
    public_key.verify(signature.value, DATA, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(signature.value, DATA + b" ", padding.PKCS1v15(), hashes.SHA256())
    # PKCS#1 v1.5 is deterministic: same data, same signature.
    assert make_token(softhsm_tokens.rsa).sign(DATA, scheme="pkcs1v15").value == signature.value
    assert tk.verify(DATA, signature.value, signature.certificate_pem, signature.algorithm)
    tampered = DATA[:-1] + b"!"
    assert not tk.verify(tampered, signature.value, signature.certificate_der, signature.algorithm)


def test_sign_pss_verified_with_the_certificate_alone(softhsm_tokens):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    token = make_token(softhsm_tokens.rsa)
    first = token.sign(DATA, scheme="pss")
    second = token.sign(DATA, scheme="pss")

    assert first.algorithm == tk.ALGORITHM_RSA_PSS_SHA256
    assert first.value != second.value  # PSS is randomised
    public_key = cryptography_certificate(first.certificate_der).public_key()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public_key.verify(first.value, DATA, pss, hashes.SHA256())
    public_key.verify(second.value, DATA, pss, hashes.SHA256())
    with pytest.raises(InvalidSignature):  # the salt really is 32 bytes
        salt_20 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
        public_key.verify(first.value, DATA, salt_20, hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(first.value, DATA + b"x", pss, hashes.SHA256())
    assert not first.verify(DATA + b"x")
    assert not tk.verify(DATA, first.value, first.certificate_der, tk.ALGORITHM_RSA_PKCS1V15_SHA256)


def test_sign_ecdsa_returns_der_verified_with_the_certificate_alone(softhsm_tokens):
    from asn1crypto.algos import DSASignature
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = make_token(softhsm_tokens.ec).sign(DATA)

    assert signature.algorithm == tk.ALGORITHM_ECDSA_SHA256
    DSASignature.load(signature.value)  # DER ECDSA-Sig-Value, not raw r||s
    public_key = cryptography_certificate(signature.certificate_der).public_key()
    public_key.verify(signature.value, DATA, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public_key.verify(signature.value, DATA + b"x", ec.ECDSA(hashes.SHA256()))
    assert signature.verify(DATA) and not signature.verify(DATA + b"x")


@pytest.mark.parametrize(
    "scheme, raw", [("pkcs1v15", "RSA_PKCS"), ("pss", "RSA_PKCS_PSS")]
)
def test_sign_hashes_locally_without_the_combined_mechanism(softhsm_tokens, scheme, raw):
    # The token lists only the raw mechanism (not SHA256_RSA_PKCS[_PSS]): hash here, sign there.
    from pkcs11 import Mechanism

    normal = make_token(softhsm_tokens.rsa).sign(DATA, scheme=scheme)
    loader = CountingLoader(mechanisms={Mechanism[raw]})
    fallback = make_token(softhsm_tokens.rsa, loader=loader).sign(DATA, scheme=scheme)
    assert fallback.algorithm == normal.algorithm
    assert fallback.verify(DATA)
    if scheme == "pkcs1v15":
        assert fallback.value == normal.value  # same DigestInfo, deterministic scheme
    with pytest.raises(tk.MechanismNotSupported):
        make_token(softhsm_tokens.rsa, loader=CountingLoader(mechanisms={Mechanism.AES_CBC})).sign(
            DATA, scheme=scheme
        )


def test_ecdsa_mechanism_choice():
    # SoftHSM 2.6 lists CKM_ECDSA but not CKM_ECDSA_SHA256; real tokens often list both.
    from pkcs11 import Mechanism

    both = frozenset({Mechanism.ECDSA, Mechanism.ECDSA_SHA256})
    assert tk._choose_mechanism("EC", None, both) == (
        tk.ALGORITHM_ECDSA_SHA256, Mechanism.ECDSA_SHA256, None, False
    )
    assert tk._choose_mechanism("EC", "ecdsa", frozenset({Mechanism.ECDSA})) == (
        tk.ALGORITHM_ECDSA_SHA256, Mechanism.ECDSA, None, True
    )
    # A token that cannot list its mechanisms: use the combined one and let it answer.
    assert tk._choose_mechanism("EC", None, None)[1] == Mechanism.ECDSA_SHA256


def test_scheme_must_fit_the_key(softhsm_tokens):
    with pytest.raises(tk.MechanismNotSupported):
        make_token(softhsm_tokens.ec).sign(DATA, scheme="pss")
    with pytest.raises(tk.MechanismNotSupported):
        make_token(softhsm_tokens.rsa).sign(DATA, scheme="ecdsa")
    with pytest.raises(ValueError):
        make_token(softhsm_tokens.rsa).sign(DATA, scheme="md5")


def test_verify_rejects_unknown_algorithms_and_wrong_key_types(softhsm_tokens):
    signature = make_token(softhsm_tokens.ec).sign(DATA)
    with pytest.raises(ValueError):
        tk.verify(DATA, signature.value, signature.certificate_der, "dsa-sha1")
    rsa_certificate = softhsm_tokens.rsa.certificate_der
    assert not tk.verify(DATA, signature.value, rsa_certificate, signature.algorithm)
    assert not tk.verify(DATA, signature.value, rsa_certificate, tk.ALGORITHM_RSA_PSS_SHA256)


# ------------------------------------------------------------------ wrong PIN, never retried
def test_wrong_pin_is_recorded_and_never_retried(softhsm_tokens, caplog):
    caplog.set_level(logging.DEBUG)
    fixture = softhsm_tokens.pin_guard
    fixture.login_once()
    assert not fixture.token_flags() & CKF_USER_PIN_COUNT_LOW
    guard = PinGuard(MemoryPinGuardStore())
    wrong_pin = "13579"

    # 1. The wrong PIN reaches the token once: SoftHSM flags the refused login.
    loader = CountingLoader()
    with pytest.raises(tk.PinIncorrect) as first:
        make_token(fixture, guard=guard, loader=loader, pin=wrong_pin).sign(DATA)
    assert type(first.value) is tk.PinIncorrect
    assert loader.login_attempts == 1
    assert fixture.token_flags() & CKF_USER_PIN_COUNT_LOW
    assert guard.is_blocked(fixture.config(pin=wrong_pin))

    # 2. The right PIN is a new configuration: allowed, and it clears SoftHSM's flag.
    assert make_token(fixture, guard=guard, pin=fixture.pin).sign(DATA).verify(DATA)
    assert not fixture.token_flags() & CKF_USER_PIN_COUNT_LOW

    # 3. The same wrong configuration, even from a new RgsToken object, does not reach the
    #    token: no module load, no login, and SoftHSM's flag stays clear.
    again = CountingLoader()
    with pytest.raises(tk.PinRetryBlocked):
        make_token(fixture, guard=guard, loader=again, pin=wrong_pin).sign(DATA)
    assert again.load_calls == 0 and again.login_attempts == 0
    status = make_token(fixture, guard=guard, loader=again, pin=wrong_pin).check()
    assert status.problem == "pin_retry_blocked"
    assert again.login_attempts == 0
    assert status.certificate_found  # public details still shown
    assert not fixture.token_flags() & CKF_USER_PIN_COUNT_LOW

    # 4. An explicit reset allows one new attempt (proves the counting above can see one).
    guard.reset(fixture.config(pin=wrong_pin))
    after_reset = CountingLoader()
    with pytest.raises(tk.PinIncorrect):
        make_token(fixture, guard=guard, loader=after_reset, pin=wrong_pin).sign(DATA)
    assert after_reset.login_attempts == 1
    assert fixture.token_flags() & CKF_USER_PIN_COUNT_LOW

    fixture.login_once()
    assert wrong_pin not in caplog.text and fixture.pin not in caplog.text


def test_wrong_pin_block_survives_a_restart_with_the_json_store(softhsm_tokens, tmp_path):
    fixture = softhsm_tokens.pin_guard
    path = str(tmp_path / "pin-guard.json")
    check = make_token(fixture, guard=PinGuard(JsonFilePinGuardStore(path)), pin="99999").check()
    assert check.problem == "pin_incorrect" and check.pin_accepted is False
    assert check.certificate_found and check.key_found is False

    loader = CountingLoader()  # a "new process": new guard object on the same file
    with pytest.raises(tk.PinRetryBlocked):
        restarted_guard = PinGuard(JsonFilePinGuardStore(path))
        make_token(fixture, guard=restarted_guard, loader=loader, pin="99999").sign(DATA)
    assert loader.load_calls == 0
    fixture.login_once()


def test_default_guard_is_shared_by_new_token_objects(softhsm_tokens):
    fixture = softhsm_tokens.pin_guard
    config = fixture.config(pin="86420")
    try:
        with pytest.raises(tk.PinIncorrect):
            RgsToken(config).sign(DATA)
        loader = CountingLoader()
        with pytest.raises(tk.PinRetryBlocked):
            RgsToken(config, library_loader=loader).sign(DATA)
        assert loader.load_calls == 0
    finally:
        tk.DEFAULT_PIN_GUARD.reset(config)
        fixture.login_once()


def test_missing_pin(softhsm_tokens):
    status = make_token(softhsm_tokens.rsa, pin=None).check()
    assert status.problem == "pin_missing"
    assert status.pin_accepted is None
    assert status.certificate.common_name == COMMON_NAME  # read without logging in
    with pytest.raises(tk.PinMissing):
        make_token(softhsm_tokens.rsa, pin=None).sign(DATA)


# ------------------------------------------------------------------ PIN locked
def test_locked_pin_reported_by_the_token_flags_is_not_tried(softhsm_tokens):
    # SoftHSM never locks a user PIN by itself (it only sets CKF_USER_PIN_COUNT_LOW), so the
    # locked state is simulated by adding CKF_USER_PIN_LOCKED to the real token's flags.
    loader = CountingLoader(extra_token_flags=CKF_USER_PIN_LOCKED)
    status = make_token(softhsm_tokens.rsa, loader=loader).check()
    assert status.problem == "pin_locked" and status.pin_locked
    assert status.certificate_found
    with pytest.raises(tk.PinLocked):
        make_token(softhsm_tokens.rsa, loader=loader).sign(DATA)
    assert loader.login_attempts == 0


def test_locked_pin_returned_by_login_is_a_typed_error(softhsm_tokens):
    from pkcs11 import exceptions as p11

    guard = PinGuard()
    loader = CountingLoader(login_error=p11.PinLocked())  # C_Login -> CKR_PIN_LOCKED
    with pytest.raises(tk.PinLocked) as raised:
        make_token(softhsm_tokens.rsa, guard=guard, loader=loader).sign(DATA)
    assert raised.value.code == "pin_locked"
    assert loader.login_attempts == 1
    assert not guard.is_blocked(softhsm_tokens.rsa.config())  # not a wrong PIN


# ------------------------------------------------------------------ absent things
def test_absent_token(softhsm_tokens):
    status = make_token(softhsm_tokens.rsa, token_label="no-such-token").check()
    assert status.module_loaded and not status.token_present
    assert status.problem == "token_absent"
    assert "no-such-token" in status.message
    assert isinstance(status.error, tk.TokenAbsent)
    with pytest.raises(tk.TokenAbsent):
        status.raise_for_problem()
    with pytest.raises(tk.TokenAbsent):
        make_token(softhsm_tokens.rsa, token_label="no-such-token").sign(DATA)


def test_module_not_found():
    config = TokenConfig("/nonexistent/libvendor-pkcs11.so", "token", "key", pin="1234")
    status = RgsToken(config, pin_guard=PinGuard()).check()
    assert status.problem == "module_not_found" and not status.module_loaded
    with pytest.raises(tk.ModuleNotFound):
        RgsToken(config, pin_guard=PinGuard()).sign(DATA)


def test_module_not_loadable(tmp_path):
    pytest.importorskip("pkcs11")
    not_a_library = tmp_path / "libbroken.so"
    not_a_library.write_text("not an ELF file")
    config = TokenConfig(str(not_a_library), "token", "key", pin="1234")
    status = RgsToken(config, pin_guard=PinGuard()).check()
    assert status.problem == "module_not_loadable"
    with pytest.raises(tk.ModuleNotLoadable) as raised:
        RgsToken(config, pin_guard=PinGuard()).sign(DATA)
    assert type(raised.value) is tk.ModuleNotLoadable


def test_key_not_found(softhsm_tokens):
    status = make_token(softhsm_tokens.rsa, key_label="other-key").check()
    assert status.problem == "key_not_found" and status.pin_accepted and not status.key_found
    with pytest.raises(tk.KeyNotFound):
        make_token(softhsm_tokens.rsa, key_label="other-key").sign(DATA)


def test_certificate_not_found(softhsm_tokens):
    status = make_token(softhsm_tokens.no_certificate).check()
    assert status.key_found and not status.certificate_found
    assert status.problem == "certificate_not_found"
    with pytest.raises(tk.CertificateNotFound):
        make_token(softhsm_tokens.no_certificate).sign(DATA)


def test_certificate_found_through_the_key_identifier(softhsm_tokens):
    # The key label matches but the certificate label does not: CKA_ID links them.
    token = make_token(softhsm_tokens.rsa, certificate_label="differently-labelled")
    status = token.check()
    assert status.ok, status.message
    assert token.sign(DATA).certificate_der == softhsm_tokens.rsa.certificate_der


# ------------------------------------------------------------------ validity
def test_expired_certificate(softhsm_tokens):
    status = make_token(softhsm_tokens.expired).check()
    assert status.valid_today is False
    assert status.days_left < 0
    assert status.problem == "certificate_expired"
    assert status.key_found and status.certificate_found
    assert status.certificate.not_after < datetime.now(timezone.utc)
    with pytest.raises(tk.CertificateExpired) as raised:
        make_token(softhsm_tokens.expired).sign(DATA)
    assert raised.value.code == "certificate_expired"


def test_not_yet_valid_certificate(softhsm_tokens):
    status = make_token(softhsm_tokens.not_yet_valid).check()
    assert status.valid_today is False
    assert status.problem == "certificate_not_yet_valid"
    with pytest.raises(tk.CertificateNotYetValid):
        make_token(softhsm_tokens.not_yet_valid).sign(DATA)


def software_certificate(key_size=2048, days=30):
    """A valid self-signed certificate of a software RSA key (cryptography 3.4.8 API)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another Key")])
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def test_certificate_of_another_key_is_detected(softhsm_tokens):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.util.x509 import decode_x509_certificate

    fixture = softhsm_tokens.rsa
    label = "certificate-of-another-key"
    attributes = decode_x509_certificate(software_certificate())
    attributes.update({Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.LABEL: label})
    token = pkcs11.lib(fixture.module_path).get_token(token_label=fixture.label)
    with token.open(rw=True, user_pin=fixture.pin) as session:
        session.create_object(attributes)
    try:
        status = make_token(fixture, certificate_label=label).check()
        assert status.problem == "key_certificate_mismatch"
        assert status.certificate.common_name == "Another Key"
        with pytest.raises(tk.KeyCertificateMismatch):
            make_token(fixture, certificate_label=label).sign(DATA)
    finally:
        with token.open(rw=True, user_pin=fixture.pin) as session:
            template = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}
            for obj in session.get_objects(template):
                obj.destroy()


# ------------------------------------------------------------------ logs
def test_the_pin_never_appears_in_logs_or_errors(softhsm_tokens, caplog):
    caplog.set_level(logging.DEBUG)
    fixture = softhsm_tokens.rsa
    token = make_token(fixture)
    token.check()
    token.sign(DATA)
    assert "token=%r" % fixture.label in caplog.text  # something was logged
    wrong = make_token(softhsm_tokens.pin_guard, pin="70707070")
    with pytest.raises(tk.PinIncorrect) as raised:
        wrong.sign(DATA)
    softhsm_tokens.pin_guard.login_once()
    for secret in (fixture.pin, "70707070"):
        assert secret not in caplog.text
        assert secret not in str(raised.value) and secret not in raised.value.detail


# ------------------------------------------------------------------ the fixture helper itself
def test_create_softhsm_token_in_its_own_directory(softhsm_tokens, tmp_path):
    from chorus_pro import testing_softhsm

    fixture = testing_softhsm.create_softhsm_token(
        str(tmp_path), label="standalone", pin="1111", so_pin="22222222",
        key_label="standalone-key", key_type="ec",
    )
    assert fixture.conf_path == str(tmp_path / "softhsm2.conf")
    assert fixture.env == {"SOFTHSM2_CONF": fixture.conf_path}
    assert str(tmp_path / "tokens") in (tmp_path / "softhsm2.conf").read_text()
    assert cryptography_certificate(fixture.certificate_der).not_valid_after.replace(
        tzinfo=timezone.utc
    ) == fixture.not_after
    with pytest.raises(ValueError):  # labels are unique within a directory
        testing_softhsm.create_softhsm_token(
            str(tmp_path), label="standalone", pin="1111", so_pin="22222222", key_label="k"
        )
    # This process already uses the shared configuration: switching is refused, loudly.
    with pytest.raises(RuntimeError, match="ONE"):
        fixture.activate()
    assert os.environ["SOFTHSM2_CONF"] == softhsm_tokens.rsa.conf_path


def test_a_token_added_after_the_library_started_is_visible(softhsm_tokens):
    from chorus_pro import testing_softhsm

    make_token(softhsm_tokens.rsa).check()  # the library is initialised in this process
    late = testing_softhsm.shared_softhsm_tokens(
        [testing_softhsm.TokenSpec("rgs-added-late", key_type="ec", common_name="Late Comer")]
    )["rgs-added-late"]
    assert late.conf_path == softhsm_tokens.rsa.conf_path  # same per-process directory
    status = make_token(late).check()
    assert status.ok, status.message
    assert status.certificate.common_name == "Late Comer"
    assert make_token(softhsm_tokens.rsa).check().ok  # earlier tokens still work
