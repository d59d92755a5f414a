"""SoftHSM2 test tokens that look like an RGS** token (key pair + X.509 certificate).

Used by the plain pytest suite (``tests/softhsm.py``) and by the Odoo addon tests; nothing here is
needed in production. No pytest import: callers decide how to skip.

**One SoftHSM configuration per process.** SoftHSM reads ``SOFTHSM2_CONF`` in ``C_Initialize``,
which python-pkcs11 calls once per module path (``pkcs11.lib()`` caches its instances). So a
process must point ``SOFTHSM2_CONF`` at ONE directory before its first ``pkcs11.lib()`` call and
keep it; several tokens with different labels live side by side in that directory. Use
:func:`shared_softhsm_tokens`: it creates a per-process temporary directory (removed at exit),
creates the tokens it is asked for (once per label), sets ``SOFTHSM2_CONF`` and, if the library
was already initialised in this process, re-initialises it (``C_Finalize`` + ``C_Initialize``) so
that tokens created since then become visible. Re-initialising closes every open session, which
is harmless in tests because :class:`chorus_pro.token.RgsToken` never keeps a session open.

Token creation itself runs ``softhsm2-util`` and a child Python process (key generation on the
token, self-signed certificate built with asn1crypto and signed BY THE TOKEN, certificate stored
next to the key with the same ``CKA_ID`` and label). The child process gets ``SOFTHSM2_CONF``
explicitly, so creating tokens never depends on, nor disturbs, the calling process's library.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Dict, Iterable, List, Optional

from .timeutil import as_aware

SOFTHSM_MODULE_ENV = "CHORUS_PRO_SOFTHSM_MODULE"
SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
_REGISTRY_NAME = "chorus_pro_tokens.json"
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FIXTURE_PIN = object()  # TokenFixture.config(): "use the fixture's PIN"


class SoftHSMUnavailable(RuntimeError):
    """SoftHSM2 (module or ``softhsm2-util``) or python-pkcs11 is not installed."""


def find_softhsm_module() -> Optional[str]:
    """Path of ``libsofthsm2.so`` (``$CHORUS_PRO_SOFTHSM_MODULE`` first), or ``None``."""
    candidates = [os.environ.get(SOFTHSM_MODULE_ENV, "")] + list(SOFTHSM_MODULE_CANDIDATES)
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def softhsm_unavailable_reason() -> Optional[str]:
    """Why SoftHSM-based tests cannot run here (a sentence for a LOUD skip), or ``None``."""
    missing = []
    if find_softhsm_module() is None:
        missing.append(
            "libsofthsm2.so not found (looked in %s; set $%s)"
            % (", ".join(SOFTHSM_MODULE_CANDIDATES), SOFTHSM_MODULE_ENV)
        )
    if shutil.which("softhsm2-util") is None:
        missing.append("softhsm2-util not on PATH (Debian/Ubuntu: apt-get install softhsm2)")
    for python_module in ("pkcs11", "asn1crypto", "cryptography"):
        try:
            __import__(python_module)
        except ImportError:
            missing.append("Python module %r not installed" % python_module)
    return "; ".join(missing) or None


@dataclass(frozen=True)
class TokenSpec:
    """What a test token holds. Validity defaults: valid since yesterday, for one year."""

    label: str
    pin: str = "1234"
    so_pin: str = "12345678"
    key_label: str = "rgs-signature"
    key_type: str = "rsa"  # "rsa" or "ec"
    key_size: int = 2048  # RSA only
    curve: str = "secp256r1"  # EC only
    not_before: Optional[datetime] = None
    not_after: Optional[datetime] = None
    common_name: str = "Jeanne Ordonnatrice"
    organization: str = "Commune de Testville"
    organizational_unit: str = "0002 213501234"
    store_certificate: bool = True

    def resolved(self) -> "TokenSpec":
        """The spec with validity dates filled in (aware UTC, whole seconds, as X.509 stores)."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        not_before = self.not_before or now - timedelta(days=1)
        not_after = self.not_after or now + timedelta(days=365)
        return dataclasses.replace(
            self,
            not_before=_utc_seconds(not_before),
            not_after=_utc_seconds(not_after),
        )


@dataclass(frozen=True)
class TokenFixture:
    """A SoftHSM token ready to use: module path, private ``softhsm2.conf`` and what it holds.

    ``env`` is the environment entry a child process needs (``{"SOFTHSM2_CONF": conf_path}``).
    In THIS process call :meth:`activate` (or use :func:`shared_softhsm_tokens`) before the first
    ``pkcs11.lib()`` call.
    """

    module_path: str
    conf_path: str
    env: Dict[str, str]
    label: str
    pin: str
    so_pin: str
    key_label: str
    key_type: str
    certificate_der: Optional[bytes] = field(default=None, repr=False)
    not_before: Optional[datetime] = None
    not_after: Optional[datetime] = None

    def config(self, *, pin=_FIXTURE_PIN, **overrides):
        """A :class:`chorus_pro.token.TokenConfig` for this token (the fixture PIN by default;
        ``pin=None`` for no PIN); ``overrides`` replace other fields (e.g. ``token_label``)."""
        from chorus_pro.token import TokenConfig

        values = dict(
            module_path=self.module_path,
            token_label=self.label,
            key_label=self.key_label,
            pin=self.pin if pin is _FIXTURE_PIN else pin,
        )
        values.update(overrides)
        return TokenConfig(**values)

    def activate(self) -> None:
        """Point this process at this fixture's SoftHSM configuration (see module docstring)."""
        activate_softhsm_conf(self.conf_path, self.module_path, expected_labels=[self.label])

    def token_flags(self) -> int:
        """Current ``CK_TOKEN_INFO.flags`` of this token, read fresh (``C_GetTokenInfo``).

        SoftHSM sets ``CKF_USER_PIN_COUNT_LOW`` after a refused user PIN and clears it after a
        successful login, which lets tests see whether a login attempt reached the token.
        """
        import pkcs11

        return int(pkcs11.lib(self.module_path).get_token(token_label=self.label).flags)

    def login_once(self) -> None:
        """Log in with the right PIN and out again (clears ``CKF_USER_PIN_COUNT_LOW``)."""
        import pkcs11

        token = pkcs11.lib(self.module_path).get_token(token_label=self.label)
        with token.open(user_pin=self.pin):
            pass


def write_softhsm_conf(directory: str) -> str:
    """Write ``<directory>/softhsm2.conf`` with a private token directory; return its path."""
    directory = os.path.abspath(directory)
    token_dir = os.path.join(directory, "tokens")
    os.makedirs(token_dir, exist_ok=True)
    conf_path = os.path.join(directory, "softhsm2.conf")
    if not os.path.exists(conf_path):
        with open(conf_path, "w", encoding="utf-8") as handle:
            handle.write(
                "# Private SoftHSM2 configuration written by chorus_pro.testing_softhsm\n"
                "directories.tokendir = %s\n"
                "objectstore.backend = file\n"
                "log.level = ERROR\n"
                "slots.removable = false\n" % token_dir
            )
    return conf_path


def create_softhsm_token(
    directory: str,
    *,
    label: str,
    pin: str,
    so_pin: str,
    key_label: str,
    key_type: str = "rsa",
    not_before: Optional[datetime] = None,
    not_after: Optional[datetime] = None,
    module_path: Optional[str] = None,
    **spec_options,
) -> TokenFixture:
    """Create one token in ``directory`` (see :func:`create_softhsm_tokens`)."""
    spec = TokenSpec(label=label, pin=pin, so_pin=so_pin, key_label=key_label, key_type=key_type,
                     not_before=not_before, not_after=not_after, **spec_options)
    return create_softhsm_tokens(directory, [spec], module_path=module_path)[0]


def create_softhsm_tokens(
    directory: str, specs: Iterable[TokenSpec], *, module_path: Optional[str] = None
) -> List[TokenFixture]:
    """Create tokens in ``directory`` (its ``softhsm2.conf`` is written if absent).

    Each token is initialised with ``softhsm2-util``, then one child Python process generates
    the key pairs ON the tokens (private keys sensitive, not extractable), builds self-signed
    X.509 v3 certificates (KeyUsage digitalSignature + nonRepudiation, critical; EKU clientAuth +
    emailProtection) signed by the tokens, and stores them. Labels must be unique within a
    directory (a registry file enforces it). Does not touch this process's PKCS#11 library.
    """
    reason = softhsm_unavailable_reason()
    if reason:
        raise SoftHSMUnavailable(reason)
    module_path = module_path or find_softhsm_module()
    specs = [spec.resolved() for spec in specs]
    for spec in specs:
        if spec.key_type not in ("rsa", "ec"):
            raise ValueError("key_type must be 'rsa' or 'ec', not %r" % spec.key_type)
    conf_path = write_softhsm_conf(directory)
    env = {"SOFTHSM2_CONF": conf_path}
    child_env = dict(os.environ, **env)
    registry_path = os.path.join(os.path.dirname(conf_path), _REGISTRY_NAME)
    registry = _read_json(registry_path, default=[])
    labels = [spec.label for spec in specs]
    duplicates = sorted({label for label in labels if label in registry or labels.count(label) > 1})
    if duplicates:
        raise ValueError("token label(s) already used in %s: %s" % (directory, duplicates))

    for spec in specs:
        subprocess.run(
            [
                "softhsm2-util", "--init-token", "--free", "--label", spec.label,
                "--so-pin", spec.so_pin, "--pin", spec.pin,
            ],
            env=child_env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        registry.append(spec.label)
        _write_json(registry_path, registry)

    request = {"module_path": module_path, "tokens": [_spec_to_json(spec) for spec in specs]}
    child_env["PYTHONPATH"] = os.pathsep.join(
        [_PACKAGE_PARENT] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    )
    completed = subprocess.run(
        [sys.executable, "-m", "chorus_pro.testing_softhsm", "provision"],
        input=json.dumps(request).encode("utf-8"),
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            "SoftHSM token provisioning failed: %s"
            % completed.stderr.decode("utf-8", "replace")[-2000:]
        )
    results = json.loads(completed.stdout.decode("utf-8"))
    fixtures = []
    for spec, result in zip(specs, results):
        der = base64.b64decode(result["certificate_der"])
        fixtures.append(TokenFixture(
            module_path=module_path, conf_path=conf_path, env=dict(env), certificate_der=der,
            label=spec.label, pin=spec.pin, so_pin=spec.so_pin, key_label=spec.key_label,
            key_type=spec.key_type, not_before=spec.not_before, not_after=spec.not_after,
        ))
    return fixtures


# --------------------------------------------------------------------- one conf per process
_active_conf: Optional[str] = None
_shared_directory: Optional[str] = None
_shared_tokens: Dict[str, TokenFixture] = {}
_shared_specs: Dict[str, TokenSpec] = {}


def activate_softhsm_conf(
    conf_path: str, module_path: str, expected_labels: Iterable[str] = ()
) -> None:
    """Make this process use ``conf_path`` and check that ``expected_labels`` are visible.

    Refuses (``RuntimeError``) to switch to another configuration once one was activated: the
    library keeps its first configuration. If the library was already initialised, it is
    re-initialised so that tokens created since then appear (open sessions are closed).
    """
    global _active_conf
    import pkcs11

    conf_path = os.path.abspath(conf_path)
    if _active_conf is not None and _active_conf != conf_path:
        raise RuntimeError(
            "This process already uses SoftHSM configuration %s; a process must keep ONE "
            "SOFTHSM2_CONF (put several tokens with different labels in it, e.g. with "
            "shared_softhsm_tokens()) instead of switching to %s." % (_active_conf, conf_path)
        )
    already_loaded = module_path in getattr(pkcs11, "_loaded", {})
    os.environ["SOFTHSM2_CONF"] = conf_path
    _active_conf = conf_path
    library = pkcs11.lib(module_path)
    if already_loaded:
        library.reinitialize()
    visible = {token.label for token in library.get_tokens()}
    missing = [label for label in expected_labels if label not in visible]
    if missing:
        raise RuntimeError(
            "SoftHSM tokens %s are not visible in this process: the PKCS#11 library was "
            "probably initialised with another SOFTHSM2_CONF before it was set to %s."
            % (missing, conf_path)
        )


def shared_softhsm_directory() -> str:
    """This process's SoftHSM directory (created once, removed when the process exits)."""
    global _shared_directory
    if _shared_directory is None:
        _shared_directory = tempfile.mkdtemp(prefix="chorus-pro-softhsm-")
        atexit.register(shutil.rmtree, _shared_directory, True)
    return _shared_directory


def shared_softhsm_tokens(specs: Iterable[TokenSpec]) -> Dict[str, TokenFixture]:
    """Tokens for these specs in the per-process directory, created once per label; activated.

    Safe to call from several fixtures or test classes: a label already created with the same
    spec is reused, with another spec it is an error. Returns ``{label: TokenFixture}``.
    """
    specs = list(specs)
    to_create = []
    for spec in specs:
        known = _shared_specs.get(spec.label)
        if known is None:
            to_create.append(spec)
        elif known != spec:
            raise ValueError("token %r already exists with a different spec" % spec.label)
    if to_create:
        for fixture in create_softhsm_tokens(shared_softhsm_directory(), to_create):
            _shared_tokens[fixture.label] = fixture
        for spec in to_create:
            _shared_specs[spec.label] = spec
    fixtures = {spec.label: _shared_tokens[spec.label] for spec in specs}
    if fixtures:
        first = next(iter(fixtures.values()))
        activate_softhsm_conf(first.conf_path, first.module_path, expected_labels=list(fixtures))
    return fixtures


# ------------------------------------------------------------------------ helpers
def _utc_seconds(value: datetime) -> datetime:
    """Aware UTC, whole seconds; a naive value is Paris time (:mod:`chorus_pro.timeutil`)."""
    return as_aware(value).astimezone(timezone.utc).replace(microsecond=0)


def _spec_to_json(spec: TokenSpec) -> dict:
    data = dataclasses.asdict(spec)
    data["not_before"] = spec.not_before.isoformat()
    data["not_after"] = spec.not_after.isoformat()
    return data


def _read_json(path: str, default):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def _write_json(path: str, data) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


# ------------------------------------------------- child process: keys and certificates
def _x509_time(value: datetime):
    from asn1crypto import x509

    # RFC 5280 §4.1.2.5: UTCTime until 2049, GeneralizedTime from 2050 on.
    return x509.Time({"utc_time" if value.year < 2050 else "general_time": value})


def _build_certificate(spec: TokenSpec, public_key_info, sign_tbs) -> bytes:
    """Self-signed X.509 v3 certificate for ``public_key_info``; ``sign_tbs(bytes) -> DER sig``."""
    from asn1crypto import x509

    name = x509.Name.build(
        {
            "country_name": "FR",
            "organization_name": spec.organization,
            "organizational_unit_name": spec.organizational_unit,
            "common_name": spec.common_name,
        }
    )
    key_identifier = hashlib.sha1(bytes(public_key_info["public_key"])).digest()
    signature_algorithm = "sha256_rsa" if spec.key_type == "rsa" else "sha256_ecdsa"
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(os.urandom(12), "big") | 1,
            "signature": {"algorithm": signature_algorithm},
            "issuer": name,
            "validity": {
                "not_before": _x509_time(spec.not_before),
                "not_after": _x509_time(spec.not_after),
            },
            "subject": name,
            "subject_public_key_info": public_key_info,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "non_repudiation"},
                },
                {
                    "extn_id": "extended_key_usage",
                    "critical": False,
                    "extn_value": ["client_auth", "email_protection"],
                },
                {"extn_id": "key_identifier", "critical": False, "extn_value": key_identifier},
            ],
        }
    )
    certificate = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature_value": sign_tbs(tbs.dump()),
        }
    )
    return certificate.dump()


def _provision_token(library, spec: TokenSpec) -> bytes:
    from asn1crypto import keys
    from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag
    from pkcs11.util.ec import (
        encode_ec_public_key,
        encode_ecdsa_signature,
        encode_named_curve_parameters,
    )
    from pkcs11.util.rsa import encode_rsa_public_key
    from pkcs11.util.x509 import decode_x509_certificate

    token = library.get_token(token_label=spec.label)
    key_id = os.urandom(8)
    # A signature key, as on an RGS** token: private part sensitive and never extractable.
    private_template = {
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.PRIVATE: True,
    }
    with token.open(rw=True, user_pin=spec.pin) as session:
        if spec.key_type == "rsa":
            public, private = session.generate_keypair(
                KeyType.RSA,
                spec.key_size,
                store=True,
                id=key_id,
                label=spec.key_label,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                private_template=private_template,
            )
            public_key_info = keys.PublicKeyInfo(
                {
                    "algorithm": {"algorithm": "rsa"},
                    "public_key": keys.RSAPublicKey.load(encode_rsa_public_key(public)),
                }
            )

            def sign_tbs(data: bytes) -> bytes:
                return private.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)

        else:
            parameters = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(spec.curve)},
                local=True,
            )
            public, private = parameters.generate_keypair(
                store=True,
                id=key_id,
                label=spec.key_label,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                private_template=private_template,
            )
            public_key_info = keys.PublicKeyInfo.load(encode_ec_public_key(public))

            def sign_tbs(data: bytes) -> bytes:
                # SoftHSM 2.6 has no CKM_ECDSA_SHA256: hash here, sign the digest on the token.
                raw = private.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
                return encode_ecdsa_signature(raw)

        certificate_der = _build_certificate(spec, public_key_info, sign_tbs)
        if spec.store_certificate:
            attributes = decode_x509_certificate(certificate_der)
            attributes.update(
                {
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.LABEL: spec.key_label,
                    Attribute.ID: key_id,
                }
            )
            session.create_object(attributes)
    return certificate_der


def _provision_main() -> int:
    import pkcs11

    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    library = pkcs11.lib(request["module_path"])
    results = []
    for data in request["tokens"]:
        data["not_before"] = datetime.fromisoformat(data["not_before"])
        data["not_after"] = datetime.fromisoformat(data["not_after"])
        spec = TokenSpec(**data)
        der = _provision_token(library, spec)
        encoded = base64.b64encode(der).decode("ascii")
        results.append({"label": spec.label, "certificate_der": encoded})
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":  # pragma: no cover - run by create_softhsm_tokens in a child process
    if sys.argv[1:] == ["provision"]:
        sys.exit(_provision_main())
    sys.exit("usage: python -m chorus_pro.testing_softhsm provision < request.json")
