"""Forecasts through the forecaster function, as the API and the alerts evaluator get them on AWS:
boto3's Lambda client (the composition root's LambdaForecaster) against Lambda's Invoke REST API
on loopback, running the real handler (functions/forecaster/app.py) behind it.

The numbers must be forecast_total's own, called here directly on the history this test seeded;
a failing, slow, unreachable or lying forecaster must give the API's answer for "no forecaster":
503 for usage forecasts, a status without forecast (and a note) for an allocation.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.foresight.forecast import (
    ForecasterUnavailableError,
    ForecastUnavailableError,
    TotalForecast,
    forecast_total,
)
from tally.foresight.forecaster import LambdaForecaster
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.lambda_server import LambdaStandIn, lambda_stand_in
from tests.support.lambdas import load_function
from tests.support.records import job
from tests.support.servers import running_app

FUNCTION = "tally-forecaster"
SITE = "SITE-B"
PASSWORD = "a long enough password"
MONDAY = date(2026, 1, 5)


def raising_handler(event: Any, context: Any) -> Any:
    raise RuntimeError("the sandbox ran out of memory")


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LambdaStandIn]:
    with (
        pytest.MonkeyPatch.context() as env,
        lambda_stand_in(FUNCTION, load_function("forecaster").handler) as running,
    ):
        # botocore signs every request: the stand-in reads no signature, but the client needs keys.
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield running


@pytest.fixture(autouse=True)
def behaving(stand_in: LambdaStandIn) -> Iterator[None]:
    yield
    stand_in.behaviour, stand_in.delay = "normal", 0.0
    stand_in.handler = load_function("forecaster").handler


def forecaster(tmp_path: Any, url: str, timeout: float = 5.0, name: str = FUNCTION) -> LambdaForecaster:
    settings = local_settings(
        tmp_path / "home",
        forecaster_function=name,
        lambda_endpoint_url=url,
        forecaster_timeout_seconds=timeout,
    )
    chosen = Services(settings).forecaster
    assert isinstance(chosen, LambdaForecaster)
    return chosen


def bumpy(days: int) -> list[float]:
    """Usage with a trend, a weekday rhythm and irregular bursts: a real fit, not the flat case."""
    return [40.0 + 0.5 * i + (15.0 if (i % 7) < 5 else 0.0) + float((i * 37) % 11) for i in range(days)]


# -- the adapter ----------------------------------------------------------------------------------


def test_the_lambda_forecaster_answers_forecast_totals_numbers(
    stand_in: LambdaStandIn, tmp_path: Any
) -> None:
    remote = forecaster(tmp_path, stand_in.url)
    got = remote.forecast_total(bumpy(56), MONDAY, 31, 5)
    want = forecast_total(bumpy(56), MONDAY, 31, 5)
    assert got == want and got.method == "linear trend + day of week, AR(1) errors"
    assert stand_in.events[-1] == {
        "history": bumpy(56),
        "first_day": "2026-01-05",
        "horizon": 31,
        "first_counted": 5,
    }
    # A flat history and a short one, as in this process.
    assert remote.forecast_total([3.0] * 10, MONDAY, 4) == forecast_total([3.0] * 10, MONDAY, 4)
    with pytest.raises(ForecastUnavailableError, match="a forecast needs at least 7") as short:
        remote.forecast_total([1.0, 2.0], MONDAY, 4)
    assert not isinstance(short.value, ForecasterUnavailableError)  # a status note, not a 503


@pytest.mark.parametrize("behaviour", ["garbage", "huge", "nan", "raises"])
def test_a_forecaster_that_fails_or_lies_is_unavailable(
    stand_in: LambdaStandIn, tmp_path: Any, behaviour: str
) -> None:
    if behaviour == "raises":
        stand_in.handler = raising_handler
    else:
        stand_in.behaviour = behaviour
    with pytest.raises(ForecasterUnavailableError):
        forecaster(tmp_path, stand_in.url).forecast_total(bumpy(30), MONDAY, 10)


def test_a_slow_forecaster_times_out_as_unavailable(stand_in: LambdaStandIn, tmp_path: Any) -> None:
    stand_in.behaviour, stand_in.delay = "slow", 2.0
    started = datetime.now(UTC)
    with pytest.raises(ForecasterUnavailableError, match="could not be reached"):
        forecaster(tmp_path, stand_in.url, timeout=0.5).forecast_total(bumpy(30), MONDAY, 10)
    assert datetime.now(UTC) - started < timedelta(seconds=1.9)  # no retry after the timeout


def test_an_unknown_function_or_no_endpoint_is_unavailable(stand_in: LambdaStandIn, tmp_path: Any) -> None:
    with pytest.raises(ForecasterUnavailableError, match="ResourceNotFoundException"):
        forecaster(tmp_path, stand_in.url, name="another").forecast_total(bumpy(30), MONDAY, 10)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(ForecasterUnavailableError):
        forecaster(tmp_path, closed, timeout=1.0).forecast_total(bumpy(30), MONDAY, 10)


def test_an_impossible_request_is_refused_before_any_invocation(
    stand_in: LambdaStandIn, tmp_path: Any
) -> None:
    before = len(stand_in.events)
    with pytest.raises(ValueError, match="inside the horizon"):
        forecaster(tmp_path, stand_in.url).forecast_total(bumpy(30), MONDAY, 3, 3)
    assert len(stand_in.events) == before


# -- the API with the forecaster function configured ----------------------------------------------


@dataclass
class Api:
    url: str
    admin: str
    daily: dict[date, float]  # the usage seeded per day, HEPscore23 core-hours
    today: date


@pytest.fixture(scope="module")
def api(stand_in: LambdaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = local_settings(
        tmp_path_factory.mktemp("forecaster-api") / "home",
        forecaster_function=FUNCTION,
        lambda_endpoint_url=stand_in.url,
        forecaster_timeout_seconds=1.0,
    )
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site(SITE)
    key = svc.create_key(SITE).plain
    person = svc.people.add_person("admin", "admin@example.org", "test", password=PASSWORD)
    svc.people.add_grant(person.person_id, "admin", None, "test")
    admin = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    today = datetime.now(UTC).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    daily: dict[date, float] = {}
    records = []
    for i, usage in enumerate(bumpy(60)):
        day = today - timedelta(days=60 - i)
        cores = int(usage)  # one hour on `cores` cores of HEPscore23 10: 10 x cores a day
        daily[day] = 10.0 * cores
        end = midnight - timedelta(days=60 - i) + timedelta(hours=12)
        record = job(5000 + i, site=SITE)
        record.update(
            end_time=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            start_time=(end - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            submit_time=(end - timedelta(hours=1, minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            wall_seconds=3600,
            cpu_seconds=3600 * cores,
            cores=cores,
            project="p7",
            benchmark_type="HEPscore23",
            benchmark_per_core=10.0,
        )
        records.append(record)
    with running_app(app) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            assert http.post("/v1/records/jobs", json=records).json()["accepted"] == 60
        yield Api(url, admin, daily, today)


def direct(api: Api, horizon: int, first_counted: int) -> TotalForecast:
    """forecast_total on the seeded history of the 56 days before today (the settings' window)."""
    start = api.today - timedelta(days=56)
    history = [api.daily.get(start + timedelta(days=i), 0.0) for i in range(56)]
    return forecast_total(history, start, horizon, first_counted)


def test_usage_forecasts_through_the_function_are_forecast_totals(stand_in: LambdaStandIn, api: Api) -> None:
    month = (api.today.replace(day=1) + timedelta(days=32)).replace(day=1)
    month_end = (month + timedelta(days=32)).replace(day=1)
    want = direct(api, (month_end - api.today).days, (month - api.today).days)
    calls = len(stand_in.events)
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {api.admin}"}, timeout=60) as http:
        answer = http.get("/v1/forecasts/usage", params={"unit": "hepscore23_core_hours"})
        assert answer.status_code == 200, answer.text
        [row] = answer.json()
        assert len(stand_in.events) == calls + 1  # it came from the function
        assert row["method"] == want.method and row["history_days"] == 56
        for field in ("expected", "lower_80", "upper_80", "lower_95", "upper_95"):
            assert row[field] == pytest.approx(getattr(want, field), rel=1e-12), field
        stand_in.behaviour, stand_in.delay = "slow", 3.0
        slow = http.get("/v1/forecasts/usage", params={"unit": "hepscore23_core_hours"})
        assert slow.status_code == 503 and slow.headers["content-type"] == "application/problem+json"
        assert "forecaster" in slow.json()["detail"]
        stand_in.behaviour = "garbage"
        assert http.get("/v1/forecasts/usage", params={"unit": "hepscore23_core_hours"}).status_code == 503


def test_an_allocations_forecast_through_the_function(stand_in: LambdaStandIn, api: Api) -> None:
    start, end = api.today - timedelta(days=10), api.today + timedelta(days=20)
    base = sum(v for d, v in api.daily.items() if start <= d < api.today)
    want = direct(api, 20, 0)
    amount = round(base + want.expected * 0.9)  # runs out before the period ends
    body = {
        "project": "p7",
        "unit": "hepscore23_core_hours",
        "amount": amount,
        "start": str(start),
        "end": str(end),
        "resources": [{"site": SITE}],
    }
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {api.admin}"}, timeout=60) as http:
        made = http.post("/v1/allocations", json=body)
        assert made.status_code == 201, made.text
        path = f"/v1/allocations/{made.json()['allocation_id']}/status"
        got = http.get(path).json()
        forecast = got["forecast"]
        assert got["used"] == pytest.approx(base)
        assert forecast["expected_total"] == pytest.approx(base + want.expected, rel=1e-12)
        assert forecast["upper_95"] == pytest.approx(base + want.upper_95, rel=1e-12)
        assert forecast["probability_exceeds"] == pytest.approx(
            want.probability_above(amount - base), abs=1e-12
        )
        assert forecast["runs_out_on"] is not None
        stand_in.handler = raising_handler
        failed = http.get(path)
        assert failed.status_code == 200
        assert failed.json()["forecast"] is None and "forecaster" in failed.json()["forecast_note"]
        assert failed.json()["used"] == pytest.approx(base)  # the rest of the status stands
