"""The schedulers that run subscriptions: the alerts evaluator's Lambda handler (one invocation
evaluates the alert rules and delivers the subscriptions due) and `tally subscriptions ...`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tally.services.container import Services
from tests.alerts.receivers import smtp_server
from tests.subscriptions import world
from tests.support.cli import TALLY
from tests.support.lambdas import LambdaContext, load_function


def test_the_alerts_evaluator_delivers_due_subscriptions_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as box:
        planted = world.plant(Services(world.settings_for(tmp_path, box.port)))
        planted.svc.subscriptions.create(
            planted.ann, world.VIEW, "weekly", "csv", "email", now=world.SUBSCRIBED
        )
        for name, value in {
            "TALLY_MODE": "local",
            "TALLY_HOME": str(tmp_path),
            "TALLY_ALERTS_SMTP_HOST": "127.0.0.1",
            "TALLY_ALERTS_SMTP_PORT": str(box.port),
        }.items():
            monkeypatch.setenv(name, value)
        handler = load_function("alerts_evaluator").handler
        context = LambdaContext("alerts-evaluator")
        event = {"scheduled_time": "2026-03-02T00:15:00Z"}
        first = handler(event, context)
        assert first["rules"] == 0 and first["fired"] == 0  # the alerts' part of the answer, as before
        assert (first["subscriptions"]["sent"], first["subscriptions"]["failed"]) == (1, 0)
        again = handler(event, context)  # the schedule's retry of the same time: nothing resent
        assert (again["subscriptions"]["sent"], again["subscriptions"]["done"]) == (0, 1)
        assert len(box.mails) == 1
        [part] = [p for p in box.mails[0][1].walk() if p.get_filename()]
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        rows = {r["site"]: Decimal(r["core_hours"]) for r in csv.DictReader(io.StringIO(payload.decode()))}
        assert rows == {s: Decimal(h) for s, (_, h) in world.WEEK_W09.items()}


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home), "TALLY_MODE": "local"}
    return subprocess.run(
        [TALLY, "subscriptions", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_line_adds_lists_runs_shows_and_removes(tmp_path: Path) -> None:
    planted = world.plant(Services(world.settings_for(tmp_path)))
    added = run(tmp_path, "add", "--person", planted.ann, "--view", world.VIEW, "--cadence", "weekly")
    assert added.returncode == 0, added.stderr
    sub = json.loads(added.stdout)
    assert (sub["cadence"], sub["format"], sub["channel"]) == ("weekly", "pdf", "email")
    listed = json.loads(run(tmp_path, "list").stdout)
    assert [(s["id"], s["person_id"]) for s in listed] == [(sub["id"], planted.ann)]
    # Made now, the subscription is first due after this week; a run long after delivers the week
    # before (2029-12-31 to 2030-01-06: ISO week 2030-W01). No SMTP relay is configured here: the
    # delivery fails, is recorded, and is retried later.
    outcome = json.loads(run(tmp_path, "run", "--at", "2030-01-07T00:15:00Z").stdout)
    assert (outcome["sent"], outcome["failed"]) == (0, 1)
    shown = json.loads(run(tmp_path, "show", sub["id"]).stdout)
    [delivery] = shown["deliveries"]
    assert (delivery["period"], delivery["state"], delivery["attempts"]) == ("2030-W01", "failed", 1)
    assert "no SMTP relay is configured" in delivery["detail"]
    bad = run(tmp_path, "add", "--person", planted.ann, "--view", "nope")
    assert bad.returncode == 1 and "no saved view" in bad.stderr
    assert run(tmp_path, "run", "--at", "yesterday").returncode == 1
    assert run(tmp_path, "remove", sub["id"]).returncode == 0
    assert json.loads(run(tmp_path, "list").stdout) == []
    gone = run(tmp_path, "remove", sub["id"])
    assert gone.returncode == 1 and "no subscription" in gone.stderr
