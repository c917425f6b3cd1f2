"""`tally reconcile` as finance reads it: runs of days with one verdict per VM on one line with
their cost, days not settled yet named, and a period without a bill said (exit 2 with --strict)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tally.adapters.warehouse import open_warehouse
from tally.cli.main import app
from tally.reconcile.findings import finding_runs, unsettled_days
from tally.settings import Settings
from tests.reconcile.scenarios import MARCH, fleet
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

ARGS = ["reconcile", "--period", "2026-03", "--now", "2026-03-07T06:00:00Z"]  # 1-4 March are closed


def row(day: int, verdict: str, cost: str | None, resource: str = "i-1", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "instance_day",
        "provider": "aws",
        "account": "111",
        "resource_id": resource,
        "instance_id": resource,
        "verdict": verdict,
        "day": date(2026, 3, day),
        "billed_hours": None if cost is None else 24.0,
        "measured_hours": 24.0,
        "cost": None if cost is None else Decimal(cost),
        "flagged_cost": None,
        "currency": "USD",
        "detail": f"detail {verdict}",
        **extra,
    }


def test_consecutive_days_with_one_verdict_are_one_line_with_their_cost() -> None:
    rows = [
        row(1, "idle", "0.1"),
        row(2, "idle", "0.1"),
        row(3, "idle", "0.1"),
        row(4, "ok", "0.1"),
        row(5, "idle", "0.2"),  # after a gap: a run of its own
        row(6, "over_billed", "7.25"),
        row(2, "measured_not_billed", None, resource="i-2"),
        row(3, "measured_not_billed", None, resource="i-2"),
        {
            **row(1, "needs_review", "12.50", resource="INV-1"),
            "kind": "invoice",
            "instance_id": None,
            "flagged_cost": Decimal("0.3"),
        },
    ]
    got = [
        (r.kind, r.resource, r.verdict, r.first_day.day, r.last_day.day, r.days, r.cost)
        for r in finding_runs(rows)
    ]
    assert got == [
        ("instance_day", "i-1", "idle", 1, 3, 3, Decimal("0.3")),  # exact, not 0.30000000000000004
        ("instance_day", "i-1", "idle", 5, 5, 1, Decimal("0.2")),
        ("instance_day", "i-1", "over_billed", 6, 6, 1, Decimal("7.25")),
        ("instance_day", "i-2", "measured_not_billed", 2, 3, 2, Decimal(0)),  # nothing billed: cost 0
        ("invoice", "INV-1", "needs_review", 1, 1, 1, Decimal("12.50")),
    ]
    runs = finding_runs(rows)
    assert runs[0].billed_hours == 72.0 and runs[0].measured_hours == 72.0
    assert runs[3].billed_hours is None and runs[4].flagged_cost == Decimal("0.3")


def test_days_inside_the_settle_time_are_named() -> None:
    now = datetime(2026, 3, 7, 6, tzinfo=UTC)
    pending = unsettled_days("2026-03", date(2026, 3, 4), now, 48)
    assert pending is not None
    assert (pending.first_day, pending.last_day) == (date(2026, 3, 5), date(2026, 3, 7))
    assert pending.judged_from == datetime(2026, 3, 8, tzinfo=UTC)  # 5 March ends, then 48 hours
    assert unsettled_days("2026-02", date(2026, 2, 28), now, 48) is None  # all judged
    assert unsettled_days("2026-04", None, now, 48) is None  # not begun
    nothing = unsettled_days("2026-03", None, datetime(2026, 3, 2, tzinfo=UTC), 48)
    assert nothing is not None and (nothing.first_day, nothing.last_day) == (
        date(2026, 3, 1),
        date(2026, 3, 2),
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TALLY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TALLY_MODE", "local")
    monkeypatch.delenv("TALLY_FINANCE_TOPIC_ARN", raising=False)
    return tmp_path / "home"


def test_the_cli_prints_runs_with_costs_and_the_unsettled_days(home: Path) -> None:
    warehouse = open_warehouse(Settings(mode="local", home=home))
    f = fleet()
    # i-0bbb is billed on 2 and 3 March but its agent sent nothing those days.
    store_vms(
        warehouse,
        [v for v in f.vms if not (v["instance_id"] == "i-0bbb" and v["interval_start"].date() in MARCH[1:3])],
    )
    store_bill(warehouse, f.bill, "d1")
    want = sum(
        (
            Decimal(b["billed_cost"])
            for b in f.bill
            if b["resource_id"] == "i-0bbb" and b["charge_period_start"].date() in MARCH[1:3]
        ),
        Decimal(0),
    )
    result = CliRunner().invoke(app, ARGS, env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    line = re.search(r"│ aws .*i-0bbb.*│", result.output)
    assert line is not None, result.output
    cells = [c.strip() for c in line.group(0).strip("│").split("│")]
    assert cells[:9] == [
        "aws",
        "i-0bbb",
        "billed_not_measured",
        "2026-03-02",
        "2026-03-03",
        "2",
        "48.00",
        "",
        f"{want:,.2f} USD",
    ]
    assert result.output.count("i-0bbb") == 1  # one line for both days
    assert "Not yet settled: 2026-03-05 to 2026-03-07 (judged from 2026-03-08 00:00 UTC on" in result.output
    data = json.loads(CliRunner().invoke(app, [*ARGS, "--json"]).output)
    assert data["bill_imported"] is True
    assert data["unsettled"] == {
        "first_day": "2026-03-05",
        "last_day": "2026-03-07",
        "judged_from": "2026-03-08T00:00:00Z",
    }
    runs = [r for r in data["finding_runs"] if r["resource"] == "i-0bbb"]
    assert [(r["first_day"], r["last_day"], r["days"], Decimal(r["cost"])) for r in runs] == [
        ("2026-03-02", "2026-03-03", 2, want)
    ]


def test_a_period_without_a_bill_says_so_and_strict_fails(home: Path) -> None:
    store_vms(open_warehouse(Settings(mode="local", home=home)), fleet().vms)
    result = CliRunner().invoke(app, ARGS, env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("No bill is imported for 2026-03: ")
    assert CliRunner().invoke(app, [*ARGS, "--strict"]).exit_code == 2
    assert json.loads(CliRunner().invoke(app, [*ARGS, "--json"]).output)["bill_imported"] is False
