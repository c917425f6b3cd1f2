"""Planted anomalies: each gets exactly the expected verdict, and everything else is ok."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tally.reconcile import ReconcileConfig, Window, reconcile
from tests.reconcile.fixtures import at, billing_table, vms_table
from tests.reconcile.scenarios import (
    AWS_ARN,
    JUDGED,
    MARCH,
    SCENARIOS,
    WINDOW,
    Fleet,
    fleet,
    plant_not_ours,
    plant_over_billed,
    plant_reboot,
    plant_savings_plan,
    plant_spot_interruption,
)


def run(f: Fleet, config: ReconcileConfig | None = None) -> dict[tuple[str, date], dict[str, Any]]:
    outcome = reconcile(
        billing_table(f.bill), vms_table(f.vms), WINDOW, config or ReconcileConfig(), "run-1", JUDGED
    )
    rows = outcome.rows.to_pylist()
    keyed = {(r["instance_id"] or r["resource_id"], r["day"]): r for r in rows}
    assert len(keyed) == len(rows), "one row per instance-day"
    return keyed


def flagged(result: dict[tuple[str, date], dict[str, Any]]) -> dict[tuple[str, date], str]:
    return {k: r["verdict"] for k, r in result.items() if r["verdict"] != "ok"}


def test_clean_fleet_has_no_findings() -> None:
    result = run(fleet())
    assert flagged(result) == {}
    assert len(result) == 4 * 4  # four VMs, four days; the OpenStack VM is out of scope
    row = result[("i-0aaa", MARCH[0])]
    assert row["billed_hours"] == pytest.approx(24.0)
    assert row["measured_hours"] == pytest.approx(24.0)
    assert row["cpu_hours"] == pytest.approx(24 * 4 * 0.5)
    assert row["cost"] == Decimal("9.6") and row["currency"] == "USD"
    assert row["resource_id"] == AWS_ARN.format("i-0aaa")
    web = result[("5e0c9c1a-guid", MARCH[1])]  # matched through the agent's VM name
    assert (web["cost"], web["currency"], web["billed_hours"]) == (Decimal("4.8"), "EUR", pytest.approx(24.0))
    pool = result[("pool_2", MARCH[2])]
    assert (pool["cost"], pool["effective_cost"]) == (Decimal("2.4"), Decimal("1.2"))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_planted_anomaly_gets_exactly_its_verdict(name: str) -> None:
    plant, expected = SCENARIOS[name]
    f = fleet()
    plant(f)
    assert flagged(run(f)) == expected


def test_values_of_planted_anomalies() -> None:
    f = fleet()
    for plant in (
        plant_over_billed,
        plant_spot_interruption,
        plant_savings_plan,
        plant_reboot,
        plant_not_ours,
    ):
        plant(f)
    result = run(f)
    over = result[("i-0aaa", MARCH[0])]
    assert (over["billed_hours"], over["measured_hours"]) == (pytest.approx(24.0), pytest.approx(12.0))
    assert "billed 24.00 h > measured 12.00 h" in over["detail"]
    spot = result[("i-0bbb", MARCH[2])]
    assert spot["billed_hours"] == pytest.approx(13 + 1 / 3, abs=1e-6)
    assert spot["measured_hours"] == pytest.approx(13.25)
    assert spot["cost"] == Decimal("0.12") * 13 + Decimal("0.04")
    assert ("i-0bbb", MARCH[3]) not in result  # interrupted: neither billed nor measured
    sp = result[("i-0bbb", MARCH[0])]
    assert sp["billed_hours"] == pytest.approx(24.0)  # negation, fee and tax lines add no hours
    assert sp["cost"] == Decimal(0)  # covered usage net of its negation
    assert sp["effective_cost"] == Decimal("0.25") * 24
    reboot = result[("i-0aaa", MARCH[1])]
    assert reboot["measured_hours"] == pytest.approx(24 - 0.1)  # six minutes down
    stranger = result[("i-0ccc", MARCH[2])]
    assert stranger["instance_id"] is None and "not ours" in stranger["detail"]


def test_copies_and_overlaps_count_once() -> None:
    f = fleet(days=MARCH[:1])
    aaa = [v for v in f.vms if v["instance_id"] == "i-0aaa"]
    # The same samples again in a later batch, and an overlapping interval from a restarted agent.
    f.vms += [{**v, "ingested_at": v["ingested_at"] + timedelta(hours=1), "batch_id": "b2"} for v in aaa]
    f.vms.append(
        {
            **aaa[4],
            "interval_start": aaa[4]["interval_start"] + timedelta(minutes=5),
            "interval_end": aaa[4]["interval_end"] + timedelta(minutes=5),
            "batch_id": "b3",
        }
    )
    result = run(f)
    assert result[("i-0aaa", MARCH[0])]["measured_hours"] == pytest.approx(24.0)


def test_tolerance_is_configurable_and_defaults_to_the_issue() -> None:
    config = ReconcileConfig()
    assert config.hour_tolerance(0) == pytest.approx(0.5)
    assert config.hour_tolerance(24) == pytest.approx(0.5 + 0.48)
    assert ReconcileConfig(sampling_interval_seconds=60).hour_tolerance(10) == pytest.approx(0.1 + 0.2)
    f = fleet(days=MARCH[:1])
    # 40 minutes missing from the agent: within the default tolerance (0.98 h), not within 0.5 h.
    f.vms = [
        v
        for v in f.vms
        if not (v["instance_id"] == "i-0aaa" and at(MARCH[0], 5) <= v["interval_start"] < at(MARCH[0], 5.75))
    ]
    assert flagged(run(f)) == {}
    strict = ReconcileConfig(relative_tolerance=0.0, sampling_interval_seconds=600)
    assert flagged(run(f, strict)) == {("i-0aaa", MARCH[0]): "over_billed"}


def test_settle_time_limits_the_window() -> None:
    config = ReconcileConfig()
    now = datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert config.last_closed_day(now) == date(2026, 3, 7)  # 8 March 06:00 is 48 h ago
    window = Window.for_period("2026-03", config.last_closed_day(now))
    assert (window.first, window.last) == (date(2026, 3, 1), date(2026, 3, 7))
    assert Window.for_period("2026-02", config.last_closed_day(now)).last == date(2026, 2, 28)
    assert Window.for_period("2026-04", config.last_closed_day(now)).empty
    f = fleet()
    narrow = reconcile(
        billing_table(f.bill),
        vms_table(f.vms),
        Window.for_period("2026-03", date(2026, 3, 2)),
        config,
        "r",
        JUDGED,
    )
    assert sorted({d for d in narrow.rows.column("day").to_pylist()}) == MARCH[:2]
