"""An allocation's status: used, remaining, burn rates and the forecast to the end of its period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from tally.foresight.forecast import ForecastUnavailableError, TotalForecast
from tally.foresight.forecaster import Forecaster, InProcessForecaster
from tally.foresight.model import Allocation


@dataclass(frozen=True)
class AllocationForecast:
    """The projected use at the period's end: the complete days' use plus the forecast of the days
    from today on, with 80 % and 95 % prediction intervals."""

    method: str
    history_days: int
    expected_total: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    #: The day the expected use reaches the amount (None: not within the period).
    runs_out_on: date | None
    #: The chance that the use at the period's end exceeds the amount.
    probability_exceeds: float


@dataclass(frozen=True)
class AllocationStatus:
    allocation: Allocation
    #: The status is of the complete days before `as_of`'s day, plus that day so far.
    as_of: datetime
    used: Decimal
    remaining: Decimal
    percent_used: float
    exhausted: bool
    #: Mean use per day over the last `burn_window_days` complete days of the period so far.
    burn_rate_recent: float | None
    burn_window_days: int
    #: Mean use per day over the period's complete days so far.
    burn_rate_period: float | None
    elapsed_days: int
    forecast: AllocationForecast | None
    #: Why there is no forecast (the period is over, too little history).
    forecast_note: str | None
    #: The use of each of the period's days so far, oldest first (what a cumulative chart draws).
    daily: tuple[tuple[date, Decimal], ...] = ()


def build_status(
    allocation: Allocation,
    daily: dict[date, Decimal],
    at: datetime,
    history_days: int,
    burn_window_days: int,
    forecaster: Forecaster | None = None,
) -> AllocationStatus:
    """`daily`: the allocation's use per day, covering the period up to `at`'s day and the
    `history_days` complete days before it; `forecaster`: in this process unless given."""
    today = at.date()
    start, end = allocation.start, allocation.end
    used = sum((v for d, v in daily.items() if start <= d < end and d <= today), Decimal(0))
    last = min(today, end)  # complete days of the period: [start, last)
    elapsed = max((last - start).days, 0)
    complete = sum((v for d, v in daily.items() if start <= d < last), Decimal(0))
    window_start = max(start, last - timedelta(days=burn_window_days))
    window_days = max((last - window_start).days, 0)
    recent = sum((v for d, v in daily.items() if window_start <= d < last), Decimal(0))
    forecast, note = None, None
    if today >= end:
        note = "the period is over: its use is final"
    else:
        history_start = today - timedelta(days=history_days)
        history = [float(daily.get(history_start + timedelta(days=i), 0)) for i in range(history_days)]
        horizon = (end - today).days
        first_counted = max((start - today).days, 0)
        try:
            total = (forecaster or InProcessForecaster()).forecast_total(
                history, history_start, horizon, first_counted
            )
            forecast = _projected(allocation, total, complete, today, first_counted)
        except ForecastUnavailableError as error:
            note = str(error)
    amount = allocation.amount
    return AllocationStatus(
        allocation,
        at,
        used,
        amount - used,
        float(used / amount * 100),
        used >= amount,
        float(recent / window_days) if window_days else None,
        burn_window_days,
        float(complete / elapsed) if elapsed else None,
        elapsed,
        forecast,
        note,
        tuple(
            (start + timedelta(days=i), daily.get(start + timedelta(days=i), Decimal(0)))
            for i in range(_days_so_far(start, end, today))
        ),
    )


def _days_so_far(start: date, end: date, today: date) -> int:
    """The period's days up to and including today (none before it starts)."""
    return max((min(today + timedelta(days=1), end) - start).days, 0)


def _projected(
    allocation: Allocation, total: TotalForecast, complete: Decimal, today: date, first_counted: int
) -> AllocationForecast:
    base = float(complete)
    amount = float(allocation.amount)
    runs_out: date | None = None
    cumulative = base
    if cumulative < amount:
        for i, value in enumerate(total.daily[first_counted:], start=first_counted):
            cumulative += value
            if cumulative >= amount:
                runs_out = today + timedelta(days=i)
                break
    return AllocationForecast(
        total.method,
        total.history_days,
        base + total.expected,
        base + total.lower_80,
        base + total.upper_80,
        base + total.lower_95,
        base + total.upper_95,
        runs_out,
        total.probability_above(amount - base),
    )
