"""chorus_pro.mapping: one function maps what Chorus says of an invoice to the stored values."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from chorus_pro.mapping import KNOWN_FIELDS, identifier_type_value, invoice_values
from chorus_pro.records import (
    Address,
    BankDetails,
    Factor,
    InvoiceDetail,
    InvoiceLine,
    InvoiceSummary,
    PivotInvoice,
    Supplier,
    TaxLine,
)
from chorus_pro.timeutil import PARIS


def summary(**overrides):
    values = dict(
        chorus_id=98760001, number="F-2026-001", invoice_type="AVOIR", status="MISE_A_DISPOSITION",
        status_datetime=datetime(2026, 3, 9, 10, 12, 44, tzinfo=PARIS), status_comment="x" * 300,
        invoice_date=date(2026, 3, 2), deposit_date=date(2026, 3, 3), currency="EUR",
        amount_untaxed=Decimal("1000.00"), amount_total=Decimal("1200.00"), amount_to_pay=None,
        recipient_id=25123456, recipient_code="21739012900013", service_id=11, service_code="ECOLES",
        supplier_code="73282932000074", supplier_identifier_type="SIRET",
        supplier_name="BTP SAVOIE", purchase_order="EJ-1",
    )
    values.update(overrides)
    return InvoiceSummary(**values)


def pivot(**overrides):
    values = dict(
        number="F-2026-001", type_code="381", frame="A2", issue_date=date(2026, 3, 2),
        payment_mode_code="30", payment_mode_label="Virement", currency="EUR",
        amount_untaxed=Decimal("100.00"), amount_total=Decimal("120.00"),
        amount_to_pay=Decimal("120.00"),
        taxes=[TaxLine(rate=Decimal("20"), base=Decimal("100"), amount=Decimal("20"))],
        lines=[InvoiceLine(reference="REF", quantity=Decimal("2"), price_unit=Decimal("50"),
                           tax_rate=Decimal("20"), amount_untaxed=Decimal("100"))],
        supplier=Supplier(identifier="73282932000074", identifier_type="SIRET", name="BTP Savoie",
                          country_code="FR"),
        bank=BankDetails(account="FR7630004000031234567890143", bic="BNPAFRPP",
                         holder="FACTOR SA"),
        service_code="ECOLES",
    )
    values.update(overrides)
    return PivotInvoice(**values)


def test_a_search_item_gives_status_amounts_parties_and_what_odoo_resolves():
    vals = invoice_values(summary())
    assert vals["chorus_status_code"] == "MISE_A_DISPOSITION"
    assert vals["chorus_status_comment"] == "x" * 255
    # Naive UTC, as Odoo stores it (10:12 in Paris in winter is 09:12 UTC).
    assert vals["status_datetime"] == datetime(2026, 3, 9, 9, 12, 44)
    assert (vals["amount_untaxed"], vals["amount_total"], vals["amount_tax"]) == (1000.0, 1200.0, 200.0)
    assert vals["amount_to_pay"] == 1200.0, "nothing said about the net: the total"
    assert vals["invoice_type"] == "credit_note"
    assert vals["payment_request_type"] == "FACTURE"
    assert (vals["service_chorus_id"], vals["service_code"], vals["service_name"]) == (11, "ECOLES", False)
    assert vals["currency_code"] == "EUR"
    assert vals["supplier_identifier_type"] == "SIRET"
    assert vals["contract"] is False


def test_a_search_item_keeps_what_it_does_not_know_apart():
    vals = invoice_values(summary(invoice_type="NOTE", supplier_identifier_type="GALACTIC",
                                  amount_untaxed=None))
    assert "invoice_type" not in vals, "an unknown type keeps what the invoice had"
    assert vals["supplier_identifier_type"] == "AUTRE"
    assert "amount_tax" not in vals
    assert identifier_type_value("") is False


def test_a_pivot_gives_frame_credit_note_bank_factor_vat_and_lines():
    vals = invoice_values(pivot())
    assert vals["frame"] == "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"
    assert vals["invoice_type"] == "credit_note"
    assert vals["payment_mode"] == "30 Virement"
    assert (vals["bank_account"], vals["bank_bic"], vals["bank_holder"]) == (
        "FR7630004000031234567890143", "BNPAFRPP", "FACTOR SA")
    assert vals["is_factored"] is True and vals["factor_name"] == "FACTOR SA"
    assert vals["taxes"] == [{"rate": 20.0, "base": 100.0, "amount": 20.0}]
    assert vals["lines"][0]["sequence"] == 1 and vals["lines"][0]["name"] == "REF"
    assert vals["amount_tax"] == 20.0
    assert vals["service_code"] == "ECOLES" and vals["service_name"] is False


def test_a_pivot_completes_what_is_known_rather_than_erasing_it():
    known = {"frame": "A1_FACTURE_FOURNISSEUR", "supplier_name": "BTP SAVOIE",
             "service_name": "Écoles", "factor_name": False}
    assert set(known) == set(KNOWN_FIELDS)
    vals = invoice_values(pivot(frame="", type_code="380",
                                supplier=Supplier(identifier="73282932000074", name=""),
                                bank=BankDetails(account="FR76...", holder="BTP Savoie ")),
                          known)
    assert vals["frame"] == "A1_FACTURE_FOURNISSEUR"
    assert "invoice_type" not in vals, "380: an advance stays an advance"
    assert vals["supplier_name"] == "BTP SAVOIE"
    assert vals["is_factored"] is False, "the holder is the supplier"
    assert vals["service_name"] == "Écoles"
    assert "supplier_identifier_type" not in vals


def test_a_consult_answer_gives_only_what_it_has():
    detail = InvoiceDetail(
        chorus_id=98760001, frame="A5",
        supplier=Supplier(chorus_id=4242, country_code="FR",
                          address=Address(street="1 rue du Lac", city="Chambéry")),
        factor=Factor(identifier="41234567800011", identifier_type="SIRET", chorus_id=77),
        mandate_number="M-815",
    )
    vals = invoice_values(detail, {"factor_name": "FACTOR SA"})
    assert vals == {
        "supplier_chorus_id": 4242,
        "supplier_street": "1 rue du Lac",
        "supplier_city": "Chambéry",
        "supplier_country_code": "FR",
        "mandate_number_chorus": "M-815",
        "frame": "A5_ETAT_ACOMPTE_FOURNISSEUR",
        "is_factored": True,
        "factor_name": "FACTOR SA",
        "factor_identifier": "41234567800011",
        "factor_identifier_type": "SIRET",
        "factor_chorus_id": 77,
    }
    assert invoice_values(InvoiceDetail(chorus_id=1)) == {}


def test_anything_else_is_refused():
    with pytest.raises(TypeError):
        invoice_values({"idFacture": 1})
    assert invoice_values(summary(status_datetime=datetime(2026, 7, 1, 12, tzinfo=timezone.utc)))[
        "status_datetime"] == datetime(2026, 7, 1, 12)
