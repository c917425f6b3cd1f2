"""Allocation alerts (80/90/100 % used, forecast to run out) and an idle batch-job GPU priced by the
tariff, planted over tests/support/allocations.py: exactly the planted alerts fire, once each; they
resolve when their condition clears; clean allocations fire none."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tally.alerts.model import Alert, RuleInput
from tally.foresight.model import AllocationUnit, ResourceRef
from tally.foresight.service import AllocationIn
from tally.services.container import Services
from tests.support import allocations as world

EVERYTHING = world.EVERYTHING


def people(svc: Services) -> dict[str, str]:
    emails = {}
    for label, role, scope in (
        ("admin", "admin", None),
        ("hpc", "site_manager", world.HPC),
        ("lattice", "project_manager", world.PROJECT),
        ("other", "project_manager", "other"),
    ):
        person = svc.people.add_person(label.title(), f"{label}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        emails[label] = person.email
    return emails


def clean(svc: Services) -> None:
    """Allocations nothing should fire for: roomy, of an unused currency, not begun, or over."""
    world.allocate(svc, AllocationUnit.HEPSCORE23_CORE_HOURS, "10000")  # 8.3 %, 1270 forecast
    world.allocate(svc, AllocationUnit.MONEY, "100", (), "CHF")  # nothing priced in CHF
    world.allocate(svc, AllocationUnit.MONEY, "1", (), "EUR", date(2026, 4, 1), date(2026, 5, 1))
    world.allocate(svc, AllocationUnit.HS06_CORE_HOURS, "1", (), None, date(2026, 2, 1), date(2026, 3, 1))


def subjects(alerts: list[Alert]) -> dict[str, Alert]:
    out: dict[str, Alert] = {}
    for alert in alerts:
        assert alert.subject not in out, f"two alerts of {alert.subject}"
        out[alert.subject] = alert
    return out


@pytest.fixture
def svc(tmp_path: Path) -> Services:
    services = world.services(tmp_path)
    world.plant_usage(services)
    return services


def test_exactly_the_planted_allocation_alerts_fire_once_each(svc: Services) -> None:
    emails = people(svc)
    clean(svc)
    # tight: 18.00 of 22 EUR (81.8 %), forecast to reach 22 on 27 March: used-80 and runs-out.
    tight = world.allocate(svc, AllocationUnit.MONEY, "22", (ResourceRef(world.HPC),), "EUR")
    # over: 830 of 800 core-hours (103.75 %): used-80, -90 and -100; exhausted, so no runs-out.
    over = world.allocate(
        svc, AllocationUnit.HEPSCORE23_CORE_HOURS, "800", (ResourceRef(world.HPC, "cluster"),)
    )
    for rule in (
        {"kind": "allocation", "name": "allocations"},
        {"kind": "idle_gpu", "name": "idle GPUs", "params": {"below_percent": 5, "hours": 24}},
    ):
        svc.alerts.add_rule(RuleInput.model_validate(rule), EVERYTHING, "test")

    first = svc.alerts.run(world.NOW)
    assert first.rule_errors == {}
    fired = subjects(svc.alerts.list_alerts(EVERYTHING))
    t, o = tight.allocation_id, over.allocation_id
    assert set(fired) == {
        f"{t}/used-80%",
        f"{t}/runs-out",
        f"{o}/used-80%",
        f"{o}/used-90%",
        f"{o}/used-100%",
        "job/job-77/A100",
    }
    assert len(first.fired) == 6

    runs_out = fired[f"{t}/runs-out"]
    assert runs_out.measures["runs_out_on"] == "2026-03-27"
    assert Decimal(str(runs_out.measures["used"])) == world.MONEY_USED
    assert runs_out.measures["unit"] == "EUR"
    assert fired[f"{o}/used-100%"].measures["percent_used"] == pytest.approx(103.75)
    for alert in fired.values():
        if alert.kind == "allocation":
            assert (alert.site, alert.project) == (world.HPC, world.PROJECT)
            # The project's managers (and the site's, and admins); not another project's manager.
            assert set(alert.recipients) == {emails["admin"], emails["hpc"], emails["lattice"]}

    idle = fired["job/job-77/A100"]
    assert idle.money is not None
    assert (idle.money.amount, idle.money.currency) == (world.IDLE_GPU_MONEY, "EUR")  # 36 x 2.50

    second = svc.alerts.run(world.NOW)
    assert (second.fired, second.refreshed, second.resolved) == ([], 6, [])

    # The tight allocation raised: its two conditions clear and their alerts resolve.
    raised = AllocationIn(
        world.PROJECT, tight.resources, tight.unit, Decimal(100), tight.start, tight.end, "", "EUR"
    )
    svc.foresight.replace(t, raised, EVERYTHING, "test")
    third = svc.alerts.run(world.NOW)
    assert third.fired == [] and len(third.resolved) == 2
    states = {a.subject: a.state for a in svc.alerts.list_alerts(EVERYTHING)}
    assert states[f"{t}/used-80%"] == states[f"{t}/runs-out"] == "resolved"
    assert states[f"{o}/used-100%"] == "open"


def test_clean_allocations_fire_none(svc: Services) -> None:
    clean(svc)
    svc.alerts.add_rule(RuleInput.model_validate({"kind": "allocation"}), EVERYTHING, "test")
    outcome = svc.alerts.run(world.NOW)
    assert outcome.rule_errors == {}
    assert outcome.fired == [] and svc.alerts.list_alerts(EVERYTHING) == []


def test_a_rule_scoped_to_another_project_and_chosen_thresholds(svc: Services) -> None:
    world.allocate(svc, AllocationUnit.HEPSCORE23_CORE_HOURS, "800")  # 103.75 % used
    for rule in (
        {"kind": "allocation", "scope": {"project": "other"}},
        {"kind": "allocation", "params": {"used_percent": [100, 50, 100], "runs_out": "off"}},
    ):
        svc.alerts.add_rule(RuleInput.model_validate(rule), EVERYTHING, "test")
    svc.alerts.run(world.NOW)
    found = sorted(a.subject.rsplit("/", 1)[1] for a in svc.alerts.list_alerts(EVERYTHING))
    assert found == ["used-100%", "used-50%"]


@pytest.mark.parametrize(
    "params",
    [
        {"used_percent": [True]},
        {"used_percent": [0]},
        {"used_percent": [80] * 11},
        {"runs_out": "maybe"},
        {"threshold": 80},
    ],
)
def test_bad_allocation_rule_params_are_refused(svc: Services, params: dict[str, object]) -> None:
    from tally.alerts.kinds.base import InvalidParamsError

    with pytest.raises(InvalidParamsError):
        svc.alerts.add_rule(
            RuleInput.model_validate({"kind": "allocation", "params": params}), EVERYTHING, "test"
        )


def test_allocation_alerts_with_the_forecaster_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the evaluator runs on AWS: forecasts from the forecaster function (boto3 against Lambda's
    Invoke API on loopback, the real handler behind it) fire the same runs-out alert; a failing
    forecaster leaves the thresholds firing alone, with no rule error."""
    from tally.foresight.settings import ForesightSettings
    from tests.support.deployments import local_settings
    from tests.support.lambda_server import lambda_stand_in
    from tests.support.lambdas import load_function

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with lambda_stand_in("forecaster", load_function("forecaster").handler) as stand_in:
        settings = local_settings(
            tmp_path,
            foresight=ForesightSettings(history_days=7),
            forecaster_function="forecaster",
            lambda_endpoint_url=stand_in.url,
            forecaster_timeout_seconds=2.0,
        )
        svc = Services(settings)
        world.plant_usage(svc)
        tight = world.allocate(svc, AllocationUnit.MONEY, "22", (ResourceRef(world.HPC),), "EUR")
        svc.alerts.add_rule(RuleInput.model_validate({"kind": "allocation"}), EVERYTHING, "test")
        run = svc.alerts.run(world.NOW)
        assert run.rule_errors == {} and stand_in.events  # the forecast came from the function
        fired = subjects(svc.alerts.list_alerts(EVERYTHING))
        t = tight.allocation_id
        assert set(fired) == {f"{t}/used-80%", f"{t}/runs-out"}
        assert fired[f"{t}/runs-out"].measures["runs_out_on"] == "2026-03-27"  # as in-process

        def failing(event: object, context: object) -> object:
            raise MemoryError("the sandbox ran out of memory")

        stand_in.handler = failing
        again = svc.alerts.run(world.NOW)
        assert again.rule_errors == {} and again.fired == [] and len(again.resolved) == 1
        states = {a.subject: a.state for a in svc.alerts.list_alerts(EVERYTHING)}
        assert states == {f"{t}/used-80%": "open", f"{t}/runs-out": "resolved"}
