"""Délai global de paiement (DGP), intérêts moratoires and the 40 € indemnity.

Rules (Code de la commande publique, see ``public-accounting.md`` §4–§5):

* délai: 30 days for the État and collectivités / EPCI / local public bodies (R2192-10), 50 days
  for établissements publics de santé, 60 days for entreprises publiques (R2192-11); a shorter
  contractual délai applies instead, a longer one is capped by the law (L2192-10);
* start: the Chorus Pro *mise à disposition* date (R2192-15), or the date the service was
  performed when later (R2192-13);
* one interruption only (R2192-27), notified before the mandat when there is a comptable; once
  the supplier completes the invoice a new délai of 30 days, or the balance left when longer,
  runs from the completion date (R2192-29);
* ordonnateur / comptable split (décret 2013-269 art. 12): the comptable has 10 days (15 for an
  EPS), so the ordonnateur must send the mandat by ``due - comptable share``; the État and
  entreprises publiques have no such split here;
* late payment: interest = TTC amount × (ECB main refinancing rate in force on the first day of
  the half-year in which interest starts to run + 8 points) × days late / 365 (R2192-31), plus a
  flat 40 € indemnity (D2192-35), both to be paid within 45 days of the payment of the invoice
  (R2192-36, :func:`interest_due_by`).

Day counting (the law does not say; ``public-accounting.md`` marks it unconfirmed) is one explicit
parameter, ``convention``:

* ``"start_day_zero"`` (default): the start day is day 0 and the délai ends at the end of
  ``start + N``. It is how practitioners count (DGP = payment date − reception date, compared with
  N) and what the worked examples of the reference use (made available 2026-03-02 → due
  2026-04-01);
* ``"start_day_one"``: the start day counts as day 1, so the délai ends at ``start + N − 1``.

ECB rates are data, never code: ``chorus_pro/data/ecb_rates.csv`` (``valid_from`` = the date an
ECB main refinancing rate took effect, ``ecb_mro_rate`` in percent). Every computation takes the
rate table as an argument (the Odoo addon passes its own editable table); ``None`` means the CSV.

No Odoo import here. Run ``python -m chorus_pro.dgp --help`` for the command-line calculator.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Iterable, Optional, Sequence, Union

from . import statuses
from .records import StatusHistory
from .timeutil import paris_date

BODY_ETAT = "etat"
BODY_COLLECTIVITE = "collectivite"
BODY_EPS = "eps"
BODY_ENTREPRISE_PUBLIQUE = "entreprise-publique"
BODY_KINDS = (BODY_ETAT, BODY_COLLECTIVITE, BODY_EPS, BODY_ENTREPRISE_PUBLIQUE)
# Other names callers may use for the same kinds of body.
BODY_ALIASES = {
    "epci": BODY_COLLECTIVITE,
    "commune": BODY_COLLECTIVITE,
    "entreprise_publique": BODY_ENTREPRISE_PUBLIQUE,
}

LEGAL_DELAYS = {
    BODY_ETAT: 30,
    BODY_COLLECTIVITE: 30,
    BODY_EPS: 50,
    BODY_ENTREPRISE_PUBLIQUE: 60,
}
# Comptable's share of the délai (décret 2013-269 art. 12); absent = no ordonnateur/comptable split.
COMPTABLE_SHARES = {
    BODY_COLLECTIVITE: 10,
    BODY_EPS: 15,
}
DELAY_AFTER_INTERRUPTION = 30  # R2192-29: 30 days, or the balance left when longer
INTEREST_MARGIN = Decimal("8")  # points over the ECB rate (R2192-31)
INDEMNITY = Decimal("40.00")  # D2192-35
DAYS_PER_YEAR = 365
INTEREST_PAYMENT_DAYS = 45  # R2192-36: interest and indemnity are paid within 45 days
CENT = Decimal("0.01")

CONVENTION_START_DAY_ZERO = "start_day_zero"
CONVENTION_START_DAY_ONE = "start_day_one"
CONVENTIONS = (CONVENTION_START_DAY_ZERO, CONVENTION_START_DAY_ONE)
DEFAULT_CONVENTION = CONVENTION_START_DAY_ZERO

RATES_RESOURCE = "data/ecb_rates.csv"

DateLike = Union[date, datetime, str]


class MissingRateError(ValueError):
    """No ECB rate in the table covers the day asked for (the table must be completed)."""


# --------------------------------------------------------------------------- rate table


def load_ecb_rates(path=None) -> list:
    """Read an ECB rate table (CSV ``valid_from,ecb_mro_rate``) as ``[(date, Decimal)]``, sorted.

    Without ``path``, the table shipped with the package (``chorus_pro/data/ecb_rates.csv``).
    Raises :class:`ValueError` on a malformed file (missing column, bad date or rate, a date twice).
    """
    if path is None:
        return list(_packaged_rates())
    with open(path, newline="", encoding="utf-8") as handle:
        return _parse_rates(handle.read(), str(path))


@lru_cache(maxsize=1)
def _packaged_rates() -> tuple:
    text = resources.files(__package__).joinpath(RATES_RESOURCE).read_text(encoding="utf-8")
    return tuple(_parse_rates(text, RATES_RESOURCE))


def _parse_rates(text: str, origin: str) -> list:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"valid_from", "ecb_mro_rate"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{origin}: missing column(s) {', '.join(sorted(missing))}")
    rows = {}
    for line_number, row in enumerate(reader, start=2):
        raw_day = (row["valid_from"] or "").strip()
        raw_rate = (row["ecb_mro_rate"] or "").strip()
        if not raw_day and not raw_rate:
            continue
        try:
            day = date.fromisoformat(raw_day)
            rate = Decimal(raw_rate)
        except (ValueError, InvalidOperation):
            raise ValueError(f"{origin} line {line_number}: bad row {raw_day!r}, {raw_rate!r}") from None
        if not rate.is_finite():
            raise ValueError(f"{origin} line {line_number}: bad rate {raw_rate!r}")
        if day in rows:
            raise ValueError(f"{origin} line {line_number}: {day} appears twice")
        rows[day] = rate
    return sorted(rows.items())


def _normalize_rates(rates: Optional[Iterable]) -> list:
    if rates is None:
        return list(_packaged_rates())
    return sorted((_as_date(day, "valid_from"), Decimal(str(rate))) for day, rate in rates)


def ecb_rate_row(day: DateLike, rates: Optional[Iterable] = None) -> tuple:
    """The ``(valid_from, rate)`` row in force on ``day``; :class:`MissingRateError` if none."""
    day = _as_date(day, "day")
    found = None
    for row in _normalize_rates(rates):
        if row[0] > day:
            break
        found = row
    if found is None:
        raise MissingRateError(f"no ECB rate known on {day.isoformat()}: complete the rate table")
    return found


def ecb_rate_on(day: DateLike, rates: Optional[Iterable] = None) -> Decimal:
    """ECB main refinancing rate (percent) in force on ``day``."""
    return ecb_rate_row(day, rates)[1]


def half_year_start(day: date) -> date:
    """1 January or 1 July of the half-year ``day`` falls in."""
    return date(day.year, 1 if day.month <= 6 else 7, 1)


# --------------------------------------------------------------------------- computation


@dataclass(frozen=True)
class DgpInput:
    """What the DGP of one invoice depends on. Dates are Paris calendar dates.

    ``suspended`` / ``completed`` are the interruption's notification and completion dates; the
    law allows one interruption, so giving several (a sequence of more than one date) is refused.
    ``mandate_date`` is the ordonnancement date: a suspension on or after it does not interrupt.
    ``contract_delay`` is the contract's délai in days, used only when shorter than the law's.
    """

    body: str
    mise_a_disposition: date
    service_date: Optional[date] = None
    suspended: Union[date, Sequence[date], None] = None
    completed: Union[date, Sequence[date], None] = None
    mandate_date: Optional[date] = None
    paid: Optional[date] = None
    amount_ttc: Optional[Decimal] = None
    contract_delay: Optional[int] = None
    convention: str = DEFAULT_CONVENTION


@dataclass(frozen=True)
class DgpResult:
    """Outcome of :func:`compute`.

    ``start`` is when the initial délai started; after an interruption the running délai restarts
    on ``restart`` (the completion date) for ``new_delay`` days. ``due`` is the last day of the
    running délai (``None`` while an interruption awaits completion: the clock is stopped).
    ``rate`` is the late-payment interest rate in percent (ECB rate + 8), set only when late.
    """

    body: str
    convention: str
    start: date
    legal_delay: int
    delay: int
    initial_due: date
    due: Optional[date]
    comptable_share: int
    ordonnateur_target: Optional[date]
    interrupted: bool = False
    suspension_ignored: bool = False
    restart: Optional[date] = None
    remaining_at_suspension: Optional[int] = None
    new_delay: Optional[int] = None
    late_days: int = 0
    interest_start: Optional[date] = None
    ecb_rate: Optional[Decimal] = None
    rate_valid_from: Optional[date] = None
    rate: Optional[Decimal] = None
    interest: Optional[Decimal] = Decimal("0.00")
    indemnity: Decimal = Decimal("0.00")

    @property
    def awaiting_completion(self) -> bool:
        """Interrupted and not completed yet: no due date until the supplier completes."""
        return self.interrupted and self.due is None

    def days_left(self, today: DateLike) -> Optional[int]:
        """Days until ``due`` (0 on the due date, negative once overdue); ``None`` if no due date."""
        if self.due is None:
            return None
        return (self.due - _as_date(today, "today")).days

    def ordonnateur_days_left(self, today: DateLike) -> Optional[int]:
        """Days until the ordonnateur's target (the real deadline for the mandat)."""
        if self.ordonnateur_target is None:
            return None
        return (self.ordonnateur_target - _as_date(today, "today")).days

    def as_dict(self) -> dict:
        """JSON-ready view: dates ISO, amounts and rates as strings with two decimals."""
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value.quantize(CENT, rounding=ROUND_HALF_UP))
            out[name] = value
        return out


def normalize_body(body: str) -> str:
    """Canonical body kind (one of :data:`BODY_KINDS`); :class:`ValueError` when unknown."""
    key = str(body or "").strip().lower()
    key = BODY_ALIASES.get(key, key)
    if key not in BODY_KINDS:
        raise ValueError(f"unknown body kind {body!r}: expected one of {', '.join(BODY_KINDS)}")
    return key


def compute(dgp_input: DgpInput, rates: Optional[Iterable] = None) -> DgpResult:
    """Compute the DGP of one invoice: due date, ordonnateur target, lateness, interest.

    ``rates`` is the ECB rate table ``[(valid_from, rate)]`` (default: the packaged CSV); it is
    only read when the payment is late. Raises :class:`ValueError` on inconsistent input (unknown
    body or convention, several interruptions, completion before suspension…) and
    :class:`MissingRateError` when the table has no rate for the interest period.
    """
    body = normalize_body(dgp_input.body)
    convention = dgp_input.convention or DEFAULT_CONVENTION
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    # With "start day one" the start day already counts: the délai ends one day earlier.
    last_day_offset = 1 if convention == CONVENTION_START_DAY_ONE else 0

    made_available = _as_date(dgp_input.mise_a_disposition, "mise_a_disposition")
    if made_available is None:
        raise ValueError("mise_a_disposition is required")
    service_date = _as_date(dgp_input.service_date, "service_date")
    mandate_date = _as_date(dgp_input.mandate_date, "mandate_date")
    paid = _as_date(dgp_input.paid, "paid")

    legal_delay = LEGAL_DELAYS[body]
    delay = legal_delay
    if dgp_input.contract_delay is not None:
        contract_delay = _positive_int(dgp_input.contract_delay, "contract_delay")
        delay = min(contract_delay, legal_delay)  # a longer contractual délai is capped by the law

    start = made_available
    if service_date and service_date > made_available:
        start = service_date
    initial_due = start + timedelta(days=delay - last_day_offset)
    due: Optional[date] = initial_due

    suspended, completed = _single_interruption(dgp_input.suspended, dgp_input.completed)
    interrupted = suspension_ignored = False
    restart = remaining = new_delay = None
    if suspended is not None:
        if suspended < made_available:
            raise ValueError("the suspension cannot precede the mise à disposition")
        if completed is not None and completed < suspended:
            raise ValueError("the completion cannot precede the suspension")
        if mandate_date is not None and suspended >= mandate_date:
            # After ordonnancement the ordonnateur can no longer interrupt (R2192-27).
            suspension_ignored = True
        else:
            interrupted = True
            remaining = (initial_due - suspended).days
            new_delay = max(DELAY_AFTER_INTERRUPTION, remaining)
            if completed is None:
                due = None  # the clock stays stopped until the supplier completes
            else:
                restart = completed
                due = completed + timedelta(days=new_delay - last_day_offset)

    comptable_share = COMPTABLE_SHARES.get(body, 0)
    ordonnateur_target = due - timedelta(days=comptable_share) if due else None

    late_days = 0
    if paid is not None and due is not None:
        late_days = max(0, (paid - due).days)
    interest_start = ecb_rate = rate_valid_from = rate = None
    interest: Optional[Decimal] = Decimal("0.00")
    indemnity = Decimal("0.00")
    if late_days:
        interest_start = due + timedelta(days=1)
        rate_valid_from, ecb_rate = ecb_rate_row(half_year_start(interest_start), rates)
        rate = ecb_rate + INTEREST_MARGIN
        interest = late_interest(dgp_input.amount_ttc, rate, late_days)
        indemnity = INDEMNITY

    return DgpResult(
        body=body,
        convention=convention,
        start=start,
        legal_delay=legal_delay,
        delay=delay,
        initial_due=initial_due,
        due=due,
        comptable_share=comptable_share,
        ordonnateur_target=ordonnateur_target,
        interrupted=interrupted,
        suspension_ignored=suspension_ignored,
        restart=restart,
        remaining_at_suspension=remaining,
        new_delay=new_delay,
        late_days=late_days,
        interest_start=interest_start,
        ecb_rate=ecb_rate,
        rate_valid_from=rate_valid_from,
        rate=rate,
        interest=interest,
        indemnity=indemnity,
    )


def late_interest(amount_ttc, rate_percent, late_days: int) -> Optional[Decimal]:
    """TTC × rate % × days / 365, rounded half-up to the cent; ``None`` without an amount."""
    if amount_ttc is None:
        return None
    amount = Decimal(str(amount_ttc))
    raw = amount * Decimal(str(rate_percent)) / Decimal(100) * Decimal(late_days) / Decimal(DAYS_PER_YEAR)
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


def interest_due_by(paid: date) -> date:
    """The day by which late-payment interest and indemnity must be paid (R2192-36)."""
    return paid + timedelta(days=INTEREST_PAYMENT_DAYS)


def interruption_of(suspensions: Sequence[tuple]) -> tuple:
    """The (suspension, completion) pair that interrupts the délai among every pair Chorus
    recorded (oldest first): the **first** one, the law allowing one interruption only
    (R2192-27); ``(None, None)`` when there is none. Later suspensions do not stop the clock."""
    return tuple(suspensions[0]) if suspensions else (None, None)


def _single_interruption(suspended, completed) -> tuple:
    suspensions = _date_list(suspended, "suspended")
    completions = _date_list(completed, "completed")
    if len(suspensions) > 1:
        raise ValueError("only one interruption of the payment délai is allowed (R2192-27)")
    if len(completions) > 1:
        raise ValueError("only one completion date can follow the single interruption")
    if completions and not suspensions:
        raise ValueError("a completion date needs a suspension date")
    return (suspensions[0] if suspensions else None, completions[0] if completions else None)


def _date_list(value, name: str) -> list:
    if value is None:
        return []
    if isinstance(value, (date, str)):
        return [_as_date(value, name)]
    return [_as_date(item, name) for item in value if item is not None]


def _as_date(value, name: str) -> Optional[date]:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return paris_date(value)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a YYYY-MM-DD date") from None
    raise ValueError(f"{name}: expected a date, got {type(value).__name__}")


def _positive_int(value, name: str) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number <= 0:
        raise ValueError(f"{name} must be a positive whole number of days, not {value!r}")
    return number


# --------------------------------------------------------------------------- Chorus history


@dataclass(frozen=True)
class HistoryDates:
    """DGP-relevant Paris dates read from a Chorus status history.

    ``suspended`` / ``completed`` are the last ``SUSPENDUE`` and the ``COMPLETEE`` that followed it
    (``None`` while not completed); ``suspensions`` lists every (suspension, completion) pair,
    oldest first, so a caller can see that Chorus recorded more than the one interruption the law
    allows. ``mandated`` and ``paid`` are the first ``MANDATEE`` / ``MISE_EN_PAIEMENT`` when
    Chorus has them (optional statuses, often set by Hélios only).
    """

    mise_a_disposition: Optional[date] = None
    suspended: Optional[date] = None
    completed: Optional[date] = None
    suspensions: tuple = ()
    mandated: Optional[date] = None
    paid: Optional[date] = None

    @property
    def suspension_count(self) -> int:
        return len(self.suspensions)

    @property
    def interruption(self) -> tuple:
        """The (suspension, completion) pair that interrupts the délai: :func:`interruption_of`."""
        return interruption_of(self.suspensions)

    @property
    def ignored_suspensions(self) -> int:
        """Suspensions Chorus recorded after the one that interrupts: they do not count."""
        return max(0, len(self.suspensions) - 1)


def mise_a_disposition_from_history(history: StatusHistory) -> HistoryDates:
    """Read the DGP dates from a Chorus status history (Chorus times are Paris times).

    The start is the first ``MISE_A_DISPOSITION``; when the invoice went through ``A_RECYCLER``
    (sent to the wrong recipient), only what follows the last recycling counts: the délai starts
    when the right recipient gets the invoice (``public-accounting.md`` §4.3, example 5).
    Events of the same minute are put in the order of their history ids when every event has
    one (Chorus may list the history newest first), else in the order given.
    """
    # Chorus history times have minute precision: events of the same minute are ordered by
    # their history id (allocated in sequence), whatever order the answer lists them in.
    timed = [(index, e) for index, e in enumerate(history.events) if e.at is not None]
    if all(e.chorus_id is not None for _index, e in timed):
        timed.sort(key=lambda item: (item[1].at, item[1].chorus_id))
    else:
        timed.sort(key=lambda item: (item[1].at, item[0]))
    events = [e for _index, e in timed]
    last_recycling = max(
        (index for index, event in enumerate(events) if event.code == statuses.A_RECYCLER),
        default=-1,
    )
    events = events[last_recycling + 1:]

    def first_date(code: str) -> Optional[date]:
        return next((paris_date(e.at) for e in events if e.code == code), None)

    pairs = []
    for index, event in enumerate(events):
        if event.code != statuses.SUSPENDUE:
            continue
        completion = None
        for later in events[index + 1:]:
            if later.code == statuses.SUSPENDUE:
                break
            if later.code == statuses.COMPLETEE:
                completion = paris_date(later.at)
                break
        pairs.append((paris_date(event.at), completion))
    last = pairs[-1] if pairs else (None, None)
    return HistoryDates(
        mise_a_disposition=first_date(statuses.MISE_A_DISPOSITION),
        suspended=last[0],
        completed=last[1],
        suspensions=tuple(pairs),
        mandated=first_date(statuses.MANDATEE),
        paid=first_date(statuses.MISE_EN_PAIEMENT),
    )


# --------------------------------------------------------------------------- command line


def _cli_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _cli_amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount (e.g. 12000.00)")
    return value


def _cli_days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chorus_pro.dgp",
        description="Délai global de paiement of one invoice, printed as one JSON object.",
    )
    parser.add_argument("--body", required=True, choices=BODY_KINDS, help="kind of public body")
    parser.add_argument("--mise-a-disposition", required=True, type=_cli_date, metavar="YYYY-MM-DD",
                        help="Chorus mise à disposition date (Paris)")
    parser.add_argument("--service-date", type=_cli_date, metavar="YYYY-MM-DD",
                        help="date the service was performed, when after the mise à disposition")
    parser.add_argument("--suspended", type=_cli_date, action="append", metavar="YYYY-MM-DD",
                        help="suspension (interruption) date; the law allows only one")
    parser.add_argument("--completed", type=_cli_date, action="append", metavar="YYYY-MM-DD",
                        help="date the supplier completed the suspended invoice")
    parser.add_argument("--mandate-date", type=_cli_date, metavar="YYYY-MM-DD",
                        help="ordonnancement (mandat) date: later suspensions do not interrupt")
    parser.add_argument("--paid", type=_cli_date, metavar="YYYY-MM-DD", help="mise en paiement date")
    parser.add_argument("--amount-ttc", type=_cli_amount, metavar="AMOUNT", help="TTC amount due")
    parser.add_argument("--contract-delay", type=_cli_days, metavar="DAYS",
                        help="contractual délai, applied when shorter than the legal one")
    parser.add_argument("--convention", choices=CONVENTIONS, default=DEFAULT_CONVENTION,
                        help="day counting (default: %(default)s, the start day is day 0)")
    parser.add_argument("--rates", metavar="CSV", help="ECB rate table (default: packaged CSV)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.completed and not args.suspended:
        parser.error("--completed needs --suspended")
    try:
        rates = load_ecb_rates(args.rates) if args.rates else None
        result = compute(
            DgpInput(
                body=args.body,
                mise_a_disposition=args.mise_a_disposition,
                service_date=args.service_date,
                suspended=args.suspended,
                completed=args.completed,
                mandate_date=args.mandate_date,
                paid=args.paid,
                amount_ttc=args.amount_ttc,
                contract_delay=args.contract_delay,
                convention=args.convention,
            ),
            rates=rates,
        )
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    json.dump(result.as_dict(), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
