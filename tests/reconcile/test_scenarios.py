"""Planted anomalies: each gets exactly the expected verdict, and everything else is ok."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tally.reconcile import ReconcileConfig, Window, reconcile
from tests.reconcile.fixtures import at, billing_table, hourly, line, samples, vms_table

MARCH = [date(2026, 3, d) for d in range(1, 5)]
WINDOW = Window.for_period("2026-03", last_closed=date(2026, 3, 4))
JUDGED = datetime(2026, 3, 7, tzinfo=UTC)
AWS_ARN = "arn:aws:ec2:eu-west-1:111111111111:instance/{}"
AZ = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}"
AZ_SET = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/pool"


@dataclass
class Fleet:
    bill: list[dict[str, Any]] = field(default_factory=list)
    vms: list[dict[str, Any]] = field(default_factory=list)


def fleet(days: list[date] = MARCH, skip: set[tuple[str, date]] = frozenset()) -> Fleet:  # type: ignore[assignment]
    """Two AWS VMs (USD, one named by ARN in the bill), an Azure VM and a scale-set VM (EUR)."""
    f = Fleet()
    for day in days:
        for name, resource in (("i-0aaa", AWS_ARN.format("i-0aaa")), ("i-0bbb", "i-0bbb")):
            if (name, day) in skip:
                continue
            f.bill += hourly(
                provider="aws",
                account="111",
                resource_id=resource,
                first=at(day),
                hours=24,
                rate="0.4000",
                usage_type="EUW1-BoxUsage:m5.xlarge",
            )
            f.vms += samples(
                provider="aws", account="111", instance_id=name, start=at(day), end=at(day + timedelta(1))
            )
        if ("web-1", day) not in skip:
            f.bill.append(
                line(
                    provider="azure",
                    account="sub-1",
                    resource_id=AZ.format("Web-1"),
                    start=at(day),
                    end=at(day + timedelta(1)),
                    cost="4.8",
                    hours="24",
                    unit="Hours",
                    currency="EUR",
                    list_price="0.2",
                    invoice="AZ-1",
                    service="Virtual Machines",
                )
            )
            # The agent knows the VM by its vmId and name (Azure IMDS).
            f.vms += samples(
                provider="azure",
                account="sub-1",
                instance_id="5e0c9c1a-guid",
                vm_name="web-1",
                start=at(day),
                end=at(day + timedelta(1)),
                vcpus=2,
            )
        if ("pool_2", day) not in skip:
            f.bill.append(
                line(
                    provider="azure",
                    account="sub-1",
                    resource_id=AZ_SET,
                    vm_name="pool_2",
                    start=at(day),
                    end=at(day + timedelta(1)),
                    cost="2.4",
                    hours="24",
                    unit="Hours",
                    currency="EUR",
                    list_price="0.1",
                    invoice="AZ-1",
                    option="reserved",
                    effective="1.2",
                    service="Virtual Machines",
                )
            )
            f.vms += samples(
                provider="azure",
                account="sub-1",
                instance_id="pool_2",
                start=at(day),
                end=at(day + timedelta(1)),
                vcpus=2,
            )
    # A private-cloud VM: no bill covers it, so it is not judged.
    f.vms += samples(
        provider="openstack", account="lab", instance_id="os-1", start=at(MARCH[0]), end=at(MARCH[1])
    )
    return f


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


def _agent_missing(f: Fleet) -> None:
    f.vms = [
        v for v in f.vms if not (v["instance_id"] == "i-0bbb" and v["interval_start"].date() == MARCH[1])
    ]


def _not_ours(f: Fleet) -> None:
    f.bill += hourly(
        provider="aws", account="111", resource_id="i-0ccc", first=at(MARCH[2]), hours=24, rate="0.4000"
    )


def _over_billed(f: Fleet) -> None:
    # i-0aaa stopped at noon on day 1 (the agent says so), yet the bill charges the whole day.
    f.vms = [
        v
        for v in f.vms
        if not (v["instance_id"] == "i-0aaa" and at(MARCH[0], 12) <= v["interval_start"] < at(MARCH[1]))
    ]


def _measured_not_billed(f: Fleet) -> None:
    f.bill = [
        b
        for b in f.bill
        if not (
            b["x_vm_name"] is None
            and "Web-1" in (b["resource_id"] or "")
            and b["charge_period_start"] == at(MARCH[3])
        )
    ]


def _clock_skew(f: Fleet) -> None:
    # The agent on i-0bbb runs 20 minutes fast, the one on web-1 20 minutes slow.
    for v in f.vms:
        shift = {"i-0bbb": timedelta(minutes=20), "5e0c9c1a-guid": timedelta(minutes=-20)}.get(
            v["instance_id"]
        )
        if shift:
            v["interval_start"] += shift
            v["interval_end"] += shift


def _reboot(f: Fleet) -> None:
    # i-0aaa reboots at 10:00 on day 2 and is back at 10:06; the agent restarts with it.
    boot = at(MARCH[1], 10.1)
    out = []
    for v in f.vms:
        if v["instance_id"] == "i-0aaa" and v["interval_start"] >= at(MARCH[1], 10):
            if v["interval_start"] == at(MARCH[1], 10):
                v = {**v, "uptime_seconds": 540, "boot_time": boot, "cpu_busy_seconds": 540 * 2.0}
            else:
                v = {
                    **v,
                    "uptime_seconds": int((v["interval_end"] - boot).total_seconds()),
                    "boot_time": boot,
                }
        out.append(v)
    f.vms = out


def _spot_interruption(f: Fleet) -> None:
    # i-0bbb is a spot VM interrupted at 13:20 on day 3: billed by the second, last sample lost.
    stop = at(MARCH[2], 13 + 1 / 3)
    f.bill = [
        b for b in f.bill if not (b["resource_id"] == "i-0bbb" and b["charge_period_start"] >= at(MARCH[2]))
    ]
    f.bill += hourly(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        first=at(MARCH[2]),
        hours=13,
        rate="0.1200",
        list_price="0.4000",
        option="spot",
        usage_type="EUW1-SpotUsage:m5.xlarge",
    )
    f.bill.append(
        line(
            provider="aws",
            account="111",
            resource_id="i-0bbb",
            start=at(MARCH[2], 13),
            end=stop,
            cost="0.04",
            hours="0.3333333333",
            list_price="0.4000",
            option="spot",
            usage_type="EUW1-SpotUsage:m5.xlarge",
        )
    )
    f.vms = [
        v for v in f.vms if not (v["instance_id"] == "i-0bbb" and v["interval_end"] > at(MARCH[2], 13.25))
    ]


def _rate_anomaly(f: Fleet) -> None:
    for b in f.bill:
        if b["resource_id"] == AWS_ARN.format("i-0aaa") and b["charge_period_start"].date() == MARCH[3]:
            b["billed_cost"] = Decimal("0.5000")


def _idle(f: Fleet) -> None:
    for v in f.vms:
        if v["instance_id"] == "5e0c9c1a-guid" and v["interval_start"].date() == MARCH[2]:
            v["cpu_busy_seconds"] = 900 * 2 * 0.01


def _savings_plan(f: Fleet) -> None:
    # Day 1 of i-0bbb covered by a savings plan: covered usage plus its negation, and a fee and tax
    # line naming the instance. Hours count once; the instance-day's cost is what is charged (0).
    f.bill = [
        b
        for b in f.bill
        if not (b["resource_id"] == "i-0bbb" and b["charge_period_start"].date() == MARCH[0])
    ]
    covered = hourly(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        first=at(MARCH[0]),
        hours=24,
        rate="0.4000",
        option="savings_plan",
        line_type="SavingsPlanCoveredUsage",
        effective="0.2500",
        usage_type="EUW1-BoxUsage:m5.xlarge",
    )
    negation = hourly(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        first=at(MARCH[0]),
        hours=24,
        rate="-0.4000",
        list_price="0.4000",
        option="savings_plan",
        line_type="SavingsPlanNegation",
        effective="0",
        usage_type="EUW1-BoxUsage:m5.xlarge",
    )
    fee = line(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        start=at(MARCH[0]),
        end=at(MARCH[1]),
        cost="3",
        category="Purchase",
        hours="24",
        line_type="SavingsPlanRecurringFee",
    )
    tax = line(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        start=at(MARCH[0]),
        end=at(MARCH[1]),
        cost="1",
        category="Tax",
        line_type="Tax",
    )
    f.bill += covered + negation + [fee, tax]


SCENARIOS: dict[str, tuple[Callable[[Fleet], None], dict[tuple[str, date], str]]] = {
    "agent_missing_for_a_day": (_agent_missing, {("i-0bbb", MARCH[1]): "billed_not_measured"}),
    "vm_not_ours": (
        _not_ours,
        {(AWS_ARN.format("i-0ccc").rsplit("/", 1)[1], MARCH[2]): "billed_not_measured"},
    ),
    "over_billing": (_over_billed, {("i-0aaa", MARCH[0]): "over_billed"}),
    "measured_not_billed": (_measured_not_billed, {("5e0c9c1a-guid", MARCH[3]): "measured_not_billed"}),
    "clock_skew": (_clock_skew, {}),
    "reboot": (_reboot, {}),
    "spot_interruption": (_spot_interruption, {}),
    "rate_anomaly": (_rate_anomaly, {("i-0aaa", MARCH[3]): "rate_anomaly"}),
    "idle": (_idle, {("5e0c9c1a-guid", MARCH[2]): "idle"}),
    "savings_plan_with_negation": (_savings_plan, {}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_planted_anomaly_gets_exactly_its_verdict(name: str) -> None:
    plant, expected = SCENARIOS[name]
    f = fleet()
    plant(f)
    assert flagged(run(f)) == expected


def test_values_of_planted_anomalies() -> None:
    f = fleet()
    for plant in (_over_billed, _spot_interruption, _savings_plan, _reboot, _not_ours):
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
