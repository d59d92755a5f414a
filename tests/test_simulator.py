"""Tests of the local Chorus Pro simulator (chorus_pro.simulator): data, documents, protocol.

Most tests talk HTTP (plain ``requests``) to one in-process simulator whose world is reset before
each test; one test drives the real ``python -m chorus_pro.simulator`` subprocess.
"""

from __future__ import annotations

import base64
import io
import os
import threading
import time
import zipfile
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from lxml import etree
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

from chorus_pro import statuses as st
from chorus_pro.client import (
    OP_ACTIVE_STRUCTURES,
    OP_CONSULT,
    OP_CONSULT_STRUCTURE,
    OP_DOWNLOAD,
    OP_HISTORY,
    OP_POSSIBLE_STATUSES,
    OP_PROCESS,
    OP_SEARCH_RECEIVED,
    OP_SEARCH_SERVICES,
    OP_SEARCH_STRUCTURES,
    OP_SEARCH_WORKS,
    OP_VAT_RATES,
)
from chorus_pro.simulator import Simulator, check_bind_host
from chorus_pro.simulator.generator import generate_world, money
from chorus_pro.simulator.testing import SimulatorError, SimulatorProcess
from chorus_pro.simulator.world import TAGS, World
from chorus_pro.timeutil import PARIS

ANCHOR = date(2026, 3, 15)
SEED = 4242
SCHEMA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "chorus-pivot"
PIVOT_XSD = SCHEMA_DIR / "CPPFacturePivot_V2_02.xsd"
REQUIRED_TAGS = {
    "factored", "credit_note", "multi_attachments", "structured", "pdf_only", "a2", "works",
    "completed", "old_pending", "duplicate", "download_refused",
}


# --------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pivot_schema():
    if not PIVOT_XSD.exists():
        pytest.skip(f"!!! PIVOT XSD NOT FOUND at {PIVOT_XSD}: PIVOT schema validation is NOT "
                    "tested (the AIFE schemas live in ../shared/schemas/chorus-pivot) !!!")
    return etree.XMLSchema(etree.parse(str(PIVOT_XSD)))


@pytest.fixture(scope="module")
def server():
    simulator = Simulator(seed=SEED, anchor_date=ANCHOR).start_in_thread()
    yield simulator
    simulator.shutdown()


class Api:
    """Plain-requests access to the simulator, as a PISTE client would do it."""

    def __init__(self, simulator: Simulator):
        self.sim = simulator
        self.info = simulator.info
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never a proxy
        self._token = None

    @property
    def world(self) -> World:
        return self.sim.world

    @property
    def admin(self):
        return self.sim.admin

    def fetch_token(self, client_id=None, client_secret=None, grant_type="client_credentials"):
        return self.session.post(self.sim.token_url, data={
            "grant_type": grant_type, "client_id": client_id or self.info["client_id"],
            "client_secret": client_secret or self.info["client_secret"], "scope": "openid",
        }, timeout=10)

    def token(self) -> str:
        if self._token is None:
            answer = self.fetch_token()
            assert answer.status_code == 200, answer.text
            self._token = answer.json()["access_token"]
        return self._token

    def headers(self, token=None, login=None, password=None) -> dict:
        account = f"{login or self.info['login']}:{password or self.info['password']}"
        return {
            "Authorization": f"Bearer {token or self.token()}",
            "cpro-account": base64.b64encode(account.encode()).decode(),
            "Content-Type": "application/json;charset=utf-8",
        }

    def post(self, operation: str, body: dict, headers=None, timeout=30) -> requests.Response:
        return self.session.post(f"{self.sim.base_url}/cpro/{operation}", json=body,
                                 headers=headers or self.headers(), timeout=timeout)

    def ok(self, operation: str, body: dict) -> dict:
        answer = self.post(operation, body)
        assert answer.status_code == 200, answer.text
        payload = answer.json()
        assert payload["codeRetour"] == 0, payload
        return payload

    def download(self, ids, file_format="PIVOT", **extra) -> bytes:
        payload = self.ok(OP_DOWNLOAD, {"listeFacture": [{"idFacture": i} for i in ids],
                                     "format": file_format, **extra})
        return base64.b64decode(payload["fichierResultat"])

    def search_all(self, body: dict, page_size: int = 1000) -> list:
        items, page = [], 1
        while True:
            answer = self.post(OP_SEARCH_RECEIVED, {**body, "paramRecherche": {
                "pageResultatDemandee": page, "nbResultatsParPage": page_size}}).json()
            if answer["codeRetour"] == 20000:
                return items
            # Real shape: ids and amounts come as strings; read back as numbers for the tests.
            for item in answer["listeFactures"]:
                assert isinstance(item["idFacture"], str)
                assert isinstance(item["montantTTC"], str)
            items += [{**item, "idFacture": int(item["idFacture"])}
                      for item in answer["listeFactures"]]
            if answer["pageCourante"] >= answer["pages"]:
                return items
            page += 1

    def history_codes(self, invoice_id: int) -> list:
        payload = self.ok(OP_HISTORY, {"idFacture": invoice_id})
        return [row["histoStatutCode"] for row in payload["historiquesDesStatuts"]["histoStatut"]]


@pytest.fixture
def api(server):
    server.admin.reset()  # world, configuration, faults and counters back to the start
    client = Api(server)
    yield client
    client.session.close()


def _pivot_units(xml: bytes) -> dict:
    root = etree.fromstring(xml)
    return {int(unit.findtext("DonneesFacture/IdCPRO")): unit
            for unit in root.iter("CPPFacturePivotUnitaire")}


def _pdf_text(content: bytes) -> str:
    # pypdf, or PyPDF2 2.x where Odoo 18's pins are installed: both read the text of a page.
    try:
        from pypdf import PdfReader
    except ImportError:
        from PyPDF2 import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# --------------------------------------------------------------------------------------------
# Generated data
# --------------------------------------------------------------------------------------------
def test_generator_is_deterministic():
    first = generate_world(seed=7, anchor_date=ANCHOR)
    second = generate_world(seed=7, anchor_date=ANCHOR)
    other = generate_world(seed=8, anchor_date=ANCHOR)
    assert first.to_json() == second.to_json()
    assert list(first.invoices) == list(second.invoices)
    assert [s.iban for s in first.suppliers] == [s.iban for s in second.suppliers]
    assert [s.iban for s in first.suppliers] != [s.iban for s in other.suppliers]
    assert first.to_json() != other.to_json()


def test_world_json_round_trip():
    world = generate_world(seed=SEED, anchor_date=ANCHOR)
    assert World.from_json(world.to_json()).to_json() == world.to_json()


def test_default_password_never_expires_with_a_past_anchor():
    today = datetime.now(PARIS).date()
    old = generate_world(seed=SEED, anchor_date=today - timedelta(days=800))
    assert old.account.password_expiry == today + timedelta(days=300)
    future = generate_world(seed=SEED, anchor_date=today + timedelta(days=10))
    assert future.account.password_expiry == today + timedelta(days=310)


def test_identifiers_are_valid():
    world = generate_world(seed=SEED, anchor_date=ANCHOR)
    companies = world.suppliers + world.factors
    assert len(world.suppliers) >= 8
    for party in list(world.structures.values()) + companies:
        assert stdnum_siret.is_valid(party.siret), party.name
        assert stdnum_siren.is_valid(party.siret[:9]), party.name
        assert stdnum_tva.is_valid(party.vat_number), party.name
    for company in companies:
        assert company.iban.startswith("FR76") and stdnum_iban.is_valid(company.iban)
        assert stdnum_bic.is_valid(company.bic)
    assert len({c.siret for c in companies}) == len(companies)
    assert len({c.iban for c in companies}) == len(companies)


def test_amounts_are_consistent_to_the_cent():
    world = generate_world(seed=SEED, anchor_date=ANCHOR, invoices=300)
    for invoice in world.invoices.values():
        if invoice.lines:
            assert sum(line.amount_ht for line in invoice.lines) == invoice.amount_ht
            for line in invoice.lines:
                assert line.amount_ht == money(line.quantity * line.unit_price)
            rates = {line.vat_rate for line in invoice.lines}
            assert {vat.rate for vat in invoice.vat} == rates
        for vat in invoice.vat:
            assert vat.amount == money(vat.base * vat.rate / 100), invoice.number
        assert sum(v.base for v in invoice.vat) == invoice.amount_ht
        assert sum(v.amount for v in invoice.vat) == invoice.amount_vat
        assert invoice.amount_ttc == invoice.amount_ht + invoice.amount_vat
        expected_to_pay = Decimal("0.00") if invoice.frame.startswith("A2_") else invoice.amount_ttc
        assert invoice.amount_to_pay == expected_to_pay
        assert invoice.amount_ht > 0


def test_notable_invoices_are_present():
    world = generate_world(seed=SEED, anchor_date=ANCHOR)
    present = {tag for invoice in world.invoices.values() for tag in invoice.tags}
    assert REQUIRED_TAGS <= present
    assert present <= TAGS
    commune = world.invoices_of(world.commune_id)
    assert len(commune) >= 40 and len(world.invoices_of(world.ccas_id)) >= 3
    assert len({world.supplier_of(i).siret for i in commune}) >= 8

    multi_vat = world.first_tagged("multi_vat")
    assert {v.rate for v in multi_vat.vat} == {Decimal("20"), Decimal("10"), Decimal("5.5")}
    assert all(not i.lines and i.vat for i in world.tagged("pdf_only"))
    assert len(world.first_tagged("multi_attachments").complementary_attachments) >= 3
    factored = world.first_tagged("factored")
    assert world.payee_of(factored).iban != world.supplier_of(factored).iban
    assert world.first_tagged("a2").frame == "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"
    for credit_note in world.tagged("credit_note"):
        assert credit_note.invoice_type == "AVOIR"
        origins = [i for i in world.invoices.values()
                   if i.number == credit_note.origin_invoice_number and not i.is_credit_note]
        assert origins and origins[0].supplier_index == credit_note.supplier_index
    completed = world.first_tagged("completed")
    assert [e.code for e in sorted(completed.history, key=lambda e: e.at)][-3:] == [
        st.MISE_A_DISPOSITION, st.SUSPENDUE, st.COMPLETEE]
    old = world.first_tagged("old_pending")
    assert old.status == st.MISE_A_DISPOSITION and (ANCHOR - old.status_at.date()).days > 60
    assert any(i.status == st.MANDATEE and i.mandate_number for i in world.invoices.values())
    assert any(i.status == st.MISE_EN_PAIEMENT for i in world.invoices.values())
    assert any(i.status == st.A_RECYCLER for i in world.invoices.values())
    assert any(i.status == st.REJETEE for i in world.invoices.values())
    first, second = world.tagged("duplicate")
    assert (first.number, first.supplier_index) == (second.number, second.supplier_index)
    assert first.id != second.id
    works = world.tagged("works")
    assert len(works) >= 2 and all(i.payment_request_type == "FACTURE_TRAVAUX" for i in works)
    assert {i.frame[:2] for i in works} >= {"A5", "A8"}
    assert any(i.download_refused for i in works)
    recent = [i for i in commune if i.status == st.MISE_A_DISPOSITION
              and (ANCHOR - i.status_at.date()).days <= 35]
    assert len(recent) > len(commune) / 2


def test_generated_times_are_before_the_anchor_day():
    world = generate_world(seed=SEED, anchor_date=ANCHOR, invoices=500)
    limit = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, tzinfo=PARIS)
    for invoice in world.invoices.values():
        assert all(entry.at < limit for entry in invoice.history), invoice.number
        assert invoice.invoice_date <= invoice.deposit_date < ANCHOR
        assert invoice.history[0].code == st.DEPOSEE


def test_generation_scales_to_thousands():
    world = generate_world(seed=SEED, anchor_date=ANCHOR, invoices=3000)
    assert len(world.invoices_of(world.commune_id)) == 3000
    assert len(world.invoices) == len(set(world.invoices))


# --------------------------------------------------------------------------------------------
# Documents (through the download API)
# --------------------------------------------------------------------------------------------
def test_pivot_of_every_invoice_validates_in_one_bundle(api, pivot_schema):
    ids = [i for i in api.world.invoices if not api.world.invoices[i].download_refused]
    xml = api.download(ids)
    document = etree.fromstring(xml)
    assert pivot_schema.validate(document), pivot_schema.error_log.last_error
    assert document.find("CPPFactures").get("Compteur") == str(len(ids))
    codes = [p.findtext("Code") for p in document.iter("ParametreIndiv")]
    assert codes == ["DtPrd", "IdFlx"]
    units = _pivot_units(xml)
    assert set(units) == set(ids)
    world = api.world
    for invoice_id, unit in units.items():
        invoice = world.invoices[invoice_id]
        assert unit.findtext("DonneesFacture/Id") == invoice.number
        assert unit.findtext("Fournisseur/Identifiant") == world.supplier_of(invoice).siret
        assert Decimal(unit.findtext("DonneesFacture/Montants/MontantTTC")) == invoice.amount_ttc
        types = [pj.findtext("TypePJ") for pj in unit.iter("PJ")]
        assert types.count("01") == 1
        assert types.count("02") == len(invoice.complementary_attachments)
        main = next(pj for pj in unit.iter("PJ") if pj.findtext("TypePJ") == "01")
        # Like the portal: the base64 of a ZIP holding the file under its name.
        packed = zipfile.ZipFile(io.BytesIO(base64.b64decode(main.findtext("Contenu"))))
        assert packed.namelist() == [main.findtext("NomPJ")]
        content = packed.read(packed.namelist()[0])
        if main.findtext("MimeTypePJ") == "application/xml":
            assert content.startswith(b"<?xml")
        else:
            assert content.startswith(b"%PDF")
    factored = world.first_tagged("factored")
    bank = units[factored.id].find("Fournisseur/ReferenceBancaire")
    assert bank.findtext("Compte") == world.factors[0].iban
    assert bank.findtext("RaisonSocialeEncaisseur") == world.factors[0].name
    credit_note = world.first_tagged("credit_note")
    data = units[credit_note.id].find("DonneesFacture")
    assert data.findtext("Type") == "381"
    assert data.findtext("IdFactureOrigine") == credit_note.origin_invoice_number
    structured = units[world.first_tagged("multi_vat").id]
    assert len(structured.findall("DonneesFacture/Lignes/Ligne")) == 4
    assert units[world.first_tagged("pdf_only").id].find("DonneesFacture/Lignes") is None
    assert units[world.first_tagged("completed").id].findtext("DonneesFacture/Renvoi") == \
        "Complétée"


def test_pivot_of_each_invoice_validates_alone(api, pivot_schema):
    for invoice in api.world.invoices.values():
        if invoice.download_refused:
            continue
        document = etree.fromstring(api.download([invoice.id]))
        assert pivot_schema.validate(document), (invoice.number, pivot_schema.error_log)


@pytest.mark.parametrize("tag", ["multi_vat", "pdf_only", "credit_note", "factored", "a2",
                                 "works", "ccas"])
def test_pdf_is_readable_and_shows_the_number(api, tag):
    invoice = next(i for i in api.world.tagged(tag) if not i.download_refused)
    content = api.download([invoice.id], "PDF", avecPiecesJointesComplementaires="Non")
    assert content.startswith(b"%PDF")
    text = _pdf_text(content)
    assert invoice.number in text
    assert api.world.supplier_of(invoice).name in text
    if tag == "factored":
        assert api.world.factors[0].name in text
    if tag == "a2":
        assert "ne pas mandater" in text


def test_every_pdf_is_readable_and_names_its_invoice():
    from chorus_pro.simulator import documents

    world = generate_world(seed=SEED, anchor_date=ANCHOR)
    for invoice in world.invoices.values():
        for attachment in invoice.attachments:
            content = documents.attachment_content(world, invoice, attachment)
            # taille is an estimate of the real size: keep it honest
            assert abs(len(content) - attachment.size_estimate) < attachment.size_estimate / 2
            if attachment.is_xml:  # deposited as UBL: format PDF gives Chorus's rendering
                assert content.startswith(b"<?xml"), attachment.name
                content = documents.attachment_pdf(world, invoice, attachment)
            assert content.startswith(b"%PDF"), attachment.name
            assert invoice.number in _pdf_text(content), attachment.name


def test_pdf_bundles_are_pdf_or_zip(api):
    world = api.world
    multi = world.first_tagged("multi_attachments")
    for flag in ("Oui", "OUI", True, "true"):
        archive = zipfile.ZipFile(io.BytesIO(api.download(
            [multi.id], "PDF", avecPiecesJointesComplementaires=flag)))
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == len(multi.attachments) >= 4 and "/" not in "".join(names)
        assert all(archive.read(name).startswith(b"%PDF") for name in names)
    for flag in ("Non", "NON", False):
        assert api.download([multi.id], "PDF",
                            avecPiecesJointesComplementaires=flag).startswith(b"%PDF")
    two = [multi.id, world.first_tagged("pdf_only").id]
    archive = zipfile.ZipFile(io.BytesIO(api.download(two, "PDF")))
    folders = {name.split("/")[0] for name in archive.namelist()}
    assert len(folders) == 2 and all(name.count("/") == 1 for name in archive.namelist())
    bad = api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": multi.id}], "format": "PDF",
                              "avecPiecesJointesComplementaires": "Peut-être"})
    assert bad.status_code == 400


def test_download_sets_downloaded_flag(api):
    base = {"idDestinataire": api.info["structure_id"], "factureTelechargeeParDestinataire": False}
    before = {i["idFacture"] for i in api.search_all(base)}
    target = sorted(before)[0]
    api.download([target])
    after = {i["idFacture"] for i in api.search_all(base)}
    assert after == before - {target}
    downloaded = api.search_all({**base, "factureTelechargeeParDestinataire": True})
    assert [i["idFacture"] for i in downloaded] == [target]
    assert api.admin.invoice(target)["downloaded"] is True


def test_download_limits_and_refusals(api):
    world = api.world
    ids = [i.id for i in world.tagged("structured")][:5]
    api.admin.config(max_download_mb=0.005)  # ~5 KB: one PDF fits, five do not
    assert api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": i} for i in ids],
                               "format": "PIVOT"}).status_code == 413
    api.admin.config(max_download_mb=120)
    api.admin.corrupt(ids[0], "too_large")
    too_large = api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": ids[0]}], "format": "PDF"})
    assert too_large.status_code == 413
    assert api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": ids[1]}],
                               "format": "PDF"}).status_code == 200
    refused = world.first_tagged("download_refused")
    answer = api.post(OP_DOWNLOAD, {
        "listeFacture": [{"idFacture": ids[1]}, {"idFacture": refused.id}], "format": "PIVOT"})
    assert answer.status_code == 200 and answer.json()["codeRetour"] == 20003
    assert "disponible" in answer.json()["libelle"]
    unknown = api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": 1}], "format": "PIVOT"}).json()
    assert unknown["codeRetour"] == 20001 and "GDP_MSG_11.008" in unknown["libelle"]
    assert api.post(OP_DOWNLOAD, {"listeFacture": [], "format": "PIVOT"}).status_code == 400
    assert api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": ids[1]}],
                               "format": "UBL"}).status_code == 400


def test_corrupted_pivots(api, pivot_schema):
    first, second = [i.id for i in api.world.tagged("structured")][:2]
    api.admin.corrupt(first, "malformed_pivot")
    document = etree.fromstring(api.download([first, second]))  # still well-formed
    assert not pivot_schema.validate(document)
    assert pivot_schema.validate(etree.fromstring(api.download([second])))
    api.admin.corrupt(first, "broken_xml")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(api.download([first, second]))
    api.admin.corrupt(first, "clear")
    assert pivot_schema.validate(etree.fromstring(api.download([first])))


# --------------------------------------------------------------------------------------------
# Authentication and transport
# --------------------------------------------------------------------------------------------
def test_token_endpoint(api):
    answer = api.fetch_token()
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "Bearer" and token["scope"] == "openid"
    assert token["expires_in"] == 3600 and token["access_token"]
    wrong = api.fetch_token(client_secret="wrong")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert api.fetch_token(grant_type="password").status_code == 400
    api.admin.config(token_ttl=120)
    assert api.fetch_token().json()["expires_in"] == 120


def _assert_invalid_token(answer):
    assert answer.status_code == 401
    header = answer.headers["WWW-Authenticate"]
    assert header.startswith('Bearer realm="PISTE"') and 'error="invalid_token"' in header


def test_bearer_token_checks(api):
    operation = OP_VAT_RATES
    headers = api.headers()
    assert api.post(operation, {}, headers=headers).status_code == 200
    without = {k: v for k, v in headers.items() if k != "Authorization"}
    _assert_invalid_token(api.post(operation, {}, headers=without))
    _assert_invalid_token(api.post(operation, {}, headers=api.headers(token="forged")))
    api.admin.expire_tokens()
    _assert_invalid_token(api.post(operation, {}, headers=headers))
    api.admin.config(token_ttl=0)
    immediate = api.fetch_token().json()["access_token"]
    _assert_invalid_token(api.post(operation, {}, headers=api.headers(token=immediate)))


def test_technical_account_checks(api):
    operation = OP_VAT_RATES
    wrong = api.post(operation, {}, headers=api.headers(password="nope"))
    assert wrong.status_code == 401
    assert 'error_description="login or password incorrects"' in wrong.headers["WWW-Authenticate"]
    missing = {k: v for k, v in api.headers().items() if k != "cpro-account"}
    assert api.post(operation, {}, headers=missing).status_code == 401
    api.admin.credentials(password_expiry="2031-05-01")
    consult = api.ok(OP_CONSULT_STRUCTURE, {"idStructureCPP": api.info["structure_id"]})
    assert consult["informationGenerales"]["dateExpirationMotPasseCompteTech"] == "2031-05-01"
    yesterday = (datetime.now(PARIS).date() - timedelta(days=1)).isoformat()
    api.admin.credentials(password_expiry=yesterday)
    expired = api.post(operation, {})
    assert expired.status_code == 401 and "expired" in expired.headers["WWW-Authenticate"]
    api.admin.credentials(password="Nouveau-Mot-2027!")  # a new password gets a new expiry
    assert api.post(operation, {}).status_code == 401  # old password refused now
    assert api.post(operation, {}, headers=api.headers(password="Nouveau-Mot-2027!")
                    ).status_code == 200


def test_body_and_content_type_checks(api):
    url = f"{api.sim.base_url}/cpro/{OP_SEARCH_RECEIVED}"
    headers = api.headers()
    plain = api.session.post(url, data="{}", headers={**headers, "Content-Type": "text/plain"})
    assert plain.status_code == 415
    broken = api.session.post(url, data="{not json", headers=headers)
    assert broken.status_code == 400 and broken.json()["codeRetour"] != 0
    assert api.session.post(url, data="[1, 2]", headers=headers).status_code == 400
    assert api.session.get(url, headers=headers).status_code == 405
    unknown = api.post("factures/v1/rechercher/atraiter/recipiendaire", {})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


# --------------------------------------------------------------------------------------------
# Searches
# --------------------------------------------------------------------------------------------
def test_pagination_covers_every_visible_invoice(api):
    body = {"idDestinataire": api.info["structure_id"]}
    first = api.post(OP_SEARCH_RECEIVED, {**body, "paramRecherche": {"pageResultatDemandee": 1,
                                                         "nbResultatsParPage": 7}}).json()
    total = first["total"]
    assert first["pages"] == -(-total // 7) and first["nbResultatsParPage"] == 7
    seen = []
    for page in range(1, first["pages"] + 1):
        answer = api.post(OP_SEARCH_RECEIVED, {**body, "paramRecherche": {
            "pageResultatDemandee": page, "nbResultatsParPage": 7,
            "triColonne": "DateDepot", "triSens": "Descendant"}}).json()
        assert answer["pageCourante"] == page
        seen += [int(item["idFacture"]) for item in answer["listeFactures"]]
    assert len(seen) == len(set(seen)) == total
    world = api.world
    expected = {i.id for i in world.invoices_of(world.commune_id)
                if not i.is_works and i.status not in ("DEPOSEE", "EN_COURS_ACHEMINEMENT")}
    assert set(seen) == expected
    huge = api.post(OP_SEARCH_RECEIVED,
                    {**body, "paramRecherche": {"nbResultatsParPage": 5000}}).json()
    assert huge["nbResultatsParPage"] == 1000 and len(huge["listeFactures"]) == total
    item = huge["listeFactures"][0]
    for key in ("idFacture", "numeroFacture", "statut", "dateHeureEtatCourant", "montantTTC",
                "codeFournisseur", "codeServiceExecutant", "factureTelechargeeParDestinataire"):
        assert key in item
    assert "taille" not in item
    sized = api.post(OP_SEARCH_RECEIVED, {**body, "recupererTaille": True}).json()["listeFactures"]
    assert all(entry["taille"] > 1000 for entry in sized)


def test_empty_search_is_20000_and_foreign_structure_403(api):
    empty = api.post(OP_SEARCH_RECEIVED, {"numeroFacture": "N'EXISTE-PAS"})
    assert empty.status_code == 200
    assert (empty.json()["codeRetour"], empty.json()["libelle"]) == (20000, "TRA_MSG_00.015")
    forbidden = api.post(OP_SEARCH_RECEIVED, {"idDestinataire": api.world.foreign_id})
    assert forbidden.status_code == 403 and forbidden.content == b""
    works = api.post(OP_SEARCH_WORKS, {"idDestinataire": api.world.foreign_id})
    assert works.status_code == 403


def test_status_filters_and_hidden_statuses(api):
    commune = api.info["structure_id"]
    single = api.search_all({"idDestinataire": commune, "statutCourant": "MISE_EN_PAIEMENT"})
    assert single and {i["statut"] for i in single} == {"MISE_EN_PAIEMENT"}
    several = api.search_all({"idDestinataire": commune,
                              "statutCourant": ["MANDATEE", "MISE_EN_PAIEMENT"]})
    assert {i["statut"] for i in several} == {"MANDATEE", "MISE_EN_PAIEMENT"}
    assert len(several) > len(single)
    invoice = api.world.first_tagged("old_pending")
    api.admin.move(invoice.id, "DEPOSEE")
    visible = {i["idFacture"] for i in api.search_all({"idDestinataire": commune})}
    assert invoice.id not in visible
    credit_notes = api.search_all({"listeTypeFacture": ["AVOIR"]})
    assert {i["idFacture"] for i in credit_notes} == {i.id for i in api.world.tagged("credit_note")}
    a2 = api.search_all({"cadreFacturation": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"})
    assert [i["idFacture"] for i in a2] == [api.world.first_tagged("a2").id]
    ccas = api.search_all({"idDestinataire": api.info["second_structure_id"]})
    assert {i["idDestinataire"] for i in ccas} == {str(api.info["second_structure_id"])}
    both = api.search_all({})
    assert len(both) == len(ccas) + len(api.search_all({"idDestinataire": commune}))


def test_status_period_filter_formats(api):
    invoice = api.world.first_tagged("multi_vat")
    at = invoice.status_at
    utc = at.astimezone(timezone.utc)
    inclusive_from = [
        at.date().isoformat(),
        at.strftime("%Y-%m-%dT%H:%M:%S"),
        at.strftime("%Y-%m-%dT%H:%M:%S") + ".000",
        utc.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        at.isoformat(),
    ]
    for lower in inclusive_from:
        found = api.search_all({"periodeDateHeureEtatCourantDu": lower,
                                "periodeDateHeureEtatCourantAu": at.date().isoformat()})
        assert invoice.id in {i["idFacture"] for i in found}, lower
    after = (at + timedelta(seconds=1)).isoformat()
    found = api.search_all({"periodeDateHeureEtatCourantDu": after})
    assert invoice.id not in {i["idFacture"] for i in found}
    deposit = api.search_all({"periodeDateDepotDu": invoice.deposit_date.isoformat(),
                              "periodeDateDepotAu": invoice.deposit_date.isoformat()})
    assert invoice.id in {i["idFacture"] for i in deposit}
    assert all(i["dateDepot"] == invoice.deposit_date.isoformat() for i in deposit)
    assert api.post(OP_SEARCH_RECEIVED,
                    {"periodeDateHeureEtatCourantDu": "15/13/2026"}).status_code == 400


def test_works_invoices_have_their_own_search(api):
    works_ids = {i.id for i in api.world.tagged("works")}
    plain = {i["idFacture"] for i in api.search_all({})}
    assert not works_ids & plain
    answer = api.ok(OP_SEARCH_WORKS, {
        "roleUtilisateur": "MOA", "idDestinataire": api.info["structure_id"],
        "rechercheFactureTravaux": {"pageResultatDemandee": 1, "nbResultatsParPage": 2}})
    assert answer["parametresRetour"]["total"] == len(works_ids)
    assert answer["parametresRetour"]["pages"] == -(-len(works_ids) // 2)
    item = answer["listeFacturesTravaux"][0]
    for key in ("idFactureTravaux", "numeroFactureTravaux", "statutFactureTravaux",
                "typeFactureTravaux", "identifiantFournisseur", "identifiantDestinataire",
                "montantTTC", "dateHeureEtatCourant", "identifiantServiceExecutant", "taille"):
        assert key in item
    assert "pageCourante" not in answer
    empty = api.post(OP_SEARCH_WORKS, {"roleUtilisateur": "FOURNISSEUR"}).json()
    assert (empty["codeRetour"], empty["libelle"]) == (20007, "GFT_MSG_01.075")
    consult = api.ok(OP_CONSULT, {"identifiantFactureCPP": min(works_ids)})["facture"]
    assert consult["references"]["typeFactureTravaux"]


# --------------------------------------------------------------------------------------------
# Consult, process, history
# --------------------------------------------------------------------------------------------
def test_consult_gives_supplier_bank_and_factor(api):
    world = api.world
    factored = world.first_tagged("factored")
    facture = api.ok(OP_CONSULT, {"identifiantFactureCPP": factored.id})["facture"]
    supplier = facture["fournisseur"]
    assert supplier["codeFournisseur"] == world.supplier_of(factored).siret
    assert supplier["coordBancairesFournisseurCompteBancaire"] == world.factors[0].iban
    assert supplier["coordBancairesBicSwift"] == world.factors[0].bic
    assert supplier["affactureur"]["affactureurRaisonSociale"] == world.factors[0].name
    assert supplier["affactureur"]["affactureurCode"] == world.factors[0].siret
    plain = world.first_tagged("multi_vat")
    facture = api.ok(OP_CONSULT, {"identifiantFactureCPP": plain.id})["facture"]
    assert "affactureur" not in facture["fournisseur"]
    assert facture["fournisseur"]["coordBancairesFournisseurCompteBancaire"] == \
        world.supplier_of(plain).iban
    assert facture["montantTotal"]["montantTtcTotal"] == str(plain.amount_ttc)  # a string
    assert len(facture["lignesDePoste"]["lignePoste"]) == 4
    assert facture["lignesDePoste"]["totalLignesPoste"] == 4
    assert {row["ligneTvaTauxRefValeur"] for row in facture["recapitulatifDeTva"]["ligneTva"]} \
        == {"20", "10", "5.5"}
    assert facture["destinataire"]["idDestinataire"] == str(api.info["structure_id"])
    pieces = facture["listeDesPiecesJointes"]["pieceJointe"]
    assert [p["pieceJointeTypeCode"] for p in pieces].count("01") == 1
    unknown = api.post(OP_CONSULT, {"identifiantFactureCPP": 12}).json()
    assert unknown["codeRetour"] == 20001
    assert unknown["libelle"] == "GDP_MSG_11.008 La demande de paiement est inconnue du système"
    assert api.post(OP_CONSULT, {}).status_code == 400


def test_motif_rules(api):
    target = next(i for i in api.world.invoices.values() if i.status == st.MISE_A_DISPOSITION)
    for status in (st.REJETEE, st.SUSPENDUE):
        for motif in (None, "", "   "):
            body = {"idFacture": target.id, "nouveauStatut": status}
            if motif is not None:
                body["motif"] = motif
            answer = api.post(OP_PROCESS, body).json()
            assert answer["codeRetour"] not in (0, 20002) and "motif" in answer["libelle"].lower()
    too_long = api.post(OP_PROCESS, {"idFacture": target.id, "nouveauStatut": st.REJETEE,
                                  "motif": "x" * 256}).json()
    assert too_long["codeRetour"] not in (0, 20002)
    assert api.history_codes(target.id)[0] == st.MISE_A_DISPOSITION  # nothing happened
    done = api.ok(OP_PROCESS, {"idFacture": target.id, "nouveauStatut": st.REJETEE,
                            "motif": "y" * 255})
    assert done["nouveauStatut"] == st.REJETEE


def test_illegal_transitions_are_20002(api):
    world = api.world
    waiting = next(i for i in world.invoices.values() if i.status == st.MISE_A_DISPOSITION)
    paid = next(i for i in world.invoices.values() if i.status == st.MISE_EN_PAIEMENT)
    for invoice_id, target in ((waiting.id, st.MISE_A_DISPOSITION), (waiting.id, st.COMPLETEE),
                               (paid.id, st.MANDATEE), (waiting.id, "N_IMPORTE_QUOI")):
        answer = api.post(OP_PROCESS, {"idFacture": invoice_id, "nouveauStatut": target,
                                    "motif": "m"}).json()
        assert answer == {"codeRetour": 20002, "libelle": "Incohérence au niveau du statut "
                                                          "d'origine ou de destination de la "
                                                          "facture."}
    unknown = api.post(OP_PROCESS, {"idFacture": 5, "nouveauStatut": st.SERVICE_FAIT}).json()
    assert unknown["codeRetour"] == 20001 and "GDP_MSG_11.008" in unknown["libelle"]


def test_processing_updates_history_consult_and_search(api):
    world = api.world
    invoice = next(i for i in world.invoices_of(world.commune_id)
                   if i.status == st.MISE_A_DISPOSITION and not i.is_works)
    before = datetime.now(PARIS) - timedelta(seconds=2)
    done = api.ok(OP_PROCESS, {"idFacture": invoice.id, "nouveauStatut": st.SERVICE_FAIT,
                            "motif": "", "numeroDPMandat": ""})
    assert done["libelle"] == "TRA_MSG_00.000"
    assert (done["idFacture"], done["numeroFacture"]) == (str(invoice.id), invoice.number)
    assert done["dateTraitement"] == datetime.now(PARIS).date().isoformat()
    api.ok(OP_PROCESS, {"idFacture": invoice.id, "nouveauStatut": st.MANDATEE,
                     "numeroDPMandat": "2026-M-000815"})
    history = api.ok(OP_HISTORY, {"idFacture": invoice.id})
    assert history["statutCourantCode"] == st.MANDATEE
    rows = history["historiquesDesStatuts"]["histoStatut"]
    assert [r["histoStatutCode"] for r in rows][:3] == [st.MANDATEE, st.SERVICE_FAIT,
                                                        st.MISE_A_DISPOSITION]
    assert history["historiquesDesStatuts"]["totalHistoStatut"] == len(rows)
    assert rows[0]["histoStatutUtilisateurEmail"] == api.info["login"]
    assert datetime.strptime(rows[0]["histoStatutDatePassage"], "%Y-%m-%d %H:%M")
    facture = api.ok(OP_CONSULT, {"identifiantFactureCPP": invoice.id})["facture"]
    assert facture["references"]["numeroDpMandat"] == "2026-M-000815"
    assert facture["statutFacture"] == st.MANDATEE
    changed = api.search_all({"periodeDateHeureEtatCourantDu": before.isoformat(),
                              "periodeDateHeureEtatCourantAu": datetime.now(PARIS).isoformat()})
    assert [i["idFacture"] for i in changed] == [invoice.id]
    details = api.admin.invoice(invoice.id)
    assert details["numeroDPMandat"] == "2026-M-000815"
    assert details["history"][-1]["user"] == api.info["login"]


def test_suspension_then_completion(api):
    invoice = api.world.first_tagged("multi_vat")
    api.ok(OP_PROCESS, {"idFacture": invoice.id, "nouveauStatut": st.SUSPENDUE,
                     "motif": "Bon de livraison manquant"})
    history = api.ok(OP_HISTORY, {"idFacture": invoice.id})["historiquesDesStatuts"]["histoStatut"]
    assert history[0]["histoStatutCommentaire"] == "Bon de livraison manquant"
    assert api.post(OP_PROCESS, {"idFacture": invoice.id, "nouveauStatut": st.SERVICE_FAIT}
                    ).json()["codeRetour"] == 20002
    api.admin.complete(invoice.id)
    assert api.history_codes(invoice.id)[:3] == [st.COMPLETEE, st.SUSPENDUE,
                                                 st.MISE_A_DISPOSITION]
    units = _pivot_units(api.download([invoice.id]))
    assert units[invoice.id].findtext("DonneesFacture/Renvoi") == "Complétée"
    possible = api.ok(OP_POSSIBLE_STATUSES,
                      {"statutCourant": st.COMPLETEE})["listeStatutsPossiblesPourTraitement"]
    assert [p["statutPossiblePourTraitement"] for p in possible] == list(
        st.RECIPIENT_TRANSITIONS[st.COMPLETEE])
    api.ok(OP_PROCESS, {"idFacture": invoice.id, "nouveauStatut": st.SERVICE_FAIT})
    with pytest.raises(SimulatorError) as failure:
        api.admin.complete(invoice.id)  # not suspended any more
    assert failure.value.status == 409


def test_possible_states_follow_the_matrix(api):
    for current in st.CODES:
        answer = api.ok(OP_POSSIBLE_STATUSES, {"statutCourant": current})
        codes = [row["statutPossiblePourTraitement"]
                 for row in answer["listeStatutsPossiblesPourTraitement"]]
        assert codes == list(st.possible_targets(current))


def test_concurrent_processing_is_serialised(api):
    invoice = next(i for i in api.world.invoices.values() if i.status == st.MISE_A_DISPOSITION)
    results, token = [], api.token()

    def push():
        session = requests.Session()
        session.trust_env = False
        answer = session.post(f"{api.sim.base_url}/cpro/{OP_PROCESS}",
                              json={"idFacture": invoice.id, "nouveauStatut": st.SERVICE_FAIT},
                              headers=api.headers(token=token), timeout=30)
        results.append(answer.json()["codeRetour"])

    threads = [threading.Thread(target=push) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0] + [20002] * 7
    assert api.history_codes(invoice.id).count(st.SERVICE_FAIT) == 1


# --------------------------------------------------------------------------------------------
# Structures and reference data
# --------------------------------------------------------------------------------------------
def test_structure_endpoints(api):
    info = api.info
    actives = api.ok(OP_ACTIVE_STRUCTURES, {})
    assert {int(s["idStructureCPP"]) for s in actives["listeStructures"]} == {
        info["structure_id"], info["second_structure_id"]}
    found = api.ok(OP_SEARCH_STRUCTURES, {"structure": {
        "identifiantStructure": info["structure_siret"], "typeIdentifiantStructure": "SIRET"}})
    # One structure found: a single object, not a list (real shape), statut ACTIVE.
    assert found["listeStructures"]["idStructureCPP"] == str(info["structure_id"])
    assert found["listeStructures"]["statut"] == "ACTIVE"
    assert found["parametresRetour"]["total"] == 1
    supplier = api.world.suppliers[0]
    hidden = api.ok(OP_SEARCH_STRUCTURES, {"structure": {
        "identifiantStructure": supplier.siret, "typeIdentifiantStructure": "SIRET"}})
    assert hidden["listeStructures"] == []
    shown = api.ok(OP_SEARCH_STRUCTURES, {"structure": {
        "identifiantStructure": supplier.siret, "typeIdentifiantStructure": "SIRET"},
        "restreindreStructuresPrivees": False})
    assert shown["listeStructures"]["idStructureCPP"] == str(supplier.id)
    for key in ("idStructureCPP", "idStructure"):
        detail = api.ok(OP_CONSULT_STRUCTURE, {key: info["structure_id"], "codeLangue": "FR"})
        general = detail["informationGenerales"]
        assert general["identifiantStructure"] == info["structure_siret"]
        assert date.fromisoformat(general["dateExpirationMotPasseCompteTech"]) > ANCHOR
        assert "codeServiceDoitEtreRenseigne" in detail["parametres"]
    unknown = api.post(OP_CONSULT_STRUCTURE, {"idStructureCPP": 1}).json()
    assert unknown["codeRetour"] != 0
    services = api.ok(OP_SEARCH_SERVICES, {
        "idStructure": info["structure_id"],
        "parametresRechercherServicesStructure": {"nbResultatsParPage": 10000}})
    assert {s["codeService"] for s in services["listeServices"]} == {"SERV_TECH", "ECOLES"}
    assert services["parametresRetour"]["total"] == 2


def test_reference_data_and_health(api):
    rates = api.ok(OP_VAT_RATES, {})["listeTauxTva"]
    assert {r["valeurTauxTva"] for r in rates} >= {20.0, 10.0, 5.5}
    health = api.session.get(f"{api.sim.base_url}/cpro/transverses/v1/health-check",
                             headers={"Authorization": f"Bearer {api.token()}"})
    assert health.status_code == 200
    assert api.session.get(f"{api.sim.base_url}/cpro/transverses/v1/health-check"
                           ).status_code == 401


# --------------------------------------------------------------------------------------------
# Admin interface: faults, counters, configuration, deposits, persistence
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "503", "429", "timeout", "malformed", "reset", "401"])
def test_admin_faults(api, kind):
    operation = OP_VAT_RATES
    api.token()
    api.admin.fault(operation, kind, count=2, retry_after=17, delay_s=0.6)
    for _attempt in range(2):
        if kind == "timeout":
            with pytest.raises(requests.exceptions.Timeout):
                api.post(operation, {}, timeout=0.2)
        elif kind == "reset":
            with pytest.raises(requests.exceptions.ConnectionError):
                api.post(operation, {})
        elif kind == "malformed":
            answer = api.post(operation, {})
            assert answer.status_code == 200
            with pytest.raises(ValueError):
                answer.json()
        else:
            answer = api.post(operation, {})
            assert answer.status_code == int(kind)
            if kind == "429":
                assert answer.headers["Retry-After"] == "17"
            if kind == "401":
                _assert_invalid_token(answer)
    assert api.post(operation, {}).status_code == 200  # both faults consumed
    assert api.admin.faults() == []


def test_fault_targets_and_clearing(api):
    api.token()
    api.admin.fault("*", "503", count=1)
    assert api.post(OP_VAT_RATES, {}).status_code == 503
    assert api.post(OP_VAT_RATES, {}).status_code == 200
    api.admin.fault(OP_DOWNLOAD, "500", count=3)
    assert api.post(OP_SEARCH_RECEIVED, {}).status_code == 200  # other paths untouched
    api.admin.clear_faults()
    assert api.admin.faults() == []
    api.admin.fault("api/oauth/token", "503")
    assert api.fetch_token().status_code == 503
    assert api.fetch_token().status_code == 200
    with pytest.raises(SimulatorError):
        api.admin.fault("factures/v1/inexistant", "500")
    with pytest.raises(SimulatorError):
        api.admin.fault("*", "418")


def test_counters(api):
    api.token()
    api.admin.reset_counters()
    api.post(OP_SEARCH_RECEIVED, {})
    api.post(OP_SEARCH_RECEIVED, {"idDestinataire": api.world.foreign_id})
    api.post(OP_VAT_RATES, {})
    assert api.admin.counters() == {OP_SEARCH_RECEIVED: 2, OP_VAT_RATES: 1}
    api.admin.reset_counters()
    assert api.admin.counters() == {}


def test_in_flight_counts_the_most_calls_served_at_once(api):
    operation = "transverses/v1/recuperer/tauxtva"
    token = api.token()
    api.admin.wait_until_idle()  # calls an earlier test gave up on (its timeouts)
    api.admin.config(latency_ms=300)
    api.admin.reset_counters()
    assert api.admin.in_flight() == {"in_flight": 0, "max_in_flight": 0}
    api.post(operation, {})
    api.post(operation, {})
    assert api.admin.in_flight()["max_in_flight"] == 1  # one after the other
    started = threading.Barrier(4)

    def call():
        session = requests.Session()
        session.trust_env = False
        started.wait(timeout=10)
        session.post(f"{api.sim.base_url}/cpro/{operation}", json={},
                     headers=api.headers(token=token), timeout=30)
        session.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert api.admin.in_flight() == {"in_flight": 0, "max_in_flight": 4}
    api.admin.reset_counters()
    assert api.admin.in_flight() == {"in_flight": 0, "max_in_flight": 0}


def test_downloads_asked_per_invoice_and_format(api):
    first, second = [i.id for i in api.world.invoices.values()
                     if i.status == st.MISE_A_DISPOSITION and not i.download_refused][:2]
    api.admin.reset_counters()
    api.download([first, second])
    api.download([first], file_format="PDF")
    api.admin.corrupt(second, "download_refused")
    assert api.post(OP_DOWNLOAD, {"listeFacture": [{"idFacture": second}],
                               "format": "PIVOT"}).json()["codeRetour"] == 20003
    assert api.admin.invoice(first)["downloads_asked"] == {"PIVOT": 1, "PDF": 1}
    # A refused download was asked all the same.
    assert api.admin.invoice(second)["downloads_asked"] == {"PIVOT": 2, "PDF": 0}
    api.admin.reset_counters()
    assert api.admin.invoice(first)["downloads_asked"] == {"PIVOT": 0, "PDF": 0}


def test_fail_rate_and_latency(api):
    operation = OP_VAT_RATES
    api.token()
    api.admin.config(fail_rate=1.0)
    assert api.post(operation, {}).status_code == 503
    api.admin.config(fail_rate=0.0, latency_ms=150)
    started = time.monotonic()
    assert api.post(operation, {}).status_code == 200
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    api.admin.state()  # admin calls are not slowed down
    assert time.monotonic() - started < 0.15
    with pytest.raises(SimulatorError):
        api.admin.config(fail_rate=2)


def test_admin_deposit_and_queries(api):
    before = datetime.now(PARIS) - timedelta(seconds=2)
    created = api.admin.deposit(amount_ht="1000.00", vat_rate=10, structured=False,
                                attachments=2, service_code="ECOLES")
    invoice = api.world.invoices[created["idFacture"]]
    assert invoice.amount_ttc == Decimal("1100.00") and not invoice.lines
    assert len(invoice.complementary_attachments) == 2 and invoice.service_code == "ECOLES"
    found = api.search_all({"periodeDateHeureEtatCourantDu": before.isoformat()})
    assert [i["idFacture"] for i in found] == [created["idFacture"]]
    assert found[0]["statut"] == st.MISE_A_DISPOSITION
    ccas = api.admin.deposit(structure_id=api.info["second_structure_id"], structured=True,
                             number="CCAS-TEST-1")
    assert api.admin.invoice(ccas["idFacture"])["idDestinataire"] == \
        api.info["second_structure_id"]
    works = api.admin.deposit(frame="A5")
    assert api.world.invoices[works["idFacture"]].is_works
    with pytest.raises(SimulatorError):
        api.admin.deposit(structure_id=api.world.foreign_id)
    with pytest.raises(SimulatorError):
        api.admin.deposit(colour="blue")
    raw = api.session.get(f"{api.info['admin_url']}/invoices", params={"tag": "factored"})
    assert isinstance(raw.json(), list) and raw.json()[0]["tags"]
    summaries = api.admin.invoices(tag="factored")
    assert [s["idFacture"] for s in summaries] == [api.world.first_tagged("factored").id]
    assert summaries[0]["supplier_siret"] == api.world.supplier_of(
        api.world.first_tagged("factored")).siret
    state = api.admin.state()
    assert state["invoices"] == len(api.world.invoices)
    assert {s["idStructureCPP"] for s in state["structures"]} >= {api.info["structure_id"]}


def test_admin_invoice_gives_the_full_state(api):
    invoice = api.world.first_tagged("multi_attachments")
    full = api.admin.invoice(invoice.id)
    assert [a["id"] for a in full["attachments"]] == [a.id for a in invoice.attachments]
    assert [a["type_code"] for a in full["attachments"]].count("02") >= 3
    assert [line["number"] for line in full["lines"]] == [line.number for line in invoice.lines]
    assert [h["code"] for h in full["history"]] == [h.code for h in invoice.history]


def test_admin_move_bypasses_the_matrix(api):
    invoice = next(i for i in api.world.invoices.values() if i.status == st.MANDATEE)
    api.admin.move(invoice.id, st.MISE_A_DISPOSITION_COMPTABLE, "Mandat reçu par le comptable")
    api.admin.move(invoice.id, st.MISE_EN_PAIEMENT)
    codes = api.history_codes(invoice.id)
    assert codes[:2] == [st.MISE_EN_PAIEMENT, st.MISE_A_DISPOSITION_COMPTABLE]
    details = api.admin.invoice(invoice.id)
    assert details["history"][-2]["comment"] == "Mandat reçu par le comptable"
    assert details["history"][-1]["user"] == "HELIOS"
    api.admin.reset()
    assert api.world.invoices[invoice.id].status == st.MANDATEE


def test_state_persists_across_in_process_restarts(tmp_path):
    state = tmp_path / "world.json"
    first = Simulator(seed=SEED, anchor_date=ANCHOR, state_path=str(state)).start_in_thread()
    try:
        api = Api(first)
        target = next(i for i in first.world.invoices.values()
                      if i.status == st.MISE_A_DISPOSITION)
        api.ok(OP_PROCESS, {"idFacture": target.id, "nouveauStatut": st.SERVICE_FAIT})
        deposited = first.admin.deposit(number="PERSIST-1")
        first.admin.credentials(password="Autre-Mot-2027!")
    finally:
        first.shutdown()
    assert state.exists()
    second = Simulator(seed=1, anchor_date=date(2020, 1, 1), state_path=str(state))
    try:
        world = second.world
        assert world.seed == SEED  # the saved world wins over the arguments
        assert world.invoices[target.id].status == st.SERVICE_FAIT
        assert world.invoices[deposited["idFacture"]].number == "PERSIST-1"
        assert world.account.password == "Autre-Mot-2027!"
        second.core.admin_reset({})  # reset regenerates the world the state file came from
        assert second.world.seed == SEED and second.world.anchor_date == ANCHOR
        assert second.world.invoices[target.id].status == st.MISE_A_DISPOSITION
        assert deposited["idFacture"] not in second.world.invoices
    finally:
        second.shutdown()


def test_subprocess_start_stop_and_state(tmp_path):
    state = tmp_path / "state.json"
    args = ["--anchor-date", ANCHOR.isoformat(), "--state", str(state), "--invoices", "60",
            "--log-level", "WARNING"]
    process = SimulatorProcess(seed=SEED, extra_args=args).start()
    try:
        info = process.info
        for key in ("base_url", "token_url", "client_id", "client_secret", "login", "password",
                    "admin_url", "structure_id", "structure_siret", "pid"):
            assert key in info, key
        assert info["pid"] == process.pid
        assert info["token_url"] == info["base_url"] + "/api/oauth/token"
        assert info["admin_url"] == info["base_url"] + "/_admin"
        assert info["base_url"].startswith("http://127.0.0.1:")
        assert process.admin.state()["invoices"] == 60 + 6
        session = requests.Session()
        session.trust_env = False
        token = session.post(info["token_url"], data={
            "grant_type": "client_credentials", "client_id": info["client_id"],
            "client_secret": info["client_secret"]}, timeout=10).json()["access_token"]
        created = process.admin.deposit(number="SUBPROC-1")
        answer = session.post(f"{info['base_url']}/cpro/{OP_PROCESS}", json={
            "idFacture": created["idFacture"], "nouveauStatut": st.SERVICE_FAIT}, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "cpro-account": base64.b64encode(
                f"{info['login']}:{info['password']}".encode()).decode()}, timeout=10)
        assert answer.json()["codeRetour"] == 0
    finally:
        pid = process.pid
        assert process.stop() == 0  # clean exit on SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    restarted = SimulatorProcess(extra_args=["--state", str(state), "--log-level", "WARNING"])
    with restarted:
        details = restarted.admin.invoice(created["idFacture"])
        assert details["numeroFacture"] == "SUBPROC-1" and details["statut"] == st.SERVICE_FAIT


def test_only_loopback_addresses_are_accepted():
    for host in ("127.0.0.1", "localhost"):
        check_bind_host(host)
    for host in ("0.0.0.0", "192.0.2.10"):
        with pytest.raises(ValueError):
            check_bind_host(host)
    check_bind_host("0.0.0.0", allow_remote=True)


def test_default_tags_are_exposed_by_the_admin_api(api):
    tags = Counter(tag for row in api.admin.invoices() for tag in row["tags"])
    assert REQUIRED_TAGS <= set(tags)
    assert len(api.admin.invoices(tag="duplicate")) == 2


def test_works_invoices_on_both_sides_of_a_recent_cutoff(api):
    old = api.world.tagged("old_works")
    assert {i.status for i in old} == {"MISE_A_DISPOSITION", "MANDATEE"}
    assert all(i.payment_request_type == "FACTURE_TRAVAUX" for i in old)
    recent = [i for i in api.world.tagged("works") if i not in old]
    assert min(i.status_at for i in recent) > max(i.status_at for i in old)
    waiting = api.ok(OP_SEARCH_WORKS, {
        "roleUtilisateur": "MOA", "statutFactureTravaux": "MISE_A_DISPOSITION",
        "rechercheFactureTravaux": {"pageResultatDemandee": 1, "nbResultatsParPage": 100}})
    assert {i["statutFactureTravaux"] for i in waiting["listeFacturesTravaux"]} == {
        "MISE_A_DISPOSITION"}
    # Ids come as JSON strings, like the real portal's.
    assert {str(i.id) for i in old if i.status == "MISE_A_DISPOSITION"} <= {
        i["idFactureTravaux"] for i in waiting["listeFacturesTravaux"]}


def test_invoices_arrive_between_two_pages_of_a_search(api):
    def page(number):
        return api.ok(OP_SEARCH_RECEIVED, {
            "statutCourant": "MISE_A_DISPOSITION",
            "paramRecherche": {"pageResultatDemandee": number, "nbResultatsParPage": 5,
                               "triColonne": "DateDepot", "triSens": "Ascendant"}})

    api.admin.arrive_between_pages(
        OP_SEARCH_RECEIVED, [{"status_datetime": "2020-01-02T10:00:00+01:00"}] * 2)
    first = page(1)
    assert api.admin.invoices(tag="deposited") == []
    second = page(2)
    deposited = api.admin.invoices(tag="deposited")
    assert len(deposited) == 2
    assert second["total"] == first["total"] + 2
    # Deposited with an old date, they sort before the page already read.
    # The admin API gives ids as numbers, the portal's answers as strings.
    assert not {str(i["idFacture"]) for i in deposited} & {
        str(i["idFacture"]) for i in first["listeFactures"] + second["listeFactures"]}
    assert all(isinstance(i["idFacture"], str) for i in second["listeFactures"])
    assert api.admin._call("GET", "arrivals")["arrivals"] == []
