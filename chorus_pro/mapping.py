"""What Chorus says about a received invoice, as the values the addon stores for it.

Chorus describes an invoice in three answers, each telling a part of it: the search item
(:class:`~chorus_pro.records.InvoiceSummary`: status, amounts, parties), the PIVOT file
(:class:`~chorus_pro.records.PivotInvoice`: frame, bank details, VAT recap, lines) and the
consult answer (:class:`~chorus_pro.records.InvoiceDetail`: the supplier's address, the factor,
the mandate number). :func:`invoice_values` maps any of them, in this one place, to the values of
the addon's ``chorus.pro.invoice`` (its field names); only what that record tells is set.

What only the addon can resolve stays a plain value under a key of its own:

* ``currency_code``: the ISO code of the currency;
* ``service_chorus_id``: Chorus's id of the recipient's service (with ``service_code`` and
  ``service_name``, which the addon completes from the service it knows);
* ``taxes`` and ``lines``: the VAT recap and the lines, as lists of value dicts that replace the
  invoice's.

Amounts are floats and timestamps naive UTC (what the addon stores), dates ``date``. No Odoo
import here.
"""

from __future__ import annotations

from typing import Optional

from chorus_pro import billing
from chorus_pro.records import (
    IDENTIFIER_TYPES,
    InvoiceDetail,
    InvoiceSummary,
    PivotInvoice,
)
from chorus_pro.statuses import MOTIF_MAX_LENGTH
from chorus_pro.timeutil import to_utc_naive

# The stored values a record completes rather than replaces (when it has nothing better).
KNOWN_FIELDS = ("frame", "supplier_name", "service_name", "factor_name")
# An identifier type Chorus gives that the list does not know.
OTHER_IDENTIFIER_TYPE = "AUTRE"


def invoice_values(record, known: Optional[dict] = None) -> dict:
    """The values of ``chorus.pro.invoice`` that ``record`` tells (see the module docstring).

    ``known``: what is stored already for the fields of :data:`KNOWN_FIELDS`, kept when the
    record has nothing better (a PIVOT without a frame keeps the consult answer's).
    """
    known = known or {}
    if isinstance(record, InvoiceSummary):
        return _summary_values(record)
    if isinstance(record, PivotInvoice):
        return _pivot_values(record, known)
    if isinstance(record, InvoiceDetail):
        return _detail_values(record, known)
    raise TypeError(f"not a Chorus invoice record: {type(record).__name__}")


def identifier_type_value(identifier_type) -> str | bool:
    """A supplier identifier type as stored: one of the list, ``AUTRE`` for one the list does
    not know, ``False`` when there is none."""
    if identifier_type in IDENTIFIER_TYPES:
        return identifier_type
    return OTHER_IDENTIFIER_TYPE if identifier_type else False


def _amount(value) -> float:
    return float(value) if value is not None else 0.0


def _summary_values(summary: InvoiceSummary) -> dict:
    vals = {
        "number": summary.number,
        "payment_request_type": summary.payment_request_type or billing.FACTURE,
        "works_type": summary.works_type or False,
        "chorus_status_code": summary.status,
        "chorus_status_comment": (summary.status_comment or "")[:MOTIF_MAX_LENGTH] or False,
        "status_datetime": to_utc_naive(summary.status_datetime),
        "invoice_date": summary.invoice_date,
        "deposit_date": summary.deposit_date,
        "recipient_chorus_id": summary.recipient_id or 0,
        "recipient_identifier": summary.recipient_code or False,
        "service_chorus_id": summary.service_id or False,
        "service_code": summary.service_code or False,
        "service_name": summary.service_name or False,
        "supplier_name": summary.supplier_name or False,
        "supplier_identifier": summary.supplier_code or False,
        "supplier_identifier_type": identifier_type_value(summary.supplier_identifier_type),
        "purchase_order": summary.purchase_order or False,
        "contract": summary.contract or False,
        "amount_untaxed": _amount(summary.amount_untaxed),
        "amount_total": _amount(summary.amount_total),
        "amount_to_pay": _amount(
            summary.amount_to_pay if summary.amount_to_pay is not None else summary.amount_total
        ),
        "currency_code": summary.currency,
    }
    if summary.amount_untaxed is not None and summary.amount_total is not None:
        vals["amount_tax"] = float(summary.amount_total - summary.amount_untaxed)
    kind = billing.invoice_kind(summary.invoice_type)
    if kind:
        vals["invoice_type"] = kind
    return vals


def _pivot_values(pivot: PivotInvoice, known: dict) -> dict:
    vals = {
        "redelivery": pivot.redelivery or False,
        "origin_invoice_number": pivot.origin_invoice_number or False,
        "frame": billing.full_frame_code(pivot.frame) or known.get("frame") or False,
        "delivery_date": pivot.delivery_date,
        "payment_mode": " ".join(
            part for part in (pivot.payment_mode_code, pivot.payment_mode_label) if part
        ) or False,
        "currency_code": pivot.currency or "EUR",
    }
    if pivot.number:
        vals["number"] = pivot.number
    if pivot.issue_date:
        vals["invoice_date"] = pivot.issue_date
    # The PIVOT only tells a credit note apart: an advance (the search's ACOMPTE) stays one.
    if billing.pivot_invoice_kind(pivot.type_code) == billing.KIND_CREDIT_NOTE:
        vals["invoice_type"] = billing.KIND_CREDIT_NOTE
    supplier = pivot.supplier
    supplier_name = supplier.name or known.get("supplier_name") or False
    if supplier.identifier:
        vals.update(
            supplier_identifier=supplier.identifier,
            supplier_name=supplier_name,
            supplier_country_code=supplier.country_code or False,
        )
        if supplier.identifier_type in IDENTIFIER_TYPES:
            vals["supplier_identifier_type"] = supplier.identifier_type
    bank = pivot.bank
    if bank and bank.account:
        vals.update(
            bank_account_type=bank.account_type or False,
            bank_account=bank.account,
            bank_name=bank.bank_name or False,
            bank_holder=bank.holder or False,
        )
        if bank.bic:
            vals["bank_bic"] = bank.bic
        factored = billing.looks_factored(bank.holder, supplier_name)
        vals["is_factored"] = factored
        if factored:
            vals["factor_name"] = bank.holder
    if pivot.service_code:
        vals["service_code"] = pivot.service_code
        vals["service_name"] = pivot.service_name or known.get("service_name") or False
    if pivot.purchase_order:
        vals["purchase_order"] = pivot.purchase_order
    if pivot.contract:
        vals["contract"] = pivot.contract
    for name in ("amount_untaxed", "amount_total", "amount_to_pay"):
        if getattr(pivot, name) is not None:
            vals[name] = float(getattr(pivot, name))
    if pivot.amount_untaxed is not None and pivot.amount_total is not None:
        vals["amount_tax"] = float(pivot.amount_total - pivot.amount_untaxed)
    vals["taxes"] = [
        {
            "rate": float(tax.rate) if tax.rate is not None else 0.0,
            "base": float(tax.base or 0),
            "amount": float(tax.amount or 0),
        }
        for tax in pivot.taxes
    ]
    vals["lines"] = [
        {
            "sequence": line.sequence or index,
            "reference": line.reference or False,
            "name": line.name or line.reference or False,
            "quantity": float(line.quantity or 0),
            "unit_code": line.unit_code or False,
            "price_unit": float(line.price_unit or 0),
            "discount_amount": float(line.discount_amount or 0),
            "tax_rate": float(line.tax_rate) if line.tax_rate is not None else 0.0,
            "amount_untaxed": float(line.amount_untaxed or 0),
            "amount_tax": float(line.amount_tax) if line.amount_tax is not None else 0.0,
            "amount_total": float(line.amount_total) if line.amount_total is not None else 0.0,
        }
        for index, line in enumerate(pivot.lines, start=1)
    ]
    return vals


def _detail_values(detail: InvoiceDetail, known: dict) -> dict:
    """Only what neither the search nor the PIVOT carry, and only what the answer has."""
    supplier = detail.supplier
    address = supplier.address
    vals = {
        name: value
        for name, value in {
            "supplier_chorus_id": supplier.chorus_id,
            "supplier_street": address.street,
            "supplier_street2": address.street2,
            "supplier_zip": address.zip,
            "supplier_city": address.city,
            "supplier_country_code": address.country_code or supplier.country_code,
            "supplier_rcs": supplier.rcs,
            "supplier_service_code": supplier.service_code,
            "deposit_mode": detail.deposit_mode,
            "supplier_comment": detail.supplier_comment,
            "supplier_due_date": detail.due_date,
            "mandate_number_chorus": detail.mandate_number,
            "frame": billing.full_frame_code(detail.frame),
            "bank_bic": detail.bank.bic if detail.bank else "",
        }.items()
        if value
    }
    factor = detail.factor
    if factor and (factor.name or factor.identifier):
        vals.update(
            is_factored=True,
            factor_name=factor.name or known.get("factor_name") or False,
            factor_identifier=factor.identifier or False,
            factor_identifier_type=factor.identifier_type or False,
            factor_chorus_id=factor.chorus_id or 0,
        )
    return vals
