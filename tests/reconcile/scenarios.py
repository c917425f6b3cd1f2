"""A small cloud fleet for a few March days, and anomalies to plant in its bill or its samples.

`fleet()` bills and measures two AWS VMs, an Azure VM and a scale-set VM for each day, plus an
unbilled private-cloud VM; each plant changes the fleet so that one verdict follows (SCENARIOS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tally.reconcile import Window
from tests.reconcile.fixtures import at, hourly, line, samples

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


def plant_agent_missing(f: Fleet) -> None:
    f.vms = [
        v for v in f.vms if not (v["instance_id"] == "i-0bbb" and v["interval_start"].date() == MARCH[1])
    ]


def plant_not_ours(f: Fleet) -> None:
    f.bill += hourly(
        provider="aws", account="111", resource_id="i-0ccc", first=at(MARCH[2]), hours=24, rate="0.4000"
    )


def plant_over_billed(f: Fleet) -> None:
    # i-0aaa stopped at noon on day 1 (the agent says so), yet the bill charges the whole day.
    f.vms = [
        v
        for v in f.vms
        if not (v["instance_id"] == "i-0aaa" and at(MARCH[0], 12) <= v["interval_start"] < at(MARCH[1]))
    ]


def plant_measured_not_billed(f: Fleet) -> None:
    f.bill = [
        b
        for b in f.bill
        if not (
            b["x_vm_name"] is None
            and "Web-1" in (b["resource_id"] or "")
            and b["charge_period_start"] == at(MARCH[3])
        )
    ]


def plant_clock_skew(f: Fleet) -> None:
    # The agent on i-0bbb runs 20 minutes fast, the one on web-1 20 minutes slow.
    for v in f.vms:
        shift = {"i-0bbb": timedelta(minutes=20), "5e0c9c1a-guid": timedelta(minutes=-20)}.get(
            v["instance_id"]
        )
        if shift:
            v["interval_start"] += shift
            v["interval_end"] += shift


def plant_reboot(f: Fleet) -> None:
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


def plant_spot_interruption(f: Fleet) -> None:
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


def plant_rate_anomaly(f: Fleet) -> None:
    for b in f.bill:
        if b["resource_id"] == AWS_ARN.format("i-0aaa") and b["charge_period_start"].date() == MARCH[3]:
            b["billed_cost"] = Decimal("0.5000")


def plant_idle(f: Fleet) -> None:
    for v in f.vms:
        if v["instance_id"] == "5e0c9c1a-guid" and v["interval_start"].date() == MARCH[2]:
            v["cpu_busy_seconds"] = 900 * 2 * 0.01


def plant_savings_plan(f: Fleet) -> None:
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
    "agent_missing_for_a_day": (plant_agent_missing, {("i-0bbb", MARCH[1]): "billed_not_measured"}),
    "vm_not_ours": (
        plant_not_ours,
        {(AWS_ARN.format("i-0ccc").rsplit("/", 1)[1], MARCH[2]): "billed_not_measured"},
    ),
    "over_billing": (plant_over_billed, {("i-0aaa", MARCH[0]): "over_billed"}),
    "measured_not_billed": (plant_measured_not_billed, {("5e0c9c1a-guid", MARCH[3]): "measured_not_billed"}),
    "clock_skew": (plant_clock_skew, {}),
    "reboot": (plant_reboot, {}),
    "spot_interruption": (plant_spot_interruption, {}),
    "rate_anomaly": (plant_rate_anomaly, {("i-0aaa", MARCH[3]): "rate_anomaly"}),
    "idle": (plant_idle, {("5e0c9c1a-guid", MARCH[2]): "idle"}),
    "savings_plan_with_negation": (plant_savings_plan, {}),
}
