"""The alerts evaluator's Lambda handler as the schedule invokes it: as of the scheduled time, the
second invocation for the same conditions fires nothing, and the answer counts what happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from tally.services.container import Services
from tests.alerts import world
from tests.support.deployments import local_settings
from tests.support.lambdas import LambdaContext, load_function


def test_the_handler_evaluates_as_of_the_scheduled_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = Services(local_settings(tmp_path))
    world.plant(svc)
    world.add_rules(svc)
    monkeypatch.setenv("TALLY_MODE", "local")
    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    handler = load_function("alerts_evaluator").handler
    context = LambdaContext("alerts-evaluator")
    event = {"scheduled_time": "2026-03-10T12:00:00Z"}
    first = handler(event, context)
    assert (first["at"], first["rules"], first["fired"], first["resolved"]) == (
        "2026-03-10T12:00:00Z",
        6,
        6,
        0,
    )
    assert first["rule_errors"] == {} and first["delivery_failures"] == 0
    second = handler(event, context)
    assert (second["fired"], second["refreshed"]) == (0, 6)
    # A week later no sample is fresh and no job ended within the week (hog's ended exactly 168 h
    # before, outside the window): idle, stuck, heavy user and load resolve; CLOUD's and HPC's
    # agents are quiet now too, and QUIET's still is.
    later = handler({"scheduled_time": "2026-03-17T12:00:00Z"}, context)
    assert (later["fired"], later["resolved"], later["refreshed"]) == (2, 5, 1)
    quiet = sorted((a.site, a.resource) for a in svc.alerts.list_alerts(world.EVERYTHING, state="open"))
    assert quiet == [(world.CLOUD, "os1"), (world.HPC, "cluster"), (world.QUIET, "edge")]
