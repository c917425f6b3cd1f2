"""The billed_vs_measured and cost_per_normalised_hour views on DuckDB fixtures, values asserted.

The `billing` table has no DDL in athena_queries/tables yet (its Glue table is generated from
BILLING_SCHEMA), and the two views live next to the verifier until it has; this test runs them
from a copy of athena_queries that adds what is missing, so it keeps passing once both move in.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tally.adapters.warehouse import open_warehouse
from tally.billing.focus_schema import BILLING_SCHEMA
from tally.query.duckdb_engine import DuckDbEngine
from tally.query.sql_files import sql_root
from tally.settings import Settings
from tests.reconcile.fixtures import at, hourly, line, samples
from tests.reconcile.test_scenarios import AWS_ARN
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

STAGED = Path(__file__).resolve().parents[2] / "layers" / "core" / "tally" / "reconcile" / "views"
DAY = date(2026, 3, 2)
PARTITIONS = ("provider", "billing_period")


def _hive(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    return {pa.string(): "string", pa.int64(): "bigint", pa.int16(): "smallint"}[t]


TEMPLATE = "{{warehouse_uri}}/billing/provider=${provider}/billing_period=${billing_period}/"


def billing_ddl() -> str:
    columns = ",\n".join(f"  {f.name} {_hive(f.type)}" for f in BILLING_SCHEMA if f.name not in PARTITIONS)
    return f"""CREATE EXTERNAL TABLE IF NOT EXISTS billing (
{columns}
)
PARTITIONED BY (provider string, billing_period string)
STORED AS PARQUET
LOCATION '{{{{warehouse_uri}}}}/billing/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.provider.type' = 'enum',
  'projection.provider.values' = 'aws,azure,gcp',
  'projection.billing_period.type' = 'date',
  'projection.billing_period.format' = 'yyyy-MM',
  'projection.billing_period.range' = '2020-01,NOW+1MONTHS',
  'projection.billing_period.interval' = '1',
  'projection.billing_period.interval.unit' = 'MONTHS',
  'storage.location.template' = '{TEMPLATE}'
);
"""


def sql_folder(tmp: Path) -> Path:
    root = tmp / "athena_queries"
    shutil.copytree(sql_root(), root)
    if not (root / "tables" / "billing.sql").exists():
        (root / "tables" / "billing.sql").write_text(billing_ddl())
    for view in STAGED.glob("*.sql"):
        if not (root / "views" / view.name).exists():
            shutil.copy(view, root / "views" / view.name)
    return root


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
            resource_id="/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/Web-1",
        )
    )
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
    store_vms(warehouse, vms)
    return DuckDbEngine(tmp / "home" / "warehouse", sql_root=sql_folder(tmp))


def test_billed_vs_measured(engine: DuckDbEngine) -> None:
    rows = engine.query("SELECT * FROM billed_vs_measured ORDER BY provider, instance_key").table.to_pylist()
    got = {(r["provider"], r["instance_key"]): r for r in rows}
    assert sorted(got) == [
        ("aws", "i-0aaa"),
        ("aws", "i-0bbb"),
        ("aws", "i-0ccc"),
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
    # Independently: effective cost of the billed-and-measured days over HEPscore23 hours.
    aws_cost = Decimal("0.3") * 24 + Decimal("0.25") * 24
    aws_hs23 = 24 * 4 * 10.0 + 20 * 8 * 10.0
    assert aws["effective_cost"] == aws_cost and aws["instance_days"] == 2
    assert aws["hepscore23_hours"] == pytest.approx(aws_hs23)
    assert aws["cost_per_hepscore23_hour"] == pytest.approx(float(aws_cost) / aws_hs23)
    assert aws["cost_per_vcpu_hour"] == pytest.approx(float(aws_cost) / (24 * 4 + 20 * 8))
    assert str(aws["month"])[:10] == "2026-03-01"
    assert azure["cost_per_hepscore23_hour"] == pytest.approx(4.8 / (24 * 2 * 10.0))
    assert azure["cost_without_hepscore23"] is None
    cheapest = min(rows, key=lambda r: r["cost_per_hepscore23_hour"])
    # 13.20 USD / 2560 h = 0.0052 USD against 4.80 EUR / 480 h = 0.01 EUR (currencies are not converted)
    assert cheapest["provider"] == "aws"
