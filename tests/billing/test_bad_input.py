"""Bad and hostile input: every row is accepted or rejected with a rule; whole files get clear errors."""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tally.billing import BillingImportError, import_billing
from tally.billing.rules import RULES
from tests.support.paths import FIXTURES

HEADER = (
    "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
    "ChargeCategory,ChargeDescription,BilledCost,EffectiveCost,ProviderName,ResourceId"
)
GOOD = (
    "acct,EUR,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-05T00:00:00Z,2025-01-05T01:00:00Z,"
    "Usage,vm hour,1.50,1.50,OpenStack Cloud,vm-1"
)
OWN_FOCUS = FIXTURES / "billing" / "focus" / "focus-1.0-three-providers.csv"


def focus(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def line(**changes: str) -> str:
    values = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    values.update(changes)
    out = []
    for v in values.values():
        out.append('"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v)
    return ",".join(out)


def test_good_row_roundtrip() -> None:
    result = import_billing(focus(GOOD), "small.csv")
    row = result.table.to_pylist()[0]
    assert row["billed_cost"] == Decimal("1.50") and row["provider"] == "openstack-cloud"
    assert result.source_file == "small.csv" and row["source_row"] == 1
    assert result.partitions == {("openstack-cloud", "acct", "2025-01")}


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"ChargePeriodStart": ""}, "ChargePeriodStart-C-003-M"),
        ({"ChargePeriodStart": "yesterday"}, "ChargePeriodStart-C-002-M"),
        ({"ChargePeriodEnd": "2025-01-04T00:00:00Z"}, "ChargePeriodEnd-C-004-M"),
        ({"BilledCost": "abc"}, "BilledCost-C-004-M"),
        ({"BilledCost": ""}, "BilledCost-C-003-M"),
        ({"BilledCost": "NULL"}, "BilledCost-C-003-M"),
        ({"BilledCost": "1e400"}, "BilledCost-C-004-M"),
        ({"BilledCost": "1" * 40}, "BilledCost-C-004-M"),
        ({"BilledCost": "NaN"}, "BilledCost-C-004-M"),
        ({"BilledCost": "1,5"}, "BilledCost-C-004-M"),
        ({"EffectiveCost": "--1"}, "EffectiveCost-C-004-M"),
        ({"BillingCurrency": ""}, "BillingCurrency-C-004-M"),
        ({"BillingCurrency": "EURO"}, "BillingCurrency-C-003-M"),
        ({"ChargeCategory": "Discount"}, "ChargeCategory-C-003-M"),
        ({"ChargeCategory": ""}, "ChargeCategory-C-002-M"),
        ({"BillingAccountId": "NULL"}, "BillingAccountId-C-001-M"),
        ({"ProviderName": ""}, "ProviderName-C-003-M"),
    ],
)
def test_rule_breaking_rows_are_rejected_with_the_rule(changes: dict[str, str], rule: str) -> None:
    result = import_billing(focus(GOOD, line(**changes), GOOD), "bad.csv")
    assert result.table.num_rows == 2
    assert [r.source_row for r in result.rejects] == [2]
    reject = result.rejects[0]
    assert rule in [v.rule_id for v in reject.violations]
    assert reject.raw["ResourceId"] == "vm-1" and reject.source_file == "bad.csv"
    assert RULES[rule] in reject.reason


def test_huge_but_representable_number_is_kept_exactly() -> None:
    big = "9" * 20 + ".123456789012345678"  # 20 integer digits and 18 places fit decimal128(38, 18)
    result = import_billing(focus(line(BilledCost=big, EffectiveCost="-" + big)), "big.csv")
    row = result.table.to_pylist()[0]
    assert row["billed_cost"] == Decimal(big)
    assert row["effective_cost"] == Decimal("-" + big)


def test_beyond_twenty_integer_digits_is_rejected() -> None:
    result = import_billing(focus(GOOD, line(BilledCost="1" + "0" * 20)), "big.csv")
    assert [r.source_row for r in result.rejects] == [2]
    assert "20 integer digits" in result.rejects[0].reason


def test_formula_injection_and_hostile_strings_are_data() -> None:
    hostile = "=cmd|' /C calc'!A0"
    text = focus(
        line(ChargeDescription=hostile, ResourceId="+SUM(1,2)"),
        line(ChargeDescription='multi\nline "quoted", text', ResourceId="@evil"),
        line(ChargeDescription="<script>alert(1)</script>\x07", ResourceId="-2+3"),
    )
    result = import_billing(text, "hostile.csv")
    rows = result.table.to_pylist()
    assert not result.rejects
    assert [r["charge_description"] for r in rows] == [
        hostile,
        'multi\nline "quoted", text',
        "<script>alert(1)</script>\x07",
    ]
    assert [r["resource_id"] for r in rows] == ["+SUM(1,2)", "@evil", "-2+3"]
    assert [r["source_row"] for r in rows] == [1, 2, 3]


def test_tags_with_control_characters_stay_valid_json() -> None:
    header = "lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/UnblendedCost,lineItem/CurrencyCode,"
    header += (
        "bill/PayerAccountId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,resourceTags/user:owner"
    )
    row = "2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,1,USD,123,"
    row += '2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,"a\x01b""c\\"'
    result = import_billing(f"{header}\n{row}\n".encode(), "cur.csv")
    tags = json.loads(result.table.to_pylist()[0]["tags"])
    assert tags == {"user:owner": 'a\x01b"c\\'}


def test_truncated_csv_keeps_complete_rows_and_rejects_the_cut_one() -> None:
    data = focus(GOOD, GOOD, GOOD)
    cut = data[: len(data) - 30]
    result = import_billing(cut, "cut.csv")
    assert result.table.num_rows == 2
    assert [(r.source_row, r.rule_id) for r in result.rejects] == [(3, "Tally-ROW-001")]
    assert result.rejects[0].raw["BillingAccountId"] == "acct"
    assert result.accepted_rows + len(result.rejects) == result.source_rows == 3


def test_row_numbers_stay_right_after_a_malformed_middle_row() -> None:
    result = import_billing(focus(GOOD, "only,three,fields", line(ResourceId="vm-3")), "mid.csv")
    assert [r.source_row for r in result.rejects] == [2]
    assert result.table.to_pylist()[1]["source_row"] == 3
    assert result.table.to_pylist()[1]["resource_id"] == "vm-3"


def test_truncated_gzip_is_a_clear_error() -> None:
    packed = gzip.compress(focus(*([GOOD] * 200)))
    with pytest.raises(BillingImportError) as info:
        import_billing(packed[: len(packed) // 2], "cut.csv.gz")
    assert info.value.code == "truncated"


def test_latin1_bytes_are_decoded_with_a_warning() -> None:
    data = focus(line(ChargeDescription="Müller Rechenzeit", ResourceId="vm-é")).decode().encode("latin-1")
    result = import_billing(data, "latin1.csv")
    row = result.table.to_pylist()[0]
    assert row["charge_description"] == "Müller Rechenzeit" and row["resource_id"] == "vm-é"
    assert any("not valid UTF-8" in w for w in result.warnings)


def test_empty_file_is_a_clear_error() -> None:
    with pytest.raises(BillingImportError) as info:
        import_billing(b"", "empty.csv")
    assert info.value.code == "empty"


def test_header_only_imports_nothing_with_a_warning() -> None:
    result = import_billing(focus(), "header.csv")
    assert result.table.num_rows == 0 and not result.rejects and result.source_rows == 0
    assert result.source_format == "focus-1.0"
    assert result.billing_periods == set() and result.partitions == frozenset()
    assert any("no data rows" in w for w in result.warnings)


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(BillingImportError) as info:
        import_billing(b"name,amount\nfoo,1\n", "other.csv")
    assert info.value.code == "unknown-format"
    assert "name, amount" in str(info.value) and "FOCUS" in str(info.value)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # pyarrow decodes the bad row
def test_binary_garbage_is_a_clear_error() -> None:
    with pytest.raises(BillingImportError):
        import_billing(bytes(range(256)) * 10, "garbage.bin")


def test_duplicated_rows_are_kept_and_reported() -> None:
    result = import_billing(focus(GOOD, GOOD, line(ResourceId="vm-2")), "dup.csv")
    assert result.table.num_rows == 3
    assert any("1 row(s) duplicate" in w for w in result.warnings)
    assert sum(result.table["billed_cost"].to_pylist()) == Decimal("4.50")


def test_spreadsheet_money_and_lowercase_values_are_normalised_and_noted() -> None:
    result = import_billing(
        focus(line(BilledCost="$1,234.50 ", BillingCurrency="eur", ChargeCategory="usage")), "sheet.csv"
    )
    row = result.table.to_pylist()[0]
    assert row["billed_cost"] == Decimal("1234.50")
    assert row["billing_currency"] == "EUR" and row["charge_category"] == "Usage"
    assert "BilledCost written as formatted text" in row["x_quirks"]


def test_gzip_and_parquet_give_the_same_rows_as_csv(tmp_path: Path) -> None:
    source = OWN_FOCUS
    plain = import_billing(source)
    gz = tmp_path / "sample.csv.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    zipped = import_billing(gz)
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    parquet = tmp_path / "sample.parquet"
    pq.write_table(table, parquet)  # typed columns (floats, timestamps) as a real Parquet export has
    from_parquet = import_billing(parquet.read_bytes(), "sample.parquet")
    drop = ["source_file", "x_quirks"]
    assert zipped.table.drop_columns(drop).equals(plain.table.drop_columns(drop))
    assert (plain.table.num_rows, from_parquet.table.num_rows) == (6, 6)
    assert [r.source_row for r in from_parquet.rejects] == [r.source_row for r in plain.rejects] == [7]
    assert sum(from_parquet.table["billed_cost"].to_pylist()) == sum(plain.table["billed_cost"].to_pylist())
    assert from_parquet.table["charge_period_start"].equals(plain.table["charge_period_start"])


def test_parquet_with_nested_gcp_columns() -> None:
    table = pa.table(
        {
            "billing_account_id": ["0A-1"],
            "service": pa.array([{"id": "S1", "description": "Compute Engine"}]),
            "sku": pa.array([{"id": "K1", "description": "N2 Instance Core running in Americas"}]),
            "usage_start_time": pa.array([1_700_000_000_000_000], pa.timestamp("us", tz="UTC")),
            "usage_end_time": pa.array([1_700_003_600_000_000], pa.timestamp("us", tz="UTC")),
            "cost": pa.array([2.5]),
            "currency": ["USD"],
            "invoice": pa.array([{"month": "202311"}]),
            "credits": pa.array(
                [[{"name": "CUD", "amount": -0.5, "type": "COMMITTED_USAGE_DISCOUNT"}]],
                pa.list_(pa.struct([("name", pa.string()), ("amount", pa.float64()), ("type", pa.string())])),
            ),
            "labels": pa.array([[{"key": "team", "value": "hep"}]]),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    result = import_billing(buffer.getvalue(), "gcp.parquet")
    assert result.source_format == "gcp-billing" and not result.rejects
    rows = result.table.to_pylist()
    assert [(r["charge_category"], r["billed_cost"]) for r in rows] == [
        ("Usage", Decimal("2.5")),
        ("Credit", Decimal("-0.5")),
    ]
    assert rows[0]["service_category"] == "Compute" and json.loads(rows[0]["tags"]) == {"team": "hep"}
    assert result.billing_periods == {"2023-11"}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BillingImportError) as info:
        import_billing(tmp_path / "nope.csv")
    assert info.value.code == "not-found"
