"""The ordonnateur's XAdES signature of a bordereau, made by the RGS** key on its token.

What Hélios expects (``shared/schemas/pes-v2/README.md``): one ``ds:Signature`` enveloped at the
end of each ``Bordereau`` (after its last ``Piece``) with

* a ``Reference URI="#<Bordereau/@Id>"``, transforms *enveloped-signature* + *exclusive c14n*,
  digest SHA-256;
* ``SignatureMethod`` rsa-sha256 over the exclusive-c14n ``SignedInfo``; ``KeyInfo/X509Data``;
* a XAdES 1.2.2 ``QualifyingProperties`` whose ``SignedSignatureProperties`` carry
  ``SigningTime``, ``SigningCertificate`` (SHA-256 digest, issuer and serial of the
  certificate), the ``SignaturePolicyIdentifier`` ``urn:oid:1.2.250.1.131.1.5.18.21.1.7``
  (*Politique de signature Helios de la DGFiP*), ``SignatureProductionPlace`` and
  ``SignerRole/ClaimedRoles/ClaimedRole`` ("Ordonnateur"), and a second ``Reference`` to
  those ``SignedProperties`` (``Type="http://uri.etsi.org/01903/v1.2.2#SignedProperties"``).

The XML is built here with lxml; only the RSA signature of the canonical ``SignedInfo`` is
computed by the private key ON THE TOKEN (:class:`TokenSigner` →
:meth:`chorus_pro.token.RgsToken.sign_prepared`: the key never leaves the token, one login per
bordereau, the PIN comes from the caller's :class:`~chorus_pro.token.TokenConfig` and is never
stored here, a refused PIN raises the token module's :class:`~chorus_pro.token.PinIncorrect`
and is never tried again).

Why the signed bytes verify inside the final file: the bordereau's digest is the SHA-256 of its
*exclusive* canonical form without the signature. Exclusive c14n only renders the namespaces an
element visibly uses, and the PES elements are unqualified, so a bordereau canonicalises the
same alone or inside ``PES_Aller`` (whatever prefixes the root declares, whatever the file's
encoding). The writer (:mod:`chorus_pro.pes.writer`) therefore hashes the canonical form of each
``BlocBordereau`` and ``Piece`` as it streams them, then signs and writes the signature before
closing the bordereau: a signed bordereau never sits whole in memory.

:func:`sign_pes` signs an already generated unsigned file, stream in, stream out.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable, List, Optional, Tuple

from lxml import etree

from . import codes
from .text import ENCODING

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NS = "http://uri.etsi.org/01903/v1.2.2#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED_SIGNATURE = DS_NS + "enveloped-signature"
SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256_URI = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SIGNED_PROPERTIES_TYPE = XADES_NS + "SignedProperties"

HELIOS_POLICY_IDENTIFIER = "urn:oid:1.2.250.1.131.1.5.18.21.1.7"
HELIOS_POLICY_DESCRIPTION = "Politique de signature Helios de la DGFiP"
# SHA-256 of the policy document and its address, as S2LOW's signature applet sends them
# [unconfirmed: the document is not in shared/; override in SignatureOptions if the DGFiP
# publishes another version].
HELIOS_POLICY_DIGEST = "roF9+cfRHNPtVJolhdqfIqGMVuUXX8aR4rpiquf0u5E="
HELIOS_POLICY_URI = (
    "https://www.collectivites-locales.gouv.fr/files/files/finances_locales/"
    "dematerialisation/ps_helios_dgfip.pdf"
)

_NSMAP = {"ds": DS_NS}
_XADES_NSMAP = {"xad": XADES_NS}


def _ds(tag: str) -> str:
    return "{%s}%s" % (DS_NS, tag)


def _xad(tag: str) -> str:
    return "{%s}%s" % (XADES_NS, tag)


class PesSignatureError(Exception):
    """The bordereau could not be signed (not a token error: those keep their own type)."""


@dataclass(frozen=True)
class SignatureOptions:
    """What the signature says besides the certificate: role, place and policy."""

    claimed_role: str = "Ordonnateur"
    city: str = ""
    postal_code: str = ""
    country: str = "France"
    policy_identifier: str = HELIOS_POLICY_IDENTIFIER
    policy_description: str = HELIOS_POLICY_DESCRIPTION
    policy_digest: str = HELIOS_POLICY_DIGEST
    policy_uri: str = HELIOS_POLICY_URI


class BordereauSigner:
    """Computes the RSA-SHA256 signature of a canonical ``SignedInfo``.

    ``sign_signed_info(prepare)`` calls ``prepare(certificate_der)`` - which builds the
    ``SignedInfo`` for that certificate and returns its canonical bytes - and returns
    ``(signature_value, certificate_der)``.
    """

    def sign_signed_info(self, prepare: Callable[[bytes], bytes]) -> Tuple[bytes, bytes]:
        raise NotImplementedError


class TokenSigner(BordereauSigner):
    """Signs with the RGS** key of a PKCS#11 token (:class:`chorus_pro.token.RgsToken`).

    Token errors (:class:`chorus_pro.token.TokenError` and subclasses: token absent, PIN
    refused or blocked, certificate expired...) propagate unchanged, with their plain message.
    Hélios expects RSA: an EC key is refused by the token module (``mechanism_not_supported``).
    """

    def __init__(self, token):
        self.token = token

    def sign_signed_info(self, prepare):
        from ..token import ALGORITHM_RSA_PKCS1V15_SHA256, SCHEME_PKCS1V15

        signature = self.token.sign_prepared(prepare, scheme=SCHEME_PKCS1V15)
        if signature.algorithm != ALGORITHM_RSA_PKCS1V15_SHA256:  # pragma: no cover - defensive
            raise PesSignatureError("The token did not sign with RSA-SHA256.")
        return signature.value, signature.certificate_der

    def __repr__(self):
        return "<TokenSigner %r>" % (self.token,)


@dataclass
class BordereauSignature:
    """A signature made for a bordereau: the element to write and what was signed."""

    element: etree._Element = field(repr=False)
    element_id: str
    signing_time: datetime
    certificate_der: bytes = field(repr=False)
    seconds: float = 0.0


def bordereau_c14n_frame(element_id: str) -> Tuple[bytes, bytes]:
    """Canonical start and end tags of an (empty) ``Bordereau`` with this ``Id``.

    The canonical form of a whole bordereau is ``start + c14n(BlocBordereau) + c14n(Piece)... +
    end`` when nothing (no whitespace) separates its children - which is how the writer writes.
    """
    canonical = etree.tostring(
        etree.Element("Bordereau", Id=element_id), method="c14n", exclusive=True
    )
    start, end = canonical.split(b"></Bordereau>")
    return start + b">", b"</Bordereau>"


def c14n(element) -> bytes:
    """Exclusive canonical form (no comments) of ``element``."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def sign_bordereau(
    element_id: str,
    bordereau_digest: bytes,
    signer: BordereauSigner,
    options: Optional[SignatureOptions] = None,
    *,
    signing_time: Optional[datetime] = None,
) -> BordereauSignature:
    """Build and sign the ``ds:Signature`` of the bordereau whose ``Id`` is ``element_id``.

    ``bordereau_digest`` is the SHA-256 of the bordereau's exclusive canonical form without its
    signature. ``signing_time`` defaults to now (it is also the XAdES ``SigningTime``).
    """
    options = options or SignatureOptions()
    when = (signing_time or datetime.now(timezone.utc)).astimezone(timezone.utc)
    when = when.replace(microsecond=0)
    built = {}

    def prepare(certificate_der: bytes) -> bytes:
        signature = _signature_skeleton(
            element_id, bordereau_digest, certificate_der, options, when
        )
        built["element"] = signature
        return c14n(signature.find(_ds("SignedInfo")))

    started = time.perf_counter()
    value, certificate_der = signer.sign_signed_info(prepare)
    seconds = time.perf_counter() - started
    element = built.get("element")
    if element is None:
        raise PesSignatureError("The signer returned without building the signed information.")
    element.find(_ds("SignatureValue")).text = base64.b64encode(value).decode("ascii")
    return BordereauSignature(
        element=element,
        element_id=element_id,
        signing_time=when,
        certificate_der=certificate_der,
        seconds=seconds,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sub(parent, tag, text=None, **attributes):
    child = etree.SubElement(parent, tag, **attributes)
    if text is not None:
        child.text = text
    return child


def _digest_pair(parent, digest: bytes, *, value_b64: Optional[str] = None) -> None:
    _sub(parent, _ds("DigestMethod"), Algorithm=SHA256_URI)
    _sub(parent, _ds("DigestValue"), value_b64 if value_b64 is not None else _b64(digest))


def _signature_skeleton(element_id, bordereau_digest, certificate_der, options, when):
    from cryptography import x509

    certificate = x509.load_der_x509_certificate(certificate_der)
    signature_id = element_id + "-SIG"
    properties_id = element_id + "-SP"

    signature = etree.Element(_ds("Signature"), nsmap=_NSMAP, Id=signature_id)
    signed_info = _sub(signature, _ds("SignedInfo"))
    _sub(signed_info, _ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    _sub(signed_info, _ds("SignatureMethod"), Algorithm=RSA_SHA256_URI)
    reference = _sub(signed_info, _ds("Reference"), URI="#" + element_id)
    transforms = _sub(reference, _ds("Transforms"))
    _sub(transforms, _ds("Transform"), Algorithm=ENVELOPED_SIGNATURE)
    _sub(transforms, _ds("Transform"), Algorithm=EXC_C14N)
    _digest_pair(reference, bordereau_digest)
    properties_reference = _sub(
        signed_info, _ds("Reference"), URI="#" + properties_id, Type=SIGNED_PROPERTIES_TYPE
    )
    transforms = _sub(properties_reference, _ds("Transforms"))
    _sub(transforms, _ds("Transform"), Algorithm=EXC_C14N)

    _sub(signature, _ds("SignatureValue"))
    key_info = _sub(signature, _ds("KeyInfo"))
    x509_data = _sub(key_info, _ds("X509Data"))
    _sub(x509_data, _ds("X509Certificate"), _b64(certificate_der))

    signature_object = _sub(signature, _ds("Object"))
    qualifying = etree.SubElement(
        signature_object, _xad("QualifyingProperties"), nsmap=_XADES_NSMAP,
        Target="#" + signature_id,
    )
    signed_properties = _sub(qualifying, _xad("SignedProperties"), Id=properties_id)
    properties = _sub(signed_properties, _xad("SignedSignatureProperties"))
    _sub(properties, _xad("SigningTime"), when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cert = _sub(_sub(properties, _xad("SigningCertificate")), _xad("Cert"))
    _digest_pair(_sub(cert, _xad("CertDigest")), hashlib.sha256(certificate_der).digest())
    issuer_serial = _sub(cert, _xad("IssuerSerial"))
    _sub(issuer_serial, _ds("X509IssuerName"), certificate.issuer.rfc4514_string())
    _sub(issuer_serial, _ds("X509SerialNumber"), str(certificate.serial_number))
    policy = _sub(_sub(properties, _xad("SignaturePolicyIdentifier")), _xad("SignaturePolicyId"))
    policy_id = _sub(policy, _xad("SigPolicyId"))
    _sub(policy_id, _xad("Identifier"), options.policy_identifier)
    if options.policy_description:
        _sub(policy_id, _xad("Description"), options.policy_description)
    _digest_pair(_sub(policy, _xad("SigPolicyHash")), b"", value_b64=options.policy_digest)
    if options.policy_uri:
        qualifier = _sub(_sub(policy, _xad("SigPolicyQualifiers")), _xad("SigPolicyQualifier"))
        _sub(qualifier, _xad("SPURI"), options.policy_uri)
    place = _sub(properties, _xad("SignatureProductionPlace"))
    for tag, value in (("City", options.city), ("PostalCode", options.postal_code),
                       ("CountryName", options.country)):
        if value:
            _sub(place, _xad(tag), value)
    if options.claimed_role:
        roles = _sub(_sub(properties, _xad("SignerRole")), _xad("ClaimedRoles"))
        _sub(roles, _xad("ClaimedRole"), options.claimed_role)

    _digest_pair(properties_reference, hashlib.sha256(c14n(signed_properties)).digest())
    return signature


# ------------------------------------------------------------------ signing an existing file
@dataclass
class SignResult:
    """What :func:`sign_pes` did: the bordereaux it signed and those already signed."""

    signed: List[BordereauSignature] = field(default_factory=list)
    already_signed: List[str] = field(default_factory=list)
    bytes_written: int = 0
    sign_seconds: float = 0.0


def sign_pes(
    source,
    out: BinaryIO,
    signer: BordereauSigner,
    options: Optional[SignatureOptions] = None,
    *,
    signing_time: Optional[datetime] = None,
) -> SignResult:
    """Sign every unsigned bordereau of an existing ``PES_Aller`` file, stream in, stream out.

    ``source`` is a path or a binary file object; ``out`` a binary file object. The file is
    read element by element: only one bordereau (without files) or one ``PJ`` is in memory at a
    time. A bordereau without ``Id`` gets ``BORD-<Exer>-<TypBord>-<IdBord>``; a bordereau that
    already holds a signature is copied unchanged; ``InfoDematerialisee`` is set to 1 (0 with a
    signature is rejected). Whitespace between the elements outside bordereaux is not kept.
    Raises :class:`PesSignatureError` when ``source`` is not a PES_Aller.
    """
    result = SignResult()
    counter = _CountingWriter(out)
    context = etree.iterparse(
        source, events=("start", "end"), huge_tree=True, remove_comments=False
    )
    depth = 0
    stack = []  # open xmlfile element contexts, depth 1 and 2 only
    with etree.xmlfile(counter, encoding=ENCODING) as xf:
        xf.write_declaration()
        for event, element in context:
            if event == "start":
                depth += 1
                if depth == 1:
                    if element.tag != "{%s}PES_Aller" % codes.NS_PES_ALLER:
                        raise PesSignatureError("This file is not a PES_Aller (root %s)."
                                                % element.tag)
                    stack.append(_enter(xf, element, nsmap=dict(element.nsmap)))
                elif depth == 2 and element.tag in ("PES_DepenseAller", "PES_PJ"):
                    stack.append(_enter(xf, element))
                continue
            # end
            depth -= 1
            if depth == 0:
                stack.pop().__exit__(None, None, None)
                continue
            parent_is_container = depth == 2 and element.getparent().tag in (
                "PES_DepenseAller", "PES_PJ")
            if depth == 1 and element.tag in ("PES_DepenseAller", "PES_PJ"):
                stack.pop().__exit__(None, None, None)
            elif depth == 1 or parent_is_container:
                if element.tag == "EnTeteDepense":
                    _mark_dematerialised(element)
                elif element.tag == "Bordereau":
                    _sign_parsed_bordereau(element, signer, options, signing_time, result)
                xf.write(element, with_tail=False)
            else:
                continue  # inside an element written whole at its end
            # Free what is written: the element and the siblings before it.
            element.clear()
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    result.bytes_written = counter.count
    return result


def _enter(xf, element, nsmap=None):
    attributes = dict(element.attrib)
    manager = xf.element(element.tag, attributes, nsmap=nsmap) if nsmap else xf.element(
        element.tag, attributes)
    manager.__enter__()
    return manager


def _mark_dematerialised(header) -> None:
    flag = header.find("InfoDematerialisee")
    if flag is None:
        flag = etree.Element("InfoDematerialisee")
        version = header.find("IdVer")
        if version is not None:
            version.addnext(flag)
        else:
            header.insert(0, flag)
    flag.set("V", "1")


def _sign_parsed_bordereau(element, signer, options, signing_time, result) -> None:
    if element.find(_ds("Signature")) is not None:
        result.already_signed.append(element.get("Id") or "")
        return
    element_id = element.get("Id")
    if not element_id:
        bloc = element.find("BlocBordereau")

        def value(tag):
            found = bloc.find(tag) if bloc is not None else None
            return found.get("V") if found is not None else "0"

        element_id = "BORD-%s-%s-%s" % (value("Exer"), value("TypBord"), value("IdBord"))
        element.set("Id", element_id)
    digest = hashlib.sha256(c14n(element)).digest()
    signature = sign_bordereau(element_id, digest, signer, options, signing_time=signing_time)
    # Appended after any whitespace that ends the bordereau: the enveloped-signature transform
    # removes the element only, so the verifier sees exactly the bytes digested above.
    element.append(signature.element)
    result.signed.append(signature)
    result.sign_seconds += signature.seconds


class _CountingWriter:
    """A write-only file object that counts the bytes going to ``out``."""

    def __init__(self, out):
        self.out = out
        self.count = 0

    def write(self, data):
        self.count += len(data)
        return self.out.write(data)

    def flush(self):
        flush = getattr(self.out, "flush", None)
        if flush:
            flush()
