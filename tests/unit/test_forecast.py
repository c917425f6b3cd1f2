"""The usage forecast (tally.foresight.forecast), backtested on generated history whose trend and
weekly season are known, with the error of each run reported.

Each trial draws 84 days from the process, fits the first 56 and forecasts the total of the next 28;
the truth is that total as drawn. Over N independent trials the number of intervals holding the
truth is binomial, so an interval of nominal coverage p is accepted when the observed rate is within
three standard errors, 3 * sqrt(p (1 - p) / N), of p (a correct method fails this about 3 times in
1,000 runs; the seeds are fixed, so the run is the same every time).
"""

from __future__ import annotations

import math
import sys
from datetime import date, timedelta

import numpy as np
import pytest

from tally.foresight.forecast import (
    MIN_DAYS,
    ForecastLibraryMissingError,
    ForecastUnavailableError,
    forecast_total,
)

#: Monday to Sunday: busier weekdays, a quiet weekend.
SEASON = np.array([10.0, 12.0, 11.0, 9.0, 8.0, -20.0, -20.0])
MONDAY = date(2026, 1, 5)
HISTORY, HORIZON, TRIALS = 56, 28, 200


def draw(rng: np.random.Generator, days: int, rho: float) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """100 a day, growing by 0.5 a day, the weekly season, and AR(1) noise of innovation sd 5."""
    t = np.arange(days)
    noise = np.zeros(days)
    shocks = rng.normal(0, 5, days)
    for i in range(days):
        noise[i] = (rho * noise[i - 1] if i else 0.0) + shocks[i]
    series: np.ndarray[tuple[int], np.dtype[np.float64]] = 100 + 0.5 * t + SEASON[t % 7] + noise
    return series


def backtest(rho: float) -> tuple[float, float, float]:
    """(80 % coverage, 95 % coverage, mean absolute percentage error of the total)."""
    in80 = in95 = 0
    errors = []
    for trial in range(TRIALS):
        series = draw(np.random.default_rng(trial), HISTORY + HORIZON, rho)
        forecast = forecast_total(list(series[:HISTORY]), MONDAY, HORIZON)
        truth = float(series[HISTORY:].sum())
        in80 += forecast.lower_80 <= truth <= forecast.upper_80
        in95 += forecast.lower_95 <= truth <= forecast.upper_95
        errors.append(abs(forecast.expected - truth) / truth)
    return in80 / TRIALS, in95 / TRIALS, float(np.mean(errors))


def tolerance(p: float) -> float:
    return 3 * math.sqrt(p * (1 - p) / TRIALS)


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_backtest_intervals_cover_the_truth_at_their_nominal_rate(rho: float) -> None:
    cover80, cover95, mape = backtest(rho)
    print(f"rho={rho}: 80% interval coverage {cover80:.3f}, 95% {cover95:.3f}, MAPE {mape:.4f}")
    assert abs(cover80 - 0.80) <= tolerance(0.80)
    assert abs(cover95 - 0.95) <= tolerance(0.95)
    # The total of 28 days is about 3,800; its noise alone (sd 5 a day) is about 1 % of it.
    assert mape < 0.04


def test_expected_total_follows_trend_and_season_without_noise() -> None:
    t = np.arange(HISTORY)
    exact = 100 + 0.5 * t + SEASON[t % 7]
    forecast = forecast_total(list(exact), MONDAY, 14)
    future = np.arange(HISTORY, HISTORY + 14)
    want = 100 + 0.5 * future + SEASON[future % 7]
    assert forecast.daily == pytest.approx(list(want), abs=1e-6)
    assert forecast.expected == pytest.approx(float(want.sum()), abs=1e-6)
    # A perfect fit leaves no error to spread.
    assert forecast.upper_95 - forecast.lower_95 == pytest.approx(0, abs=1e-4)


def test_weekdays_follow_the_calendar_not_the_first_day() -> None:
    """History starting on a Wednesday: Saturdays and Sundays stay the quiet days ahead."""
    wednesday = MONDAY + timedelta(days=2)
    days = [wednesday + timedelta(days=i) for i in range(28)]
    history = [0.0 if d.weekday() >= 5 else 50.0 for d in days]
    history[1] = 51.0  # a Thursday, so the history is not flat: something to fit
    forecast = forecast_total(history, wednesday, 7)
    ahead = [wednesday + timedelta(days=28 + i) for i in range(7)]
    for day, value in zip(ahead, forecast.daily, strict=True):
        assert value == pytest.approx(0.0 if day.weekday() >= 5 else 50.0, abs=1.0), day


def test_only_days_from_first_counted_are_summed() -> None:
    t = np.arange(HISTORY)
    exact = list(100 + 0.5 * t + SEASON[t % 7])
    whole = forecast_total(exact, MONDAY, 10)
    tail = forecast_total(exact, MONDAY, 10, first_counted=4)
    assert tail.expected == pytest.approx(sum(whole.daily[4:]))


def test_a_trend_falling_below_zero_counts_those_days_as_zero_in_the_total() -> None:
    # 14 days falling by 10 a day from 140 (with a little wobble): the fitted line crosses zero on
    # about the 15th day, so most of a 28-day horizon is clipped. By hand: the line y = 140 - 10 d
    # gives 0 from day 14 on, so the expected total is about 0 (never the negative sum of the line).
    history = [140.0 - 10 * d + (1.0 if d % 2 else -1.0) for d in range(14)]
    forecast = forecast_total(history, date(2026, 3, 2), 28, first_counted=2)
    assert all(v >= 0 for v in forecast.daily)
    assert forecast.expected == pytest.approx(sum(forecast.daily[2:]), abs=1e-9)
    assert forecast.expected < 10  # the unclipped line would sum to about -3,800
    assert forecast.lower_80 <= forecast.expected <= forecast.upper_80


def test_flat_history_stays_flat_with_no_spread() -> None:
    forecast = forecast_total([3.0] * 30, MONDAY, 10, first_counted=2)
    assert (forecast.expected, forecast.lower_95, forecast.upper_95) == (24.0, 24.0, 24.0)
    assert forecast.probability_above(23.0) == 1.0 and forecast.probability_above(24.0) == 0.0


def test_too_little_history_is_said_not_guessed() -> None:
    with pytest.raises(ForecastUnavailableError, match=f"at least {MIN_DAYS}"):
        forecast_total([1.0, 2.0, 3.0], MONDAY, 5)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_history_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        forecast_total([1.0, 2.0, bad, 4.0, 5.0, 6.0, 7.0, 8.0], MONDAY, 5)


def test_probability_of_exceeding_matches_the_interval() -> None:
    series = draw(np.random.default_rng(7), HISTORY, 0.0)
    forecast = forecast_total(list(series), MONDAY, HORIZON)
    assert forecast.probability_above(forecast.upper_80) == pytest.approx(0.10, abs=1e-6)
    assert forecast.probability_above(forecast.lower_95) == pytest.approx(0.975, abs=1e-6)
    assert forecast.probability_above(forecast.expected) == pytest.approx(0.5, abs=1e-6)


def test_a_deployment_without_statsmodels_is_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "statsmodels.api", None)  # import statsmodels.api now fails
    with pytest.raises(ForecastLibraryMissingError, match="statsmodels"):
        forecast_total([1.0, 2.0, 3.0, 5.0, 4.0, 6.0, 7.0, 8.0], MONDAY, 5)
    # A flat history needs no fit, so it is forecast even there.
    assert forecast_total([2.0] * 10, MONDAY, 5).expected == 10.0
