"""Integration tests: the real :class:`~chorus_pro.client.ChorusProClient` over real HTTP against
the local Chorus Pro simulator.

* :class:`TestRecipientCycle` drives ``python -m chorus_pro.simulator`` as a child process
  (:class:`~chorus_pro.simulator.testing.SimulatorProcess`, stopped by PID) through the whole
  recipient cycle: search every page, consult, download (PDF / ZIP / PIVOT), process, history,
  suspension completed by the supplier, mandate.
* :class:`TestFaultsSurvived` and :class:`TestTypedErrors` use the in-process simulator
  (faster) and its admin fault injection: what the client survives, and the typed errors it
  raises once it cannot.

The client never really sleeps between retries here (``sleep`` is recorded, not slept), except
where a real read timeout is the point; the file runs in a few seconds.
"""

from __future__ import annotations

import io
import math
import os
import threading
import zipfile
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chorus_pro import errors
from chorus_pro.client import (
    OP_CONSULT,
    OP_DOWNLOAD,
    OP_PROCESS,
    OP_SEARCH_RECEIVED,
    ChorusProClient,
    new_token_cache,
)
from chorus_pro.identifiers import is_valid_bic, is_valid_iban
from chorus_pro.pivot import iter_pivot_invoices
from chorus_pro.simulator import Simulator
from chorus_pro.simulator.testing import SimulatorProcess
from chorus_pro.simulator.world import HIDDEN_FROM_RECIPIENT

ANCHOR = date(2026, 3, 15)
SEED = 31415
TOKEN = "api/oauth/token"


def make_client(info: dict, tmp_path, sleeps: list, **overrides) -> ChorusProClient:
    """A client on the simulator with a private token cache and recorded (not slept) back-off."""
    options = dict(
        api_url=info["base_url"], token_url=info["token_url"],
        client_id=info["client_id"], client_secret=info["client_secret"],
        login=info["login"], password=info["password"],
        max_retries=2, backoff_base=0.01, backoff_max=0.05, max_retry_after=30,
        timeout=10, download_timeout=30, sleep=sleeps.append,
        token_cache=new_token_cache(), temp_dir=str(tmp_path),
    )
    options.update(overrides)
    return ChorusProClient(**options)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# =============================================================================================
# The whole recipient cycle against the simulator as a separate process
# =============================================================================================
@pytest.fixture(scope="class")
def process():
    simulator = SimulatorProcess(seed=SEED, extra_args=["--anchor-date", ANCHOR.isoformat()])
    simulator.start()
    pid = simulator.pid
    assert simulator.is_running() and pid != os.getpid()
    yield simulator
    assert simulator.stop() == 0  # SIGTERM to that PID: clean exit
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: the PID is gone


class TestRecipientCycle:
    @pytest.fixture(autouse=True)
    def _setup(self, process, tmp_path):
        process.admin.reset()
        self.admin = process.admin
        self.info = process.info
        self.sleeps: list = []
        self.client = make_client(process.info, tmp_path, self.sleeps)
        self.tmp_path = tmp_path
        yield
        self.client.close()

    def first(self, tag: str) -> dict:
        return self.admin.first(tag)

    def visible_invoices(self) -> dict:
        """What the account must find: ordinary invoices of our structures, by id."""
        ours = {self.info["structure_id"], self.info["second_structure_id"]}
        return {row["idFacture"]: row for row in self.admin.invoices()
                if row["idDestinataire"] in ours and row["typeDemandePaiement"] == "FACTURE"
                and row["statut"] not in HIDDEN_FROM_RECIPIENT}

    # -- search ------------------------------------------------------------------------------
    def test_search_returns_every_invoice_once_across_small_pages(self):
        expected = self.visible_invoices()
        search = self.client.search_received_invoices(page_size=7)
        found = list(search)

        ids = [summary.chorus_id for summary in found]
        assert len(expected) > 7 * 3  # several pages, or the test proves nothing
        assert search.total == len(expected) == len(found)
        assert Counter(ids).most_common(1)[0][1] == 1  # no invoice twice
        assert set(ids) == set(expected)
        assert search.pages_fetched == math.ceil(len(expected) / 7)
        assert self.client.call_counts[OP_SEARCH_RECEIVED] == search.pages_fetched
        for summary in found:
            row = expected[summary.chorus_id]
            assert summary.number == row["numeroFacture"]
            assert summary.status == row["statut"]
            assert summary.amount_total == money(row["montantTTC"])
            assert summary.amount_untaxed == money(row["montantHT"])
            assert summary.amount_to_pay == money(row["montantAPayer"])
            assert summary.supplier_code == row["supplier_siret"]
            assert summary.status_datetime.tzinfo is not None

        commune_only = list(self.client.search_received_invoices(
            recipient_id=self.info["structure_id"], page_size=7))
        assert {s.recipient_id for s in commune_only} == {self.info["structure_id"]}
        assert len(commune_only) == sum(
            1 for row in expected.values() if row["idDestinataire"] == self.info["structure_id"])

    # -- consult -----------------------------------------------------------------------------
    def test_consult_gives_typed_supplier_bank_factor_lines_and_attachments(self):
        factors = self.admin.state()["factors"]
        factored_row = self.first("factored")
        factored = self.client.get_invoice(factored_row["idFacture"])
        assert factored.number == factored_row["numeroFacture"]
        assert factored.supplier.identifier == factored_row["supplier_siret"]
        assert factored.supplier.identifier_type == "SIRET"
        assert factored.supplier.name == factored_row["supplier_name"]
        assert factored.bank is not None and is_valid_iban(factored.bank.account)
        assert is_valid_bic(factored.bank.bic)
        assert factored.factor is not None
        assert (factored.factor.name, factored.factor.identifier) == \
            (factors[0]["name"], factors[0]["siret"])
        assert factored.factor.identifier != factored.supplier.identifier

        plain = self.client.get_invoice(self.first("service_done")["idFacture"])
        assert plain.factor is None and is_valid_iban(plain.bank.account)
        assert plain.bank.account != factored.bank.account

        structured_row = self.admin.invoice(self.first("multi_vat")["idFacture"])
        structured = self.client.get_invoice(structured_row["idFacture"])
        assert len(structured.lines) == len(structured_row["lines"]) == 4
        assert sum(line.amount_untaxed for line in structured.lines) == structured.amount_untaxed
        assert sorted(t.rate for t in structured.taxes) == \
            [Decimal("5.5"), Decimal("10"), Decimal("20")]
        assert sum(t.amount for t in structured.taxes) == structured.amount_tax
        assert structured.amount_untaxed + structured.amount_tax == structured.amount_total

        several_row = self.admin.invoice(self.first("multi_attachments")["idFacture"])
        several = self.client.get_invoice(several_row["idFacture"])
        assert [a.chorus_id for a in several.attachments] == \
            [a["id"] for a in several_row["attachments"]]
        assert [a.type_code for a in several.attachments].count("01") == 1
        assert [a.type_code for a in several.attachments].count("02") >= 3
        # The complementary files are PDFs; the invoice itself is PDF, or XML when deposited
        # as a UBL flow.
        assert {a.extension for a in several.attachments if a.type_code == "02"} == {"PDF"}
        main_extension = next(a.extension for a in several.attachments if a.type_code == "01")
        assert main_extension == ("XML" if "xml_main" in several_row["tags"] else "PDF")

        assert not self.client.get_invoice(self.first("pdf_only")["idFacture"]).lines
        with pytest.raises(errors.ChorusNotFoundError):
            self.client.get_invoice(1)

    # -- downloads ---------------------------------------------------------------------------
    def test_pdf_downloads_are_a_pdf_or_a_zip(self):
        single = next(row for row in self.admin.invoices(tag="pdf_only")
                      if row["attachments"] == 1)  # its main document only
        several = self.admin.invoice(self.first("multi_attachments")["idFacture"])

        pdf = self.client.download_invoices([single["idFacture"]], fmt="PDF")
        assert pdf.kind == "pdf" and pdf.read().startswith(b"%PDF-")

        main_only = self.client.download_invoices([several["idFacture"]], fmt="PDF",
                                                  with_attachments=False)
        assert main_only.kind == "pdf"

        flat = self.client.download_invoices([several["idFacture"]], fmt="PDF")
        assert flat.kind == "zip"
        with zipfile.ZipFile(io.BytesIO(flat.read())) as archive:
            names = archive.namelist()
            assert len(names) == len(several["attachments"]) and all("/" not in n for n in names)
            assert all(archive.read(n).startswith(b"%PDF-") for n in names)

        bundle = self.client.download_invoices([single["idFacture"], several["idFacture"]],
                                               fmt="PDF")
        assert bundle.kind == "zip"
        with zipfile.ZipFile(io.BytesIO(bundle.read())) as archive:
            folders = {name.split("/", 1)[0] for name in archive.namelist()}
            entries = len(archive.namelist())
        # One "<idFacture>_<number made file-safe>/" folder per invoice.
        assert {folder.split("_", 1)[0] for folder in folders} == \
            {str(single["idFacture"]), str(several["idFacture"])}
        assert entries == 1 + len(several["attachments"])
        for downloaded in (pdf, main_only, flat, bundle):
            assert os.path.dirname(downloaded.path) == str(self.tmp_path)
            downloaded.cleanup()

    def test_pivot_matches_the_consult_answer_and_the_search_amounts(self):
        summaries = {s.chorus_id: s for s in self.client.search_received_invoices(page_size=50)}
        tags = ("factored", "multi_vat", "pdf_only", "multi_attachments", "credit_note", "a2",
                "completed", "mandated")
        ids = list(dict.fromkeys(self.first(tag)["idFacture"] for tag in tags))

        downloaded = self.client.download_invoices(ids, fmt="PIVOT")
        assert downloaded.kind == "xml"
        parsed = list(iter_pivot_invoices(downloaded.path))
        downloaded.cleanup()

        assert [p.chorus_id for p in parsed] == ids
        for pivot in parsed:
            detail = self.client.get_invoice(pivot.chorus_id)
            summary = summaries[pivot.chorus_id]
            context = pivot.number
            assert pivot.number == detail.number == summary.number, context
            # Amounts to the cent: PIVOT = consult = search.
            assert pivot.amount_total == detail.amount_total == summary.amount_total, context
            assert pivot.amount_untaxed == detail.amount_untaxed == summary.amount_untaxed, \
                context
            assert pivot.amount_to_pay == detail.amount_to_pay == summary.amount_to_pay, context
            assert [(t.rate, t.base, t.amount) for t in pivot.taxes] == \
                [(t.rate, t.base, t.amount) for t in detail.taxes], context
            assert pivot.supplier.identifier == detail.supplier.identifier, context
            assert pivot.supplier.name == detail.supplier.name, context
            assert (pivot.bank.account, pivot.bank.bic) == (detail.bank.account, detail.bank.bic)
            if detail.factor is not None:
                assert pivot.bank.holder == detail.factor.name, context
            assert pivot.purchase_order == detail.purchase_order, context
            assert pivot.contract == detail.contract, context
            assert pivot.origin_invoice_number == detail.origin_invoice_number, context
            assert pivot.is_credit_note == (detail.invoice_type == "AVOIR"), context
            assert pivot.frame == detail.frame.split("_", 1)[0], context
            assert pivot.issue_date == detail.invoice_date, context
            assert [(line.sequence, line.reference, line.quantity, line.price_unit,
                     line.tax_rate, line.amount_untaxed) for line in pivot.lines] == \
                [(line.sequence, line.reference, line.quantity, line.price_unit,
                  line.tax_rate, line.amount_untaxed) for line in detail.lines], context
            assert [a.type_code for a in pivot.attachments] == \
                [a.type_code for a in detail.attachments], context
            # Unzipped by the parser; the MIME type the consult answer's extension gives.
            for got, info in zip(pivot.attachments, detail.attachments):
                expected = "application/xml" if info.extension == "XML" else "application/pdf"
                assert got.mime_type == expected, context
                assert got.content.startswith(b"<?xml" if info.extension == "XML" else b"%PDF-")
        # The download marked them as downloaded, the search says so.
        now_downloaded = {s.chorus_id for s in
                          self.client.search_received_invoices(downloaded=True)}
        assert set(ids) <= now_downloaded

    # -- processing --------------------------------------------------------------------------
    def test_rejection_needs_a_motif_and_is_then_in_the_history(self):
        invoice_id = self.first("old_pending")["idFacture"]
        before = self.client.get_history(invoice_id)
        assert before.current_status == "MISE_A_DISPOSITION"

        with pytest.raises(errors.ChorusFunctionalError) as refused:
            self.client.change_status(invoice_id, "REJETEE")
        assert refused.value.code == 20003 and "motif" in refused.value.label.lower()
        assert refused.value.request_body  # what was sent, kept for the evidence
        unchanged = self.client.get_history(invoice_id)
        assert unchanged.current_status == "MISE_A_DISPOSITION"
        assert len(unchanged.events) == len(before.events)
        assert self.admin.invoice(invoice_id)["statut"] == "MISE_A_DISPOSITION"

        started = now_utc()
        result = self.client.change_status(invoice_id, "REJETEE",
                                           motif="Montant non conforme au bon de commande")
        assert (result.chorus_id, result.new_status) == (invoice_id, "REJETEE")
        assert result.request_body and result.response_body
        history = self.client.get_history(invoice_id)
        assert history.current_status == "REJETEE"
        assert len(history.events) == len(before.events) + 1
        event = history.events[-1]
        assert (event.code, event.comment) == ("REJETEE", "Montant non conforme au bon de commande")
        # History dates have minute resolution (Paris time).
        assert started - timedelta(minutes=1) <= event.at <= now_utc() + timedelta(minutes=1)
        [summary] = [s for s in self.client.search_received_invoices(statuses="REJETEE")
                     if s.chorus_id == invoice_id]
        assert summary.status_comment == "Montant non conforme au bon de commande"

    def test_illegal_transition_is_refused_with_20002(self):
        invoice_id = self.first("rejected")["idFacture"]
        with pytest.raises(errors.ChorusTransitionRefused) as refused:
            self.client.change_status(invoice_id, "SERVICE_FAIT")
        assert refused.value.code == 20002 and refused.value.operation == OP_PROCESS
        assert self.client.get_history(invoice_id).current_status == "REJETEE"
        assert self.client.get_possible_statuses("REJETEE") == []
        assert "SERVICE_FAIT" in self.client.get_possible_statuses("MISE_A_DISPOSITION")

    def test_suspension_completed_by_the_supplier_comes_back(self):
        invoice_id = self.first("old_pending")["idFacture"]
        self.client.change_status(invoice_id, "SUSPENDUE", motif="Bon de livraison manquant")
        assert self.client.get_history(invoice_id).current_status == "SUSPENDUE"

        self.admin.complete(invoice_id, comment="Bon de livraison ajouté")

        history = self.client.get_history(invoice_id)
        assert history.current_status == "COMPLETEE"
        assert [e.code for e in history.events][-2:] == ["SUSPENDUE", "COMPLETEE"]
        assert history.last("SUSPENDUE").comment == "Bon de livraison manquant"
        assert history.last("COMPLETEE").comment == "Bon de livraison ajouté"
        assert self.client.get_invoice(invoice_id).status == "COMPLETEE"
        completed = self.client.search_received_invoices(statuses="COMPLETEE")
        assert invoice_id in {s.chorus_id for s in completed}

        downloaded = self.client.download_invoices([invoice_id])
        [pivot] = iter_pivot_invoices(downloaded.path)
        downloaded.cleanup()
        assert (pivot.chorus_id, pivot.redelivery) == (invoice_id, "Complétée")

        # It can now be processed again like a fresh invoice.
        self.client.change_status(invoice_id, "SERVICE_FAIT")
        assert self.client.get_history(invoice_id).current_status == "SERVICE_FAIT"

    def test_mandate_number_is_visible_in_the_consult_answer(self):
        invoice_id = self.first("service_done")["idFacture"]
        started = now_utc()
        self.client.change_status(invoice_id, "MANDATEE", mandate_number="M-2026-000417")

        detail = self.client.get_invoice(invoice_id)
        assert (detail.status, detail.mandate_number) == ("MANDATEE", "M-2026-000417")
        assert self.admin.invoice(invoice_id)["numeroDPMandat"] == "M-2026-000417"
        history = self.client.get_history(invoice_id)
        assert [e.code for e in history.events][-2:] == ["SERVICE_FAIT", "MANDATEE"]
        assert history.last("MANDATEE").at >= started - timedelta(minutes=1)
        for event in history.events:  # every change dated, oldest first
            assert event.at is not None
        assert [e.at for e in history.events] == sorted(e.at for e in history.events)


# =============================================================================================
# Faults and typed errors against the in-process simulator (fast)
# =============================================================================================
@pytest.fixture(scope="module")
def simulator():
    with Simulator(seed=SEED, anchor_date=ANCHOR) as server:  # a thread, shut down at exit
        yield server


class _InProcess:
    @pytest.fixture(autouse=True)
    def _setup(self, simulator, tmp_path):
        simulator.admin.reset()
        self.sim = simulator
        self.admin = simulator.admin
        self.world = simulator.world
        self.info = simulator.info
        self.sleeps: list = []
        self.tmp_path = tmp_path
        self.clients: list = []
        self.client = self.new_client()
        yield
        for client in self.clients:
            client.close()

    def new_client(self, **overrides) -> ChorusProClient:
        client = make_client(self.info, self.tmp_path, self.sleeps, **overrides)
        self.clients.append(client)
        return client

    def counters(self) -> dict:
        return self.admin.counters()


class TestFaultsSurvived(_InProcess):
    def test_503_twice_then_success(self):
        self.admin.fault(OP_SEARCH_RECEIVED, "503", count=2)
        found = list(self.client.search_received_invoices(page_size=1000))
        assert len(found) == len(self.visible())
        assert self.counters()[OP_SEARCH_RECEIVED] == 3 and len(self.sleeps) == 2

    def test_429_waits_what_retry_after_says(self):
        invoice = self.world.first_tagged("factored")
        self.admin.fault(OP_CONSULT, "429", count=1, retry_after=7)
        assert self.client.get_invoice(invoice.id).number == invoice.number
        assert self.sleeps == [7.0]  # recorded, not slept
        assert self.counters()[OP_CONSULT] == 2

    def test_read_timeout_is_retried(self):
        invoice = self.world.first_tagged("structured")
        # Generous margins: the retried call must answer within the timeout on a busy machine.
        self.admin.fault(OP_CONSULT, "timeout", count=1, delay_s=2.5)
        client = self.new_client(timeout=1.0)
        assert client.get_invoice(invoice.id).number == invoice.number
        assert self.counters()[OP_CONSULT] == 2 and len(self.sleeps) == 1

    def test_malformed_json_mid_search_is_asked_again(self):
        search = self.client.search_received_invoices(page_size=7)
        first_page = [next(search) for _ in range(7)]
        # Page 2 comes back truncated once.
        self.admin.fault(OP_SEARCH_RECEIVED, "malformed", count=1)
        found = first_page + list(search)
        assert sorted(s.chorus_id for s in found) == sorted(self.visible())
        assert len(found) == search.total
        assert self.counters()[OP_SEARCH_RECEIVED] == search.pages_fetched + 1

    def test_connection_reset_is_retried(self):
        invoice = self.world.first_tagged("multi_attachments")
        self.admin.fault(OP_DOWNLOAD, "reset", count=2)
        downloaded = self.client.download_invoices([invoice.id], fmt="PDF")
        assert downloaded.kind == "zip"
        downloaded.cleanup()
        assert self.counters()[OP_DOWNLOAD] == 3

    def test_token_expiry_mid_run_renews_the_token_once(self):
        search = self.client.search_received_invoices(page_size=7)
        first_page = [next(search) for _ in range(7)]
        assert self.counters()[TOKEN] == 1
        self.admin.expire_tokens()  # every token the simulator issued is now invalid
        rest = list(search)
        assert len(first_page) + len(rest) == search.total == len(self.visible())
        assert self.counters()[TOKEN] == 2  # one 401, one new token, the search went on
        self.admin.fault(OP_CONSULT, "401", count=1)
        invoice = self.world.first_tagged("pdf_only")
        assert self.client.get_invoice(invoice.id).number == invoice.number
        assert self.counters()[TOKEN] == 3

    def test_status_change_is_not_resent_after_a_reset(self):
        invoice = self.world.first_tagged("old_pending")
        self.admin.fault(OP_PROCESS, "reset", count=1)
        with pytest.raises(errors.ChorusTransportError) as caught:
            self.client.change_status(invoice.id, "SERVICE_FAIT")
        assert "not sent again" in caught.value.message and caught.value.temporary
        assert self.counters()[OP_PROCESS] == 1
        assert invoice.status == "MISE_A_DISPOSITION"
        # Re-reading the history is how the caller finds out; then it may push again.
        assert self.client.get_history(invoice.id).current_status == "MISE_A_DISPOSITION"
        self.client.change_status(invoice.id, "SERVICE_FAIT")
        assert invoice.status == "SERVICE_FAIT"

    def visible(self) -> list:
        ours = {self.world.commune_id, self.world.ccas_id}
        return [i.id for i in self.world.invoices.values()
                if i.structure_id in ours and not i.is_works
                and i.status not in HIDDEN_FROM_RECIPIENT]


class TestTypedErrors(_InProcess):
    def test_503_until_the_end_raises_server_error(self):
        self.admin.fault(OP_SEARCH_RECEIVED, "503", count=10)
        with pytest.raises(errors.ChorusServerError) as caught:
            list(self.client.search_received_invoices())
        assert caught.value.http_status == 503 and caught.value.temporary
        assert self.counters()[OP_SEARCH_RECEIVED] == 3  # 1 + max_retries

    def test_429_until_the_end_raises_server_error(self):
        self.admin.fault(OP_CONSULT, "429", count=10, retry_after=1)
        with pytest.raises(errors.ChorusServerError) as caught:
            self.client.get_invoice(self.world.first_tagged("factored").id)
        assert caught.value.http_status == 429
        assert self.sleeps == [1.0, 1.0]

    def test_resets_until_the_end_raise_transport_error(self):
        self.admin.fault(OP_CONSULT, "reset", count=10)
        with pytest.raises(errors.ChorusTransportError) as caught:
            self.client.get_invoice(self.world.first_tagged("factored").id)
        assert type(caught.value) is errors.ChorusTransportError
        assert self.counters()[OP_CONSULT] == 3

    def test_timeouts_until_the_end_raise_transport_error(self):
        self.admin.fault(OP_CONSULT, "timeout", count=2, delay_s=1.5)
        client = self.new_client(timeout=0.4, max_retries=1)
        with pytest.raises(errors.ChorusTransportError) as caught:
            client.get_invoice(self.world.first_tagged("factored").id)
        assert "ReadTimeout" in caught.value.message

    def test_malformed_until_the_end_raises_malformed_response(self):
        self.admin.fault(OP_SEARCH_RECEIVED, "malformed", count=10)
        with pytest.raises(errors.ChorusMalformedResponse):
            list(self.client.search_received_invoices())
        assert self.counters()[OP_SEARCH_RECEIVED] == 3

    def test_too_large_bundle_raises_payload_too_large(self):
        self.admin.config(max_download_mb=0.05)  # 50 kB: a few invoices exceed it
        ids = [i.id for i in self.world.invoices.values() if not i.download_refused]
        with pytest.raises(errors.ChorusPayloadTooLarge) as caught:
            self.client.download_invoices(ids)
        assert caught.value.http_status == 413
        assert self.counters()[OP_DOWNLOAD] == 1  # never retried
        assert not any(self.world.invoices[i].downloaded for i in ids)
        assert list(self.tmp_path.iterdir()) == []  # no temporary file left behind

        self.admin.config(max_download_mb=120)
        self.admin.corrupt(ids[0], "too_large")
        with pytest.raises(errors.ChorusPayloadTooLarge):
            self.client.download_invoices(ids[:1])

    def test_foreign_structure_raises_authorization_error(self):
        with pytest.raises(errors.ChorusAuthorizationError) as caught:
            list(self.client.search_received_invoices(
                recipient_id=self.info["foreign_structure_id"]))
        assert caught.value.http_status == 403 and not caught.value.temporary

    def test_wrong_technical_password_raises_credentials_error_with_the_reason(self):
        client = self.new_client(password="not-the-password")
        with pytest.raises(errors.ChorusCredentialsError) as caught:
            client.get_vat_rates()
        assert caught.value.http_status == 401
        assert caught.value.reason == "login or password incorrects"  # WWW-Authenticate
        assert "login or password incorrects" in caught.value.message
        assert "not-the-password" not in caught.value.message
        assert self.counters()[TOKEN] == 2  # the token was renewed once before giving up

    def test_expired_password_is_explained(self):
        yesterday = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
        self.admin.credentials(password_expiry=yesterday)
        with pytest.raises(errors.ChorusCredentialsError) as caught:
            self.client.get_vat_rates()
        assert caught.value.reason.startswith("password expired")

    def test_wrong_piste_secret_raises_credentials_error(self):
        client = self.new_client(client_secret="wrong-secret")
        with pytest.raises(errors.ChorusCredentialsError) as caught:
            client.get_vat_rates()
        assert caught.value.operation == "token"
        assert caught.value.reason == "Client authentication failed"
        assert "wrong-secret" not in caught.value.message


class TestCallsInFlight(_InProcess):
    def _calls_from_threads(self, client, threads=6, calls=3):
        failures = []

        def work():
            try:
                for _ in range(calls):
                    client.get_vat_rates()
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []

    def test_one_client_keeps_at_most_its_limit_of_calls_in_flight(self):
        client = self.new_client(max_in_flight=2)
        client.get_token()
        self.admin.config(latency_ms=60)
        self.admin.wait_until_idle()  # calls an earlier test gave up on (its timeouts)
        self.admin.reset_counters()
        self._calls_from_threads(client)
        assert self.counters()["transverses/v1/recuperer/tauxtva"] == 18
        assert self.admin.in_flight()["max_in_flight"] == 2

    def test_without_a_limit_the_threads_overlap(self):
        # What the limit prevents: the same calls, unlimited, are seen at once by the server.
        self.client.get_token()
        self.admin.config(latency_ms=60)
        self.admin.wait_until_idle()  # calls an earlier test gave up on (its timeouts)
        self.admin.reset_counters()
        self._calls_from_threads(self.client)
        assert self.admin.in_flight()["max_in_flight"] > 2
