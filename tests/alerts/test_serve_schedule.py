"""`tally serve` evaluates the alert rules on its own schedule (TALLY_ALERTS_SCHEDULE_SECONDS), and
not at all when it is 0 (as in the other serve tests); the unit of the scheduler keeps running
past a failing evaluation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tally.alerts.model import RuleInput
from tally.alerts.scheduler import AlertScheduler
from tally.people.authz import Fence
from tally.services.container import Services
from tests.alerts import world
from tests.support.deployments import local_settings
from tests.support.serve_process import TallyServe
from tests.support.servers import free_port


def quiet_site(home: Path) -> Services:
    """A resource last heard from 10 hours ago, and a rule calling 6 hours of silence quiet."""
    svc = Services(local_settings(home))
    svc.add_site(world.QUIET)
    now = datetime.now(UTC).replace(microsecond=0)
    job = world.hpc_job(1, "zed", now - timedelta(hours=12), 1, 1, site=world.QUIET)
    world.ingest(svc, "jobs", world.QUIET, [job], now - timedelta(hours=10))
    rule = {"kind": "silent_agent", "params": {"hours": 6}}
    svc.alerts.add_rule(RuleInput.model_validate(rule), Fence(everything=True), "test")
    return svc


def test_serve_fires_on_its_schedule(tmp_path: Path) -> None:
    home = tmp_path / "home"
    svc = quiet_site(home)
    server = TallyServe(home, free_port(), env={"TALLY_ALERTS_SCHEDULE_SECONDS": "0.5"})
    try:
        assert "alerts: evaluated every 0.5 s" in server.start()
        deadline = time.monotonic() + 30
        while not svc.alerts.list_alerts(Fence(everything=True)) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # a few more runs: the condition still holds, nothing fires twice
    finally:
        server.stop()
    [alert] = svc.alerts.list_alerts(Fence(everything=True))
    assert (alert.kind, alert.site, alert.resource, alert.state) == (
        "silent_agent",
        world.QUIET,
        "edge",
        "open",
    )
    assert alert.last_seen_at > alert.fired_at


def test_serve_with_the_schedule_off_evaluates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    svc = quiet_site(home)
    server = TallyServe(home, free_port())  # the serve tests' default: TALLY_ALERTS_SCHEDULE_SECONDS=0
    try:
        assert "alerts: evaluated" not in server.start()
        time.sleep(1.5)
    finally:
        server.stop()
    assert svc.alerts.list_alerts(Fence(everything=True)) == []


def test_the_scheduler_outlives_a_failing_run() -> None:
    calls: list[float] = []

    def run() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the warehouse is away")

    scheduler = AlertScheduler(run, 0.05)
    scheduler.start()
    deadline = time.monotonic() + 10
    while scheduler.runs < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    scheduler.stop()
    assert scheduler.runs >= 3 and len(calls) >= 3
