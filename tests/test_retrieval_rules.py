"""chorus_pro.retrieval: the pieces a retrieval asks for, shared by the addon and the bench."""

from datetime import date, datetime, timezone
from types import SimpleNamespace

from chorus_pro import statuses
from chorus_pro.records import PivotAttachment, PivotInvoice
from chorus_pro.retrieval import (
    DEFAULT_SIZE,
    PDF_RENDERINGS_PER_CALL,
    chunked,
    download_bundles,
    history_needed,
    pdf_rendering_bundles,
    pdf_rendering_needed,
    redelivered,
)


def summary(chorus_id=1, status=statuses.MISE_A_DISPOSITION, available=None, deposit=None,
            size=None):
    return SimpleNamespace(chorus_id=chorus_id, status=status, status_datetime=available,
                           deposit_date=deposit, size=size)


def test_chunked_keeps_order_and_the_last_short_chunk():
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunked([], 3)) == []


def test_history_read_when_the_status_is_not_the_first_one():
    assert history_needed(summary(status=statuses.SUSPENDUE))
    assert history_needed(summary(status=statuses.MANDATEE))


def test_history_read_when_made_available_long_after_the_deposit():
    # Made available on 10 March (Paris) for a deposit on 2 March: suspended and completed before.
    late = summary(available=datetime(2026, 3, 10, 9, tzinfo=timezone.utc), deposit=date(2026, 3, 2))
    assert history_needed(late)


def test_no_history_for_a_fresh_mise_a_disposition():
    fresh = summary(available=datetime(2026, 3, 3, 9, tzinfo=timezone.utc), deposit=date(2026, 3, 2))
    assert not history_needed(fresh)
    assert not history_needed(summary())  # no dates: nothing suggests an earlier life


def test_redelivered_only_when_the_pivot_says_so():
    assert redelivered("OUI") and redelivered(" Oui ")
    assert not any(redelivered(value) for value in (None, "", "  ", "NON", "non", "No"))


def test_download_bundles_stay_under_the_cap_and_a_big_invoice_goes_alone():
    summaries = [summary(1, size=400), summary(2, size=400), summary(3, size=5000),
                 summary(4, size=100), summary(5, size=None)]
    assert download_bundles(summaries, 1000) == [[1, 2], [3], [4], [5]]
    assert download_bundles(summaries[:2] + summaries[3:], DEFAULT_SIZE) == [[1, 2, 4], [5]]


def test_pdf_rendering_asked_only_when_the_main_document_is_not_a_pdf():
    pdf = PivotAttachment(type_code="01", mime_type="application/pdf", content=b"%PDF-1.4")
    ubl = PivotAttachment(type_code="01", mime_type="application/xml", content=b"<Invoice/>")
    annex = PivotAttachment(type_code="02", mime_type="application/pdf", content=b"%PDF-1.4")
    assert not pdf_rendering_needed(PivotInvoice(attachments=[pdf, annex]))
    assert not pdf_rendering_needed(PivotInvoice(attachments=[ubl, pdf]))  # its PDF is there
    assert pdf_rendering_needed(PivotInvoice(attachments=[ubl, annex]))
    assert pdf_rendering_needed(PivotInvoice(attachments=[]))
    empty = PivotAttachment(type_code="01", mime_type="application/pdf", content=b"")
    assert pdf_rendering_needed(PivotInvoice(attachments=[empty]))


def test_pdf_renderings_asked_a_few_invoices_per_call_in_order():
    ids = list(range(1, PDF_RENDERINGS_PER_CALL * 2 + 2))
    bundles = pdf_rendering_bundles(ids)
    assert [len(bundle) for bundle in bundles] == [PDF_RENDERINGS_PER_CALL] * 2 + [1]
    assert [i for bundle in bundles for i in bundle] == ids
    assert pdf_rendering_bundles([]) == []
