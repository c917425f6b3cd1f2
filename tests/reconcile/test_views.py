"""The billed_vs_measured and cost_per_normalised_hour views on DuckDB fixtures, values asserted.

The engine runs the real athena_queries (tables/billing.sql, views/billed_vs_measured.sql, ...)
over a warehouse written at the billing and vms key layouts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tally.adapters.warehouse import open_warehouse
from tally.query.duckdb_engine import DuckDbEngine
from tally.settings import Settings
from tests.reconcile.fixtures import at, hourly, line, samples
from tests.reconcile.scenarios import AWS_ARN
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

DAY = date(2026, 3, 2)
AZURE_VM = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}"


def fixture_lines() -> list[dict[str, Any]]:
    bill = hourly(
        provider="aws",
        account="111",
        resource_id=AWS_ARN.format("i-0AAA"),
        first=at(DAY),
        hours=24,
        rate="0.4000",
        effective="0.3000",
        usage_type="EUW1-BoxUsage:m5.xlarge",
    )
    # Savings-plan covered usage of i-0bbb with its negation, plus fee and tax lines: hours once.
    bill += hourly(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        first=at(DAY),
        hours=24,
        rate="0.4000",
        option="savings_plan",
        line_type="SavingsPlanCoveredUsage",
        effective="0.2500",
    )
    bill += hourly(
        provider="aws",
        account="111",
        resource_id="i-0bbb",
        first=at(DAY),
        hours=24,
        rate="-0.4000",
        option="savings_plan",
        line_type="SavingsPlanNegation",
        effective="0",
    )
    bill.append(
        line(
            provider="aws",
            account="111",
            resource_id="i-0bbb",
            start=at(DAY),
            end=at(DAY, 24),
            cost="2",
            category="Purchase",
            hours="24",
            line_type="SavingsPlanRecurringFee",
        )
    )
    bill.append(
        line(
            provider="aws",
            account="111",
            resource_id=None,
            start=at(DAY),
            end=at(DAY, 24),
            cost="3",
            category="Tax",
            line_type="Tax",
        )
    )
    # A VM that is not ours: billed, never measured.
    bill += hourly(
        provider="aws", account="111", resource_id="i-0ccc", first=at(DAY), hours=10, rate="0.4000"
    )
    bill.append(
        line(
            provider="azure",
            account="sub-1",
            start=at(DAY),
            end=at(DAY, 24),
            cost="4.8",
            effective="4.8",
            hours="24",
            unit="Hours",
            currency="EUR",
            list_price="0.2",
            resource_id=AZURE_VM.format("Web-1"),
        )
    )
    # Agents that report their instance by its full resource path (Azure) or ARN (AWS).
    bill.append(
        line(
            provider="azure",
            account="sub-1",
            start=at(DAY),
            end=at(DAY, 24),
            cost="2.4",
            hours="24",
            unit="Hours",
            currency="EUR",
            resource_id=AZURE_VM.format("Db-2"),
        )
    )
    bill += hourly(provider="aws", account="111", resource_id="i-0ddd", first=at(DAY), hours=6, rate="0.1000")
    return bill


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDbEngine:
    tmp = Path(tmp_path_factory.mktemp("views"))
    warehouse = open_warehouse(Settings(mode="local", home=tmp / "home"))
    store_bill(warehouse, fixture_lines(), "d1")
    vms = samples(
        provider="aws", account="111", instance_id="i-0aaa", start=at(DAY), end=at(DAY, 24), vcpus=4
    )
    vms += samples(
        provider="aws", account="111", instance_id="i-0bbb", start=at(DAY), end=at(DAY, 20), vcpus=8
    )
    vms += samples(
        provider="azure", account="sub-1", instance_id="web-1", start=at(DAY), end=at(DAY, 24), vcpus=2
    )
    vms += samples(
        provider="openstack", account="lab", instance_id="os-1", start=at(DAY), end=at(DAY, 6), vcpus=2
    )
    vms += samples(
        provider="azure",
        account="sub-1",
        instance_id=AZURE_VM.format("Db-2"),
        start=at(DAY),
        end=at(DAY, 12),
        vcpus=2,
    )
    vms += samples(
        provider="aws", account="111", instance_id=AWS_ARN.format("i-0DDD"), start=at(DAY), end=at(DAY, 6)
    )
    store_vms(warehouse, vms)
    return DuckDbEngine(tmp / "home" / "warehouse")


def test_billed_vs_measured(engine: DuckDbEngine) -> None:
    rows = engine.query("SELECT * FROM billed_vs_measured ORDER BY provider, instance_key").table.to_pylist()
    got = {(r["provider"], r["instance_key"]): r for r in rows}
    assert sorted(got) == [
        ("aws", "i-0aaa"),
        ("aws", "i-0bbb"),
        ("aws", "i-0ccc"),
        ("aws", "i-0ddd"),
        ("azure", "db-2"),
        ("azure", "web-1"),
        ("openstack", "os-1"),
    ]
    aaa = got[("aws", "i-0aaa")]
    assert (aaa["presence"], aaa["day"], aaa["currency"], aaa["bill_lines"]) == ("both", DAY, "USD", 24)
    assert (aaa["billed_hours"], aaa["measured_hours"], aaa["difference_hours"]) == (24.0, 24.0, 0.0)
    assert (aaa["billed_cost"], aaa["effective_cost"]) == (Decimal("9.6"), Decimal("7.2"))
    assert aaa["resource_id"] == AWS_ARN.format("i-0AAA") and aaa["instance_id"] == "i-0aaa"
    assert aaa["normalised_hours_hepscore23"] == pytest.approx(24 * 4 * 10.0)
    bbb = got[("aws", "i-0bbb")]  # negation and fee lines add no hours
    assert (bbb["billed_hours"], bbb["measured_hours"]) == (24.0, 20.0)
    assert bbb["difference_hours"] == pytest.approx(4.0) and bbb["effective_cost"] == Decimal("6")
    ccc = got[("aws", "i-0ccc")]
    assert (ccc["presence"], ccc["billed_hours"], ccc["measured_hours"], ccc["instance_id"]) == (
        "billed_only",
        10.0,
        0.0,
        None,
    )
    web = got[("azure", "web-1")]
    assert (web["presence"], web["currency"], web["billed_cost"], web["account"]) == (
        "both",
        "EUR",
        Decimal("4.8"),
        "sub-1",
    )
    # Matched although the agent named them by resource path / ARN and the bill did not (or did).
    db2 = got[("azure", "db-2")]
    assert (db2["presence"], db2["billed_hours"], db2["measured_hours"], db2["difference_hours"]) == (
        "both",
        24.0,
        12.0,
        12.0,
    )
    assert db2["instance_id"] == AZURE_VM.format("Db-2") and db2["resource_id"] == AZURE_VM.format("Db-2")
    ddd = got[("aws", "i-0ddd")]
    assert (ddd["presence"], ddd["billed_hours"], ddd["measured_hours"], ddd["billed_cost"]) == (
        "both",
        6.0,
        6.0,
        Decimal("0.6"),
    )
    assert ddd["instance_id"] == AWS_ARN.format("i-0DDD")
    lab = got[("openstack", "os-1")]
    assert (lab["presence"], lab["measured_hours"], lab["billed_hours"], lab["currency"]) == (
        "measured_only",
        6.0,
        0.0,
        None,
    )


def test_cost_per_normalised_hour(engine: DuckDbEngine) -> None:
    rows = engine.query("SELECT * FROM cost_per_normalised_hour ORDER BY provider").table.to_pylist()
    assert [(r["provider"], r["currency"]) for r in rows] == [("aws", "USD"), ("azure", "EUR")]
    aws, azure = rows
    # Independently: effective cost of the billed-and-measured days over HEPscore23 hours
    # (every fixture VM has 10 HEPscore23 per core): i-0aaa, i-0bbb and i-0ddd; web-1 and db-2.
    aws_cost = Decimal("0.3") * 24 + Decimal("0.25") * 24 + Decimal("0.1") * 6
    aws_vcpu_hours = 24 * 4 + 20 * 8 + 6 * 4
    assert aws["effective_cost"] == aws_cost and aws["instance_days"] == 3
    assert aws["hepscore23_hours"] == pytest.approx(aws_vcpu_hours * 10.0)
    assert aws["cost_per_hepscore23_hour"] == pytest.approx(float(aws_cost) / (aws_vcpu_hours * 10.0))
    assert aws["cost_per_vcpu_hour"] == pytest.approx(float(aws_cost) / aws_vcpu_hours)
    assert aws["month"] == azure["month"] == date(2026, 3, 1)
    azure_cost = Decimal("4.8") + Decimal("2.4")
    azure_vcpu_hours = 24 * 2 + 12 * 2
    assert azure["effective_cost"] == azure_cost and azure["instance_days"] == 2
    assert azure["cost_per_hepscore23_hour"] == pytest.approx(float(azure_cost) / (azure_vcpu_hours * 10.0))
    assert azure["cost_without_hepscore23"] is None
    cheapest = min(rows, key=lambda r: r["cost_per_hepscore23_hour"])
    # 13.80 USD / 2800 h = 0.0049 USD against 7.20 EUR / 720 h = 0.01 EUR (currencies are not converted)
    assert cheapest["provider"] == "aws"
