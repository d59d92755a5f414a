"""Shared helpers of the PES tests: where the DGFiP schemas are, XSD validation, xmlsec1.

The PES V2 schemas live outside the project (``shared/schemas/pes-v2``): ``$CHORUS_SHARED_DIR``,
else ``<repository>/../shared``, else ``/work/shared``. Tests that need them skip LOUDLY when
they are absent; so do the signature checks when Debian's ``xmlsec1`` is missing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from chorus_pro.pes.signature import DS_NS, XADES_NS

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / "data" / "pes"


def shared_dir() -> Path:
    candidates = [os.environ.get("CHORUS_SHARED_DIR"), REPO_ROOT.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "schemas" / "pes-v2").is_dir():
            return Path(candidate)
    return Path(candidates[1])


PES_DIR = shared_dir() / "schemas" / "pes-v2"
PES_ALLER_XSD = PES_DIR / "PES_V2" / "Rev0" / "PES_Aller.xsd"
ACQUIT_V2_XSD = PES_DIR / "PES_V2" / "Rev0" / "PES_V2_Acquit_Autonome_V2.xsd"
ACQUIT_V1_XSD = PES_DIR / "PES_V2" / "Rev0" / "PES_V2_Acquit_Autonome.xsd"
PES_RETOUR_XSD = PES_DIR / "PES_V2" / "RETOUR" / "Rev0" / "PES_Retour.xsd"
XADES_122_XSD = PES_DIR / "xades" / "XAdES1.2.2.xsd"


def require_schemas() -> Path:
    if not PES_ALLER_XSD.is_file():
        pytest.skip(
            "!!! DGFiP PES V2 schemas not found at %s (set CHORUS_SHARED_DIR): XSD validation of "
            "the PES files is NOT tested !!!" % PES_DIR
        )
    return PES_DIR


@functools.lru_cache(maxsize=None)
def _schema(path: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))


def schema(path: Path) -> etree.XMLSchema:
    require_schemas()
    return _schema(str(path))


def parse(data_or_path):
    parser = etree.XMLParser(huge_tree=True)
    if isinstance(data_or_path, bytes):
        return etree.fromstring(data_or_path, parser).getroottree()
    return etree.parse(str(data_or_path), parser)


def assert_valid(tree_or_bytes, xsd: Path = PES_ALLER_XSD) -> None:
    tree = parse(tree_or_bytes) if isinstance(tree_or_bytes, (bytes, Path, str)) else tree_or_bytes
    validator = schema(xsd)
    if not validator.validate(tree):
        raise AssertionError("not valid against %s:\n%s" % (xsd.name, validator.error_log))


def require_xmlsec1() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        pytest.skip("!!! xmlsec1 not installed (Debian: apt-get install xmlsec1): the PES "
                    "signatures are NOT verified by an independent verifier !!!")
    return path


def xmlsec1_verify(xml_path: Path, certificate_pem_path: Path, signature_id: str):
    """Run Debian's xmlsec1 on one signature; returns the CompletedProcess (rc 0 = valid)."""
    return subprocess.run(
        [
            require_xmlsec1(), "--verify",
            "--trusted-pem", str(certificate_pem_path),
            "--id-attr:Id", "Bordereau",
            "--id-attr:Id", "%s:SignedProperties" % XADES_NS,
            "--id-attr:Id", "%s:Signature" % DS_NS,
            "--node-id", signature_id,
            str(xml_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def v(element, path: str) -> str:
    """The ``V`` attribute of ``path`` under ``element``."""
    found = element.find(path)
    assert found is not None, "no %s under %s" % (path, element.tag)
    return found.get("V")
