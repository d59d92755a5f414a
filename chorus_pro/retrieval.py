"""What a retrieval asks Chorus Pro, and in which pieces (plain rules, no Odoo).

The addon's retrieval (``chorus_pro_liaison/services/retrieval.py``) and the benchmark's
library-only floor (``bench/sync.py``) follow these same rules, so that the two make the same
calls.
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, Sequence

from . import statuses
from .timeutil import paris_date

BATCH_SIZE = 100  # invoices per committed batch: a crash loses at most one batch
PAGE_SIZE = 500
# An invoice made available (again) more than this long after its deposit may have been
# suspended and completed before it was first seen: its history is read even when it is new.
ROUTING_DAYS = 2
DEFAULT_SIZE = 1024 * 1024  # when Chorus gives no size, count 1 MB per invoice
PDF_RENDERINGS_PER_CALL = 50  # Chorus's PDFs of invoices deposited as XML, asked together


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    """Lists of at most ``size`` items, in order."""
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def history_needed(summary) -> bool:
    """Whether a new invoice's history must be read: its first mise à disposition is not its
    current status, or it was made available (again) long after its deposit (a suspension
    completed before this first look)."""
    if summary.status != statuses.MISE_A_DISPOSITION:
        return True
    available = paris_date(summary.status_datetime)
    return bool(available and summary.deposit_date
                and (available - summary.deposit_date).days > ROUTING_DAYS)


def redelivered(redelivery) -> bool:
    """Whether a PIVOT's ``Renvoi`` says the invoice was delivered again (completed after a
    suspension, or recycled): a new invoice so marked has its history read at first sight."""
    value = (redelivery or "").strip().lower()
    return bool(value) and value not in ("non", "no", "false", "0")


def download_bundles(summaries: Sequence, cap_bytes: int) -> List[list]:
    """Chorus ids grouped into download bundles of at most ``cap_bytes`` (by the sizes the search
    announced; an invoice bigger than the cap goes alone)."""
    bundles, current, current_size = [], [], 0
    for summary in summaries:
        size = summary.size or DEFAULT_SIZE
        if current and current_size + size > cap_bytes:
            bundles.append(current)
            current, current_size = [], 0
        current.append(summary.chorus_id)
        current_size += size
    if current:
        bundles.append(current)
    return bundles


def pdf_rendering_needed(pivot) -> bool:
    """Whether Chorus's PDF rendering of a PIVOT invoice must be asked: its main document is not
    a PDF (the supplier deposited structured data: UBL, CII, PIVOT), or it came empty."""
    main = pivot.main_pdf
    return main is None or not main.content


def pdf_rendering_bundles(chorus_ids: Sequence[int]) -> List[list]:
    """The invoices whose PDF rendering is asked, grouped into calls (``download_invoice_pdfs``);
    an invoice a bundle's answer leaves out is then asked alone (``download_invoice_pdf``)."""
    return list(chunked(chorus_ids, PDF_RENDERINGS_PER_CALL))
