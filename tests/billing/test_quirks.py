"""Format quirks: FOCUS 1.0 sample repairs, Azure blocks/BOM/scale sets, GCP credits, CUR identities."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow as pa

from tally.billing import BILLING_SCHEMA, import_billing
from tally.billing.focus_schema import MONEY, TIMESTAMP
from tests.billing.oracle import money, raw_rows


def _rows(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = import_billing(path).table.to_pylist()  # pyarrow is untyped
    return rows


def _charge_period_length(row: dict[str, object]) -> timedelta:
    start, end = row["charge_period_start"], row["charge_period_end"]
    assert isinstance(start, datetime) and isinstance(end, datetime), row
    return end - start


def test_schema_is_decimal_money_and_utc_time() -> None:
    for name in ("billed_cost", "effective_cost", "list_cost", "contracted_cost", "consumed_quantity"):
        assert BILLING_SCHEMA.field(name).type == MONEY == pa.decimal128(38, 18)
    assert BILLING_SCHEMA.field("charge_period_start").type == TIMESTAMP == pa.timestamp("us", tz="UTC")
    assert not any(pa.types.is_floating(f.type) for f in BILLING_SCHEMA)


def test_focus10_sample_quirks(data_dir: Path) -> None:
    path = data_dir / "focus/finops_focus10_focus_sample_1000.csv"
    raw = raw_rows(path)
    result = import_billing(path)
    rows = result.table.to_pylist()
    assert len(rows) == 1000 and not result.rejects

    # Literal "NULL" strings are nulls, never data.
    for row in rows:
        assert "NULL" not in [v for v in row.values() if isinstance(v, str)]
    assert sum(r["availability_zone"] is None for r in rows) == sum(
        r["AvailabilityZone"] == "NULL" for r in raw
    )
    # Timestamps without T/Z are UTC.
    assert rows[0]["charge_period_start"] == datetime.strptime(
        raw[0]["ChargePeriodStart"], "%Y-%m-%d %H:%M:%S"
    ).replace(tzinfo=UTC)
    # The non-FOCUS Id column is kept as the provider line id.
    assert [r["x_line_item_id"] for r in rows] == [r["Id"] for r in raw]
    # "Usage-based" is the allowed value with the wrong case.
    assert {r["charge_frequency"] for r in rows} <= {"Usage-Based", "One-Time", "Recurring"}
    # Integer-truncated EffectiveCost is repaired from BilledCost and noted per row.
    truncated = [
        i
        for i, r in enumerate(raw)
        if money(r["EffectiveCost"]) != money(r["BilledCost"])
        and money(r["EffectiveCost"]) == money(r["EffectiveCost"]).to_integral_value()
    ]
    assert len(truncated) > 600
    for i in truncated:
        assert rows[i]["effective_cost"] == money(raw[i]["BilledCost"])
        assert "EffectiveCost truncated" in str(rows[i]["x_quirks"])
    assert rows[truncated[0]]["contracted_cost"] is None
    untouched = [i for i in range(len(raw)) if i not in set(truncated)]
    assert all(rows[i]["effective_cost"] == money(raw[i]["EffectiveCost"]) for i in untouched)
    # Providers are named per row.
    assert result.provider == "mixed" and result.providers == {"aws", "azure", "oci"}
    assert ("aws", "1234567890123", "2024-09") in result.partitions
    assert json.loads(str(next(r["tags"] for r in rows if r["tags"])))  # tags are JSON objects


def test_azure_ea_bom_scale_sets_capacity_reservation(data_dir: Path) -> None:
    rows = _rows(data_dir / "azure/finopstoolkit_EA_ActualCost_Small.csv")
    assert {r["billing_account_id"] for r in rows} == {"8611537"}  # first column despite the BOM
    assert {r["billing_period_start"] for r in rows} == {datetime(2023, 9, 1, tzinfo=UTC)}
    assert {r["billing_period_end"] for r in rows} == {datetime(2023, 10, 1, tzinfo=UTC)}  # 09/30 inclusive
    purchase = next(r for r in rows if r["charge_category"] == "Purchase")
    assert purchase["billed_cost"] == Decimal("3.25") and purchase["effective_cost"] == 0
    assert purchase["commitment_discount_type"] == "Reservation"
    assert purchase["consumed_quantity"] is None
    assert any(r["capacity_reservation_id"] == "f8b42087-c198-4ad8-8515-fce989cc5fff" for r in rows)
    amortized = _rows(data_dir / "azure/finopstoolkit_EA_AmortizedCost_Small.csv")
    vm = next(r for r in amortized if r["x_vm_name"] == "aks-agentpool-42850074-vmss_1")
    assert vm["resource_name"] == "aks-agentpool-42850074-vmss"
    assert vm["resource_type"] == "Microsoft.Compute/virtualMachineScaleSets"
    assert vm["x_instance_type"] == "Standard_DS2_v2" and vm["x_purchase_option"] == "reserved"
    assert vm["billed_cost"] == 0 and vm["effective_cost"] == Decimal("0.493152")
    assert orjson.loads(str(vm["tags"]))["poolName"] == "agentpool"


def test_azure_pricing_blocks(data_dir: Path) -> None:
    """'10 Hours': Quantity 22 blocks = 220 hours; UnitPrice per block / 10 = price per hour."""
    text = (data_dir / "azure/koku_azure_version_2.csv").read_text("utf-8")
    fixed = text.replace(",MC,", ",EUR,")  # the sample's currency code is not ISO 4217
    result = import_billing(fixed.encode(), "azure_version_2.csv")
    assert not result.rejects
    raw = next(
        r
        for r in csv.DictReader(fixed.splitlines())
        if r["UnitOfMeasure"] == "10 Hours" and r["Quantity"] == "22"
    )
    row = next(r for r in result.table.to_pylist() if r["x_operation"] == raw["MeterName"])
    assert row["consumed_quantity"] == Decimal(22) * 10 and row["consumed_unit"] == "Hours"
    assert row["contracted_unit_price"] == Decimal(raw["UnitPrice"]) / 10
    assert row["x_vm_name"] == "ss-master_1" and row["x_instance_type"] == "Standard_D4s_v3"
    assert row["billing_currency"] == "EUR"


def test_azure_mca_without_billing_period_uses_usage_month(data_dir: Path) -> None:
    rows = _rows(data_dir / "azure/koku_camel_azure_version_2.csv")
    assert {r["billing_period"] for r in rows} == {"2023-08"}
    assert all("BillingPeriod not in the export" in str(r["x_quirks"]) for r in rows)
    assert {_charge_period_length(r) for r in rows} == {
        datetime(2023, 8, 2, tzinfo=UTC) - datetime(2023, 8, 1, tzinfo=UTC)
    }


def test_gcp_credits_become_credit_rows(data_dir: Path) -> None:
    result = import_billing(data_dir / "gcp/koku_202011_gcp_billing_export.csv")
    rows = result.table.to_pylist()
    credits = [r for r in rows if r["charge_category"] == "Credit"]
    assert len(credits) == 8 and all(r["source_subrow"] == 1 for r in credits)
    assert {r["x_line_item_type"] for r in credits} == {"credit:PROMOTION"}
    parent = {(r["source_row"]): r for r in rows if r["source_subrow"] == 0}
    for credit in credits:
        assert credit["billed_cost"] == -parent[credit["source_row"]]["billed_cost"]  # free-trial credit
        assert credit["consumed_quantity"] is None
    labelled = next(r for r in rows if r["tags"])
    assert orjson.loads(str(labelled["tags"]))["goog-resource-type"].startswith("bigquery_")


def test_aws_cur_keeps_identifiers_and_maps_line_types(data_dir: Path) -> None:
    final = import_billing(data_dir / "aws_cur/koku_2023-06-01.csv")
    row = final.table.to_pylist()[0]
    assert row["billing_account_id"] == "0099999999999"  # leading zeros kept (strings, not numbers)
    assert row["x_line_item_type"] == "SavingsPlanCoveredUsage" and row["x_purchase_option"] == "savings_plan"
    assert row["effective_cost"] == Decimal("0.1") and row["billed_cost"] == Decimal(10)
    assert row["billing_currency"] == "NOK" and row["x_instance_type"] == "m5.large"
    assert row["invoice_id"] == "987654321"
    assert orjson.loads(str(row["tags"]))["costCategory/cost_env"] == "prod"
    not_final = import_billing(data_dir / "aws_cur/koku_2023-06-01-not-final.csv")
    assert not_final.table["invoice_id"].null_count == not_final.table.num_rows
    assert not_final.billing_periods == final.billing_periods == {"2023-06"}
    athena = import_billing(data_dir / "aws_cur/koku_2022-07-01-alt-columns.csv").table.to_pylist()[0]
    assert athena["charge_period_start"] == datetime(2022, 7, 1, tzinfo=UTC)
    assert athena["sku_price_id"] == "52KUDV3HNNAWJGTF.4799GE89SK.6YS6EN2CT7"
    assert orjson.loads(str(athena["tags"])) == {"aws_created_by": "IAMUser:fake:and"}


def test_cur_with_header_one_column_longer_than_every_record(data_dir: Path) -> None:
    result = import_billing(data_dir / "aws_cur/koku_test_cur.csv")
    assert result.table.num_rows == 19 and not result.rejects
    assert any("costCategory/CostCenter" in w for w in result.warnings)
