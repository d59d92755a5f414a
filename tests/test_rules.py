"""The rules the library owns for the addon: status sets, billing frames and invoice types, the
factoring guess, the technical password lifetime, and the one naive-datetime convention."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from chorus_pro import account, billing
from chorus_pro import statuses as st
from chorus_pro import timeutil
from chorus_pro.timeutil import PARIS


# -- status sets -------------------------------------------------------------------------------------
def test_status_sets_hold_known_codes_only():
    sets = [st.AWAITING_DECISION, st.MOTIF_REQUIRED, st.COMPTABLE_STATUSES, st.FINAL, st.RETURNED,
            st.RETURNED_FOR_GOOD, st.MANDATED, st.MANDATE_FROM, st.PUSHABLE, st.NOT_YET_AVAILABLE,
            st.DELAY_STOPPED, st.NOT_TO_MATCH, st.MAIN]
    for codes in sets:
        assert isinstance(codes, frozenset)
        assert codes <= set(st.CODES), codes


def test_mandated_is_mandatee_and_the_comptable_side():
    assert st.MANDATED == {st.MANDATEE, st.MISE_A_DISPOSITION_COMPTABLE, st.COMPTABILISEE,
                           st.MISE_EN_PAIEMENT}
    assert st.is_mandated([st.MISE_A_DISPOSITION, st.SERVICE_FAIT, st.COMPTABILISEE])
    assert st.is_mandated(st.MANDATEE)  # one status as a string, not its letters
    assert not st.is_mandated([st.MISE_A_DISPOSITION, st.SERVICE_FAIT])
    assert not st.is_mandated("")


def test_returns():
    assert st.RETURNED == {st.REJETEE, st.SUSPENDUE, st.A_RECYCLER}
    assert st.RETURNED_FOR_GOOD == {st.REJETEE, st.A_RECYCLER}
    assert st.RETURNED_FOR_GOOD < st.RETURNED


def test_mandate_from_is_what_the_matrix_allows():
    assert st.MANDATE_FROM == {
        current for current, targets in st.RECIPIENT_TRANSITIONS.items() if st.MANDATEE in targets
    }
    assert st.MANDATE_FROM == {st.MISE_A_DISPOSITION, st.COMPLETEE, st.SERVICE_FAIT}


def test_pushable_is_the_decisions_and_mandatee():
    assert st.PUSHABLE == {st.SERVICE_FAIT, st.REJETEE, st.SUSPENDUE, st.A_RECYCLER, st.MANDATEE}
    assert not st.PUSHABLE & st.COMPTABLE_STATUSES  # the comptable's statuses are Hélios's


def test_delay_stops_when_returned_for_good_or_mandated():
    assert st.DELAY_STOPPED == {st.REJETEE, st.A_RECYCLER, st.MANDATEE,
                                st.MISE_A_DISPOSITION_COMPTABLE, st.COMPTABILISEE,
                                st.MISE_EN_PAIEMENT}
    # Suspended: the clock is interrupted, not stopped for good.
    assert not st.DELAY_STOPPED & (st.AWAITING_DECISION | {st.SUSPENDUE, st.SERVICE_FAIT})


def test_small_sets():
    assert st.NOT_YET_AVAILABLE == {st.DEPOSEE, st.EN_COURS_ACHEMINEMENT}
    assert st.NOT_TO_MATCH == {st.REJETEE}
    assert st.MAIN == {st.MISE_A_DISPOSITION, st.COMPLETEE, st.SUSPENDUE, st.SERVICE_FAIT,
                       st.MANDATEE, st.MISE_EN_PAIEMENT, st.REJETEE, st.A_RECYCLER}


# -- billing frames and invoice types ------------------------------------------------------------------
def test_frames_table():
    assert len(billing.FRAMES) == 25
    for short, full in billing.FRAMES.items():
        assert full.startswith(short + "_")
        assert billing.short_frame_code(full) == short
        assert billing.full_frame_code(short) == full
        assert billing.full_frame_code(full) == full


def test_full_frame_code_keeps_what_it_does_not_know():
    assert billing.full_frame_code("") == billing.full_frame_code(None) == ""
    assert billing.full_frame_code("A99_NOUVEAU") == "A99_NOUVEAU"
    assert billing.short_frame_code(None) == ""


def test_what_frames_imply():
    assert billing.is_already_paid("A2")
    assert billing.is_already_paid("A2_FACTURE_FOURNISSEUR_DEJA_PAYEE")
    assert not billing.is_already_paid("A1_FACTURE_FOURNISSEUR")
    assert billing.A2_ALREADY_PAID == "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"
    works = {billing.short_frame_code(frame) for frame in billing.WORKS_FRAMES}
    assert works == {"A4", "A5", "A6", "A7", "A8"} | {f"A{n}" for n in range(13, 26)}
    assert billing.is_works_frame("A5") and billing.is_works_frame("A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR")
    assert not billing.is_works_frame("A1") and not billing.is_works_frame("A9")


def test_invoice_kinds():
    assert billing.invoice_kind("FACTURE") == "invoice"
    assert billing.invoice_kind("AVOIR") == "credit_note"
    assert billing.invoice_kind(" acompte ") == "advance"
    assert billing.invoice_kind("AUTRE") is None and billing.invoice_kind(None) is None
    assert billing.pivot_invoice_kind("380") == "invoice"
    assert billing.pivot_invoice_kind("381") == "credit_note"
    assert billing.pivot_invoice_kind("") is None
    assert billing.PAYMENT_REQUEST_TYPES == ("FACTURE", "FACTURE_TRAVAUX")


@pytest.mark.parametrize("holder, supplier, factored", [
    ("FACTOR SA", "BTP DUPONT", True),
    (" btp dupont ", "BTP DUPONT", False),
    ("", "BTP DUPONT", False),
    ("FACTOR SA", "", False),
    (None, None, False),
])
def test_factoring_guess(holder, supplier, factored):
    assert billing.looks_factored(holder, supplier) is factored


# -- technical account ---------------------------------------------------------------------------------
def test_technical_password_lives_424_days():
    assert account.TECHNICAL_PASSWORD_LIFETIME_DAYS == 424
    assert account.password_expiry(date(2026, 1, 1)) == date(2027, 3, 1)
    assert (account.password_expiry(date(2026, 3, 15)) - date(2026, 3, 15)).days == 424


# -- one convention for naive datetimes: Paris local time --------------------------------------------
# 23:30 in Paris on 2 March is 22:30 UTC; 00:30 in Paris on 1 July is 22:30 UTC on 30 June.
EVENING = datetime(2026, 3, 2, 23, 30)
NIGHT = datetime(2026, 7, 1, 0, 30)


def test_naive_datetimes_are_paris_time_everywhere():
    assert timeutil.as_aware(EVENING) == datetime(2026, 3, 2, 23, 30, tzinfo=PARIS)
    assert timeutil.parse_datetime(EVENING) == timeutil.as_aware(EVENING)
    assert timeutil.paris_date(EVENING) == date(2026, 3, 2)
    assert timeutil.paris_date(NIGHT) == date(2026, 7, 1)
    assert timeutil.to_utc_naive(EVENING) == datetime(2026, 3, 2, 22, 30)
    assert timeutil.format_chorus_datetime(EVENING) == "2026-03-02T23:30:00"
    assert timeutil.format_chorus_datetime(NIGHT) == "2026-07-01T00:30:00"


def test_aware_datetimes_keep_their_zone():
    utc = datetime(2026, 6, 30, 22, 30, tzinfo=timezone.utc)
    assert timeutil.as_aware(utc) is utc
    assert timeutil.paris_date(utc) == date(2026, 7, 1)
    assert timeutil.format_chorus_datetime(utc) == "2026-07-01T00:30:00"


def test_odoo_naive_utc_is_converted_at_the_boundary():
    odoo_value = datetime(2026, 6, 30, 22, 30)  # naive UTC, as Odoo stores it
    aware = timeutil.from_utc_naive(odoo_value)
    assert aware == datetime(2026, 6, 30, 22, 30, tzinfo=timezone.utc)
    assert timeutil.paris_date(aware) == date(2026, 7, 1)
    assert timeutil.to_utc_naive(aware) == odoo_value  # the round trip is exact
    assert timeutil.from_utc_naive(None) is None
    assert timeutil.from_utc_naive(aware) is aware


def test_paris_today():
    before = datetime.now(PARIS).date()
    today = timeutil.paris_today()
    assert before <= today <= datetime.now(PARIS).date()


def test_token_and_evidence_follow_the_convention():
    from chorus_pro.evidence import canonical_payload
    from chorus_pro.token import _aware_utc

    assert _aware_utc(EVENING) == datetime(2026, 3, 2, 22, 30, tzinfo=timezone.utc)
    assert canonical_payload(b"q", b"a", EVENING) == canonical_payload(
        b"q", b"a", datetime(2026, 3, 2, 22, 30, tzinfo=timezone.utc))
