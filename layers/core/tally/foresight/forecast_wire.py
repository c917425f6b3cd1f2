"""The forecaster's wire format: a forecast request and its answer as plain JSON, validated on both
sides, and the handling of one request (the forecaster function's whole work).

On AWS the API and the alerts evaluator have no room for statsmodels, scipy and pandas, so they ask
the forecaster function, which carries them and this module with tally.foresight.forecast only
(standard library imports here: nothing else of Tally, no pydantic).

    request: {"history": [float, ...], "first_day": "YYYY-MM-DD", "horizon": int, "first_counted": int}
    answer:  {"forecast": {TotalForecast's fields}}
          or {"error": {"kind": "unavailable" | "invalid" | "failed", "detail": str}}

"unavailable" is too little history (tally.foresight.forecast.ForecastUnavailableError: the status
says so); "invalid" a request that is not one; "failed" a forecaster without its libraries. A value
is a number only if it is a finite int or float (never a boolean, a string or null).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from tally.foresight.forecast import (
    ForecastLibraryMissingError,
    ForecastUnavailableError,
    TotalForecast,
    forecast_total,
)

#: Ten years of days: far above any history window (ForesightSettings.history_days <= 730); a
#: request is at most about 8 bytes a day, so well inside Lambda's 6 MB payload.
MAX_HISTORY_DAYS = 3660
#: A usage forecast reaches a month up to a year after next month: under 430 days ahead.
MAX_HORIZON_DAYS = 800
MAX_TEXT = 500


class WireError(ValueError):
    """A request or an answer that is not of the wire format."""


@dataclass(frozen=True)
class ForecastRequest:
    history: tuple[float, ...]
    first_day: date
    horizon: int
    first_counted: int = 0


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{what} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise WireError(f"{what} is not a finite number")
    return number


def _count(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WireError(f"{what} is not a whole number from {low} to {high}")
    return value


def _object(
    value: object, what: str, keys: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{what} is not a JSON object")
    missing = keys - value.keys()
    extra = value.keys() - keys - optional
    if missing or extra:
        raise WireError(f"{what}: missing {sorted(missing)}, unknown {sorted(map(str, extra))[:5]}")
    return value


# -- the request ----------------------------------------------------------------------------------
def encode_request(request: ForecastRequest) -> dict[str, Any]:
    return {
        "history": list(request.history),
        "first_day": request.first_day.isoformat(),
        "horizon": request.horizon,
        "first_counted": request.first_counted,
    }


def decode_request(value: object) -> ForecastRequest:
    body = _object(value, "the request", {"history", "first_day", "horizon"}, frozenset({"first_counted"}))
    history = body["history"]
    if not isinstance(history, list):
        raise WireError("history is not a list of numbers")
    if len(history) > MAX_HISTORY_DAYS:
        raise WireError(f"history holds {len(history)} days: at most {MAX_HISTORY_DAYS}")
    days = tuple(_number(v, f"history[{i}]") for i, v in enumerate(history))
    first_day = body["first_day"]
    if not isinstance(first_day, str) or len(first_day) != 10:
        raise WireError("first_day is not a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(first_day)
    except ValueError as error:
        raise WireError("first_day is not a date (YYYY-MM-DD)") from error
    horizon = _count(body["horizon"], "horizon", 1, MAX_HORIZON_DAYS)
    first_counted = _count(body.get("first_counted", 0), "first_counted", 0, horizon - 1)
    return ForecastRequest(days, day, horizon, first_counted)


# -- the answer -----------------------------------------------------------------------------------
_FIELDS = {f.name for f in fields(TotalForecast)}


def encode_answer(total: TotalForecast) -> dict[str, Any]:
    answer = asdict(total)
    answer["daily"] = list(total.daily)
    return {"forecast": answer}


def encode_error(kind: str, detail: str) -> dict[str, Any]:
    return {"error": {"kind": kind, "detail": detail[:MAX_TEXT]}}


def decode_answer(value: object, request: ForecastRequest) -> TotalForecast:
    """The forecast of an answer to `request`; ForecastUnavailableError for an "unavailable" one,
    WireError for anything that is not a consistent answer to it."""
    if isinstance(value, dict) and "error" in value:
        error = _object(_object(value, "the answer", {"error"})["error"], "the error", {"kind", "detail"})
        detail = error["detail"]
        if not isinstance(detail, str):
            raise WireError("the error's detail is not text")
        if error["kind"] == "unavailable":
            raise ForecastUnavailableError(detail[:MAX_TEXT])
        raise WireError(
            f"the forecaster refused the request ({str(error['kind'])[:40]}): {detail[:MAX_TEXT]}"
        )
    body = _object(_object(value, "the answer", {"forecast"})["forecast"], "the forecast", _FIELDS)
    method = body["method"]
    if not isinstance(method, str) or not 0 < len(method) <= MAX_TEXT:
        raise WireError("the method is not a short text")
    daily = body["daily"]
    if not isinstance(daily, list) or len(daily) != request.horizon:
        raise WireError(f"daily is not a list of the horizon's {request.horizon} numbers")
    total = TotalForecast(
        method,
        _count(body["history_days"], "history_days", len(request.history), len(request.history)),
        _count(body["horizon_days"], "horizon_days", request.horizon, request.horizon),
        _number(body["expected"], "expected"),
        _number(body["lower_80"], "lower_80"),
        _number(body["upper_80"], "upper_80"),
        _number(body["lower_95"], "lower_95"),
        _number(body["upper_95"], "upper_95"),
        tuple(_number(v, f"daily[{i}]") for i, v in enumerate(daily)),
        _number(body["standard_error"], "standard_error"),
        _count(body["degrees_of_freedom"], "degrees_of_freedom", 0, MAX_HISTORY_DAYS),
    )
    bounds = (total.lower_95, total.lower_80, total.expected, total.upper_80, total.upper_95)
    if min(bounds) < 0 or list(bounds) != sorted(bounds) or total.standard_error < 0:
        raise WireError("the forecast's intervals are not nested around its expected total")
    if any(v < 0 for v in total.daily):
        raise WireError("a day's expected usage is negative")
    return total


# -- the forecaster function's work ---------------------------------------------------------------
def preload() -> None:
    """Import the fit's libraries now: in Lambda's init phase, which a cold start pays before the
    first request, rather than inside that request (and against its caller's timeout)."""
    for module in ("numpy", "scipy.stats", "statsmodels.api"):
        try:
            importlib.import_module(module)
        except ImportError:
            return  # the first request answers "failed", saying what is missing


def handle(event: object) -> dict[str, Any]:
    """Answer one request (a Lambda event): a forecast or an error, never an exception, so the
    caller tells a refused request from a failed function."""
    try:
        request = decode_request(event)
    except WireError as error:
        return encode_error("invalid", str(error))
    try:
        total = forecast_total(request.history, request.first_day, request.horizon, request.first_counted)
    except ForecastLibraryMissingError as error:  # a broken deployment: the caller answers 503
        return encode_error("failed", str(error))
    except ForecastUnavailableError as error:
        return encode_error("unavailable", str(error))
    except ValueError as error:
        return encode_error("invalid", str(error))
    return encode_answer(total)
