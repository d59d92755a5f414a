"""XAdES signature of the bordereaux with the RGS** key on a (SoftHSM2) token, checked by an
independent verifier: Debian's ``xmlsec1``."""

from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import io
import os
import re
import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from lxml import etree

from chorus_pro import testing_softhsm
from chorus_pro import token as tk
from chorus_pro.pes import (
    SignatureOptions,
    TokenSigner,
    sign_pes,
    write_pes,
    write_pes_file,
)
from chorus_pro.pes.signature import DS_NS, HELIOS_POLICY_IDENTIFIER, XADES_NS
from chorus_pro.pes.testing import sample_flow
from chorus_pro.testing_softhsm import TokenSpec
from chorus_pro.token import PinGuard, RgsToken

try:
    from pes_helpers import (
        XADES_122_XSD, assert_valid, parse, require_schemas, require_xmlsec1, v, xmlsec1_verify,
    )
    from softhsm import CountingLoader, require_softhsm
except ModuleNotFoundError:  # tests/ became a package
    from tests.pes_helpers import (
        XADES_122_XSD, assert_valid, parse, require_schemas, require_xmlsec1, v, xmlsec1_verify,
    )
    from tests.softhsm import CountingLoader, require_softhsm

NOW = datetime(2026, 3, 20, 9, 15, 42, tzinfo=timezone.utc)
DS = "{%s}" % DS_NS
XAD = "{%s}" % XADES_NS
SIGNER_LABEL = "pes-rsa"
PIN_LABEL = "pes-pin"
EC_LABEL = "pes-ec"
OPTIONS = SignatureOptions(city="Saint-Exemple", postal_code="34000")


@pytest.fixture(scope="module")
def tokens():
    require_softhsm()
    return testing_softhsm.shared_softhsm_tokens([
        TokenSpec(SIGNER_LABEL, pin="2580", key_type="rsa", common_name="Jeanne Ordonnatrice"),
        TokenSpec(PIN_LABEL, pin="1357", key_type="rsa"),
        TokenSpec(EC_LABEL, pin="1357", key_type="ec"),
    ])


def signer_for(fixture, *, pin=None, loader=None, guard=None) -> TokenSigner:
    config = fixture.config() if pin is None else fixture.config(pin=pin)
    return TokenSigner(RgsToken(config, pin_guard=guard or PinGuard(), library_loader=loader))


def two_bordereaux(tmp_path):
    first = sample_flow(3, pj_dir=str(tmp_path), files_per_mandate=1, bordereau_number=7)
    second = sample_flow(2, first_mandate=4, bordereau_number=8, seed=8,
                         previous_cumul=first.bordereaux[0].totals().cumul)
    return dataclasses.replace(first, bordereaux=[first.bordereaux[0], second.bordereaux[0]])


@pytest.fixture
def certificate_pem(tokens, tmp_path):
    path = tmp_path / "ordonnateur.pem"
    path.write_text(tk.der_to_pem(tokens[SIGNER_LABEL].certificate_der))
    return path


def signature_ids(path) -> list:
    root = parse(path).getroot()
    return [s.get("Id") for s in root.iter(DS + "Signature")]


def assert_verifies(path, certificate_pem, signature_id):
    completed = xmlsec1_verify(path, certificate_pem, signature_id)
    assert completed.returncode == 0, completed.stderr
    assert re.search(r"SignedInfo References \(ok/all\): 2/2", completed.stderr + completed.stdout)


# ------------------------------------------------------------------ the signature verifies
def test_every_bordereau_signature_verifies_with_xmlsec1(tokens, tmp_path, certificate_pem):
    require_xmlsec1()
    flow = two_bordereaux(tmp_path)
    target = tmp_path / "signed.xml"
    loader = CountingLoader()
    result = write_pes_file(flow, target, signer=signer_for(tokens[SIGNER_LABEL], loader=loader),
                            signature_options=OPTIONS, now=NOW)
    assert result.signed and [b.signed for b in result.bordereaux] == [True, True]
    assert loader.login_attempts == 2  # one login per bordereau, no more
    assert result.sign_seconds > 0
    assert signature_ids(target) == ["BORD-2026-01-7-SIG", "BORD-2026-01-8-SIG"]
    require_schemas()
    assert_valid(target)
    for signature_id in signature_ids(target):
        assert_verifies(target, certificate_pem, signature_id)


def test_signature_holds_what_helios_expects(tokens, tmp_path):
    flow = sample_flow(2)
    data = io.BytesIO()
    write_pes(flow, data, signer=signer_for(tokens[SIGNER_LABEL]), signature_options=OPTIONS,
              now=NOW)
    bordereau = parse(data.getvalue()).getroot().find("PES_DepenseAller/Bordereau")
    signature = bordereau[-1]
    assert signature.tag == DS + "Signature"  # enveloped, after the last Piece
    assert [child.tag for child in bordereau] == ["BlocBordereau", "Piece", "Piece",
                                                  DS + "Signature"]
    signed_info = signature.find(DS + "SignedInfo")
    assert signed_info.find(DS + "CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#")
    assert signed_info.find(DS + "SignatureMethod").get("Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    bordereau_ref, properties_ref = signed_info.findall(DS + "Reference")
    assert bordereau_ref.get("URI") == "#" + bordereau.get("Id")
    assert [t.get("Algorithm") for t in bordereau_ref.iter(DS + "Transform")] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#"]
    assert bordereau_ref.find(DS + "DigestMethod").get("Algorithm") == (
        "http://www.w3.org/2001/04/xmlenc#sha256")
    assert properties_ref.get("Type") == "http://uri.etsi.org/01903/v1.2.2#SignedProperties"

    der = tokens[SIGNER_LABEL].certificate_der
    key_info_cert = signature.find(DS + "KeyInfo/" + DS + "X509Data/" + DS + "X509Certificate")
    assert base64.b64decode(key_info_cert.text) == der
    qualifying = signature.find(DS + "Object/" + XAD + "QualifyingProperties")
    assert qualifying.get("Target") == "#" + signature.get("Id")
    properties = qualifying.find(XAD + "SignedProperties")
    assert properties_ref.get("URI") == "#" + properties.get("Id")
    ssp = properties.find(XAD + "SignedSignatureProperties")
    assert ssp.findtext(XAD + "SigningTime") == "2026-03-20T09:15:42Z"
    cert_digest = ssp.find(XAD + "SigningCertificate/" + XAD + "Cert/" + XAD + "CertDigest")
    assert base64.b64decode(cert_digest.findtext(DS + "DigestValue")) == (
        hashlib.sha256(der).digest())
    serial = ssp.findtext(".//" + DS + "X509SerialNumber")
    assert int(serial) == tk.load_certificate(der).serial_number
    assert ssp.findtext(".//" + XAD + "SigPolicyId/" + XAD + "Identifier") == (
        HELIOS_POLICY_IDENTIFIER)
    assert ssp.findtext(".//" + XAD + "SigPolicyId/" + XAD + "Description") == (
        "Politique de signature Helios de la DGFiP")
    place = ssp.find(XAD + "SignatureProductionPlace")
    assert [(c.tag[len(XAD):], c.text) for c in place] == [
        ("City", "Saint-Exemple"), ("PostalCode", "34000"), ("CountryName", "France")]
    assert ssp.findtext(".//" + XAD + "ClaimedRole") == "Ordonnateur"
    # The XAdES part follows the XAdES 1.2.2 schema.
    require_schemas()
    assert_valid(etree.ElementTree(qualifying), XADES_122_XSD)
    # The signature value is the token's RSA signature of the canonical SignedInfo.
    canonical = etree.tostring(signed_info, method="c14n", exclusive=True)
    value = base64.b64decode(signature.findtext(DS + "SignatureValue"))
    assert tk.verify(canonical, value, der, tk.ALGORITHM_RSA_PKCS1V15_SHA256)


def test_a_changed_amount_breaks_its_bordereau_signature_only(tokens, tmp_path,
                                                            certificate_pem):
    require_xmlsec1()
    flow = two_bordereaux(tmp_path)
    target = tmp_path / "signed.xml"
    write_pes_file(flow, target, signer=signer_for(tokens[SIGNER_LABEL]), now=NOW)
    data = target.read_bytes()
    second_amount = flow.bordereaux[1].pieces[0].lines[0].amount_ht
    original = b'<MtHT V="%s"/>' % str(second_amount).encode()
    assert data.count(original) == 1
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(data.replace(original, b'<MtHT V="%s"/>'
                                      % str(second_amount + Decimal("1000")).encode()))
    first_id, second_id = signature_ids(target)
    assert_verifies(tampered, certificate_pem, first_id)
    broken = xmlsec1_verify(tampered, certificate_pem, second_id)
    assert broken.returncode != 0
    assert "data and digest do not match" in broken.stderr  # the bordereau's digest

    # Changing a signed property (the claimed role) breaks it too.
    role = tmp_path / "role.xml"
    role.write_bytes(data.replace(b">Ordonnateur<", b">Comptable<", 1))
    assert xmlsec1_verify(role, certificate_pem, first_id).returncode != 0
    # Control: the untouched file verifies.
    assert_verifies(target, certificate_pem, second_id)


# ------------------------------------------------------------------ PIN and token errors
def test_wrong_pin_clear_error_never_retried_and_nothing_written(tokens, tmp_path):
    fixture = tokens[PIN_LABEL]
    fixture.login_once()
    guard = PinGuard()
    target = tmp_path / "pes.xml"
    flow = sample_flow(2)

    loader = CountingLoader()
    with pytest.raises(tk.PinIncorrect) as refused:
        write_pes_file(flow, target, signer=signer_for(fixture, pin="0000", loader=loader,
                                                       guard=guard), now=NOW)
    assert type(refused.value) is tk.PinIncorrect
    assert "refused the PIN" in str(refused.value)
    assert loader.login_attempts == 1
    assert fixture.token_flags() & tk.CKF_USER_PIN_COUNT_LOW  # the token saw one attempt
    assert os.listdir(tmp_path) == []

    # The same PIN again (a retry button, a cron): blocked before the token is even loaded.
    again = CountingLoader()
    with pytest.raises(tk.PinRetryBlocked):
        write_pes_file(flow, target, signer=signer_for(fixture, pin="0000", loader=again,
                                                       guard=guard), now=NOW)
    assert (again.load_calls, again.login_attempts) == (0, 0)
    assert os.listdir(tmp_path) == []

    # The right PIN signs.
    result = write_pes_file(flow, target, signer=signer_for(fixture, guard=guard), now=NOW)
    assert result.signed
    assert not fixture.token_flags() & tk.CKF_USER_PIN_COUNT_LOW


def test_missing_pin_and_ec_key_are_refused_clearly(tokens, tmp_path):
    no_pin = TokenSigner(RgsToken(tokens[SIGNER_LABEL].config(pin=None), pin_guard=PinGuard()))
    with pytest.raises(tk.PinMissing):
        write_pes(sample_flow(1), io.BytesIO(), signer=no_pin, now=NOW)
    with pytest.raises(tk.MechanismNotSupported, match="EC key"):
        write_pes(sample_flow(1), io.BytesIO(), signer=signer_for(tokens[EC_LABEL]), now=NOW)


def test_sign_prepared_builds_the_data_with_the_certificate_in_one_login(tokens):
    fixture = tokens[SIGNER_LABEL]
    loader = CountingLoader()
    token = RgsToken(fixture.config(), pin_guard=PinGuard(), library_loader=loader)
    seen = []

    def prepare(certificate_der):
        seen.append(certificate_der)
        return b"data for " + hashlib.sha256(certificate_der).digest()

    signature = token.sign_prepared(prepare)
    assert seen == [fixture.certificate_der] and loader.login_attempts == 1
    assert signature.verify(b"data for " + hashlib.sha256(fixture.certificate_der).digest())

    class Boom(Exception):
        pass

    def failing(certificate_der):
        raise Boom("the caller's own error")

    with pytest.raises(Boom):  # not turned into a token error
        token.sign_prepared(failing)
    with pytest.raises(TypeError):
        token.sign_prepared(lambda der: "not bytes")


# ------------------------------------------------------------------ sign an existing file
def test_sign_an_existing_unsigned_file_stream_in_stream_out(tokens, tmp_path, certificate_pem):
    require_xmlsec1()
    flow = dataclasses.replace(two_bordereaux(tmp_path), dematerialised=False)
    unsigned = io.BytesIO()
    write_pes(flow, unsigned, now=NOW)
    # As another software might have written it: indented, and without Id on one bordereau.
    tree = parse(unsigned.getvalue())
    etree.indent(tree)
    del tree.getroot().find("PES_DepenseAller/Bordereau").attrib["Id"]
    source = tmp_path / "unsigned.xml"
    tree.write(str(source), encoding="ISO-8859-1", xml_declaration=True)

    target = tmp_path / "signed.xml"
    with open(target, "wb") as out:
        result = sign_pes(str(source), out, signer_for(tokens[SIGNER_LABEL]), OPTIONS,
                          signing_time=NOW)
    assert [s.element_id for s in result.signed] == ["BORD-2026-01-7", "BORD-2026-01-8"]
    assert result.bytes_written == target.stat().st_size
    require_schemas()
    assert_valid(target)
    root = parse(target).getroot()
    assert v(root, "PES_DepenseAller/EnTeteDepense/InfoDematerialisee") == "1"
    for signature_id in signature_ids(target):
        assert_verifies(target, certificate_pem, signature_id)
    # Everything else is unchanged (files included).
    before = parse(unsigned.getvalue()).getroot()
    assert [pj.find("Contenu/Fichier").text for pj in root.iter("PJ")] == [
        pj.find("Contenu/Fichier").text for pj in before.iter("PJ")]
    assert len(root.findall(".//Piece")) == len(before.findall(".//Piece")) == 5

    # Signing again keeps the existing signatures as they are.
    again = io.BytesIO()
    second = sign_pes(str(target), again, signer_for(tokens[SIGNER_LABEL]))
    assert second.signed == [] and second.already_signed == ["BORD-2026-01-7", "BORD-2026-01-8"]
    resigned = tmp_path / "again.xml"
    resigned.write_bytes(again.getvalue())
    for signature_id in signature_ids(resigned):
        assert_verifies(resigned, certificate_pem, signature_id)


def test_sign_pes_refuses_what_is_not_a_pes_aller(tokens):
    from chorus_pro.pes import PesSignatureError

    with pytest.raises(PesSignatureError, match="not a PES_Aller"):
        sign_pes(io.BytesIO(b"<PES_ACQUIT/>"), io.BytesIO(), signer_for(tokens[SIGNER_LABEL]))


# ------------------------------------------------------------------ streaming while signing
def _peak_signed(flow, signer) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with open(os.devnull, "wb") as out:
            write_pes(flow, out, signer=signer, now=NOW)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_signing_keeps_memory_flat_in_the_number_of_mandates(tokens):
    """The signed bordereau is digested piece by piece: 4x the mandates, same peak."""
    signer = signer_for(tokens[SIGNER_LABEL])
    small, large = sample_flow(50, lines_per_mandate=2), sample_flow(200, lines_per_mandate=2)
    _peak_signed(sample_flow(1), signer)  # warm-up: imports, PKCS#11 library
    peak_small = _peak_signed(small, signer)
    peak_large = _peak_signed(large, signer)
    assert peak_large - peak_small < 128 * 1024, (peak_small, peak_large)
