"""Forecasts of daily usage from its own history: a linear trend with day-of-week effects, fitted by
least squares (statsmodels OLS), with errors allowed to be autocorrelated (AR(1)).

Why not exponential smoothing: statsmodels' ETS intervals come from the innovation noise alone,
not from the uncertainty of the fitted level and trend, so a total over weeks ahead is far too sure
of itself (in 40 trials of the backtest in tests/unit/test_forecast.py an ETS(A,Ad,A) model's 80 %
interval held the truth 35 % of the time, its 95 % one 50 %), and one fit took seconds. The
regression's interval for a total is the classical one: the variance of the fitted mean of the
days summed (from the parameters' covariance) plus that of the days' own errors. Usage is bursty,
so the errors' lag-1 autocorrelation rho (estimated from the residuals, bias-corrected, kept in
[0, 0.95]) widens both: the future errors' sum has variance sigma^2 * sum over i, j of rho^|i-j|,
and the parameters' covariance is scaled by the long-run factor (1 + rho) / (1 - rho). Quantiles
are Student's t with the fit's residual degrees of freedom. Days are clipped at zero (usage is
never negative).

statsmodels (with scipy and pandas) is imported on the first forecast only: processes that never
forecast (ingest, compaction, most API calls) never load it. A forecast's answer (TotalForecast)
needs none of them: its tail probabilities are computed here from the t distribution's regularised
incomplete beta function, so a process that receives a forecast from elsewhere (the API on AWS,
from the forecaster function: tally.foresight.forecaster) reads it with the standard library alone.
This module and tally.foresight.forecast_wire are all the forecaster function carries of Tally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from math import exp, lgamma, log
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy too loads on the first forecast: the API's Lambda has no numeric layer
    import numpy as np

WEEK = 7
#: Below MIN_DAYS there is too little to fit a trend; below SEASONAL_DAYS, no day-of-week effects.
MIN_DAYS = 7
SEASONAL_DAYS = 3 * WEEK
MAX_RHO = 0.95

if TYPE_CHECKING:
    Matrix = np.ndarray[tuple[int, int], np.dtype[np.float64]]


@dataclass(frozen=True)
class TotalForecast:
    """The forecast sum of the days from `first_counted` to the end of the horizon."""

    method: str
    history_days: int
    horizon_days: int
    expected: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    #: The expected usage of each day of the horizon (clipped at zero).
    daily: tuple[float, ...]
    #: The total's standard error and the t distribution's degrees of freedom (0: no spread).
    standard_error: float
    degrees_of_freedom: int

    def probability_above(self, amount: float) -> float:
        """The chance that the total exceeds `amount`."""
        if self.standard_error == 0 or self.degrees_of_freedom == 0:
            return 1.0 if self.expected > amount else 0.0
        return t_sf((amount - self.expected) / self.standard_error, self.degrees_of_freedom)


def t_sf(x: float, df: float) -> float:
    """P(T > x) for Student's t with `df` degrees of freedom: half the regularised incomplete beta
    I_{df / (df + x^2)}(df / 2, 1 / 2) in the upper tail (scipy.stats.t.sf without scipy)."""
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + x * x))
    return tail if x >= 0 else 1.0 - tail


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz's
    method), on the side of x where the fraction converges fast."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1.0 - x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


class ForecastUnavailableError(ValueError):
    """Too little history to forecast from (the status says so instead of guessing)."""


class ForecastLibraryMissingError(ForecastUnavailableError):
    """statsmodels is not installed where this runs (a Lambda without it: see the README)."""


class ForecasterUnavailableError(ForecastLibraryMissingError):
    """The forecaster this process asks (the forecaster function on AWS) failed, timed out or
    answered something that is not a forecast: answered as forecasts are where no library is."""


def _design(first_day: date, days: int, offset: int, seasonal: bool) -> Matrix:
    """Intercept, trend (day number), and one column per weekday but Monday (Monday is the base)."""
    import numpy as np

    index = np.arange(offset, offset + days, dtype=np.float64)
    columns = [np.ones(days), index]
    if seasonal:
        weekdays = np.array([(first_day + timedelta(days=int(i))).weekday() for i in index])
        columns += [(weekdays == d).astype(np.float64) for d in range(1, WEEK)]
    return np.column_stack(columns)


def _error_sum_weight(rho: float, days: int) -> float:
    """sum over i, j < days of rho^|i-j|: the variance of a sum of AR(1) errors, in sigma^2."""
    import numpy as np

    k = np.arange(1, days, dtype=np.float64)
    return float(days + 2 * np.sum((days - k) * rho**k))


def forecast_total(
    history: Sequence[float], first_day: date, horizon: int, first_counted: int = 0
) -> TotalForecast:
    """Forecast the `horizon` days after `history` (complete days from `first_day`, oldest first)
    and the sum of those from `first_counted` on (earlier ones lie outside the forecast period)."""
    if horizon < 1 or not 0 <= first_counted < horizon:
        raise ValueError("forecast at least one day, counting from a day inside the horizon")
    try:
        import numpy as np
    except ImportError as error:
        raise ForecastLibraryMissingError(
            "forecasts need numpy, which this deployment does not have"
        ) from error
    y = np.asarray(history, dtype=np.float64)
    n = len(y)
    if n < MIN_DAYS:
        raise ForecastUnavailableError(f"{n} complete days of history: a forecast needs at least {MIN_DAYS}")
    if not np.all(np.isfinite(y)):
        raise ValueError("history holds a value that is not a finite number")
    counted = horizon - first_counted
    if float(np.ptp(y)) == 0.0:
        # A flat history (often all zero: an unused allocation) has no error to fit: it stays flat.
        level = max(float(y[-1]), 0.0)
        total = level * counted
        return TotalForecast(
            "constant", n, horizon, total, total, total, total, total, (level,) * horizon, 0, 0
        )
    try:
        import statsmodels.api as sm
        from scipy.stats import t
    except ImportError as error:
        raise ForecastLibraryMissingError(
            "forecasts need statsmodels, which this deployment does not have"
        ) from error

    seasonal = n >= SEASONAL_DAYS
    fit = sm.OLS(y, _design(first_day, n, 0, seasonal)).fit()
    future = _design(first_day, horizon, n, seasonal)
    mean = future @ np.asarray(fit.params)
    residuals = np.asarray(fit.resid)
    denominator = float(residuals @ residuals)
    rho = float(residuals[1:] @ residuals[:-1]) / denominator if denominator > 0 else 0.0
    # The lag-1 estimate is biased low in short series (by about (1 + 3 rho) / n: Marriott and Pope,
    # 1954); corrected, so bursty usage does not get intervals narrower than it has.
    rho = min(max(rho + (1 + 3 * rho) / n, 0.0), MAX_RHO)
    c = future[first_counted:].sum(axis=0)
    parameter_variance = float(c @ np.asarray(fit.cov_params()) @ c) * (1 + rho) / (1 - rho)
    error_variance = float(fit.scale) * _error_sum_weight(rho, counted)
    se = float(np.sqrt(parameter_variance + error_variance))
    df = int(fit.df_resid)
    # Usage is never negative: a trend that falls below zero inside the horizon counts those days
    # as zero, in the daily path and so in the total (the run-out day is read from the path).
    clipped = np.maximum(mean, 0.0)
    expected = float(clipped[first_counted:].sum())
    z80, z95 = float(t.ppf(0.9, df)), float(t.ppf(0.975, df))
    method = "linear trend + day of week, AR(1) errors" if seasonal else "linear trend, AR(1) errors"
    return TotalForecast(
        method,
        n,
        horizon,
        max(expected, 0.0),
        max(expected - z80 * se, 0.0),
        max(expected + z80 * se, 0.0),
        max(expected - z95 * se, 0.0),
        max(expected + z95 * se, 0.0),
        tuple(float(v) for v in clipped),
        se,
        df,
    )
