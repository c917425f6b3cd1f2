"""The format quirks, on the project's own hand-written exports (tests/fixtures/billing/).

Each value asserted here was worked out by hand from the fixture's text (see the comments), so these
tests hold on a clone without the shared samples; test_quirks.py repeats them on the real exports.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson

from tally.billing import import_billing
from tests.billing.oracle import money, raw_rows
from tests.support.paths import FIXTURES

OWN = FIXTURES / "billing"


def _rows(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = import_billing(path).table.to_pylist()  # pyarrow is untyped
    return rows


def test_focus10_null_strings_naive_times_truncated_effective_cost_and_providers() -> None:
    path = OWN / "focus/focus-1.0-three-providers.csv"
    raw = raw_rows(path)
    result = import_billing(path)
    rows = result.table.to_pylist()
    # Row 7 has no BillingCurrency: quarantined with the FOCUS rule, the other six kept.
    assert result.source_rows == 7 and len(rows) == 6
    assert [(r.source_row, r.rule_id) for r in result.rejects] == [(7, "BillingCurrency-C-004-M")]
    # Literal "NULL" strings are nulls: row 2 has AvailabilityZone NULL and no ResourceName.
    for row in rows:
        assert "NULL" not in [v for v in row.values() if isinstance(v, str)]
    assert raw[1]["AvailabilityZone"] == "NULL" and rows[1]["availability_zone"] is None
    assert rows[1]["resource_name"] is None and rows[1]["tags"] is None
    # The OCI rows write times without T/Z; they are UTC.
    assert rows[5]["charge_period_start"] == datetime(2025, 1, 9, 12, tzinfo=UTC)
    assert rows[5]["billing_period_end"] == datetime(2025, 2, 1, tzinfo=UTC)
    # Row 5: BilledCost 3.75 with EffectiveCost "4" (an integer, no commitment) is repaired and noted.
    assert raw[4]["EffectiveCost"] == "4" and rows[4]["effective_cost"] == Decimal("3.75")
    assert "EffectiveCost truncated" in str(rows[4]["x_quirks"])
    assert all(rows[i]["effective_cost"] == money(raw[i]["EffectiveCost"]) for i in (0, 1, 2, 3, 5))
    # ProviderName AWS / Microsoft / Oracle, over two months: five partitions.
    assert result.provider == "mixed" and result.providers == {"aws", "azure", "oci"}
    assert result.partitions == {
        ("aws", "210987654321", "2025-01"),
        ("aws", "210987654321", "2025-02"),
        ("azure", "ea-7301122", "2025-01"),
        ("azure", "ea-7301122", "2025-02"),
        ("oci", "ocid1.tenancy.oc1..aaaatally", "2025-01"),
    }
    assert orjson.loads(str(rows[0]["tags"])) == {"vo": "lhcb"}
    # USD: 0.192 + 0.0437 + 0.384; EUR: 1.4 + 3.75; GBP: 0.0961.
    totals: dict[str, Decimal] = {}
    for row in rows:
        currency, cost = str(row["billing_currency"]), row["billed_cost"]
        assert isinstance(cost, Decimal)
        totals[currency] = totals.get(currency, Decimal(0)) + cost
    assert totals == {"USD": Decimal("0.6197"), "EUR": Decimal("5.15"), "GBP": Decimal("0.0961")}


def test_azure_ea_bom_scale_set_pricing_block_and_reservation_purchase() -> None:
    path = OWN / "azure/azure-ea-actual-2026-02.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    result = import_billing(path)
    assert result.source_format == "azure-ea" and not result.rejects
    vm, disk, purchase = result.table.to_pylist()
    assert vm["billing_account_id"] == "7301122"  # the first column, read through the BOM
    # 02/28/2026 is the last day, inclusive: the period ends at 1 March.
    assert (vm["billing_period_start"], vm["billing_period_end"]) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    # "10 Hours": one block of ten hours at 1.92 a block is 10 hours at 0.192.
    assert (vm["consumed_quantity"], vm["consumed_unit"]) == (Decimal(10), "Hours")
    assert vm["contracted_unit_price"] == Decimal("0.192") and vm["billed_cost"] == Decimal("1.92")
    # A scale set: the instance comes from AdditionalInfo.VMName, the resource is the set.
    assert (vm["x_vm_name"], vm["x_instance_type"]) == ("workers_3", "Standard_D4s_v5")
    assert vm["resource_type"] == "Microsoft.Compute/virtualMachineScaleSets"
    # Tags written without braces, as EA exports do.
    assert orjson.loads(str(vm["tags"])) == {"vo": "cms", "owner": "bob"}
    assert disk["billed_cost"] == Decimal("0.34272") and disk["resource_name"] == "workers_3_OsDisk"
    # Buying a reservation is billed now and amortised later: effective cost 0.
    assert purchase["charge_category"] == "Purchase" and purchase["commitment_discount_type"] == "Reservation"
    assert purchase["billed_cost"] == Decimal("1.21") and purchase["effective_cost"] == 0
    assert purchase["consumed_quantity"] is None


def test_azure_mca_camel_case_without_billing_period_uses_the_usage_month() -> None:
    result = import_billing(OWN / "azure/azure-mca-2026-03.csv")
    assert result.source_format == "azure-mca"
    gpu, blob = result.table.to_pylist()
    assert {str(r["billing_period"]) for r in (gpu, blob)} == {"2026-03"}
    assert all("BillingPeriod not in the export" in str(r["x_quirks"]) for r in (gpu, blob))
    # costInBillingCurrency (EUR), not the USD pricing-currency cost.
    assert (gpu["billing_currency"], gpu["billed_cost"], blob["billed_cost"]) == (
        "EUR",
        Decimal("2.9088"),
        Decimal("0.7636"),
    )
    assert gpu["x_instance_type"] == "Standard_NC4as_T4_v3" and gpu["consumed_quantity"] == 6
    assert gpu["charge_period_end"] == datetime(2026, 3, 8, tzinfo=UTC)  # one day of usage


def test_gcp_credits_become_credit_rows_under_their_usage_row() -> None:
    result = import_billing(OWN / "gcp/gcp-2026-02.csv")
    rows = result.table.to_pylist()
    usage = [r for r in rows if r["source_subrow"] == 0]
    credits = [r for r in rows if r["charge_category"] == "Credit"]
    assert len(usage) == 3 and len(credits) == 3  # one credit on row 1, two on row 3
    assert sorted((r["source_row"], r["source_subrow"]) for r in credits) == [(1, 1), (3, 1), (3, 2)]
    assert {r["x_line_item_type"] for r in credits} == {
        "credit:FREE_TRIAL",
        "credit:SUSTAINED_USAGE_DISCOUNT",
        "credit:PROMOTION",
    }
    assert all(r["consumed_quantity"] is None for r in credits)
    # Usage 0.251856 + 0.06752 + 0.0105, credits -0.1 - 0.0021 - 0.001.
    assert sum((r["billed_cost"] for r in usage), Decimal(0)) == Decimal("0.329876")
    assert sum((r["billed_cost"] for r in credits), Decimal(0)) == Decimal("-0.1031")
    assert orjson.loads(str(usage[0]["tags"])) == {"vo": "atlas"}
    assert result.partitions == {("gcp", "01A2B3-C4D5E6-F7A8B9", "2026-02")}


def test_aws_cur_legacy_keeps_identifiers_and_maps_line_types() -> None:
    final = import_billing(OWN / "aws_cur/cur-legacy-2023-06-final.csv")
    covered, negation, tax = final.table.to_pylist()
    assert covered["billing_account_id"] == "0099999999999"  # leading zeros kept: a string
    assert covered["x_line_item_type"] == "SavingsPlanCoveredUsage"
    assert covered["x_purchase_option"] == "savings_plan" and covered["x_instance_type"] == "m5.large"
    # Billed at on-demand 1.05, the plan's effective cost 0.74; the negation cancels the billed part.
    assert (covered["billed_cost"], covered["effective_cost"]) == (Decimal("1.05"), Decimal("0.74"))
    assert (negation["charge_category"], negation["billed_cost"], negation["effective_cost"]) == (
        "Usage",
        Decimal("-1.05"),
        0,
    )
    assert (tax["charge_category"], tax["billed_cost"]) == ("Tax", Decimal("0.26"))
    assert {r["invoice_id"] for r in (covered, negation, tax)} == {"987654321"}
    assert orjson.loads(str(covered["tags"])) == {"user:project": "physics"}
    not_final = import_billing(OWN / "aws_cur/cur-legacy-2023-06-not-final.csv")
    assert not_final.table["invoice_id"].null_count == not_final.table.num_rows == 3
    assert not_final.billing_periods == final.billing_periods == {"2023-06"}


def test_aws_cur2_snake_case_with_map_columns() -> None:
    result = import_billing(OWN / "aws_cur/cur2-2026-01.csv")
    assert result.source_format == "aws-cur2" and not result.rejects
    rows = result.table.to_pylist()
    assert [r["charge_category"] for r in rows] == ["Usage", "Usage", "Usage", "Credit", "Tax"]
    assert rows[0]["charge_period_start"] == datetime(2026, 1, 5, tzinfo=UTC)
    # resource_tags and cost_category are JSON maps; cost categories keep their prefix.
    assert orjson.loads(str(rows[0]["tags"])) == {
        "user_project": "lattice-qcd",
        "user_owner": "alice",
        "costCategory/cost_center": "physics",
    }
    assert rows[0]["x_instance_type"] == "c6i.2xlarge" and rows[0]["sub_account_id"] == "444455556666"
    # 0.404 + 0.404 + 0.0774193548 - 0.5 + 0.06
    assert sum((r["billed_cost"] for r in rows), Decimal(0)) == Decimal("0.4454193548")


def test_cur_with_a_header_one_column_longer_than_every_record(tmp_path: Path) -> None:
    """Some CUR writers add a header column and no value for it: rows are padded, with a warning."""
    text = (OWN / "aws_cur/cur-legacy-2023-06-final.csv").read_text()
    header, *lines = text.splitlines()
    padded = tmp_path / "cur.csv"
    padded.write_text("\n".join([header + ",costCategory/CostCenter", *lines]) + "\n")
    assert all(len(row) == len(header.split(",")) for row in csv.reader(lines))
    result = import_billing(padded)
    assert result.table.num_rows == 3 and not result.rejects
    assert any("costCategory/CostCenter" in w for w in result.warnings)
