"""Chorus Pro answers in the shapes the real portal sends (issue 12, points 3 to 5), through the
real client over HTTP against the in-process simulator, which answers in those shapes by default:
ids and amounts as JSON strings, ``listeStructures`` as one object, ``statut`` ``ACTIVE``, the
service of a works invoice as ``identifiantServiceExecutant``, invoices deposited as UBL (an XML
main document, a PDF rendering on demand), and a status change answered 200 without
``codeRetour``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests

from chorus_pro import errors, parsing
from chorus_pro import statuses as st
from chorus_pro.client import (
    OP_DOWNLOAD,
    OP_PROCESS,
    OP_SEARCH_RECEIVED,
    OP_SEARCH_STRUCTURES,
    ChorusProClient,
    new_token_cache,
)
from chorus_pro.pivot import read_pivot_invoices
from chorus_pro.simulator import Simulator

ANCHOR = date(2026, 3, 15)
SEED = 27182


@pytest.fixture(scope="module")
def simulator():
    with Simulator(seed=SEED, anchor_date=ANCHOR) as server:
        yield server


@pytest.fixture
def client(simulator, tmp_path):
    simulator.admin.reset()
    info = simulator.info
    with ChorusProClient(
        api_url=info["base_url"], token_url=info["token_url"], client_id=info["client_id"],
        client_secret=info["client_secret"], login=info["login"], password=info["password"],
        max_retries=1, backoff_base=0.01, backoff_max=0.02, sleep=lambda _s: None,
        token_cache=new_token_cache(), temp_dir=str(tmp_path),
    ) as chorus:
        yield chorus


def raw(simulator, client, operation: str, body: dict) -> dict:
    """The simulator's JSON answer as it is sent (no client parsing)."""
    info = simulator.info
    headers = client._headers(client.get_token())
    answer = requests.post(f"{info['base_url']}/cpro/{operation}", json=body, headers=headers,
                           timeout=10)
    return answer.json()


def test_ids_and_amounts_come_as_strings_and_are_read_as_numbers(simulator, client):
    invoice = simulator.world.first_tagged("structured")
    item = next(i for i in raw(simulator, client, OP_SEARCH_RECEIVED, {
        "numeroFacture": invoice.number})["listeFactures"] if i["idFacture"] == str(invoice.id))
    assert isinstance(item["idFacture"], str) and isinstance(item["montantTTC"], str)
    assert isinstance(item["idDestinataire"], str)
    summary = next(s for s in client.search_received_invoices(page_size=1000)
                   if s.chorus_id == invoice.id)
    assert summary.chorus_id == invoice.id and summary.amount_total == invoice.amount_ttc
    assert summary.recipient_id == invoice.structure_id
    detail = client.get_invoice(invoice.id)
    assert detail.chorus_id == invoice.id and detail.amount_total == invoice.amount_ttc
    assert [line.quantity for line in detail.lines] == [line.quantity for line in invoice.lines]
    assert all(isinstance(a.chorus_id, int) for a in detail.attachments)
    history = client.get_history(invoice.id)
    assert all(isinstance(event.chorus_id, int) for event in history.events)


def test_works_invoices_name_their_service_identifiant(simulator, client):
    works = [i for i in simulator.world.tagged("works") if i.service_code]
    assert works, "the world needs a works invoice with a service"
    found = {s.chorus_id: s for s in client.search_works_invoices(page_size=1000)}
    for invoice in works:
        if invoice.id in found:
            assert found[invoice.id].service_code == invoice.service_code
            break
    else:
        pytest.fail("no works invoice with a service found by the search")


def test_structures_as_one_object_and_active_spelled_in_english(simulator, client):
    structure = simulator.world.structures[simulator.info["structure_id"]]
    answer = raw(simulator, client, OP_SEARCH_STRUCTURES, {
        "structure": {"identifiantStructure": structure.siret}})
    assert isinstance(answer["listeStructures"], dict)
    assert answer["listeStructures"]["statut"] == "ACTIVE"
    (found,) = client.search_structures(structure.siret)
    assert found.chorus_id == structure.id
    assert found.status == "ACTIF" and found.is_active
    actives = client.get_active_structures()
    assert {s.chorus_id for s in actives} == {s.id for s in simulator.world.attached_structures()}


def test_answer_shape_parsing_variants():
    assert parsing.parse_structure({"idStructureCPP": "12", "statut": "ACTIVE"}).status == "ACTIF"
    assert parsing.parse_structure({"idStructureCPP": 12, "statut": "ACTIF"}).is_active
    inactive = parsing.parse_structure({"idStructureCPP": "12", "statut": "INACTIVE"})
    assert inactive.status == "INACTIF" and not inactive.is_active
    service = parsing.parse_service({"idService": "5", "statutService": "INACTIVE"})
    assert service.chorus_id == 5 and service.active is False
    works = parsing.parse_works_invoice_summary({
        "idFactureTravaux": "77", "identifiantServiceExecutant": "TRAVAUX",
        "montantTTC": "1 200,50"})
    assert (works.chorus_id, works.service_code, works.amount_total) == \
        (77, "TRAVAUX", Decimal("1200.50"))
    detail = parsing.parse_invoice_detail({"facture": {
        "identifiantFactureCPP": "9", "destinataire": {"identifiantServiceExecutant": "ST"}}})
    assert (detail.chorus_id, detail.service_code) == (9, "ST")


def test_an_invoice_deposited_as_ubl_has_an_xml_main_document_and_a_pdf_rendering(
        simulator, client):
    invoice = simulator.world.first_tagged("xml_main")
    downloaded = client.download_invoices([invoice.id], fmt="PIVOT")
    try:
        (pivot,) = read_pivot_invoices(downloaded.path)
    finally:
        downloaded.cleanup()
    assert pivot.main_document.mime_type == "application/xml"
    assert pivot.main_document.content.startswith(b"<?xml") and pivot.main_pdf is None
    rendering = client.download_invoice_pdf(invoice.id)
    assert rendering.startswith(b"%PDF-")
    assert simulator.world.invoices[invoice.id].downloaded


def test_status_change_answered_200_without_code_is_not_a_success(simulator, client):
    invoice = next(i for i in simulator.world.invoices.values()
                   if i.status == st.MISE_A_DISPOSITION and not i.is_works)
    simulator.admin.fault(OP_PROCESS, "no_code", count=1)
    with pytest.raises(errors.ChorusOutcomeUnknown) as caught:
        client.change_status(invoice.id, st.SERVICE_FAIT)
    assert caught.value.temporary and caught.value.response_body
    # Here Chorus did apply it: only the history tells.
    assert client.get_history(invoice.id).current_status == st.SERVICE_FAIT


def test_pdf_renderings_of_several_invoices_in_one_call(simulator, client):
    invoices = simulator.world.tagged("xml_main")[:3]
    simulator.admin.reset_counters()
    renderings = client.download_invoice_pdfs([invoice.id for invoice in invoices])
    assert set(renderings) == {invoice.id for invoice in invoices}
    assert all(content.startswith(b"%PDF-") for content in renderings.values())
    assert simulator.admin.counters()[OP_DOWNLOAD] == 1
    # Each is the one of its invoice, not of its neighbour.
    assert len(set(renderings.values())) == 3
    single = client.download_invoice_pdfs([invoices[0].id])
    assert single == {invoices[0].id: renderings[invoices[0].id]}
