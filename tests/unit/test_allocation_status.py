"""An allocation's status from its daily use (tally.foresight.status), every figure by hand."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tally.foresight.model import (
    Allocation,
    AllocationError,
    AllocationUnit,
    ResourceRef,
    check_amount,
    check_period,
    check_resources,
)
from tally.foresight.status import build_status

MARCH = (date(2026, 3, 1), date(2026, 4, 1))


def allocation(amount: str, start: date = MARCH[0], end: date = MARCH[1]) -> Allocation:
    return Allocation(
        "al-000000000001",
        "p1",
        (),
        AllocationUnit.HEPSCORE23_CORE_HOURS,
        Decimal(amount),
        start,
        end,
        datetime(2026, 1, 1, tzinfo=UTC),
        "test",
    )


def days(first: date, last: date, value: str) -> dict[date, Decimal]:
    return {first + timedelta(days=i): Decimal(value) for i in range((last - first).days)}


#: 20 a day from January on; 11 March so far: 7 (the status is read at 06:00 that day).
FLAT = {**days(date(2026, 1, 1), date(2026, 3, 11), "20"), date(2026, 3, 11): Decimal("7")}
AT = datetime(2026, 3, 11, 6, tzinfo=UTC)


def test_used_remaining_rates_and_a_flat_forecast() -> None:
    status = build_status(allocation("1000"), FLAT, AT, history_days=56, burn_window_days=7)
    # 1..10 March complete (10 x 20) and today's 7 so far.
    assert status.used == Decimal("207")
    assert status.remaining == Decimal("793")
    assert status.percent_used == pytest.approx(20.7)
    assert not status.exhausted
    assert status.elapsed_days == 10
    assert status.burn_rate_period == pytest.approx(20.0)
    assert status.burn_rate_recent == pytest.approx(20.0)
    forecast = status.forecast
    assert forecast is not None and forecast.method == "constant"
    # The complete days (200) and 20 a day for 11..31 March (21 days): today's 7 so far is part of
    # today's forecast, not counted twice.
    assert forecast.expected_total == pytest.approx(620.0)
    assert forecast.lower_95 == pytest.approx(620.0) and forecast.upper_95 == pytest.approx(620.0)
    assert forecast.runs_out_on is None
    assert forecast.probability_exceeds == 0.0


def test_runs_out_on_the_day_the_expected_use_reaches_the_amount() -> None:
    status = build_status(allocation("500"), FLAT, AT, history_days=56, burn_window_days=7)
    assert status.forecast is not None
    # 200 by 10 March, then 20 a day: 500 is reached with the 15th day from 11 March, the 25th.
    assert status.forecast.runs_out_on == date(2026, 3, 25)
    assert status.forecast.probability_exceeds == 1.0


def test_recent_burn_rate_is_the_window_of_complete_days() -> None:
    daily = {**FLAT, **days(date(2026, 3, 8), date(2026, 3, 11), "30")}
    status = build_status(allocation("1000"), daily, AT, history_days=56, burn_window_days=7)
    # 4..10 March: four days of 20, three of 30.
    assert status.burn_rate_recent == pytest.approx(170 / 7)
    assert status.burn_rate_period == pytest.approx(230 / 10)
    assert status.used == Decimal("237")
    assert status.forecast is not None and status.forecast.method != "constant"


def test_exhausted_allocation_has_no_run_out_day() -> None:
    status = build_status(allocation("150"), FLAT, AT, history_days=56, burn_window_days=7)
    assert status.exhausted and status.remaining == Decimal("-57")
    assert status.forecast is not None and status.forecast.runs_out_on is None


def test_a_period_that_is_over_is_final() -> None:
    march = days(*MARCH, "20")
    status = build_status(allocation("1000"), march, datetime(2026, 4, 2, tzinfo=UTC), 56, 7)
    assert status.used == Decimal("620")
    assert status.elapsed_days == 31 and status.burn_rate_period == pytest.approx(20.0)
    assert status.forecast is None and status.forecast_note is not None
    assert "over" in status.forecast_note


def test_a_period_not_begun_forecasts_its_own_days_only() -> None:
    april = allocation("1000", date(2026, 4, 1), date(2026, 5, 1))
    status = build_status(april, FLAT, AT, history_days=56, burn_window_days=7)
    assert status.used == 0 and status.elapsed_days == 0
    assert status.burn_rate_period is None and status.burn_rate_recent is None
    assert status.forecast is not None
    assert status.forecast.expected_total == pytest.approx(30 * 20.0)  # April's 30 days, not March's


@pytest.mark.parametrize("amount", ["0", "-1", "1e-999999999", "0.0000009", "NaN", "Infinity", "1e16", "abc"])
def test_amounts_out_of_range_are_refused(amount: str) -> None:
    with pytest.raises(AllocationError):
        check_amount(amount)


def test_periods_and_resources_are_checked() -> None:
    with pytest.raises(AllocationError, match="after its start"):
        check_period(date(2026, 3, 1), date(2026, 3, 1))
    with pytest.raises(AllocationError, match="at most"):
        check_period(date(2026, 3, 1), date(2040, 3, 1))
    with pytest.raises(AllocationError, match="twice"):
        check_resources([ResourceRef("A", "r"), ResourceRef("A", "r")])
    with pytest.raises(AllocationError, match="beside all of"):
        check_resources([ResourceRef("A"), ResourceRef("A", "r")])
    with pytest.raises(AllocationError, match="site name"):
        check_resources([ResourceRef("no spaces allowed")])
    assert check_resources([ResourceRef("B"), ResourceRef("A", "r")]) == (
        ResourceRef("A", "r"),
        ResourceRef("B"),
    )


def test_without_statsmodels_the_status_says_why_there_is_no_forecast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "statsmodels.api", None)
    daily = {**FLAT, date(2026, 3, 9): Decimal("25")}  # not flat: a fit is needed
    status = build_status(allocation("1000"), daily, AT, history_days=56, burn_window_days=7)
    assert status.used == Decimal("212") and status.forecast is None
    assert status.forecast_note is not None and "statsmodels" in status.forecast_note


def test_daily_use_lists_the_periods_days_so_far() -> None:
    status = build_status(allocation("1000"), FLAT, AT, history_days=56, burn_window_days=7)
    # 1..10 March at 20 and 11 March's 7 so far; none of January or February.
    assert [d for d, _ in status.daily] == [date(2026, 3, 1) + timedelta(days=i) for i in range(11)]
    assert [v for _, v in status.daily] == [Decimal("20")] * 10 + [Decimal("7")]
    assert sum(v for _, v in status.daily) == status.used
    # Before the period: no day; after it: every one of its days, a day without use as 0.
    early = build_status(allocation("1000", date(2026, 4, 1), date(2026, 5, 1)), FLAT, AT, 56, 7)
    assert early.daily == ()
    sparse = {date(2026, 2, 3): Decimal("5")}
    late = build_status(allocation("10", date(2026, 2, 1), date(2026, 2, 5)), sparse, AT, 56, 7)
    assert late.daily == tuple(
        (date(2026, 2, d), Decimal("5") if d == 3 else Decimal(0)) for d in (1, 2, 3, 4)
    )
