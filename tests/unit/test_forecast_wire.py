"""The forecaster function's handler in this process (functions/forecaster/app.py): valid requests
answer the same forecast as tally.foresight.forecast.forecast_total, hostile ones an error answer
(never an exception); the answer's reader refuses what is not a consistent forecast; and the
t distribution's tail computed without scipy agrees with scipy's."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import date
from typing import Any

import numpy as np
import pytest
from scipy.stats import t as scipy_t

from tally.foresight.forecast import ForecastUnavailableError, forecast_total, t_sf
from tally.foresight.forecast_wire import (
    MAX_HISTORY_DAYS,
    ForecastRequest,
    WireError,
    decode_answer,
    decode_request,
    encode_request,
)
from tests.support.lambdas import load_function

MONDAY = date(2026, 1, 5)


def history(days: int = 56) -> list[float]:
    rng = np.random.default_rng(7)
    t = np.arange(days)
    return [float(v) for v in 50 + 0.3 * t + 5 * (t % 7 < 5) + rng.normal(0, 2, days)]


@pytest.fixture(scope="module")
def app() -> Any:
    return load_function("forecaster")


def request(**over: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "history": history(),
        "first_day": "2026-01-05",
        "horizon": 28,
        "first_counted": 3,
    }
    body.update(over)
    return body


def test_a_valid_request_answers_forecast_totals_numbers(app: Any) -> None:
    answer = app.handler(json.loads(json.dumps(request())), None)
    direct = forecast_total(history(), MONDAY, 28, 3)
    assert answer == {"forecast": {**asdict(direct), "daily": list(direct.daily)}}
    assert len(answer["forecast"]["daily"]) == 28
    # Through JSON and back, the reader gives the very forecast.
    wire = ForecastRequest(tuple(history()), MONDAY, 28, 3)
    assert decode_answer(json.loads(json.dumps(answer)), wire) == direct


def test_first_counted_defaults_to_zero(app: Any) -> None:
    body = request()
    del body["first_counted"]
    assert app.handler(body, None)["forecast"]["expected"] == forecast_total(history(), MONDAY, 28).expected


def test_too_short_history_is_unavailable_with_the_reason(app: Any) -> None:
    answer = app.handler(request(history=[1.0, 2.0, 3.0]), None)
    assert answer["error"]["kind"] == "unavailable" and "3 complete days" in answer["error"]["detail"]
    with pytest.raises(ForecastUnavailableError, match="3 complete days"):
        decode_answer(answer, ForecastRequest((1.0, 2.0, 3.0), MONDAY, 28, 3))


HOSTILE: list[tuple[object, str]] = [
    (None, "not a JSON object"),
    ([1, 2, 3], "not a JSON object"),
    ("history", "not a JSON object"),
    ({}, "missing"),
    (request(extra=1), "unknown"),
    (request(history=None), "not a list"),
    (request(history="1,2,3"), "not a list"),
    (request(history={"0": 1}), "not a list"),
    (request(history=[*history()[:-1], float("nan")]), "not a finite number"),
    (request(history=[*history()[:-1], float("inf")]), "not a finite number"),
    (request(history=[*history()[:-1], None]), "not a number"),
    (request(history=[*history()[:-1], "3"]), "not a number"),
    (request(history=[*history()[:-1], True]), "not a number"),
    (request(history=[*history()[:-1], [1.0, 2.0]]), "not a number"),
    (request(history=[1.0] * (MAX_HISTORY_DAYS + 1)), "at most"),
    (request(first_day="2026-13-01"), "not a date"),
    (request(first_day="2026-01-05T00:00:00"), "not a date"),
    (request(first_day=20260105), "not a date"),
    (request(horizon=0), "horizon"),
    (request(horizon=[28]), "horizon"),
    (request(horizon=28.0), "horizon"),
    (request(horizon=True), "horizon"),
    (request(horizon=10**9), "horizon"),
    (request(first_counted=28), "first_counted"),
    (request(first_counted=-1), "first_counted"),
    (request(first_counted=None), "first_counted"),
]


@pytest.mark.parametrize(("event", "said"), HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_request_gets_an_invalid_answer_not_an_exception(
    app: Any, event: object, said: str
) -> None:
    answer = app.handler(event, None)
    assert set(answer) == {"error"} and answer["error"]["kind"] == "invalid"
    assert said in answer["error"]["detail"]
    json.dumps(answer, allow_nan=False)  # the answer itself is plain JSON


def test_a_request_round_trips_through_the_wire() -> None:
    wire = ForecastRequest(tuple(history()), MONDAY, 30, 2)
    assert decode_request(json.loads(json.dumps(encode_request(wire)))) == wire


def good_answer() -> tuple[dict[str, Any], ForecastRequest]:
    total = forecast_total(history(), MONDAY, 28, 3)
    return {"forecast": {**asdict(total), "daily": list(total.daily)}}, ForecastRequest(
        tuple(history()), MONDAY, 28, 3
    )


def spoiled(**over: object) -> tuple[dict[str, Any], ForecastRequest]:
    answer, wire = good_answer()
    answer["forecast"].update(over)
    return answer, wire


BAD_ANSWERS = [
    lambda: (None, good_answer()[1]),
    lambda: ({"forecast": None}, good_answer()[1]),
    lambda: spoiled(expected=float("nan")),
    lambda: spoiled(expected="12"),
    lambda: spoiled(expected=None),
    lambda: spoiled(upper_95=[1.0]),
    lambda: spoiled(lower_80=1e12),  # not nested around the expected total
    lambda: spoiled(standard_error=-1.0),
    lambda: spoiled(daily=[1.0] * 27),  # not the horizon's length
    lambda: spoiled(daily=[-1.0] * 28),
    lambda: spoiled(history_days=55),  # not an answer to this request
    lambda: spoiled(horizon_days=29),
    lambda: spoiled(degrees_of_freedom=True),
    lambda: spoiled(method=""),
    lambda: spoiled(method="x" * 600),
    lambda: spoiled(surprise=1),
    lambda: ({"error": {"kind": "invalid", "detail": "no"}}, good_answer()[1]),
    lambda: ({"error": {"kind": "failed", "detail": "statsmodels missing"}}, good_answer()[1]),
    lambda: ({"error": {"kind": "unavailable", "detail": 3}}, good_answer()[1]),
]


@pytest.mark.parametrize("make", BAD_ANSWERS, ids=range(len(BAD_ANSWERS)))
def test_an_answer_that_is_not_a_consistent_forecast_is_refused(make: Any) -> None:
    answer, wire = make()
    with pytest.raises(WireError):
        decode_answer(answer, wire)


def test_a_forecaster_without_statsmodels_says_failed(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "statsmodels.api", None)
    answer = app.handler(request(), None)
    assert answer["error"]["kind"] == "failed" and "statsmodels" in answer["error"]["detail"]


@pytest.mark.parametrize("df", [1, 2, 3, 5, 12, 40, 47, 200, 5000])
def test_the_t_tail_without_scipy_agrees_with_scipy(df: int) -> None:
    for x in (-40.0, -6.0, -2.5, -1.0, -0.1, 0.0, 0.1, 0.7, 1.3, 1.96, 3.0, 8.0, 40.0):
        assert t_sf(x, df) == pytest.approx(float(scipy_t.sf(x, df)), rel=1e-9, abs=1e-14), (x, df)


def test_the_t_tail_at_known_quantiles() -> None:
    # Table values: t_{0.975}(10) = 2.228139 and t_{0.9}(30) = 1.310415.
    assert t_sf(2.228139, 10) == pytest.approx(0.025, abs=1e-7)
    assert t_sf(1.310415, 30) == pytest.approx(0.10, abs=1e-7)
    assert math.isclose(t_sf(0.0, 7), 0.5)


def test_probability_above_needs_no_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    total = forecast_total(history(), MONDAY, 28)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    assert total.probability_above(total.upper_95) == pytest.approx(0.025, abs=1e-9)
    assert total.probability_above(total.expected - 1e6) == pytest.approx(1.0)


def test_the_composition_root_chooses_the_forecaster_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from tally.foresight.forecaster import InProcessForecaster, LambdaForecaster
    from tally.services.container import Services
    from tally.settings import Settings

    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    assert isinstance(Services(Settings()).forecaster, InProcessForecaster)
    monkeypatch.setenv("TALLY_FORECASTER_FUNCTION", "arn:aws:lambda:eu-west-1:123456789012:function:fc")
    monkeypatch.setenv("TALLY_FORECASTER_TIMEOUT_SECONDS", "4.5")
    svc = Services(Settings())
    assert svc.settings.forecaster_timeout_seconds == 4.5
    chosen = svc.forecaster
    assert isinstance(chosen, LambdaForecaster) and chosen.function_name.endswith(":function:fc")
    assert svc.foresight.forecaster is chosen  # the API's and the alerts evaluator's service
