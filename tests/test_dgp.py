"""Délai global de paiement: the worked examples of public-accounting.md §4.3 and the rules around them."""

import json
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from chorus_pro import dgp
from chorus_pro.dgp import DgpInput, MissingRateError, compute
from chorus_pro.records import StatusEvent, StatusHistory
from chorus_pro.timeutil import PARIS, parse_datetime

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMUNE = DgpInput(body="collectivite", mise_a_disposition=date(2026, 3, 2))


# --------------------------------------------------------------------------- worked examples


def test_example_1_commune_on_time_and_nine_days_late():
    on_time = compute(replace(COMMUNE, paid=date(2026, 4, 1), amount_ttc=Decimal("12000")))
    assert on_time.start == date(2026, 3, 2)
    assert on_time.legal_delay == on_time.delay == 30
    assert on_time.due == date(2026, 4, 1)
    assert on_time.comptable_share == 10
    assert on_time.ordonnateur_target == date(2026, 3, 22)
    assert not on_time.interrupted
    assert on_time.late_days == 0
    assert on_time.interest == Decimal("0.00") and on_time.indemnity == Decimal("0.00")
    assert on_time.rate is None

    late = compute(replace(COMMUNE, paid=date(2026, 4, 10), amount_ttc=Decimal("12000")))
    assert late.due == date(2026, 4, 1)
    assert late.late_days == 9
    assert late.interest_start == date(2026, 4, 2)
    assert late.ecb_rate == Decimal("2.15")
    assert late.rate == Decimal("10.15")
    assert late.interest == Decimal("30.03")  # 12 000 × 0.1015 × 9 / 365
    assert late.indemnity == Decimal("40.00")


def test_example_2_service_performed_after_the_mise_a_disposition():
    result = compute(replace(COMMUNE, service_date=date(2026, 3, 10)))
    assert result.start == date(2026, 3, 10)
    assert result.due == date(2026, 4, 9)
    assert result.ordonnateur_target == date(2026, 3, 30)
    # A service performed before the mise à disposition does not move the start.
    earlier = compute(replace(COMMUNE, service_date=date(2026, 2, 20)))
    assert earlier.start == date(2026, 3, 2) and earlier.due == date(2026, 4, 1)


def test_example_3_suspension_then_completion():
    result = compute(replace(COMMUNE, suspended=date(2026, 3, 9), completed=date(2026, 3, 20)))
    assert result.interrupted and not result.suspension_ignored
    assert result.initial_due == date(2026, 4, 1)
    assert result.remaining_at_suspension == 23
    assert result.new_delay == 30
    assert result.restart == date(2026, 3, 20)
    assert result.due == date(2026, 4, 19)
    assert result.ordonnateur_target == date(2026, 4, 9)
    # A second suspension is refused: the law allows one interruption.
    with pytest.raises(ValueError, match="only one interruption"):
        compute(replace(COMMUNE, suspended=[date(2026, 3, 9), date(2026, 4, 2)], completed=[date(2026, 3, 20)]))
    with pytest.raises(ValueError):
        compute(replace(COMMUNE, suspended=[date(2026, 3, 9)], completed=[date(2026, 3, 20), date(2026, 4, 5)]))


def test_example_4_eps_fifty_days_and_fifteen_for_the_comptable():
    result = compute(DgpInput(body="eps", mise_a_disposition=date(2026, 3, 2)))
    assert result.legal_delay == 50
    assert result.due == date(2026, 4, 21)
    assert result.comptable_share == 15
    assert result.ordonnateur_target == date(2026, 4, 6)


# --------------------------------------------------------------------------- interruption


def test_remaining_balance_kept_when_longer_than_thirty_days():
    # EPS: due 2026-04-21; suspended on 2026-03-05 → 47 days left, more than 30: they are kept.
    result = compute(DgpInput(body="eps", mise_a_disposition=date(2026, 3, 2),
                              suspended=date(2026, 3, 5), completed=date(2026, 3, 10)))
    assert result.remaining_at_suspension == 47
    assert result.new_delay == 47
    assert result.due == date(2026, 4, 26)
    assert result.ordonnateur_target == date(2026, 4, 11)


def test_suspension_after_the_mandate_does_not_interrupt():
    for mandate in (date(2026, 3, 8), date(2026, 3, 9)):  # before, and on the suspension day
        result = compute(replace(COMMUNE, suspended=date(2026, 3, 9), completed=date(2026, 3, 20),
                                 mandate_date=mandate))
        assert not result.interrupted and result.suspension_ignored
        assert result.due == date(2026, 4, 1)
        assert result.restart is None
    before_mandate = compute(replace(COMMUNE, suspended=date(2026, 3, 9), completed=date(2026, 3, 20),
                                     mandate_date=date(2026, 3, 25)))
    assert before_mandate.interrupted and before_mandate.due == date(2026, 4, 19)


def test_suspension_awaiting_completion_stops_the_clock():
    result = compute(replace(COMMUNE, suspended=date(2026, 3, 9), paid=date(2026, 6, 1)))
    assert result.interrupted and result.awaiting_completion
    assert result.due is None and result.ordonnateur_target is None
    assert result.days_left(date(2026, 5, 1)) is None
    assert result.late_days == 0


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"suspended": date(2026, 3, 9), "completed": date(2026, 3, 8)}, "completion cannot precede"),
        ({"suspended": date(2026, 3, 1), "completed": date(2026, 3, 8)}, "cannot precede the mise"),
        ({"completed": date(2026, 3, 8)}, "needs a suspension"),
        ({"body": "mairie"}, "unknown body"),
        ({"convention": "start_day_two"}, "unknown convention"),
        ({"contract_delay": 0}, "positive whole number"),
        ({"contract_delay": "vingt"}, "positive whole number"),
        ({"paid": "2026-04-31"}, "not a YYYY-MM-DD date"),
    ],
)
def test_inconsistent_input_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        compute(replace(COMMUNE, **changes))


# --------------------------------------------------------------------------- bodies and délais


def test_etat_and_entreprise_publique_have_no_comptable_split():
    etat = compute(DgpInput(body="etat", mise_a_disposition=date(2026, 3, 2)))
    assert (etat.legal_delay, etat.due, etat.comptable_share) == (30, date(2026, 4, 1), 0)
    assert etat.ordonnateur_target == etat.due
    public_company = compute(DgpInput(body="entreprise-publique", mise_a_disposition=date(2026, 3, 2)))
    assert public_company.legal_delay == 60
    assert public_company.due == date(2026, 5, 1)
    assert public_company.ordonnateur_target == public_company.due


def test_body_aliases():
    assert dgp.normalize_body("EPCI") == "collectivite"
    assert dgp.normalize_body(" Collectivite ") == "collectivite"
    assert dgp.normalize_body("entreprise_publique") == "entreprise-publique"
    with pytest.raises(ValueError):
        dgp.normalize_body("")


def test_shorter_contract_delay_applies_longer_one_is_capped():
    shorter = compute(replace(COMMUNE, contract_delay=20))
    assert shorter.legal_delay == 30 and shorter.delay == 20
    assert shorter.due == date(2026, 3, 22)
    assert shorter.ordonnateur_target == date(2026, 3, 12)
    longer = compute(replace(COMMUNE, contract_delay=45))
    assert longer.delay == 30 and longer.due == date(2026, 4, 1)
    eps_contract = compute(DgpInput(body="eps", mise_a_disposition=date(2026, 3, 2), contract_delay=40))
    assert eps_contract.due == date(2026, 4, 11) and eps_contract.ordonnateur_target == date(2026, 3, 27)


def test_day_count_convention():
    day_zero = compute(replace(COMMUNE, paid=date(2026, 4, 10), amount_ttc=Decimal("12000")))
    day_one = compute(replace(COMMUNE, paid=date(2026, 4, 10), amount_ttc=Decimal("12000"),
                              convention="start_day_one"))
    assert day_zero.convention == "start_day_zero"  # the default
    assert day_zero.due == date(2026, 4, 1)
    assert day_one.due == date(2026, 3, 31)
    assert day_one.ordonnateur_target == date(2026, 3, 21)
    assert day_one.late_days == 10
    assert day_one.interest == Decimal("33.37")  # 12 000 × 0.1015 × 10 / 365 = 33.369…
    # The convention also applies to the new délai after an interruption.
    interrupted = compute(replace(COMMUNE, suspended=date(2026, 3, 9), completed=date(2026, 3, 20),
                                  convention="start_day_one"))
    assert interrupted.remaining_at_suspension == 22
    assert interrupted.due == date(2026, 4, 18)


# --------------------------------------------------------------------------- interest


def test_interest_rate_is_the_one_of_the_half_year_interest_starts_in():
    # Due 30 June 2025: interest starts on 1 July 2025 → H2 2025 (ECB 2.15 on 1 July).
    end_of_june = compute(DgpInput(body="collectivite", mise_a_disposition=date(2025, 5, 31),
                                   paid=date(2025, 7, 10), amount_ttc=Decimal("10000")))
    assert end_of_june.due == date(2025, 6, 30)
    assert end_of_june.interest_start == date(2025, 7, 1)
    assert end_of_june.late_days == 10
    assert end_of_june.rate == Decimal("10.15")
    assert end_of_june.interest == Decimal("27.81")  # 10 000 × 0.1015 × 10 / 365 = 27.808…

    # One day earlier: interest starts on 30 June → H1 2025 → rate in force on 1 January (3.15),
    # although on 30 June itself the ECB rate was already 2.15.
    assert dgp.ecb_rate_on(date(2025, 6, 30)) == Decimal("2.15")
    day_before = compute(DgpInput(body="collectivite", mise_a_disposition=date(2025, 5, 30),
                                  paid=date(2025, 7, 9), amount_ttc=Decimal("10000")))
    assert day_before.interest_start == date(2025, 6, 30)
    assert day_before.ecb_rate == Decimal("3.15")
    assert day_before.rate_valid_from == date(2024, 12, 18)
    assert day_before.rate == Decimal("11.15")
    assert day_before.interest == Decimal("30.55")  # 10 000 × 0.1115 × 10 / 365 = 30.547…


def test_rates_come_from_the_table_passed_in():
    rates = [(date(2026, 1, 1), Decimal("3.00")), (date(2020, 1, 1), Decimal("0"))]  # any order
    result = compute(replace(COMMUNE, paid=date(2026, 4, 10), amount_ttc=Decimal("12000")), rates=rates)
    assert result.rate == Decimal("11.00")
    assert result.interest == Decimal("32.55")  # 12 000 × 0.11 × 9 / 365 = 32.547…
    with pytest.raises(MissingRateError):
        compute(replace(COMMUNE, paid=date(2026, 4, 10)), rates=[(date(2027, 1, 1), Decimal("1"))])
    # The table is only needed when the payment is late.
    assert compute(replace(COMMUNE, paid=date(2026, 4, 1)), rates=[]).late_days == 0


def test_interest_rounds_half_up_to_the_cent():
    # 10 % over 73 days is exactly 2 % of the amount: 0.25 → 0.005, 1.25 → 0.025.
    assert dgp.late_interest(Decimal("0.25"), Decimal("10"), 73) == Decimal("0.01")
    assert dgp.late_interest(Decimal("1.25"), Decimal("10"), 73) == Decimal("0.03")
    assert dgp.late_interest(None, Decimal("10"), 73) is None


def test_late_without_amount_still_owes_the_indemnity():
    result = compute(replace(COMMUNE, paid=date(2026, 4, 2)))
    assert result.late_days == 1
    assert result.interest is None
    assert result.indemnity == Decimal("40.00")


def test_days_left():
    result = compute(COMMUNE)
    assert result.days_left(date(2026, 3, 30)) == 2
    assert result.days_left(date(2026, 4, 1)) == 0
    assert result.days_left(date(2026, 4, 3)) == -2
    assert result.ordonnateur_days_left(date(2026, 3, 20)) == 2
    # A timestamp counts by its Paris date: 2026-03-31 23:30 UTC is already 1 April in Paris.
    assert result.days_left(datetime(2026, 3, 31, 23, 30, tzinfo=timezone.utc)) == 0


# --------------------------------------------------------------------------- rate table


def test_packaged_rate_table_holds_the_reference_rows():
    rates = dgp.load_ecb_rates()
    assert rates == sorted(rates)
    assert all(isinstance(day, date) and isinstance(rate, Decimal) for day, rate in rates)
    # public-accounting.md §5.2: ECB rate in force on the first day of each half-year.
    expected = {
        date(2023, 1, 1): "2.50", date(2023, 7, 1): "4.00",
        date(2024, 1, 1): "4.50", date(2024, 7, 1): "4.25",
        date(2025, 1, 1): "3.15", date(2025, 7, 1): "2.15",
        date(2026, 1, 1): "2.15", date(2026, 7, 1): "2.15",
    }
    for day, rate in expected.items():
        assert dgp.ecb_rate_on(day, rates) == Decimal(rate), day
    assert (REPO_ROOT / "chorus_pro" / "data" / "ecb_rates.csv").is_file()


def test_rate_table_from_a_file_and_its_errors(tmp_path):
    good = tmp_path / "rates.csv"
    good.write_text("valid_from,ecb_mro_rate\n2026-01-01,3.00\n2025-01-01,2.50\n\n")
    assert dgp.load_ecb_rates(good) == [(date(2025, 1, 1), Decimal("2.50")), (date(2026, 1, 1), Decimal("3.00"))]
    for text, message in [
        ("day,rate\n2026-01-01,3\n", "missing column"),
        ("valid_from,ecb_mro_rate\n2026-13-01,3\n", "line 2"),
        ("valid_from,ecb_mro_rate\n2026-01-01,trois\n", "line 2"),
        ("valid_from,ecb_mro_rate\n2026-01-01,3\n2026-01-01,4\n", "twice"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            dgp.load_ecb_rates(bad)
    with pytest.raises(MissingRateError):
        dgp.ecb_rate_on(date(2000, 1, 1))


# --------------------------------------------------------------------------- Chorus history


def _event(code, when, identifier):
    return StatusEvent(code=code, at=parse_datetime(when), chorus_id=identifier)


def test_dates_from_the_chorus_history_example():
    # chorus-pro-api.md §2.6 example, in the order Chorus returns it (newest first).
    history = StatusHistory(chorus_id=98765432, events=[
        _event("MISE_A_DISPOSITION", "2025-01-22 10:36", 6),
        _event("COMPLETEE", "2025-01-21 16:02", 5),
        _event("SUSPENDUE", "2025-01-20 09:15", 4),
        _event("MISE_A_DISPOSITION", "2025-01-15 09:12", 2),
    ])
    dates = dgp.mise_a_disposition_from_history(history)
    assert dates.mise_a_disposition == date(2025, 1, 15)
    assert (dates.suspended, dates.completed) == (date(2025, 1, 20), date(2025, 1, 21))
    assert dates.suspension_count == 1
    assert dates.mandated is None and dates.paid is None
    result = compute(DgpInput(body="collectivite", mise_a_disposition=dates.mise_a_disposition,
                              suspended=dates.suspended, completed=dates.completed))
    # due 2025-02-14, 25 days left on 20 January → 30 days from 21 January.
    assert result.remaining_at_suspension == 25 and result.due == date(2025, 2, 20)


def test_history_dates_are_paris_dates():
    # Summer: 00:30 in Paris is 22:30 UTC the day before. Winter: 23:30 Paris is 22:30 UTC same day.
    summer = datetime(2026, 6, 30, 22, 30, tzinfo=timezone.utc)
    winter = datetime(2026, 1, 15, 23, 30, tzinfo=PARIS)
    assert summer.astimezone(PARIS).date() == date(2026, 7, 1)
    assert winter.astimezone(timezone.utc).date() == date(2026, 1, 15)
    for made_available, expected in ((summer, date(2026, 7, 1)), (winter, date(2026, 1, 15))):
        history = StatusHistory(chorus_id=1, events=[StatusEvent("MISE_A_DISPOSITION", at=made_available)])
        assert dgp.mise_a_disposition_from_history(history).mise_a_disposition == expected
    # And in compute(): a timestamp given as the start counts by its Paris date.
    result = compute(DgpInput(body="collectivite", mise_a_disposition=summer))
    assert result.start == date(2026, 7, 1) and result.due == date(2026, 7, 31)


def test_same_minute_events_follow_their_history_ids():
    # Newest first, as Chorus lists it, with the suspension and the completion in one minute:
    # sorting on the time alone would put the completion before the suspension.
    history = StatusHistory(chorus_id=3, events=[
        _event("COMPLETEE", "2026-03-09 10:15", 12),
        _event("SUSPENDUE", "2026-03-09 10:15", 11),
        _event("MISE_A_DISPOSITION", "2026-03-02 09:00", 10),
    ])
    dates = dgp.mise_a_disposition_from_history(history)
    assert dates.suspensions == ((date(2026, 3, 9), date(2026, 3, 9)),)
    assert (dates.suspended, dates.completed) == (date(2026, 3, 9), date(2026, 3, 9))


def test_history_with_two_suspensions_recycling_and_payment():
    history = StatusHistory(chorus_id=2, events=[
        _event("MISE_A_DISPOSITION", "2026-01-05 08:00", 1),
        _event("A_RECYCLER", "2026-01-06 09:00", 2),  # sent to the wrong recipient first
        _event("MISE_A_DISPOSITION", "2026-01-12 10:00", 3),
        _event("SUSPENDUE", "2026-01-14 11:00", 4),
        _event("COMPLETEE", "2026-01-16 12:00", 5),
        _event("MISE_A_DISPOSITION", "2026-01-16 12:01", 6),
        _event("SUSPENDUE", "2026-01-20 11:00", 7),
        _event("MANDATEE", "2026-02-02 15:00", 8),
        _event("MISE_EN_PAIEMENT", "2026-02-10 07:00", 9),
        StatusEvent("SERVICE_FAIT", at=None),  # no timestamp: ignored
    ])
    dates = dgp.mise_a_disposition_from_history(history)
    assert dates.mise_a_disposition == date(2026, 1, 12)  # after the recycling
    assert dates.suspension_count == 2
    assert dates.suspensions == ((date(2026, 1, 14), date(2026, 1, 16)), (date(2026, 1, 20), None))
    assert (dates.suspended, dates.completed) == (date(2026, 1, 20), None)
    assert dates.mandated == date(2026, 2, 2)
    assert dates.paid == date(2026, 2, 10)
    # Feeding every suspension to compute() is refused, as the law allows only one.
    with pytest.raises(ValueError, match="only one interruption"):
        compute(DgpInput(body="collectivite", mise_a_disposition=dates.mise_a_disposition,
                         suspended=[s for s, _c in dates.suspensions]))


# --------------------------------------------------------------------------- command line


def test_cli_prints_one_json_object():
    completed = subprocess.run(
        [sys.executable, "-m", "chorus_pro.dgp", "--body", "collectivite",
         "--mise-a-disposition", "2026-03-02", "--paid", "2026-04-10", "--amount-ttc", "12000"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["start"] == "2026-03-02"
    assert output["due"] == "2026-04-01"
    assert output["ordonnateur_target"] == "2026-03-22"
    assert output["late_days"] == 9
    assert output["interest"] == "30.03"
    assert output["indemnity"] == "40.00"
    assert output["rate"] == "10.15"


def test_cli_rejects_bad_input_with_exit_code_2():
    completed = subprocess.run(
        [sys.executable, "-m", "chorus_pro.dgp", "--body", "collectivite",
         "--mise-a-disposition", "02/03/2026"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 2
    assert "not a YYYY-MM-DD date" in completed.stderr
    assert completed.stdout == ""


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--body", "mairie", "--mise-a-disposition", "2026-03-02"], "invalid choice"),
        (["--body", "eps"], "--mise-a-disposition"),
        (["--body", "eps", "--mise-a-disposition", "2026-03-02", "--suspended", "2026-03-05",
          "--suspended", "2026-03-20"], "only one interruption"),
        (["--body", "eps", "--mise-a-disposition", "2026-03-02", "--completed", "2026-03-05"], "needs --suspended"),
        (["--body", "eps", "--mise-a-disposition", "2026-03-02", "--amount-ttc", "12 000"], "not an amount"),
        (["--body", "eps", "--mise-a-disposition", "2026-03-02", "--contract-delay", "-5"], "positive number of days"),
        (["--body", "eps", "--mise-a-disposition", "2026-03-02", "--paid", "2026-06-01",
          "--rates", "/nonexistent/rates.csv"], "No such file"),
    ],
)
def test_cli_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        dgp.main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_in_process_with_suspension_and_convention(capsys):
    assert dgp.main(["--body", "collectivite", "--mise-a-disposition", "2026-03-02",
                     "--suspended", "2026-03-09", "--completed", "2026-03-20",
                     "--convention", "start_day_zero"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["due"] == "2026-04-19"
    assert output["interrupted"] is True
    assert output["late_days"] == 0 and output["interest"] == "0.00" and output["rate"] is None


def test_only_the_first_suspension_interrupts():
    changes = [("MISE_A_DISPOSITION", "2026-03-02"), ("SUSPENDUE", "2026-03-05"),
               ("COMPLETEE", "2026-03-09"), ("SUSPENDUE", "2026-03-12"), ("COMPLETEE", "2026-03-16")]
    history = StatusHistory(chorus_id=4, events=[
        _event(code, f"{day} 10:00", 20 + index) for index, (code, day) in enumerate(changes)
    ])
    dates = dgp.mise_a_disposition_from_history(history)
    assert dates.suspension_count == 2 and dates.ignored_suspensions == 1
    # The first pair interrupts (R2192-27); suspended / completed keep naming the last pair.
    assert dates.interruption == (date(2026, 3, 5), date(2026, 3, 9))
    assert (dates.suspended, dates.completed) == (date(2026, 3, 12), date(2026, 3, 16))
    assert dgp.interruption_of(dates.suspensions) == dates.interruption
    suspended, completed = dates.interruption
    result = compute(DgpInput(body="collectivite", mise_a_disposition=dates.mise_a_disposition,
                              suspended=suspended, completed=completed))
    # due 2026-04-01, 27 days left on 5 March → 30 days from 9 March.
    assert result.interrupted and result.due == date(2026, 4, 8)


def test_no_suspension_no_interruption():
    dates = dgp.HistoryDates(mise_a_disposition=date(2026, 3, 2))
    assert dates.interruption == (None, None)
    assert dates.ignored_suspensions == 0
    assert dgp.interruption_of(()) == (None, None)
    assert dgp.interruption_of([(date(2026, 3, 5), None)]) == (date(2026, 3, 5), None)


def test_late_payment_interest_is_due_within_45_days_of_the_payment():
    assert dgp.INTEREST_PAYMENT_DAYS == 45
    assert dgp.interest_due_by(date(2026, 4, 10)) == date(2026, 5, 25)
    assert dgp.interest_due_by(date(2026, 12, 20)) == date(2027, 2, 3)
