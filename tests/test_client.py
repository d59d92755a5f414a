"""Unit tests of :mod:`chorus_pro.client`, HTTP mocked by ``responses`` (no network, no sleep)."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses

from chorus_pro import errors
from chorus_pro.client import (
    TOKEN_OPERATION,
    Base64FieldExtractor,
    ChorusProClient,
    clear_token_cache,
    detect_kind,
)
from chorus_pro.records import DownloadedFile, InvoiceSummary

API = "https://api.chorus.test"
TOKEN_URL = "https://oauth.chorus.test/api/oauth/token"
LOGIN = "TECH_1_exemple@cpro.fr"
PASSWORD = "Mot-de-passe-ü-7f3K"
CLIENT_ID = "piste-app-id"
CLIENT_SECRET = "piste-secret-0a9b8c"
IBAN = "FR7630001007941234567890185"

# Written out as chorus-pro-api.md names them, not taken from chorus_pro.client: these tests
# are where the client's endpoint constants are checked (every other test imports them).
OP_SEARCH = "factures/v1/rechercher/recipiendaire"
OP_WORKS = "facturesTravaux/v1/rechercher"
OP_CONSULT = "factures/v1/consulter/recipiendaire"
OP_DOWNLOAD = "factures/v1/telecharger/groupe"
OP_PROCESS = "factures/v1/traiter/recue"
OP_HISTORY = "factures/v1/consulter/historique"
OP_VAT = "transverses/v1/recuperer/tauxtva"


def url(operation: str) -> str:
    return f"{API}/cpro/{operation}"


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_client(clock, sleeps, tmp_path):
    clients = []

    def factory(**overrides):
        options = dict(
            api_url=API,
            token_url=TOKEN_URL,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            login=LOGIN,
            password=PASSWORD,
            sleep=sleeps.append,
            clock=clock,
            temp_dir=str(tmp_path),
        )
        options.update(overrides)
        client = ChorusProClient(**options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


def add_token(rsps, token="token-one", expires_in=3600, **extra):
    body = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in,
            "scope": "openid"}
    body.update(extra)
    rsps.add(responses.POST, TOKEN_URL, json=body)


def vat_answer():
    return {"codeRetour": 0, "libelle": "TRA_MSG_00.000",
            "listeTauxTva": [{"codeTauxTva": "TVA20", "libelleTauxTva": "20 %",
                              "valeurTauxTva": 20.0}]}


def api_calls(rsps, operation):
    return [call for call in rsps.calls if call.request.url == url(operation)]


def token_calls(rsps):
    return [call for call in rsps.calls if call.request.url == TOKEN_URL]


# ---------------------------------------------------------------------------------------------
# Environments


def test_for_environment_uses_piste_urls_and_custom_needs_explicit_ones():
    production = ChorusProClient.for_environment(
        "production", client_id="a", client_secret="b", login="c", password="d"
    )
    qualification = ChorusProClient.for_environment(
        "qualification", client_id="a", client_secret="b", login="c", password="d"
    )
    custom = ChorusProClient.for_environment(
        "custom", api_url="http://127.0.0.1:8123/", token_url="http://127.0.0.1:8123/token",
        client_id="a", client_secret="b", login="c", password="d",
    )
    assert (production.api_url, production.token_url) == (
        "https://api.piste.gouv.fr", "https://oauth.piste.gouv.fr/api/oauth/token")
    assert (qualification.api_url, qualification.token_url) == (
        "https://sandbox-api.piste.gouv.fr",
        "https://sandbox-oauth.piste.gouv.fr/api/oauth/token")
    assert custom.api_url == "http://127.0.0.1:8123"
    with pytest.raises(ValueError):
        ChorusProClient.for_environment("custom", api_url="http://x", client_id="a",
                                        client_secret="b", login="c", password="d")
    with pytest.raises(ValueError):
        ChorusProClient.for_environment("staging", client_id="a", client_secret="b",
                                        login="c", password="d")
    with pytest.raises(ValueError):
        ChorusProClient.for_environment("production", api_url="http://x", client_id="a",
                                        client_secret="b", login="c", password="d")
    for item in (production, qualification, custom):
        item.close()


def test_repr_shows_no_secret(client):
    text = repr(client)
    assert CLIENT_SECRET not in text and PASSWORD not in text and LOGIN not in text


def test_context_manager_closes_own_session_but_not_a_given_one(make_client):
    class RecordingSession(requests.Session):
        closed = False

        def close(self):
            self.closed = True
            super().close()

    given = RecordingSession()
    with make_client(session=given) as client:
        assert client.session is given
    assert not given.closed

    with make_client() as client:
        own = client.session
        own.__class__ = RecordingSession
    assert own.closed


# ---------------------------------------------------------------------------------------------
# Headers and token


def test_every_call_carries_bearer_cpro_account_and_json_headers(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())

    rates = client.get_vat_rates()

    assert rates == [{"code": "TVA20", "label": "20 %", "rate": Decimal("20.0")}]
    token_request = token_calls(rsps)[0].request
    assert parse_qs(token_request.body) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "scope": ["openid"],
    }
    request = api_calls(rsps, OP_VAT)[0].request
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer token-one"
    expected_account = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode("utf-8")).decode("ascii")
    assert request.headers["cpro-account"] == expected_account
    assert base64.b64decode(request.headers["cpro-account"]).decode("utf-8") == (
        "TECH_1_exemple@cpro.fr:Mot-de-passe-ü-7f3K")
    assert request.headers["Content-Type"] == "application/json;charset=utf-8"
    assert request.headers["Accept"] == "application/json"
    assert json.loads(request.body) == {}


def test_cpro_account_is_plain_standard_base64():
    client = ChorusProClient(api_url=API, token_url=TOKEN_URL, client_id="i", client_secret="s",
                             login="user", password="pass")
    # base64("user:pass") — standard alphabet, padded, no "Basic " prefix.
    assert client._headers("t")["cpro-account"] == "dXNlcjpwYXNz"
    client.close()


def test_token_is_cached_across_calls_and_clients_of_the_same_application(rsps, make_client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())
    first, second = make_client(), make_client()

    for _ in range(3):
        first.get_vat_rates()
    second.get_vat_rates()

    assert len(token_calls(rsps)) == 1
    assert first.call_counts == {TOKEN_OPERATION: 1, OP_VAT: 3}
    assert second.call_counts == {OP_VAT: 1}

    other_application = make_client(client_secret="another-secret")
    other_application.get_vat_rates()
    assert len(token_calls(rsps)) == 2


def test_token_renewed_240_seconds_before_expiry(rsps, client, clock):
    add_token(rsps, token="token-one")
    add_token(rsps, token="token-two")
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())

    client.get_vat_rates()
    clock.advance(3600 - 240 - 1)
    client.get_vat_rates()
    assert len(token_calls(rsps)) == 1
    clock.advance(2)
    client.get_vat_rates()

    assert len(token_calls(rsps)) == 2
    assert api_calls(rsps, OP_VAT)[-1].request.headers["Authorization"] == "Bearer token-two"


def test_short_lived_token_is_still_used_with_a_ten_percent_margin(rsps, client, clock):
    add_token(rsps, token="short-one", expires_in=5)
    add_token(rsps, token="short-two", expires_in=5)
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())

    client.get_vat_rates()
    clock.advance(4.4)
    client.get_vat_rates()
    assert len(token_calls(rsps)) == 1
    clock.advance(0.2)  # 4.6 s: inside the last 0.5 s
    client.get_vat_rates()
    assert len(token_calls(rsps)) == 2


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"access_token": "abc", "token_type": "MAC", "expires_in": 3600}, "Bearer"),
        ({"access_token": "", "token_type": "Bearer", "expires_in": 3600}, "missing"),
        ({"access_token": "abc", "token_type": "Bearer", "expires_in": 0}, "positive"),
        ({"access_token": "abc", "token_type": "Bearer", "expires_in": "soon"}, "positive"),
        ({"access_token": "abc", "token_type": "Bearer"}, "positive"),
    ],
)
def test_unusable_token_answer_is_rejected(rsps, client, body, problem):
    rsps.add(responses.POST, TOKEN_URL, json=body)
    with pytest.raises(errors.ChorusMalformedResponse) as caught:
        client.get_token()
    assert problem in caught.value.message
    assert "abc" not in caught.value.message


def test_token_endpoint_refusal_quotes_error_description(rsps, client):
    rsps.add(responses.POST, TOKEN_URL, status=401,
             json={"error": "invalid_client", "error_description": "Client authentication failed"})
    with pytest.raises(errors.ChorusCredentialsError) as caught:
        client.get_vat_rates()
    error = caught.value
    assert error.reason == "Client authentication failed"
    assert error.http_status == 401
    assert error.operation == TOKEN_OPERATION
    assert error.message.startswith("PISTE refused")
    assert error.message.endswith('PISTE said: "Client authentication failed."')
    assert not api_calls(rsps, OP_VAT)


def test_token_endpoint_400_without_description_uses_error_code(rsps, client):
    rsps.add(responses.POST, TOKEN_URL, status=400, json={"error": "invalid_scope"})
    with pytest.raises(errors.ChorusCredentialsError) as caught:
        client.get_token()
    assert caught.value.reason == "invalid_scope"


def test_401_renews_the_token_and_retries_once(rsps, client):
    add_token(rsps, token="token-one")
    add_token(rsps, token="token-two")
    rsps.add(responses.POST, url(OP_VAT), status=401,
             headers={"WWW-Authenticate": 'Bearer realm="PISTE",error="invalid_token"'})
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())

    assert client.get_vat_rates()[0]["code"] == "TVA20"

    calls = api_calls(rsps, OP_VAT)
    assert [c.request.headers["Authorization"] for c in calls] == [
        "Bearer token-one", "Bearer token-two"]
    assert len(token_calls(rsps)) == 2


def test_401_twice_raises_credentials_error_quoting_www_authenticate(rsps, client):
    add_token(rsps, token="token-one")
    add_token(rsps, token="token-two")
    challenge = ('Bearer realm="PISTE",error="Unauthorized",'
                 'error_description="login or password incorrects"')
    rsps.add(responses.POST, url(OP_VAT), status=401, headers={"WWW-Authenticate": challenge})

    with pytest.raises(errors.ChorusCredentialsError) as caught:
        client.get_vat_rates()

    error = caught.value
    assert error.reason == "login or password incorrects"
    assert error.http_status == 401 and error.operation == OP_VAT
    assert error.message[0].isupper()
    assert error.message.endswith('Chorus Pro said: "login or password incorrects."')
    assert len(api_calls(rsps, OP_VAT)) == 2
    assert len(token_calls(rsps)) == 2


# ---------------------------------------------------------------------------------------------
# Retries


def test_connection_error_then_success_retries_with_backoff(rsps, client, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), body=requests.ConnectionError("refused"))
    rsps.add(responses.POST, url(OP_VAT), body=requests.Timeout("slow"))
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())

    client.get_vat_rates()

    assert len(api_calls(rsps, OP_VAT)) == 3
    assert client.call_counts[OP_VAT] == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0  # backoff_base 1 s, equal jitter
    assert 1.0 <= sleeps[1] <= 2.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(rsps, client, sleeps, status):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), status=status, body="oops")
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())
    client.get_vat_rates()
    assert len(api_calls(rsps, OP_VAT)) == 2
    assert len(sleeps) == 1


def test_retry_after_is_honoured_and_capped(rsps, make_client, sleeps):
    client = make_client(max_retry_after=60)
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), status=429, headers={"Retry-After": "7"})
    rsps.add(responses.POST, url(OP_VAT), status=503, headers={"Retry-After": "3600"})
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())

    client.get_vat_rates()

    assert sleeps == [7.0, 60]


def test_retries_exhausted_on_network_errors_raise_transport_error(rsps, client, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), body=requests.ConnectionError("refused"))

    with pytest.raises(errors.ChorusTransportError) as caught:
        client.get_vat_rates()

    assert type(caught.value) is errors.ChorusTransportError
    assert caught.value.temporary
    assert len(api_calls(rsps, OP_VAT)) == 4  # 1 + max_retries 3
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2 and 2 <= sleeps[2] <= 4


def test_retries_exhausted_on_503_raise_server_error_with_libelle(rsps, make_client, sleeps):
    client = make_client(max_retries=2)
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), status=503,
             json={"codeRetour": 99, "libelle": "Service en maintenance"})

    with pytest.raises(errors.ChorusServerError) as caught:
        client.get_vat_rates()

    assert caught.value.http_status == 503
    assert caught.value.label == "Service en maintenance"
    assert "Service en maintenance" in caught.value.message
    assert isinstance(caught.value, errors.ChorusTransportError)
    assert len(api_calls(rsps, OP_VAT)) == 3
    assert len(sleeps) == 2


def test_429_exhausted_raises_server_error(rsps, make_client):
    client = make_client(max_retries=0)
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), status=429)
    with pytest.raises(errors.ChorusServerError) as caught:
        client.get_vat_rates()
    assert caught.value.http_status == 429


def test_status_change_is_not_resent_after_an_ambiguous_network_failure(rsps, client, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_PROCESS), body=requests.ConnectionError("reset by peer"))
    with pytest.raises(errors.ChorusTransportError) as caught:
        client.change_status(1, "SERVICE_FAIT")
    assert len(api_calls(rsps, OP_PROCESS)) == 1
    assert sleeps == []
    assert "not sent again" in caught.value.message
    assert caught.value.request_body  # the evidence of what was attempted


def test_status_change_is_resent_when_it_never_left_or_chorus_said_503(rsps, client, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_PROCESS), body=requests.exceptions.ConnectTimeout("x"))
    rsps.add(responses.POST, url(OP_PROCESS), status=503)
    rsps.add(responses.POST, url(OP_PROCESS), json={
        "codeRetour": 0, "libelle": "TRA_MSG_00.000", "idFacture": 1,
        "numeroFacture": "F1", "dateTraitement": "2025-01-20", "nouveauStatut": "SERVICE_FAIT"})
    result = client.change_status(1, "SERVICE_FAIT")
    assert result.new_status == "SERVICE_FAIT"
    assert len(api_calls(rsps, OP_PROCESS)) == 3
    assert len(sleeps) == 2


def test_status_change_is_not_resent_after_a_500(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_PROCESS), status=500)
    with pytest.raises(errors.ChorusServerError):
        client.change_status(1, "SERVICE_FAIT")
    assert len(api_calls(rsps, OP_PROCESS)) == 1


def test_unreadable_answer_to_a_read_is_asked_again(rsps, client, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), body='{"codeRetour": 0, "listeTa',
             content_type="application/json")
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())
    assert client.get_vat_rates()
    assert len(api_calls(rsps, OP_VAT)) == 2
    assert len(sleeps) == 1


def test_unreadable_answers_exhaust_the_retries_into_malformed_response(rsps, make_client,
                                                                         sleeps):
    client = make_client(max_retries=2)
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), body="{not json", content_type="application/json")
    with pytest.raises(errors.ChorusMalformedResponse) as caught:
        client.get_vat_rates()
    assert caught.value.temporary
    assert len(api_calls(rsps, OP_VAT)) == 3
    assert len(sleeps) == 2


def test_download_cut_off_is_downloaded_again(rsps, client, sleeps, tmp_path):
    add_token(rsps)
    whole = download_body(b"%PDF-1.7\n" + AWKWARD)
    rsps.add(responses.POST, url(OP_DOWNLOAD), body=whole[: len(whole) // 2])
    rsps.add(responses.POST, url(OP_DOWNLOAD), body=whole)
    downloaded = client.download_invoices([1])
    assert downloaded.read() == b"%PDF-1.7\n" + AWKWARD
    assert len(api_calls(rsps, OP_DOWNLOAD)) == 2 and len(sleeps) == 1
    downloaded.cleanup()
    assert list(tmp_path.iterdir()) == []  # the half-written first file is gone


def test_unreadable_answer_to_a_status_change_is_not_resent(rsps, client, sleeps):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_PROCESS), body='{"codeRetour": 0, "idFac',
             content_type="application/json")
    with pytest.raises(errors.ChorusMalformedResponse):
        client.change_status(1, "SERVICE_FAIT")
    assert len(api_calls(rsps, OP_PROCESS)) == 1
    assert sleeps == []


def test_status_change_answered_200_without_code_is_an_unknown_outcome(rsps, client, sleeps):
    """Seen on the real portal: HTTP 200, a body, no codeRetour. Not a success: the caller must
    read the history before saying sent; never sent again by the client."""
    add_token(rsps)
    answer = {"idFacture": "98765432", "numeroFacture": "FA-1"}
    rsps.add(responses.POST, url(OP_PROCESS), json=answer)
    with pytest.raises(errors.ChorusOutcomeUnknown) as caught:
        client.change_status(98765432, "SERVICE_FAIT")
    error = caught.value
    assert isinstance(error, errors.ChorusMalformedResponse) and error.temporary
    assert error.http_status == 200 and error.code is None
    assert "unknown" in error.message and "history" in error.message
    assert json.loads(error.request_body)["nouveauStatut"] == "SERVICE_FAIT"
    assert json.loads(error.response_body) == answer
    assert len(api_calls(rsps, OP_PROCESS)) == 1
    assert sleeps == []


def test_other_answers_without_code_are_still_taken_as_answers(rsps, client):
    """Only a status change needs codeRetour to be trusted; a read without it is read."""
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), json={"listeTauxTva": [
        {"codeTauxTva": "TVA20", "valeurTauxTva": "20"}]})
    assert client.get_vat_rates()[0]["rate"] == Decimal("20")


# ---------------------------------------------------------------------------------------------
# Error mapping


def test_403_raises_authorization_error(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url("structures/v1/rechercher"), status=403, body="")
    with pytest.raises(errors.ChorusAuthorizationError) as caught:
        client.search_structures("21730123400017")
    assert caught.value.http_status == 403
    assert "403" in caught.value.message


def test_413_raises_payload_too_large(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_DOWNLOAD), status=413, body="Request Entity Too Large")
    with pytest.raises(errors.ChorusPayloadTooLarge):
        client.download_invoices([1, 2, 3])


def test_404_raises_not_found(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_CONSULT), status=404)
    with pytest.raises(errors.ChorusNotFoundError):
        client.get_invoice(42)


@pytest.mark.parametrize(
    "operation, call, answer",
    [
        (OP_PROCESS, lambda c: c.change_status(42, "SERVICE_FAIT"),
         {"codeRetour": 20001, "libelle": "GDP_MSG_11.008"}),
        (OP_CONSULT, lambda c: c.get_invoice(42),
         {"codeRetour": 20001, "libelle": "Facture introuvable"}),
        (OP_HISTORY, lambda c: c.get_history(42),
         {"codeRetour": 20005, "libelle": "La demande de paiement est inconnue du système"}),
    ],
)
def test_unknown_invoice_codes_raise_not_found(rsps, client, operation, call, answer):
    add_token(rsps)
    rsps.add(responses.POST, url(operation), json=answer)
    with pytest.raises(errors.ChorusNotFoundError) as caught:
        call(client)
    assert caught.value.code == answer["codeRetour"]
    assert answer["libelle"] in caught.value.message


def test_20002_on_status_change_raises_transition_refused_with_evidence(rsps, client):
    add_token(rsps)
    answer = {"codeRetour": 20002, "libelle": "Incohérence au niveau du statut d'origine ou "
                                              "de destination de la facture."}
    rsps.add(responses.POST, url(OP_PROCESS), json=answer)

    with pytest.raises(errors.ChorusTransitionRefused) as caught:
        client.change_status(98765432, "MANDATEE", mandate_number="2025-M-000815")

    error = caught.value
    assert error.code == 20002 and error.label == answer["libelle"]
    assert "Incohérence" in error.message
    assert json.loads(error.request_body)["numeroDPMandat"] == "2025-M-000815"
    assert json.loads(error.response_body) == answer


def test_20002_elsewhere_is_a_plain_functional_error(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), json={"codeRetour": 20002, "libelle": "Autre chose"})
    with pytest.raises(errors.ChorusFunctionalError) as caught:
        client.get_vat_rates()
    assert type(caught.value) is errors.ChorusFunctionalError


@pytest.mark.parametrize("status", [200, 400])
def test_other_codes_raise_functional_error_with_code_and_label(rsps, client, status):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_DOWNLOAD), status=status,
             json={"codeRetour": 20003, "libelle": "Téléchargement impossible"})
    with pytest.raises(errors.ChorusFunctionalError) as caught:
        client.download_invoices([7])
    error = caught.value
    assert (error.code, error.label, error.http_status) == (20003, "Téléchargement impossible",
                                                            status)
    assert "Téléchargement impossible" in error.message and "20003" in error.message


def test_400_without_json_is_a_functional_error(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), status=400, body="<html>Bad request</html>")
    with pytest.raises(errors.ChorusFunctionalError) as caught:
        client.get_vat_rates()
    assert caught.value.http_status == 400


def test_invalid_json_on_200_raises_malformed_response(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), body="{not json", content_type="application/json")
    with pytest.raises(errors.ChorusMalformedResponse):
        client.get_vat_rates()


# ---------------------------------------------------------------------------------------------
# Searches


def invoice_item(chorus_id, **extra):
    item = {"idFacture": chorus_id, "numeroFacture": f"F-{chorus_id}",
            "statut": "MISE_A_DISPOSITION", "montantTTC": 120.1,
            "dateHeureEtatCourant": "2025-01-15T09:12:44.000+01:00"}
    item.update(extra)
    return item


def test_search_with_20000_is_empty(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH),
             json={"codeRetour": 20000, "libelle": "TRA_MSG_00.015"})
    result = client.search_received_invoices(recipient_id=25123456)
    assert list(result) == []
    assert result.total == 0
    assert len(api_calls(rsps, OP_SEARCH)) == 1


def test_search_iterates_over_three_pages_with_filters(rsps, client):
    add_token(rsps)
    pages = {1: [invoice_item(1), invoice_item(2)], 2: [invoice_item(3), invoice_item(4)],
             3: [invoice_item(5)]}

    def answer(request):
        number = json.loads(request.body)["paramRecherche"]["pageResultatDemandee"]
        return 200, {}, json.dumps({
            "codeRetour": 0, "libelle": "TRA_MSG_00.000", "pageCourante": number, "pages": 3,
            "nbResultatsParPage": 2, "total": 5, "listeFactures": pages[number]})

    rsps.add_callback(responses.POST, url(OP_SEARCH), callback=answer)
    since = datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc)
    until = datetime(2025, 7, 1, 12, 30, tzinfo=timezone.utc)

    result = client.search_received_invoices(
        recipient_id=25123456, service_id=77, status_changed_from=since,
        status_changed_to=until, statuses="MISE_A_DISPOSITION", downloaded=False, page_size=2)

    assert result.total == 5  # known before iterating (first page fetched)
    summaries = list(result)
    assert [s.chorus_id for s in summaries] == [1, 2, 3, 4, 5]
    assert all(isinstance(s, InvoiceSummary) for s in summaries)
    assert summaries[0].amount_total == Decimal("120.1")
    bodies = [json.loads(c.request.body) for c in api_calls(rsps, OP_SEARCH)]
    assert [b["paramRecherche"]["pageResultatDemandee"] for b in bodies] == [1, 2, 3]
    first = bodies[0]
    assert first["paramRecherche"] == {"pageResultatDemandee": 1, "nbResultatsParPage": 2,
                                       "triSens": "Ascendant", "triColonne": "DateDepot"}
    assert first["typeDemandePaiement"] == "FACTURE"
    assert first["idDestinataire"] == 25123456 and first["idServiceExecutant"] == 77
    # Paris local time, no offset: 08:00 UTC in winter = 09:00, 12:30 UTC in summer = 14:30.
    assert first["periodeDateHeureEtatCourantDu"] == "2025-01-01T09:00:00"
    assert first["periodeDateHeureEtatCourantAu"] == "2025-07-01T14:30:00"
    assert first["statutCourant"] == "MISE_A_DISPOSITION"
    assert first["factureTelechargeeParDestinataire"] is False
    assert first["recupererTaille"] is True
    assert result.pages_fetched == 3


def test_search_sends_several_statuses_as_a_list_and_clamps_page_size(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={"codeRetour": 20000, "libelle": "x"})
    list(client.search_received_invoices(statuses=["MISE_A_DISPOSITION", "COMPLETEE"],
                                         page_size=5000, with_size=False))
    body = json.loads(api_calls(rsps, OP_SEARCH)[0].request.body)
    assert body["statutCourant"] == ["MISE_A_DISPOSITION", "COMPLETEE"]
    assert body["paramRecherche"]["nbResultatsParPage"] == 1000
    assert "recupererTaille" not in body and "idDestinataire" not in body


def test_search_total_is_read_lazily_and_first_page_not_fetched_twice(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 1, "total": 2,
        "listeFactures": [invoice_item(1), invoice_item(2)]})
    result = client.search_received_invoices()
    assert not api_calls(rsps, OP_SEARCH)  # nothing fetched until needed
    assert result.total == 2
    assert [s.chorus_id for s in result] == [1, 2]
    assert len(api_calls(rsps, OP_SEARCH)) == 1


def test_search_without_pagination_on_results_is_malformed(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH),
             json={"codeRetour": 0, "listeFactures": [invoice_item(1)]})
    with pytest.raises(errors.ChorusMalformedResponse):
        list(client.search_received_invoices())


def test_search_skips_items_without_identifier_and_keeps_going(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 2, "total": 3,
        "listeFactures": [{"numeroFacture": "no id"}]})
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 2, "pages": 2, "total": 3,
        "listeFactures": [invoice_item(8), invoice_item(9)]})
    assert [s.chorus_id for s in client.search_received_invoices()] == [8, 9]


def test_search_stops_when_chorus_ignores_the_page_number(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 2, "total": 2,
        "listeFactures": [invoice_item(1)]})
    assert len(list(client.search_received_invoices())) == 2
    assert len(api_calls(rsps, OP_SEARCH)) == 2


def test_search_accepts_a_single_object_instead_of_a_list(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 1, "total": 1,
        "listeFactures": invoice_item(31)})
    assert [s.chorus_id for s in client.search_received_invoices()] == [31]


def test_works_search_body_pagination_and_empty_code(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_WORKS), json={
        "codeRetour": 0, "libelle": "GFT_MSG_01.000",
        "parametresRetour": {"pageCourante": 1, "pages": 2, "nbResultatsParPage": 1, "total": 2},
        "listeFacturesTravaux": [{
            "idFactureTravaux": 501, "numeroFactureTravaux": "DGD-1",
            "statutFactureTravaux": "MISE_A_DISPOSITION",
            "typeFactureTravaux": "PROJET_DECOMPTE_MENSUEL",
            "identifiantFournisseur": "55208131766522",
            "designationFournisseur": "BTP SA", "montantTTC": "12 000,50",
            "dateHeureEtatCourant": "2025-02-03T10:00:00"}]})
    rsps.add(responses.POST, url(OP_WORKS), json={"codeRetour": 20007, "libelle": "GFT_MSG_01.075"})

    result = client.search_works_invoices(
        recipient_id=25123456, downloaded=True, page_size=1,
        status_changed_from=datetime(2025, 1, 1, tzinfo=timezone.utc))
    summaries = list(result)

    assert result.total == 2
    assert len(summaries) == 1
    works = summaries[0]
    assert (works.chorus_id, works.number, works.status) == (501, "DGD-1", "MISE_A_DISPOSITION")
    assert works.payment_request_type == "FACTURE_TRAVAUX"
    assert works.works_type == "PROJET_DECOMPTE_MENSUEL"
    assert works.supplier_code == "55208131766522"
    assert works.amount_total == Decimal("12000.50")
    body = json.loads(api_calls(rsps, OP_WORKS)[0].request.body)
    assert body["roleUtilisateur"] == "MOA"
    assert body["idDestinataire"] == 25123456
    assert body["flagTelecharge"] is True
    assert body["periodeDateHeureEtatCourantDu"] == "2025-01-01T01:00:00"
    assert body["rechercheFactureTravaux"] == {"pageResultatDemandee": 1, "nbResultatsParPage": 1,
                                               "triSens": "Ascendant"}


def test_works_search_20007_is_empty(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_WORKS), json={"codeRetour": 20007, "libelle": "GFT_MSG_01.075"})
    result = client.search_works_invoices()
    assert list(result) == [] and result.total == 0


# ---------------------------------------------------------------------------------------------
# Other operations


# chorus-pro-api.md §2.3 (the same answer the parsing tests read).
CONSULT_ANSWER = json.loads(
    (Path(__file__).parent / "data" / "consult_answer.json").read_text("utf-8"))


def test_get_invoice_request_and_result(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_CONSULT), json=CONSULT_ANSWER)
    detail = client.get_invoice(98765432)
    assert detail.chorus_id == 98765432 and detail.bank.account == IBAN
    assert detail.amount_total == Decimal("1200.0")
    body = json.loads(api_calls(rsps, OP_CONSULT)[0].request.body)
    assert body["identifiantFactureCPP"] == 98765432
    assert body["rechercheLignePoste"]["nbResultatsParPageLignesPoste"] >= 1000
    assert body["recherchePj"]["pageResultatDemandeeListePieceJointe"] == 1


def test_get_invoice_merges_further_pages_of_lines(rsps, client):
    add_token(rsps)

    def answer(request):
        page = json.loads(request.body)["rechercheLignePoste"]["pageResultatDemandeeLignesPoste"]
        lines = [{"lignePosteNumero": page * 10 + n, "lignePosteMontantHtApresRemise": "1.10"}
                 for n in (1, 2)]
        return 200, {}, json.dumps({"codeRetour": 0, "facture": {
            "identifiantFactureCPP": 5,
            "lignesDePoste": {"lignePoste": lines, "pageCouranteLignesPoste": page,
                              "pagesLignesPoste": 2},
            "listeDesPiecesJointes": {"pieceJointe": {"pieceJointeId": 1},
                                      "pagesListePiecesJointe": 1}}})

    rsps.add_callback(responses.POST, url(OP_CONSULT), callback=answer)
    detail = client.get_invoice(5)
    assert [line.sequence for line in detail.lines] == [11, 12, 21, 22]
    assert len(detail.attachments) == 1
    assert len(api_calls(rsps, OP_CONSULT)) == 2


def test_get_invoice_without_invoice_object_is_malformed(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_CONSULT), json={"codeRetour": 0, "libelle": "ok"})
    with pytest.raises(errors.ChorusMalformedResponse):
        client.get_invoice(5)


def test_change_status_sends_exact_bytes_and_keeps_the_exchange(rsps, client):
    add_token(rsps)
    raw_answer = ('{"codeRetour": 0, "libelle": "TRA_MSG_00.000", "idFacture": 98765432, '
                  '"numeroFacture": "FA-2025-0042", "dateTraitement": "2025-01-20", '
                  '"nouveauStatut": "SUSPENDUE"}')
    rsps.add(responses.POST, url(OP_PROCESS), body=raw_answer, content_type="application/json")

    result = client.change_status(98765432, "SUSPENDUE", motif="Bon de livraison manquant — é",
                                  mandate_number="should-not-be-sent")

    sent = api_calls(rsps, OP_PROCESS)[0].request.body
    assert sent == result.request_body
    assert "Bon de livraison manquant — é".encode("utf-8") in sent  # UTF-8, not \\u escapes
    assert json.loads(sent) == {"idFacture": 98765432, "nouveauStatut": "SUSPENDUE",
                                "motif": "Bon de livraison manquant — é", "numeroDPMandat": ""}
    assert result.response_body == raw_answer.encode("utf-8")
    assert (result.chorus_id, result.number, result.new_status) == (
        98765432, "FA-2025-0042", "SUSPENDUE")
    assert result.processing_date.isoformat() == "2025-01-20"
    assert result.return_code == 0


def test_change_status_to_mandatee_sends_the_mandate_number(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_PROCESS), json={"codeRetour": 0, "idFacture": 1})
    result = client.change_status(1, "MANDATEE", mandate_number="2025-M-000815")
    assert json.loads(result.request_body)["numeroDPMandat"] == "2025-M-000815"
    assert json.loads(result.request_body)["motif"] == ""
    assert result.new_status == "MANDATEE"


def test_get_history_request_and_order(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_HISTORY), json={
        "codeRetour": 0, "idFacture": 9, "statutCourantCode": "SUSPENDUE",
        "historiquesDesStatuts": {"histoStatut": [
            {"histoStatutId": 3, "histoStatutCode": "SUSPENDUE",
             "histoStatutDatePassage": "2025-01-20 09:15"},
            {"histoStatutId": 1, "histoStatutCode": "MISE_A_DISPOSITION",
             "histoStatutDatePassage": "2025-01-15 09:12"}]}})
    history = client.get_history(9)
    assert [e.code for e in history.events] == ["MISE_A_DISPOSITION", "SUSPENDUE"]
    assert history.current_status == "SUSPENDUE"
    body = json.loads(api_calls(rsps, OP_HISTORY)[0].request.body)
    assert body["idFacture"] == 9 and body["nbResultatsMaximum"] >= 50
    assert body["paramRechercheHistoStatuts"]["pageResultatDemandeeListeHistoStatut"] == 1


def test_get_possible_statuses(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url("transverses/v1/recuperer/etats/traitement"), json={
        "codeRetour": 0, "listeStatutsPossiblesPourTraitement": [
            {"statutPossiblePourTraitement": "SUSPENDUE"},
            {"statutPossiblePourTraitement": "REJETEE"}]})
    assert client.get_possible_statuses("MISE_A_DISPOSITION") == ["SUSPENDUE", "REJETEE"]
    request = rsps.calls[-1].request
    assert json.loads(request.body) == {"statutCourant": "MISE_A_DISPOSITION"}


def test_structure_operations(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url("transverses/v1/recuperer/structures/actives/destinataire"),
             json={"codeRetour": 0, "listeStructures": {
                 "idStructureCPP": 25123456, "identifiant": "21730123400017",
                 "designationStructure": "COMMUNE DE EXEMPLE"}})
    rsps.add(responses.POST, url("structures/v1/rechercher"), json={
        "codeRetour": 0, "libelle": "GCU_MSG_01_000",
        "listeStructures": [{"idStructureCPP": 25123456, "identifiantStructure": "21730123400017",
                             "typeIdentifiantStructure": "SIRET",
                             "designationStructure": "COMMUNE DE EXEMPLE", "statut": "ACTIF"}],
        "parametresRetour": {"pageCourante": 1, "pages": 1, "nbResultatsParPage": 10, "total": 1}})
    rsps.add(responses.POST, url("structures/v1/consulter"), json={
        "codeRetour": 0, "informationGenerales": {
            "idStructureCPP": 25123456, "identifiantStructure": "21730123400017",
            "raisonSocialeStructure": "COMMUNE DE EXEMPLE",
            "dateExpirationMotPasseCompteTech": "2026-03-31"},
        "parametres": {"codeServiceDoitEtreRenseigne": True}})
    rsps.add(responses.POST, url("structures/v1/rechercher/services"), json={
        "codeRetour": 0, "listeServices": [
            {"idService": 1234567, "codeService": "SERV_TECH",
             "libelleService": "Services techniques", "estActif": True}],
        "parametresRetour": {"pageCourante": 1, "pages": 1, "total": 1}})

    active = client.get_active_structures()
    found = client.search_structures("21730123400017")
    detail = client.get_structure(25123456)
    services = client.get_services(25123456)

    assert [(s.chorus_id, s.identifier, s.name) for s in active] == [
        (25123456, "21730123400017", "COMMUNE DE EXEMPLE")]
    assert [(s.chorus_id, s.identifier_type, s.status) for s in found] == [
        (25123456, "SIRET", "ACTIF")]
    assert detail.password_expiry_date.isoformat() == "2026-03-31"
    assert detail.parameters == {"codeServiceDoitEtreRenseigne": True}
    assert [(s.chorus_id, s.code, s.active) for s in services] == [(1234567, "SERV_TECH", True)]
    bodies = {c.request.url.split("/cpro/")[1]: json.loads(c.request.body)
              for c in rsps.calls if c.request.url.startswith(API)}
    assert bodies["transverses/v1/recuperer/structures/actives/destinataire"] == {}
    search = bodies["structures/v1/rechercher"]
    assert search["structure"] == {"identifiantStructure": "21730123400017",
                                   "typeIdentifiantStructure": "SIRET"}
    assert search["restreindreStructuresPrivees"] is False
    assert bodies["structures/v1/consulter"] == {"idStructureCPP": 25123456, "codeLangue": "FR"}
    assert bodies["structures/v1/rechercher/services"] == {
        "idStructure": 25123456,
        "parametresRechercherServicesStructure": {"nbResultatsParPage": 10000}}


def test_health_check(rsps, make_client):
    client = make_client(max_retries=1)
    add_token(rsps)
    rsps.add(responses.GET, url("transverses/v1/health-check"), body="OK")
    assert client.health_check() is True
    request = rsps.calls[-1].request
    assert request.method == "GET" and request.headers["Authorization"] == "Bearer token-one"
    rsps.replace(responses.GET, url("transverses/v1/health-check"), status=503)
    assert client.health_check() is False


# ---------------------------------------------------------------------------------------------
# Downloads


def download_body(content: bytes, *, escape_slashes=True, before=True) -> str:
    encoded = base64.b64encode(content).decode("ascii")
    if escape_slashes:
        encoded = encoded.replace("/", "\\/")
    if before:
        return ('{"codeRetour": 0, "libelle": "TRA_MSG_00.000", "fichierResultat": "'
                + encoded + '"}')
    return '{"fichierResultat":"' + encoded + '","codeRetour":0,"libelle":"TRA_MSG_00.000"}'


# Bytes chosen so that the base64 has many "/" and "+" characters.
AWKWARD = bytes(range(256)) * 3 + b"\xff\xfe\xfd" * 50


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"%PDF-1.7\n" + AWKWARD, "pdf"),
        (b"PK\x03\x04" + AWKWARD, "zip"),
        (b'<?xml version="1.0"?><CPPFacturePivot/>', "xml"),
        (b"\xef\xbb\xbf\n  <CPPFacturePivot/>", "xml"),
        (AWKWARD, "unknown"),
    ],
)
def test_download_streams_the_file_to_disk_and_detects_its_kind(rsps, client, tmp_path,
                                                                 content, kind):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_DOWNLOAD), body=download_body(content),
             content_type="application/json")

    downloaded = client.download_invoices([98765432, 98765433], fmt="pivot")

    assert isinstance(downloaded, DownloadedFile)
    assert downloaded.kind == kind
    assert downloaded.size == len(content)
    assert downloaded.read() == content
    assert os.path.dirname(downloaded.path) == str(tmp_path)
    call = api_calls(rsps, OP_DOWNLOAD)[0]
    assert json.loads(call.request.body) == {
        "listeFacture": [{"idFacture": 98765432}, {"idFacture": 98765433}],
        "format": "PIVOT", "avecPiecesJointesComplementaires": "OUI"}
    assert call.request.req_kwargs["stream"] is True
    assert call.request.req_kwargs["timeout"] == 300
    downloaded.cleanup()
    assert not os.path.exists(downloaded.path)


def test_download_without_attachments_and_file_member_first(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_DOWNLOAD), body=download_body(b"%PDF-1.4", before=False))
    downloaded = client.download_invoices([1], fmt="PDF", with_attachments=False)
    assert downloaded.kind == "pdf"
    assert json.loads(api_calls(rsps, OP_DOWNLOAD)[0].request.body)[
        "avecPiecesJointesComplementaires"] == "NON"
    downloaded.cleanup()


def test_download_error_answers_leave_no_temporary_file(rsps, client, tmp_path):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_DOWNLOAD),
             json={"codeRetour": 20003, "libelle": "Refus", "fichierResultat": ""})
    rsps.add(responses.POST, url(OP_DOWNLOAD), json={"codeRetour": 0, "libelle": "ok"})
    with pytest.raises(errors.ChorusFunctionalError):
        client.download_invoices([1])
    with pytest.raises(errors.ChorusMalformedResponse):
        client.download_invoices([1])
    assert list(tmp_path.iterdir()) == []


def test_download_with_invalid_base64_is_malformed(rsps, client, tmp_path):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_DOWNLOAD),
             body='{"codeRetour": 0, "fichierResultat": "JVBE*RI0="}')
    with pytest.raises(errors.ChorusMalformedResponse):
        client.download_invoices([1])
    assert list(tmp_path.iterdir()) == []


def test_download_uses_the_fallback_when_the_key_is_escaped(rsps, client):
    add_token(rsps)
    # A JSON writer escaping the key's letters: the streaming scan cannot see it.
    body = ('{"codeRetour": 0, "fichierResulta\\u0074": "'
            + base64.b64encode(b"%PDF-1.4 x").decode() + '"}')
    rsps.add(responses.POST, url(OP_DOWNLOAD), body=body)
    downloaded = client.download_invoices([1])
    assert downloaded.read() == b"%PDF-1.4 x" and downloaded.kind == "pdf"
    downloaded.cleanup()


def extract(document: bytes, chunks):
    out = io.BytesIO()
    extractor = Base64FieldExtractor("fichierResultat", out)
    for chunk in chunks:
        extractor.feed(chunk)
    return extractor.finish(), extractor, out.getvalue()


def split_at(document: bytes, *cuts):
    bounds = [0, *cuts, len(document)]
    return [document[a:b] for a, b in zip(bounds, bounds[1:])]


def test_extractor_handles_every_single_split_point():
    content = AWKWARD[:300]
    document = download_body(content).encode("utf-8")
    assert b"\\/" in document  # escaped slashes really are in the stream
    for cut in range(1, len(document)):
        data, extractor, written = extract(document, split_at(document, cut))
        assert written == content, f"split at {cut}"
        assert data == {"codeRetour": 0, "libelle": "TRA_MSG_00.000", "fichierResultat": ""}
        assert extractor.found and extractor.size == len(content)


def test_extractor_with_one_byte_chunks_and_cuts_inside_key_quads_and_escapes():
    content = AWKWARD
    document = download_body(content, before=False).encode("utf-8")
    key_at = document.index(b"fichierResultat")
    escape_at = document.index(b"\\/")
    # Cuts: inside the key, after the colon, inside a base64 quad, between "\" and "/".
    cuts = sorted({key_at + 5, key_at + 17, key_at + 22, key_at + 26, escape_at + 1})
    for chunks in (split_at(document, *cuts), [document[i:i + 1] for i in range(len(document))],
                   [document[i:i + 7] for i in range(0, len(document), 7)]):
        data, _extractor, written = extract(document, chunks)
        assert written == content
        assert data["codeRetour"] == 0 and data["libelle"] == "TRA_MSG_00.000"


def test_extractor_decodes_unicode_escapes_and_wrapped_lines():
    content = AWKWARD[:90]
    encoded = base64.b64encode(content).decode()
    wrapped = "\\r\\n".join(encoded[i:i + 40] for i in range(0, len(encoded), 40))
    wrapped = wrapped.replace("/", "\\u002F")
    document = ('{"codeRetour":0,"fichierResultat" :  "' + wrapped + '"}').encode()
    for cut in range(1, len(document)):
        _data, _extractor, written = extract(document, split_at(document, cut))
        assert written == content, f"split at {cut}"


def test_extractor_ignores_the_key_quoted_inside_another_string():
    document = (b'{"libelle": "no \\"fichierResultat\\": here", "codeRetour": 20003, '
                b'"fichierResultat": null}')
    data, extractor, written = extract(document, [document[:20], document[20:]])
    assert not extractor.found and written == b""
    assert data == {"libelle": 'no "fichierResultat": here', "codeRetour": 20003,
                    "fichierResultat": None}


def test_extractor_reports_a_cut_off_body():
    document = download_body(b"%PDF-1.4 truncated").encode()[:-5]
    with pytest.raises(errors.ChorusMalformedResponse):
        extract(document, [document])


def test_extractor_keeps_amounts_exact():
    data, _extractor, _ = extract(b'{"codeRetour": 0, "montant": 0.1}', [b'{"codeRetour": 0, ',
                                                                          b'"montant": 0.1}'])
    assert data["montant"] == Decimal("0.1")


def test_detect_kind():
    assert detect_kind(b"%PDF-1.4") == "pdf"
    assert detect_kind(b"PK\x03\x04rest") == "zip"
    assert detect_kind(b"  \r\n<?xml") == "xml"
    assert detect_kind("\ufeff<a/>".encode("utf-16")) == "xml"
    assert detect_kind(b"GIF89a") == "unknown"
    assert detect_kind(b"") == "unknown"


# ---------------------------------------------------------------------------------------------
# Logging and concurrency


def test_logs_carry_metadata_but_no_secret_iban_or_content(rsps, make_client, caplog):
    client = make_client(password="P@ss-in-logs-42")
    secret_content = b"%PDF-1.4 confidential-invoice-text"
    add_token(rsps, token="the-access-token-xyz")
    rsps.add(responses.POST, url(OP_CONSULT), json=CONSULT_ANSWER)
    rsps.add(responses.POST, url(OP_DOWNLOAD), body=download_body(secret_content))
    rsps.add(responses.POST, url(OP_PROCESS), status=401,
             headers={"WWW-Authenticate": 'Bearer error_description="expired"'})
    add_token(rsps, token="second-access-token")
    rsps.add(responses.POST, url(OP_PROCESS), json={"codeRetour": 0, "idFacture": 1})

    with caplog.at_level(logging.DEBUG, logger="chorus_pro"):
        client.get_invoice(98765432)
        client.download_invoices([98765432]).cleanup()
        client.change_status(1, "REJETEE", motif=f"IBAN {IBAN} inconnu")

    text = caplog.text
    assert "factures/v1/consulter/recipiendaire: HTTP 200" in text
    assert "codeRetour 0" in text
    forbidden = [
        PASSWORD, "P@ss-in-logs-42", CLIENT_SECRET, "the-access-token-xyz", "second-access-token",
        IBAN, "FR76", base64.b64encode(secret_content).decode()[:16], "confidential",
        base64.b64encode(f"{LOGIN}:P@ss-in-logs-42".encode()).decode(), "Bon de", "REJETEE",
    ]
    for needle in forbidden:
        assert needle not in text, needle


def test_one_client_shared_by_threads_gets_one_token_and_exact_counts(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_VAT), json=vat_answer())
    failures = []

    def work():
        try:
            for _ in range(5):
                client.get_vat_rates()
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert client.call_counts[OP_VAT] == 30
    assert client.call_counts[TOKEN_OPERATION] == 1


def test_real_connection_refused_counts_as_never_sent(make_client, sleeps):
    """A refused TCP connection (loopback, closed port) is safe to retry, even a status change."""
    import socket

    from chorus_pro.client import new_token_cache

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = new_token_cache()
    client = make_client(api_url=f"http://127.0.0.1:{port}", max_retries=1, token_cache=cache)
    cache.put(client._token_key, "cached-token", float("inf"))

    with pytest.raises(errors.ChorusTransportError) as caught:
        client.change_status(1, "SERVICE_FAIT")

    assert client.call_counts[OP_PROCESS] == 2  # re-sent once: the request never left
    assert len(sleeps) == 1
    assert "after 2 attempts" in caught.value.message


def test_retry_after_accepts_seconds_and_http_dates():
    from email.utils import format_datetime

    from chorus_pro.client import _retry_after_seconds

    later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=30)
    assert _retry_after_seconds("12") == 12.0
    assert 25 <= _retry_after_seconds(format_datetime(later, usegmt=True)) <= 30
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after_seconds("bientôt") is None and _retry_after_seconds(None) is None


def test_search_tells_when_its_listing_moved_between_pages(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 2, "total": 3,
        "listeFactures": [invoice_item(1), invoice_item(2)]})
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 2, "pages": 2, "total": 4,
        "listeFactures": [invoice_item(2), invoice_item(3)]})
    moved = client.search_received_invoices(page_size=2)
    served = [s.chorus_id for s in moved]
    assert served == [1, 2, 2, 3]
    assert moved.total_moved and not moved.complete(len(set(served)))


def test_search_is_consistent_when_every_announced_item_came(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 2, "total": 3,
        "listeFactures": [invoice_item(1), {"numeroFacture": "no id"}]})
    rsps.add(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 2, "pages": 2, "total": 3,
        "listeFactures": [invoice_item(3)]})
    steady = client.search_received_invoices(page_size=2)
    assert [s.chorus_id for s in steady] == [1, 3]
    assert steady.complete(2)  # two read, one skipped as unreadable: the three announced
    # One item fewer than announced (it left the listing before its page was read).
    rsps.replace(responses.POST, url(OP_SEARCH), json={
        "codeRetour": 0, "pageCourante": 1, "pages": 1, "total": 3,
        "listeFactures": [invoice_item(1), invoice_item(2)]})
    short = client.search_received_invoices()
    assert len(list(short)) == 2
    assert not short.total_moved and not short.complete(2)


def test_works_search_filters_on_statuses(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, url(OP_WORKS), json={"codeRetour": 20007, "libelle": "x"})
    list(client.search_works_invoices(statuses=["MISE_A_DISPOSITION"]))
    list(client.search_works_invoices(statuses=["MISE_A_DISPOSITION", "COMPLETEE"]))
    bodies = [json.loads(c.request.body) for c in api_calls(rsps, OP_WORKS)]
    assert bodies[0]["statutFactureTravaux"] == "MISE_A_DISPOSITION"
    assert bodies[1]["statutFactureTravaux"] == ["MISE_A_DISPOSITION", "COMPLETEE"]


def test_pdf_rendering_of_one_invoice_plain_or_zipped(rsps, client):
    import zipfile

    add_token(rsps)
    pdf = b"%PDF-1.4\n% rendering\n%%EOF\n"
    rsps.add(responses.POST, url(OP_DOWNLOAD), json={
        "codeRetour": 0, "fichierResultat": base64.b64encode(pdf).decode()})
    assert client.download_invoice_pdf(98765432) == pdf
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("98765432_FA-1/FA-1.pdf", pdf)
    rsps.add(responses.POST, url(OP_DOWNLOAD), json={
        "codeRetour": 0, "fichierResultat": base64.b64encode(buffer.getvalue()).decode()})
    assert client.download_invoice_pdf(98765432) == pdf
    sent = json.loads(api_calls(rsps, OP_DOWNLOAD)[0].request.body)
    assert (sent["format"], sent["avecPiecesJointesComplementaires"]) == ("PDF", "NON")
    rsps.add(responses.POST, url(OP_DOWNLOAD), json={
        "codeRetour": 0, "fichierResultat": base64.b64encode(b"<xml/>").decode()})
    with pytest.raises(errors.ChorusMalformedResponse, match="where the PDF"):
        client.download_invoice_pdf(98765432)
