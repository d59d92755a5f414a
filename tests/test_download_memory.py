"""Memory check of the streaming download: a big PIVOT bundle never sits in the client's memory.

``telecharger/groupe`` answers one JSON object whose ``fichierResultat`` is the whole bundle in
base64 (up to 120 MB). :meth:`ChorusProClient.download_invoices` must decode it piece by piece
into a temporary file. Here a local HTTP server (stdlib, in a thread, no ``responses`` mock so
that the real urllib3 streaming path runs) sends a ~20 MB PIVOT file that way, generated on the
fly so that the server holds only one small block; ``tracemalloc`` measures the peak of Python
allocations during the download. A client calling ``response.json()`` — or reading
``response.content`` — would need several times the file size: the control test shows that the
same measure sees it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from chorus_pro.client import ChorusProClient, new_token_cache
from chorus_pro.pivot import iter_pivot_invoices

# The attachment: a random block repeated. 36 864 bytes is a multiple of 9, so its base64 text
# (49 152 characters) is a multiple of 3 long and base64-encodes again without padding: both
# levels of base64 (PJ/Contenu inside the PIVOT, fichierResultat around it) can be produced
# block by block.
BLOCK = random.Random(20260315).randbytes(36864)
BLOCK_B64 = base64.b64encode(BLOCK)
BLOCK_B64_B64 = base64.b64encode(BLOCK_B64)
REPEAT = 400  # 14.7 MB of attachment, a 19.7 MB PIVOT file, a 26 MB HTTP body

PIVOT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<CPPFacturePivot Version="V2_02"><CPPFactures Compteur="1">'
    '<CPPFacturePivotUnitaire NumOrdre="1">'
    "<Fournisseur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>73282932000074</Identifiant>"
    "<RaisonSociale>FOURNISSEUR VOLUMINEUX SAS</RaisonSociale></Fournisseur>"
    "<DonneesFacture><Id>BIG-2026-0001</Id><IdCPRO>98765432</IdCPRO>"
    "<Montants><MontantHT>1000.00</MontantHT><MontantTTC>1200.00</MontantTTC>"
    "<MontantNetAPayer>1200.00</MontantNetAPayer></Montants></DonneesFacture>"
    '<PJ NumOrdre="1"><Contenu>'
).encode("utf-8")
PIVOT_HEAD += b" " * (-len(PIVOT_HEAD) % 3)  # whitespace inside Contenu is allowed
PIVOT_TAIL = (
    "</Contenu><NomPJ>plans-chantier.pdf</NomPJ><TypePJ>02</TypePJ>"
    "<MimeTypePJ>application/pdf</MimeTypePJ></PJ>"
    "</CPPFacturePivotUnitaire></CPPFactures></CPPFacturePivot>\n"
).encode("utf-8")
FILE_SIZE = len(PIVOT_HEAD) + len(BLOCK_B64) * REPEAT + len(PIVOT_TAIL)
BODY_HEAD = b'{"codeRetour": 0, "libelle": "TRA_MSG_00.000", "fichierResultat": "'
BODY_TAIL = b'"}'


def file_digest() -> str:
    digest = hashlib.sha256(PIVOT_HEAD)
    for _ in range(REPEAT):
        digest.update(BLOCK_B64)
    digest.update(PIVOT_TAIL)
    return digest.hexdigest()


def body_parts():
    """The download answer, piece by piece (never whole in memory)."""
    yield BODY_HEAD
    yield base64.b64encode(PIVOT_HEAD)
    for _ in range(REPEAT):
        yield BLOCK_B64_B64
    yield base64.b64encode(PIVOT_TAIL)
    yield BODY_TAIL


BODY_SIZE = sum(len(part) for part in body_parts())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/api/oauth/token":
            self._send([json.dumps({"access_token": "big-token", "token_type": "Bearer",
                                    "expires_in": 3600}).encode()], None)
        elif self.path == "/cpro/factures/v1/telecharger/groupe":
            self._send(body_parts(), BODY_SIZE)
        else:
            self.send_error(404)

    def _send(self, parts, length) -> None:
        parts = list(parts) if length is None else parts
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(length or sum(len(p) for p in parts)))
        self.end_headers()
        for part in parts:
            self.wfile.write(part)

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def peak_during(action):
    """(result, peak bytes of Python allocations while ``action`` ran)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = action()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_big_pivot_download_streams_into_a_file_with_flat_memory(server, tmp_path):
    client = ChorusProClient(
        api_url=server, token_url=f"{server}/api/oauth/token", client_id="id",
        client_secret="secret", login="login", password="password", max_retries=0,
        token_cache=new_token_cache(), temp_dir=str(tmp_path),
    )
    client.get_token()  # outside the measure

    with client:
        downloaded, peak = peak_during(lambda: client.download_invoices([98765432]))

    assert FILE_SIZE > 19_000_000 and BODY_SIZE > 26_000_000
    assert downloaded.kind == "xml" and downloaded.size == FILE_SIZE
    digest = hashlib.sha256()
    with open(downloaded.path, "rb") as handle:
        for piece in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(piece)
    assert digest.hexdigest() == file_digest()
    # Flat: a few 64 kB chunks in flight, whatever the size (measured: ~0.3 MB).
    print(f"download peak {peak} bytes for a {FILE_SIZE}-byte file ({BODY_SIZE}-byte body)")
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes for a {FILE_SIZE}-byte file"
    assert peak < FILE_SIZE / 10

    # And the file is the PIVOT it should be.
    [invoice] = iter_pivot_invoices(downloaded.path)
    assert (invoice.number, invoice.chorus_id) == ("BIG-2026-0001", 98765432)
    assert len(invoice.attachments[0].content) == len(BLOCK) * REPEAT
    downloaded.cleanup()


def test_the_measure_sees_a_whole_body_load(server):
    """Control: the naive way (``response.json()``, then decoding) is caught by the same
    measure, so the test above would fail if the client did that."""
    def naive():
        with requests.Session() as session:
            answer = session.post(f"{server}/cpro/factures/v1/telecharger/groupe", json={},
                                  timeout=60)
            return len(base64.b64decode(answer.json()["fichierResultat"]))

    size, peak = peak_during(naive)
    print(f"naive peak {peak} bytes")
    assert size == FILE_SIZE
    assert peak > FILE_SIZE
