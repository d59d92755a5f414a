"""The RGS** signature key on a PKCS#11 token (smart card, USB token or HSM).

Optional: ``python-pkcs11`` (and ``cryptography``/``asn1crypto``) are imported lazily, inside the
functions that need them, so importing this module, or running a database that has no token,
needs none of them (``pip install chorus-pro[token]`` adds them).

Configuration (:class:`TokenConfig`): the token vendor's PKCS#11 module path (SoftHSM2 in tests),
the token label and the key label (the certificate has the same label or the key's ``CKA_ID``).
The PIN comes from the caller - the Odoo server configuration file or an environment variable
(:func:`pin_from_environment`), never a database - and is never logged nor shown in ``repr``.

Errors: two complementary ways, pick what fits the caller.

* :meth:`RgsToken.check` never raises for a :class:`TokenError`: it returns a :class:`TokenStatus`
  saying how far it got (module loaded, token present, PIN accepted, key and certificate found)
  with the certificate details, ``valid_today``/``days_left``, and, when something is wrong, a
  ``problem`` code, a plain ``message`` and the typed ``error`` (``status.raise_for_problem()``
  raises it). Meant for a "Test the token" button and for monitoring.
* :meth:`RgsToken.sign` raises the typed error (a :class:`TokenError` subclass, each with a plain
  ``message`` and a stable ``code``).

A refused PIN is never tried again automatically: a :class:`PinGuard` remembers the failure for
that configuration (module + token label + key label + a salted hash of the PIN, never the PIN)
and every later attempt with the same configuration raises :class:`PinRetryBlocked` WITHOUT
touching the token, until the PIN or the labels change or someone calls :meth:`PinGuard.reset`.
Real tokens lock themselves for good after a few wrong PINs (often 3), so an automatic retry
loop (cron, queue job, several workers) with a stale PIN would brick the official's token.

Access to one PKCS#11 module is serialised inside the process (one lock per module path): the
login state of a PKCS#11 application is shared by all its sessions, and a second concurrent
login would fail with ``CKR_USER_ALREADY_LOGGED_IN``. No session is kept open between calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from .timeutil import as_aware

_logger = logging.getLogger(__name__)

DEFAULT_PIN_ENV_VAR = "CHORUS_PRO_TOKEN_PIN"

SCHEME_PKCS1V15 = "pkcs1v15"
SCHEME_PSS = "pss"
SCHEME_ECDSA = "ecdsa"
SCHEMES = (SCHEME_PKCS1V15, SCHEME_PSS, SCHEME_ECDSA)

ALGORITHM_RSA_PKCS1V15_SHA256 = "rsa-pkcs1v15-sha256"
ALGORITHM_RSA_PSS_SHA256 = "rsa-pss-sha256"  # MGF1-SHA256, salt length 32
ALGORITHM_ECDSA_SHA256 = "ecdsa-sha256"  # DER-encoded ECDSA-Sig-Value (r, s)
ALGORITHMS = (ALGORITHM_RSA_PKCS1V15_SHA256, ALGORITHM_RSA_PSS_SHA256, ALGORITHM_ECDSA_SHA256)
PSS_SALT_LENGTH = 32

# CK_TOKEN_INFO.flags (PKCS#11 v2.40 §3.2), kept here so that no pkcs11 import is needed.
CKF_USER_PIN_COUNT_LOW = 0x00010000
CKF_USER_PIN_FINAL_TRY = 0x00020000
CKF_USER_PIN_LOCKED = 0x00040000

# RFC 8017 §9.2 note 1: DER prefix of DigestInfo for SHA-256 (used with raw CKM_RSA_PKCS).
_SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
_PIN_HASH_ITERATIONS = 100_000
_PIN_LOCKED_MESSAGE = (
    "The token's PIN is locked after too many wrong attempts; its security officer "
    "(or the certification authority) must unlock it."
)


# ----------------------------------------------------------------------------------- errors
class TokenError(Exception):
    """Base class of every token error: ``message`` in plain words, stable ``code``.

    ``detail`` holds the technical cause (e.g. the PKCS#11 return value name) for the logs; it
    never contains the PIN.
    """

    code = "token_error"

    def __init__(self, message: str, *, code: Optional[str] = None, detail: str = ""):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class Pkcs11Unavailable(TokenError):
    """The ``python-pkcs11`` package is not installed."""

    code = "python_pkcs11_missing"


class ModuleNotLoadable(TokenError):
    """The PKCS#11 module exists but cannot be loaded or initialised."""

    code = "module_not_loadable"


class ModuleNotFound(ModuleNotLoadable):
    """No PKCS#11 module at the configured path."""

    code = "module_not_found"


class TokenAbsent(TokenError):
    """No token with the configured label (unplugged, wrong label, removed during use)."""

    code = "token_absent"


class PinMissing(TokenError):
    """No PIN was given (server configuration or environment variable)."""

    code = "pin_missing"


class PinIncorrect(TokenError):
    """The token refused the PIN (``CKR_PIN_INCORRECT``); recorded so it is never retried."""

    code = "pin_incorrect"


class PinRetryBlocked(PinIncorrect):
    """This PIN was refused before; not tried again (the token was not touched)."""

    code = "pin_retry_blocked"


class PinLocked(TokenError):
    """The token's user PIN is locked (``CKR_PIN_LOCKED``): only its security officer unlocks it."""

    code = "pin_locked"


class PinExpired(TokenError):
    """The token requires a PIN change before use (``CKR_PIN_EXPIRED``)."""

    code = "pin_expired"


class KeyNotFound(TokenError):
    """No private key with the configured label (code ``key_ambiguous`` when several match)."""

    code = "key_not_found"


class CertificateNotFound(TokenError):
    """No certificate with the key's label or ``CKA_ID``."""

    code = "certificate_not_found"


class CertificateNotValid(TokenError):
    """The certificate is outside its validity period (base of the two cases below)."""

    code = "certificate_not_valid"


class CertificateExpired(CertificateNotValid):
    """The certificate's ``notAfter`` is past."""

    code = "certificate_expired"


class CertificateNotYetValid(CertificateNotValid):
    """The certificate's ``notBefore`` is still to come."""

    code = "certificate_not_yet_valid"


class KeyCertificateMismatch(TokenError):
    """The certificate does not belong to the key (its public key does not match)."""

    code = "key_certificate_mismatch"


class MechanismNotSupported(TokenError):
    """The token cannot sign with the requested scheme (or the key type does not allow it)."""

    code = "mechanism_not_supported"


class PinGuardUnavailable(TokenError):
    """The PIN guard's storage cannot be read: refuse to log in rather than risk a retry."""

    code = "pin_guard_unavailable"


class TokenOperationError(TokenError):
    """Any other PKCS#11 failure (device error, unexpected return value...)."""

    code = "token_operation_failed"


def translate_pkcs11_error(exc: BaseException) -> TokenError:
    """Turn a python-pkcs11 exception into the matching :class:`TokenError`."""
    if isinstance(exc, TokenError):
        return exc
    try:
        from pkcs11 import exceptions as p11
    except ImportError:  # pragma: no cover - only without python-pkcs11
        return TokenOperationError("The token failed: %s." % type(exc).__name__, detail=repr(exc))

    def matches(*names: str) -> bool:
        classes = tuple(getattr(p11, name) for name in names if hasattr(p11, name))
        return bool(classes) and isinstance(exc, classes)

    name = type(exc).__name__
    if matches("PinIncorrect", "PinInvalid", "PinLenRange"):
        return PinIncorrect(
            "The token refused the PIN. It will not be tried again until the PIN or the token "
            "settings are changed.",
            detail=name,
        )
    if matches("PinLocked"):
        return PinLocked(_PIN_LOCKED_MESSAGE, detail=name)
    if matches("PinExpired"):
        return PinExpired("The token requires its PIN to be changed before use.", detail=name)
    if matches(
        "NoSuchToken", "TokenNotPresent", "TokenNotRecognised", "DeviceRemoved", "SlotIDInvalid"
    ):
        return TokenAbsent("The token is not connected (or its label is wrong).", detail=name)
    if matches("MultipleTokensReturned"):
        return TokenOperationError(
            "Several connected tokens have this label; give each one its own label.",
            code="token_ambiguous",
            detail=name,
        )
    if matches("NoSuchKey"):
        return KeyNotFound("No signature key with this label on the token.", detail=name)
    if matches(
        "MechanismInvalid",
        "MechanismParamInvalid",
        "FunctionNotSupported",
        "KeyTypeInconsistent",
        "KeyFunctionNotPermitted",
    ):
        return MechanismNotSupported(
            "The token cannot sign with this method (%s)." % name, detail=name
        )
    return TokenOperationError("The token failed (%s)." % name, detail=name)


# ---------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class TokenConfig:
    """Where the key is. ``pin`` never appears in ``repr`` nor in logs.

    ``certificate_label`` defaults to ``key_label``; when no certificate has that label, the
    certificate with the key's ``CKA_ID`` is used (common on CA-delivered tokens).
    """

    module_path: str
    token_label: str
    key_label: str
    pin: Optional[str] = field(default=None, repr=False)
    certificate_label: Optional[str] = None

    def __post_init__(self):
        for name in ("module_path", "token_label", "key_label"):
            if not getattr(self, name):
                raise ValueError("TokenConfig.%s is required" % name)

    def with_pin(self, pin: Optional[str]) -> "TokenConfig":
        """The same configuration with another PIN."""
        return replace(self, pin=pin)


def pin_from_environment(
    env_var: str = DEFAULT_PIN_ENV_VAR, environ: Optional[Mapping[str, str]] = None
) -> Optional[str]:
    """The token PIN from an environment variable, or ``None`` when unset or empty."""
    value = (os.environ if environ is None else environ).get(env_var)
    return value or None


# ---------------------------------------------------------------------------- PIN guard
class PinGuardStore:
    """Where refused-PIN fingerprints are kept (the Odoo addon stores them in the database).

    Implement the three methods; fingerprints are opaque hex strings.
    """

    def get(self, fingerprint: str) -> Optional[datetime]:
        """When this fingerprint was blocked, or ``None``."""
        raise NotImplementedError

    def set(self, fingerprint: str, blocked_at: datetime) -> None:
        """Remember that this fingerprint is blocked."""
        raise NotImplementedError

    def delete(self, fingerprint: Optional[str] = None) -> None:
        """Forget one fingerprint, or all of them when ``None``."""
        raise NotImplementedError


class MemoryPinGuardStore(PinGuardStore):
    """In-process store (lost when the process ends)."""

    def __init__(self):
        self._blocked: Dict[str, datetime] = {}
        self._lock = threading.Lock()

    def get(self, fingerprint):
        with self._lock:
            return self._blocked.get(fingerprint)

    def set(self, fingerprint, blocked_at):
        with self._lock:
            self._blocked[fingerprint] = blocked_at

    def delete(self, fingerprint=None):
        with self._lock:
            if fingerprint is None:
                self._blocked.clear()
            else:
                self._blocked.pop(fingerprint, None)


class JsonFilePinGuardStore(PinGuardStore):
    """A small JSON file (mode 0600, replaced atomically) for plain, non-Odoo use.

    An unreadable file raises :class:`PinGuardUnavailable`: logging in without knowing whether
    the PIN was already refused could burn one of the token's few tries.
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> Dict[str, str]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            blocked = data["blocked"]
            if not isinstance(blocked, dict):
                raise ValueError("'blocked' is not an object")
            return blocked
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PinGuardUnavailable(
                "The PIN guard file %s cannot be read; fix or delete it." % self.path,
                detail=type(exc).__name__,
            ) from exc

    def _save(self, blocked: Dict[str, str]) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".pin-guard-", dir=directory)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"version": 1, "blocked": blocked}, handle, sort_keys=True, indent=1)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def get(self, fingerprint):
        with self._lock:
            value = self._load().get(fingerprint)
        return datetime.fromisoformat(value) if value else None

    def set(self, fingerprint, blocked_at):
        with self._lock:
            blocked = self._load()
            blocked[fingerprint] = blocked_at.isoformat()
            self._save(blocked)

    def delete(self, fingerprint=None):
        with self._lock:
            blocked = {} if fingerprint is None else self._load()
            blocked.pop(fingerprint, None)
            self._save(blocked)


@lru_cache(maxsize=64)
def _pin_digest(module_path: str, token_label: str, key_label: str, pin: str) -> str:
    # Salted, slow hash: a fingerprint never reveals the PIN directly. Short numeric PINs stay
    # guessable by whoever holds a fingerprint; PinGuard's ``pepper`` keys the final hash.
    salt = "\0".join(("chorus_pro.token.pin-guard/1", module_path, token_label, key_label))
    return hashlib.pbkdf2_hmac(
        "sha256", pin.encode("utf-8"), salt.encode("utf-8"), _PIN_HASH_ITERATIONS
    ).hex()


class PinGuard:
    """Remembers refused PINs per configuration so that they are never retried automatically.

    ``store`` defaults to a new :class:`MemoryPinGuardStore`; ``pepper`` (optional secret bytes
    kept outside the store, e.g. in the server configuration) keys the fingerprints.
    """

    def __init__(self, store: Optional[PinGuardStore] = None, *, pepper: bytes = b""):
        self.store = store if store is not None else MemoryPinGuardStore()
        self._pepper = pepper

    def fingerprint(self, config: TokenConfig) -> str:
        """Opaque fingerprint of module path + token label + key label + hashed PIN."""
        pin_digest = (
            _pin_digest(config.module_path, config.token_label, config.key_label, config.pin)
            if config.pin is not None
            else "no-pin"
        )
        material = json.dumps(
            [config.module_path, config.token_label, config.key_label, pin_digest]
        ).encode("utf-8")
        return hmac.new(self._pepper or b"chorus_pro", material, hashlib.sha256).hexdigest()

    def blocked_since(self, config: TokenConfig) -> Optional[datetime]:
        """When this configuration's PIN was refused, or ``None`` if it may be tried."""
        return self.store.get(self.fingerprint(config))

    def is_blocked(self, config: TokenConfig) -> bool:
        """True when this exact configuration's PIN was refused before."""
        return self.blocked_since(config) is not None

    def ensure_allowed(self, config: TokenConfig) -> None:
        """Raise :class:`PinRetryBlocked` if this configuration's PIN was refused before."""
        since = self.blocked_since(config)
        if since is not None:
            when = since.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
            raise PinRetryBlocked(
                "The token refused this PIN on %s UTC; to protect the token from being locked it "
                "is not tried again. Change the PIN in the server configuration (or reset the "
                "PIN block) and try again." % when
            )

    def record_failure(self, config: TokenConfig, at: Optional[datetime] = None) -> None:
        """Remember that the token refused this configuration's PIN."""
        self.store.set(self.fingerprint(config), at or _utcnow())

    def reset(self, config: Optional[TokenConfig] = None) -> None:
        """Allow this configuration's PIN again (all configurations when ``None``)."""
        self.store.delete(None if config is None else self.fingerprint(config))


DEFAULT_PIN_GUARD = PinGuard(MemoryPinGuardStore())
"""Process-wide guard used when none is given, so that new :class:`RgsToken` objects share it."""


# ---------------------------------------------------------------------------- certificates
_KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)
_AGREEMENT_ONLY_USAGES = (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))


@dataclass(frozen=True)
class CertificateInfo:
    """What an accountant or an administrator needs to know about the signature certificate.

    Dates are aware UTC. ``key_usage`` uses RFC 5280 names (``digitalSignature``,
    ``nonRepudiation``...), ``extended_key_usage`` names such as ``clientAuth`` (dotted OID
    when unknown), ``sha256_fingerprint`` is lowercase hex of the DER certificate.
    """

    subject: str
    common_name: Optional[str]
    issuer: str
    issuer_common_name: Optional[str]
    serial_hex: str
    not_before: datetime
    not_after: datetime
    key_usage: Tuple[str, ...]
    extended_key_usage: Tuple[str, ...]
    key_type: str  # "RSA", "EC" or the key class name
    key_size: int
    curve: Optional[str]
    sha256_fingerprint: str
    der: bytes = field(repr=False)

    @property
    def pem(self) -> str:
        """The certificate in PEM form."""
        return der_to_pem(self.der)

    def is_valid_at(self, when: datetime) -> bool:
        """True when ``when`` lies within ``[not_before, not_after]``."""
        when = _aware_utc(when)
        return self.not_before <= when <= self.not_after

    def days_left(self, when: datetime) -> int:
        """Whole days until ``not_after`` (negative once expired)."""
        return (self.not_after - _aware_utc(when)) // timedelta(days=1)

    def validity_error(self, when: datetime) -> Optional[CertificateNotValid]:
        """The error to raise when the certificate is not valid at ``when``, else ``None``."""
        when = _aware_utc(when)
        label = self.common_name or self.subject
        if when > self.not_after:
            return CertificateExpired(
                "The certificate of %s expired on %s; a new certificate is needed."
                % (label, self.not_after.strftime("%Y-%m-%d"))
            )
        if when < self.not_before:
            return CertificateNotYetValid(
                "The certificate of %s is only valid from %s."
                % (label, self.not_before.strftime("%Y-%m-%d %H:%M UTC"))
            )
        return None

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly summary (dates in ISO 8601, no DER)."""
        return {
            "subject": self.subject,
            "common_name": self.common_name,
            "issuer": self.issuer,
            "issuer_common_name": self.issuer_common_name,
            "serial_hex": self.serial_hex,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_usage": list(self.key_usage),
            "extended_key_usage": list(self.extended_key_usage),
            "key_type": self.key_type,
            "key_size": self.key_size,
            "curve": self.curve,
            "sha256_fingerprint": self.sha256_fingerprint,
        }


def der_to_pem(der: bytes) -> str:
    """PEM text of a DER certificate."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[index:index + 64] for index in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % "\n".join(lines)


CertificateInput = Union[bytes, bytearray, str, Any]


def load_certificate(certificate: CertificateInput):
    """A ``cryptography`` certificate from DER bytes, PEM bytes/text or a certificate object."""
    from cryptography import x509

    if isinstance(certificate, x509.Certificate):
        return certificate
    if isinstance(certificate, str):
        certificate = certificate.encode("ascii")
    data = bytes(certificate)
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def certificate_info(certificate: CertificateInput) -> CertificateInfo:
    """Read the details of a certificate (DER, PEM or ``cryptography`` object)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    cert = load_certificate(certificate)
    der = cert.public_bytes(serialization.Encoding.DER)

    def common_name(name) -> Optional[str]:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return values[0].value if values else None

    key_usage: Tuple[str, ...] = ()
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None:
        names = [rfc_name for attribute, rfc_name in _KEY_USAGE_NAMES if getattr(usage, attribute)]
        if usage.key_agreement:  # encipher/decipher_only are only defined with keyAgreement
            names += [name for attr, name in _AGREEMENT_ONLY_USAGES if getattr(usage, attr)]
        key_usage = tuple(names)

    eku_names = {
        ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
        ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
        ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
        ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
        ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
        ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    }
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        extended_key_usage = tuple(eku_names.get(oid, oid.dotted_string) for oid in eku)
    except x509.ExtensionNotFound:
        extended_key_usage = ()

    public_key = cert.public_key()
    curve = None
    if isinstance(public_key, rsa.RSAPublicKey):
        key_type, key_size = "RSA", public_key.key_size
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        key_type, key_size, curve = "EC", public_key.curve.key_size, public_key.curve.name
    else:
        key_type, key_size = type(public_key).__name__, getattr(public_key, "key_size", 0)

    serial_hex = "%X" % cert.serial_number
    if len(serial_hex) % 2:
        serial_hex = "0" + serial_hex
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        common_name=common_name(cert.subject),
        issuer=cert.issuer.rfc4514_string(),
        issuer_common_name=common_name(cert.issuer),
        serial_hex=serial_hex,
        # cryptography 3.4 returns naive UTC datetimes.
        not_before=cert.not_valid_before.replace(tzinfo=timezone.utc),
        not_after=cert.not_valid_after.replace(tzinfo=timezone.utc),
        key_usage=key_usage,
        extended_key_usage=extended_key_usage,
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        der=der,
    )


def verify(
    data: bytes, signature: bytes, certificate: CertificateInput, algorithm: str
) -> bool:
    """True when ``signature`` over ``data`` was made by the key of ``certificate``.

    Uses ``cryptography`` only (no token). ``algorithm`` is one of :data:`ALGORITHMS`; an
    unknown name raises ``ValueError``; a key type that cannot produce that algorithm gives
    ``False``. Only the signature is checked - not the certificate's validity nor its issuer.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    if algorithm not in ALGORITHMS:
        raise ValueError(
            "unknown signature algorithm %r (expected %s)" % (algorithm, ", ".join(ALGORITHMS))
        )
    public_key = load_certificate(certificate).public_key()
    try:
        if algorithm == ALGORITHM_ECDSA_SHA256:
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                return False
            public_key.verify(bytes(signature), bytes(data), ec.ECDSA(hashes.SHA256()))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            if algorithm == ALGORITHM_RSA_PSS_SHA256:
                scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)
            else:
                scheme = padding.PKCS1v15()
            public_key.verify(bytes(signature), bytes(data), scheme, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Signature:
    """A signature and everything needed to check it with the certificate alone."""

    value: bytes = field(repr=False)
    algorithm: str
    certificate_der: bytes = field(repr=False)
    signed_at: datetime

    @property
    def certificate_pem(self) -> str:
        """The signing certificate in PEM form."""
        return der_to_pem(self.certificate_der)

    def verify(self, data: bytes) -> bool:
        """True when this signature matches ``data`` (see :func:`verify`)."""
        return verify(data, self.value, self.certificate_der, self.algorithm)


@dataclass
class TokenStatus:
    """What :meth:`RgsToken.check` found. ``problem`` is ``None`` when the token is ready to sign.

    The booleans say how far the check got; ``certificate`` is filled as soon as the
    certificate could be read (it is a public object: even with a missing or refused PIN).
    """

    module_path: str
    token_label: str
    key_label: str
    checked_at: datetime
    module_loaded: bool = False
    library_description: str = ""
    token_present: bool = False
    token_manufacturer: str = ""
    token_model: str = ""
    token_serial: str = ""
    pin_count_low: bool = False
    pin_final_try: bool = False
    pin_locked: bool = False
    pin_accepted: Optional[bool] = None  # None: no login was attempted
    key_found: bool = False
    key_type: Optional[str] = None
    certificate_found: bool = False
    certificate: Optional[CertificateInfo] = None
    valid_today: bool = False
    days_left: Optional[int] = None
    problem: Optional[str] = None
    message: str = ""
    error: Optional[TokenError] = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the token is ready to sign."""
        return self.problem is None

    def raise_for_problem(self) -> None:
        """Raise the typed error behind ``problem``, if any."""
        if self.error is not None:
            raise self.error

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly summary (for a wizard or a monitoring endpoint)."""
        data = {
            name: getattr(self, name)
            for name in (
                "module_path", "token_label", "key_label", "module_loaded", "library_description",
                "token_present", "token_manufacturer", "token_model", "token_serial",
                "pin_count_low", "pin_final_try", "pin_locked", "pin_accepted", "key_found",
                "key_type", "certificate_found", "valid_today", "days_left", "problem", "message",
            )
        }
        data["checked_at"] = self.checked_at.isoformat()
        data["certificate"] = self.certificate.to_dict() if self.certificate else None
        return data

    def _set_problem(self, error: TokenError) -> None:
        self.problem = error.code
        self.message = error.message
        self.error = error
        if isinstance(error, PinIncorrect) and not isinstance(error, PinRetryBlocked):
            self.pin_accepted = False


# ---------------------------------------------------------------------------- the token
_module_locks: Dict[str, threading.RLock] = {}
_module_locks_guard = threading.Lock()


def _module_lock(module_path: str) -> threading.RLock:
    with _module_locks_guard:
        return _module_locks.setdefault(module_path, threading.RLock())


def load_pkcs11_library(module_path: str):
    """Default library loader: ``pkcs11.lib(module_path)`` (cached per path by python-pkcs11)."""
    try:
        import pkcs11
    except ImportError as exc:
        raise Pkcs11Unavailable(
            "The python-pkcs11 package is not installed (pip install python-pkcs11).",
            detail=str(exc),
        ) from exc
    return pkcs11.lib(module_path)


class RgsToken:
    """The signature key and certificate of one token.

    ``pin_guard`` defaults to :data:`DEFAULT_PIN_GUARD` (shared by the process);
    ``library_loader(module_path)`` returns a python-pkcs11 ``lib`` (tests wrap it to count
    logins or to simulate token states).
    """

    def __init__(
        self,
        config: TokenConfig,
        *,
        pin_guard: Optional[PinGuard] = None,
        library_loader: Optional[Callable[[str], Any]] = None,
    ):
        self.config = config
        self.pin_guard = pin_guard if pin_guard is not None else DEFAULT_PIN_GUARD
        self._library_loader = library_loader or load_pkcs11_library

    def __repr__(self) -> str:
        return "<RgsToken %r>" % (self.config,)

    # ------------------------------------------------------------------ public API
    def check(self, *, at: Optional[datetime] = None) -> TokenStatus:
        """Check module, token, PIN, key and certificate; never raises a :class:`TokenError`.

        Logs in (once) only when the PIN is set, not blocked by the guard and the token does
        not report its PIN as locked. ``at`` (default now) is the moment ``valid_today`` and
        ``days_left`` refer to.
        """
        now = _aware_utc(at) if at else _utcnow()
        config = self.config
        status = TokenStatus(
            module_path=config.module_path,
            token_label=config.token_label,
            key_label=config.key_label,
            checked_at=now,
        )
        started = time.monotonic()
        try:
            with _module_lock(config.module_path):
                self._check_into(status, now)
        except TokenError as error:
            status._set_problem(error)
        except Exception as exc:  # a check must report, not crash the caller's screen
            status._set_problem(translate_pkcs11_error(exc))
        if status.problem is None:
            info = status.certificate
            status.message = "Token ready: certificate of %s valid until %s (%d days left)." % (
                info.common_name or info.subject,
                info.not_after.strftime("%Y-%m-%d"),
                status.days_left,
            )
        _logger.info(
            "PKCS#11 token check module=%s token=%r key=%r problem=%s (%.0f ms)",
            config.module_path, config.token_label, config.key_label,
            status.problem or "none", (time.monotonic() - started) * 1000,
        )
        return status

    def sign(self, data: bytes, *, scheme: Optional[str] = None) -> Signature:
        """Sign ``data`` with the token's private key (SHA-256).

        ``scheme``: ``"pkcs1v15"`` (RSA PKCS#1 v1.5), ``"pss"`` (RSA-PSS, MGF1-SHA256, salt 32)
        or ``"ecdsa"``; ``None`` means the key's usual scheme (PKCS#1 v1.5 for RSA, ECDSA for
        EC). The combined token mechanisms (``CKM_SHA256_RSA_PKCS``...) are used when the
        token lists them, else the data is hashed here and the raw mechanism signs the digest.
        ECDSA signatures are returned DER-encoded. The signature is verified against the
        certificate before being returned. Refuses to sign with a certificate outside its
        validity period. Raises a :class:`TokenError` subclass.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data to sign must be bytes")
        data = bytes(data)
        return self.sign_prepared(lambda certificate_der: data, scheme=scheme)

    def sign_prepared(
        self, prepare: Callable[[bytes], bytes], *, scheme: Optional[str] = None
    ) -> Signature:
        """Sign bytes that depend on the signing certificate, in ONE login.

        Same as :meth:`sign`, except that the data is built once the token's certificate is
        known: ``prepare(certificate_der)`` is called inside the session (after the key, the
        certificate and its validity were checked) and must return the bytes to sign. A XAdES
        signature needs this: its signed properties embed the certificate's digest. An
        exception raised by ``prepare`` propagates unchanged (nothing is signed).
        """
        if scheme is not None and scheme not in SCHEMES:
            raise ValueError("scheme must be one of %s or None, not %r" % (SCHEMES, scheme))
        config = self.config
        # Before anything else: a blocked PIN must not even load the module.
        self.pin_guard.ensure_allowed(config)
        if config.pin is None:
            raise _pin_missing()
        started = time.monotonic()
        with _module_lock(config.module_path):
            library = self._load_library()
            token = self._find_token(library)
            session = self._login(token)
            caller_error = None
            with _session_errors_translated(session):
                key = self._find_private_key(session)
                certificate_der = self._find_certificate(session, key)
                info = _certificate_info_or_error(certificate_der)
                now = _utcnow()
                validity_error = info.validity_error(now)
                if validity_error is not None:
                    raise validity_error
                key_type = _key_type_name(key)
                if key_type != info.key_type:
                    raise KeyCertificateMismatch(
                        "The certificate holds a %s key but the token key is %s."
                        % (info.key_type, key_type)
                    )
                algorithm, mechanism, parameter, prehash = _choose_mechanism(
                    key_type, scheme, _available_mechanisms(token)
                )
                try:
                    data = prepare(certificate_der)
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        raise TypeError("prepare() must return the bytes to sign")
                except Exception as exc:  # the caller's own error, not the token's
                    caller_error = exc
                else:
                    data = bytes(data)
                    message = hashlib.sha256(data).digest() if prehash else data
                    if _is_raw_rsa_pkcs(mechanism):
                        message = _SHA256_DIGEST_INFO_PREFIX + message
                    raw = key.sign(message, mechanism=mechanism, mechanism_param=parameter)
            if caller_error is not None:
                raise caller_error
        value = bytes(raw)
        if algorithm == ALGORITHM_ECDSA_SHA256:
            from pkcs11.util.ec import encode_ecdsa_signature

            value = encode_ecdsa_signature(value)
        if not verify(data, value, certificate_der, algorithm):
            raise KeyCertificateMismatch(
                "The signature made by the token does not match its certificate: the "
                "certificate labelled %r belongs to another key."
                % (config.certificate_label or config.key_label)
            )
        _logger.info(
            "PKCS#11 signature token=%r key=%r algorithm=%s bytes=%d (%.0f ms)",
            config.token_label, config.key_label, algorithm, len(data),
            (time.monotonic() - started) * 1000,
        )
        return Signature(
            value=value, algorithm=algorithm, certificate_der=certificate_der, signed_at=now
        )

    # ------------------------------------------------------------------ steps
    def _check_into(self, status: TokenStatus, now: datetime) -> None:
        config = self.config
        library = self._load_library()
        status.module_loaded = True
        status.library_description = str(getattr(library, "library_description", "") or "").strip()
        token = self._find_token(library)
        status.token_present = True
        status.token_manufacturer = str(getattr(token, "manufacturer_id", "") or "").strip()
        status.token_model = str(getattr(token, "model", "") or "").strip()
        serial = getattr(token, "serial", b"") or b""
        if isinstance(serial, bytes):
            serial = serial.decode("ascii", "replace")
        status.token_serial = str(serial).strip()
        flags = int(token.flags)
        status.pin_count_low = bool(flags & CKF_USER_PIN_COUNT_LOW)
        status.pin_final_try = bool(flags & CKF_USER_PIN_FINAL_TRY)
        status.pin_locked = bool(flags & CKF_USER_PIN_LOCKED)

        # The certificate is public on RGS tokens: read it without a PIN when possible.
        certificate_der = None
        try:
            public_session = token.open()
        except Exception as exc:
            raise translate_pkcs11_error(exc) from exc
        try:
            certificate_der = self._find_certificate(public_session, None, required=False)
        except Exception as exc:
            raise translate_pkcs11_error(exc) from exc
        finally:
            _close_quietly(public_session)
        if certificate_der is not None:
            self._fill_certificate(status, certificate_der, now)

        if status.pin_locked:
            raise _pin_locked()
        self.pin_guard.ensure_allowed(config)
        if config.pin is None:
            raise _pin_missing()
        session = self._login(token, flags=flags)
        status.pin_accepted = True
        with _session_errors_translated(session):
            key = self._find_private_key(session)
            status.key_found = True
            status.key_type = _key_type_name(key)
            if certificate_der is None:
                certificate_der = self._find_certificate(session, key)
                self._fill_certificate(status, certificate_der, now)
            _check_key_matches_certificate(session, key, status.certificate)
        validity_error = status.certificate.validity_error(now)
        if validity_error is not None:
            raise validity_error

    @staticmethod
    def _fill_certificate(status: TokenStatus, certificate_der: bytes, now: datetime) -> None:
        info = _certificate_info_or_error(certificate_der)
        status.certificate_found = True
        status.certificate = info
        status.valid_today = info.is_valid_at(now)
        status.days_left = info.days_left(now)

    def _load_library(self):
        module_path = self.config.module_path
        try:
            return self._library_loader(module_path)
        except TokenError:
            raise
        except Exception as exc:
            if not os.path.exists(module_path):
                raise ModuleNotFound(
                    "No PKCS#11 module at %s: install the token's software or fix the module path."
                    % module_path,
                    detail=str(exc),
                ) from exc
            raise ModuleNotLoadable(
                "The PKCS#11 module %s could not be loaded (%s)."
                % (module_path, type(exc).__name__),
                detail=str(exc),
            ) from exc

    def _find_token(self, library):
        try:
            return library.get_token(token_label=self.config.token_label)
        except Exception as exc:
            error = translate_pkcs11_error(exc)
            if isinstance(error, TokenAbsent):
                error = TokenAbsent(
                    "No token labelled %r is connected (plug it in, or check the token label)."
                    % self.config.token_label,
                    detail=error.detail,
                )
            raise error from exc

    def _login(self, token, *, flags: Optional[int] = None):
        config = self.config
        if flags is None:
            flags = int(token.flags)
        if flags & CKF_USER_PIN_LOCKED:
            raise _pin_locked()
        try:
            return token.open(user_pin=config.pin)
        except Exception as exc:
            error = translate_pkcs11_error(exc)
            if isinstance(error, PinIncorrect):
                self.pin_guard.record_failure(config)
                _logger.warning(
                    "PKCS#11 PIN refused by token %r; it will not be tried again until the PIN "
                    "or the token settings change",
                    config.token_label,
                )
            raise error from exc

    def _find_private_key(self, session):
        from pkcs11 import Attribute, ObjectClass

        label = self.config.key_label
        keys = _objects(session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})
        if not keys:
            raise KeyNotFound("No private key labelled %r on the token." % label)
        if len(keys) > 1:
            raise KeyNotFound(
                "Several private keys are labelled %r on the token; use a unique label." % label,
                code="key_ambiguous",
            )
        return keys[0]

    def _find_certificate(self, session, key, *, required: bool = True) -> Optional[bytes]:
        from pkcs11 import Attribute, ObjectClass

        label = self.config.certificate_label or self.config.key_label
        certificate_class = {Attribute.CLASS: ObjectClass.CERTIFICATE}
        found = _objects(session, {**certificate_class, Attribute.LABEL: label})
        if not found and key is not None:
            key_id = _attribute_or_none(key, Attribute.ID)
            if key_id:
                found = _objects(session, {**certificate_class, Attribute.ID: key_id})
        if len(found) > 1:
            raise CertificateNotFound(
                "Several certificates are labelled %r on the token; use a unique label." % label,
                code="certificate_ambiguous",
            )
        if not found:
            if required:
                raise CertificateNotFound(
                    "No certificate labelled %r (nor with the key's identifier) on the token."
                    % label
                )
            return None
        return bytes(found[0][Attribute.VALUE])


# ---------------------------------------------------------------------------- helpers
def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is Paris time (:mod:`chorus_pro.timeutil`)."""
    return as_aware(value).astimezone(timezone.utc)


def _pin_missing() -> PinMissing:
    return PinMissing(
        "No token PIN is configured (set it in the server configuration file or in the "
        "environment variable %s)." % DEFAULT_PIN_ENV_VAR
    )


def _pin_locked() -> PinLocked:
    return PinLocked(_PIN_LOCKED_MESSAGE, detail="CKF_USER_PIN_LOCKED")


def _certificate_info_or_error(der: bytes) -> CertificateInfo:
    try:
        return certificate_info(der)
    except ValueError as exc:
        raise TokenOperationError(
            "The certificate stored on the token cannot be read.",
            code="certificate_unreadable",
            detail=str(exc),
        ) from exc


@contextmanager
def _session_errors_translated(session):
    """Work in a logged-in session: PKCS#11 failures become :class:`TokenError` (ours pass
    through), and the session is closed whatever happens."""
    try:
        yield
    except TokenError:
        raise
    except Exception as exc:
        raise translate_pkcs11_error(exc) from exc
    finally:
        _close_quietly(session)


def _close_quietly(session) -> None:
    try:
        session.close()
    except Exception:  # the session may already be gone with the token
        _logger.debug("PKCS#11 session close failed", exc_info=True)


def _attribute_or_none(obj, attribute):
    try:
        return obj[attribute]
    except Exception:
        return None


def _objects(session, template) -> list:
    return list(session.get_objects(template))


def _key_type_name(key) -> str:
    key_type = getattr(key, "key_type", None)
    return str(getattr(key_type, "name", key_type))


def _available_mechanisms(token) -> Optional[frozenset]:
    """Mechanisms the token's slot lists, or ``None`` when it cannot tell."""
    try:
        return frozenset(token.slot.get_mechanisms())
    except Exception:
        return None


def _is_raw_rsa_pkcs(mechanism) -> bool:
    """True for raw ``CKM_RSA_PKCS``, which signs a DigestInfo that the caller builds."""
    from pkcs11 import Mechanism

    return mechanism == Mechanism.RSA_PKCS


def _choose_mechanism(key_type: str, scheme: Optional[str], available: Optional[frozenset]):
    """(algorithm, mechanism, mechanism_param, prehash) for this key type and scheme."""
    from pkcs11 import MGF, Mechanism

    if key_type == "RSA":
        scheme = scheme or SCHEME_PKCS1V15
        if scheme == SCHEME_PKCS1V15:
            algorithm, combined, raw, parameter = (
                ALGORITHM_RSA_PKCS1V15_SHA256, Mechanism.SHA256_RSA_PKCS, Mechanism.RSA_PKCS, None,
            )
        elif scheme == SCHEME_PSS:
            algorithm, combined, raw, parameter = (
                ALGORITHM_RSA_PSS_SHA256, Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.RSA_PKCS_PSS,
                (Mechanism.SHA256, MGF.SHA256, PSS_SALT_LENGTH),
            )
        else:
            raise MechanismNotSupported("An RSA key cannot sign with %r." % scheme)
    elif key_type == "EC":
        scheme = scheme or SCHEME_ECDSA
        if scheme != SCHEME_ECDSA:
            raise MechanismNotSupported("An EC key signs with ECDSA, not %r." % scheme)
        algorithm, combined, raw, parameter = (
            ALGORITHM_ECDSA_SHA256, Mechanism.ECDSA_SHA256, Mechanism.ECDSA, None,
        )
    else:
        raise MechanismNotSupported("Only RSA and EC keys are supported, not %s." % key_type)
    if not available or combined in available:
        return algorithm, combined, parameter, False
    if raw in available:
        return algorithm, raw, parameter, True
    raise MechanismNotSupported("The token offers neither %s nor %s." % (combined.name, raw.name))


def _check_key_matches_certificate(session, key, info: CertificateInfo) -> None:
    """Compare the token key with the certificate's public key when the token lets us."""
    from cryptography.hazmat.primitives import serialization
    from pkcs11 import Attribute, ObjectClass

    key_type = _key_type_name(key)
    if key_type != info.key_type:
        raise KeyCertificateMismatch(
            "The certificate holds a %s key but the token key is %s." % (info.key_type, key_type)
        )
    public_key = load_certificate(info.der).public_key()
    if key_type == "RSA":
        modulus = _attribute_or_none(key, Attribute.MODULUS)
        if modulus and int.from_bytes(bytes(modulus), "big") != public_key.public_numbers().n:
            raise KeyCertificateMismatch("The certificate does not belong to the token's key.")
    elif key_type == "EC":
        key_id = _attribute_or_none(key, Attribute.ID)
        if not key_id:
            return
        publics = _objects(session, {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})
        if len(publics) != 1:
            return
        point = _attribute_or_none(publics[0], Attribute.EC_POINT)
        if not point:
            return
        expected = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        from asn1crypto.core import OctetString

        point = bytes(point)
        try:
            unwrapped = OctetString.load(point).native
        except ValueError:
            unwrapped = None
        if expected not in (point, unwrapped):
            raise KeyCertificateMismatch("The certificate does not belong to the token's key.")
