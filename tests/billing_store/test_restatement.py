"""Restatement in the warehouse: re-delivered periods replace, accounts stay apart, retries are free.

Runs in local mode and against moto's S3 server (the `settings` fixture), through the service
every way in uses.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from tally.adapters.billing_table import account_hash, manifest_key
from tally.billing import BillingImportError
from tally.services.billing import BillingService, BillingStoreError
from tally.services.container import Services
from tally.settings import Settings
from tests.billing_store.helpers import (
    CUR_FINAL,
    CUR_NOT_FINAL,
    FINAL_ACCOUNT,
    FOCUS_SAMPLE,
    GCP_EXPORT,
    NOT_FINAL_ACCOUNT,
    RecordingWarehouse,
    billing_rows,
    not_final_of_final_account,
    parquet_keys,
)

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
KEY = re.compile(
    r"^billing/provider=[a-z0-9-]+/billing_period=\d{4}-\d{2}/[0-9a-f]{32}-[0-9a-f]{12}\.parquet$"
)


def _source_row(row: dict[str, object]) -> int:
    value = row["source_row"]
    assert isinstance(value, int), row  # int64, not nullable, in the billing schema
    return value


@pytest.fixture
def svc(settings: Settings) -> Services:
    return Services(settings)


def test_not_final_then_final_month_replaces(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    first = billing.import_files(
        [(not_final_of_final_account(), "june-not-final.csv")], origin="test", now=NOW
    )
    assert [(p.provider, p.billing_account_id, p.billing_period, p.action) for p in first.partitions] == [
        ("aws", FINAL_ACCOUNT, "2023-06", "stored")
    ]
    stored = billing_rows(svc.warehouse)
    assert len(stored) == 3 and {r["invoice_id"] for r in stored} == {None}

    final = billing.import_files([(CUR_FINAL, CUR_FINAL.name)], origin="test", now=NOW)
    assert [p.action for p in final.partitions] == ["replaced"]
    assert final.periods_replaced[0].replaced_deliveries == [first.delivery_id]
    after = billing_rows(svc.warehouse)
    # Replaced, not added: three rows, all from the final file.
    assert len(after) == 3
    assert {(r["source_file"], r["invoice_id"]) for r in after} == {(CUR_FINAL.name, "987654321")}
    assert parquet_keys(svc.warehouse) == final.partitions[0].keys
    assert all(KEY.match(k) for k in parquet_keys(svc.warehouse))

    manifest = billing.read_manifest("aws", FINAL_ACCOUNT, "2023-06")
    assert manifest is not None
    assert manifest.delivery_id == final.delivery_id and manifest.rows == 3
    assert manifest.billed_cost == {
        "NOK": format(sum((Decimal(str(r["billed_cost"])) for r in after), Decimal(0)).normalize(), "f")
    }
    history = manifest.history
    assert isinstance(history, list) and history[0].delivery_id == first.delivery_id


def test_two_accounts_in_one_period_do_not_replace_each_other(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    a = billing.import_files([(CUR_NOT_FINAL, CUR_NOT_FINAL.name)], origin="test", now=NOW)
    b = billing.import_files([(CUR_FINAL, CUR_FINAL.name)], origin="test", now=NOW)
    assert [p.action for p in a.partitions + b.partitions] == ["stored", "stored"]
    accounts = Counter(str(r["billing_account_id"]) for r in billing_rows(svc.warehouse))
    assert accounts == {NOT_FINAL_ACCOUNT: 3, FINAL_ACCOUNT: 3}
    keys = parquet_keys(svc.warehouse)
    assert len(keys) == 2 and {k.rsplit("/", 1)[0] for k in keys} == {
        "billing/provider=aws/billing_period=2023-06"
    }

    # Restating one account leaves the other's file untouched.
    again = billing.import_files([(not_final_of_final_account(), "restated.csv")], origin="test", now=NOW)
    assert [p.action for p in again.partitions] == ["replaced"]
    after = Counter((str(r["billing_account_id"]), r["source_file"]) for r in billing_rows(svc.warehouse))
    assert after == {(NOT_FINAL_ACCOUNT, CUR_NOT_FINAL.name): 3, (FINAL_ACCOUNT, "restated.csv"): 3}


def test_retry_writes_the_same_keys_and_changes_nothing(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    first = billing.import_files([(FOCUS_SAMPLE, FOCUS_SAMPLE.name)], origin="test", now=NOW)
    keys = parquet_keys(svc.warehouse)
    assert len(keys) == len(first.partitions) >= 4
    assert sorted(k for p in first.partitions for k in p.keys) == keys

    recorder = RecordingWarehouse(svc.warehouse)
    again = BillingService(recorder).import_files(
        [(FOCUS_SAMPLE.read_bytes(), FOCUS_SAMPLE.name)], origin="test", now=NOW
    )
    assert again.delivery_id == first.delivery_id and again.replayed
    assert {p.action for p in again.partitions} == {"unchanged"}
    written = sorted(k for op, k in recorder.ops if op == "write_parquet")
    assert written == keys
    assert not [k for op, k in recorder.ops if op == "delete"]
    assert parquet_keys(svc.warehouse) == keys
    assert sum(p.rows for p in again.partitions) == len(billing_rows(svc.warehouse))


def test_defaults_change_the_delivery(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    plain = billing.import_files([(GCP_EXPORT, GCP_EXPORT.name)], origin="test", now=NOW)
    with_default = billing.import_files(
        [(GCP_EXPORT, GCP_EXPORT.name)],
        origin="test",
        defaults={"billing_account_name": "Physics Dept"},
        now=NOW,
    )
    assert plain.delivery_id != with_default.delivery_id
    assert [p.action for p in with_default.partitions] == ["replaced"]
    assert {r["billing_account_name"] for r in billing_rows(svc.warehouse)} == {"Physics Dept"}
    with pytest.raises(BillingStoreError, match="source_file"):
        billing.import_files([(GCP_EXPORT, GCP_EXPORT.name)], origin="test", defaults={"source_file": "x"})


def test_a_superseded_delivery_arriving_late_is_stale_unless_forced(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    old = not_final_of_final_account()
    billing.import_files([(old, "not-final.csv")], origin="test", now=NOW)
    billing.import_files([(CUR_FINAL, CUR_FINAL.name)], origin="test", now=NOW)

    late = billing.import_files([(old, "not-final.csv")], origin="test", now=NOW)
    assert [p.action for p in late.partitions] == ["stale"]
    assert {r["source_file"] for r in billing_rows(svc.warehouse)} == {CUR_FINAL.name}

    forced = billing.import_files([(old, "not-final.csv")], origin="test", force=True, now=NOW)
    assert [p.action for p in forced.partitions] == ["replaced"]
    assert {r["source_file"] for r in billing_rows(svc.warehouse)} == {"not-final.csv"}


def test_readers_never_see_the_period_missing(svc: Services) -> None:
    """Between every two warehouse effects the partition holds old or new data, complete."""
    billing = BillingService(svc.warehouse)
    first = billing.import_files([(not_final_of_final_account(), "nf.csv")], origin="test", now=NOW)
    old_rows = sorted(_source_row(r) for r in billing_rows(svc.warehouse))
    partition = ("aws", FINAL_ACCOUNT, "2023-06")
    seen: list[str] = []

    def reader(op: str, key: str) -> None:
        listed = billing_rows(svc.warehouse)
        assert listed, f"a file-listing reader found the period empty before {op} {key}"
        through_manifest = billing.read_partition(*partition).to_pylist()
        files = {r["source_file"] for r in through_manifest}
        assert files in ({"nf.csv"}, {CUR_FINAL.name}), files
        assert sorted(r["source_row"] for r in through_manifest) == old_rows
        seen.append(files.pop())

    recorder = RecordingWarehouse(svc.warehouse, before=reader)
    result = BillingService(recorder).import_files([(CUR_FINAL, CUR_FINAL.name)], origin="test", now=NOW)
    reader("after", "all")
    ops = [op for op, _ in recorder.ops]
    assert ops == ["write_parquet", "put_bytes", "delete"], recorder.ops
    assert recorder.ops[0][1] == result.partitions[0].keys[0]
    assert recorder.ops[1][1] == manifest_key(*partition)
    assert recorder.ops[2][1] == first.partitions[0].keys[0]
    # The manifest switched between the write and the delete, never before the new file existed.
    assert seen == ["nf.csv", "nf.csv", CUR_FINAL.name, CUR_FINAL.name]


def test_a_crash_before_the_delete_heals_on_retry(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    first = billing.import_files([(not_final_of_final_account(), "nf.csv")], origin="test", now=NOW)

    class CrashError(Exception):
        pass

    def crash(op: str, key: str) -> None:
        if op == "delete":
            raise CrashError(key)

    with pytest.raises(CrashError):
        BillingService(RecordingWarehouse(svc.warehouse, before=crash)).import_files(
            [(CUR_FINAL, CUR_FINAL.name)], origin="test", now=NOW
        )
    assert len(parquet_keys(svc.warehouse)) == 2  # old and new side by side
    retried = billing.import_files([(CUR_FINAL, CUR_FINAL.name)], origin="test", now=NOW)
    assert retried.partitions[0].deleted_keys == first.partitions[0].keys
    assert parquet_keys(svc.warehouse) == retried.partitions[0].keys
    assert {r["source_file"] for r in billing_rows(svc.warehouse)} == {CUR_FINAL.name}


def test_rejected_rows_are_quarantined_with_their_rule(svc: Services) -> None:
    header = (
        "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,"
        "ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ProviderName"
    )
    good = "acct,EUR,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-05T00:00:00Z,2025-01-05T01:00:00Z"
    body = "\n".join(
        [
            header,
            f"{good},Usage,1.50,1.50,Lab Cloud",
            f"{good},Usage,abc,1.50,Lab Cloud",
            f"{good},Usage,2,2,Lab Cloud",
        ]
    ).encode()
    result = BillingService(svc.warehouse).import_files(
        [(body, "lab.csv")], origin="api", site="SITE-A", now=NOW
    )
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.quarantine_key == f"quarantine/billing/dt=2025-03-04/{result.delivery_id}.ndjson"
    lines = [orjson.loads(line) for line in svc.warehouse.get_bytes(result.quarantine_key).splitlines()]
    assert len(lines) == 1
    entry = lines[0]
    assert (entry["index"], entry["site"], entry["kind"], entry["source_file"]) == (
        2,
        "SITE-A",
        "billing",
        "lab.csv",
    )
    assert entry["rule_id"] == "BilledCost-C-004-M"
    assert entry["errors"][0]["field"] == "BilledCost-C-004-M"
    assert orjson.loads(entry["record"])["BilledCost"] == "abc"
    assert result.errors()[0]["source_row"] == 2
    assert sorted(str(r["billed_cost"]) for r in billing_rows(svc.warehouse)) == [
        "1.500000000000000000",
        "2.000000000000000000",
    ]


def test_whole_file_failures_write_nothing(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    with pytest.raises(BillingImportError) as info:
        billing.import_files([(b"just,some,columns\n1,2,3\n", "odd.csv")], origin="test")
    assert info.value.code == "unknown-format"
    assert svc.warehouse.list_keys("") == []
    key = billing.record_failure(
        "f" * 32, "s3://landing/odd.csv", info.value, origin="s3://landing/odd.csv", now=NOW
    )
    entry = orjson.loads(svc.warehouse.get_bytes(key))
    assert key == f"quarantine/billing/dt=2025-03-04/{'f' * 32}.error.ndjson"
    assert entry["errors"] == [{"field": "unknown-format", "message": str(info.value)}]


def test_one_delivery_of_several_parts_replaces_together(svc: Services) -> None:
    billing = BillingService(svc.warehouse)
    final = CUR_FINAL.read_text().splitlines(keepends=True)
    part1 = "".join(final[:2]).encode()
    part2 = "".join([final[0], *final[2:]]).encode()
    both = billing.import_files([(part1, "cur-1.csv"), (part2, "cur-2.csv")], origin="test", now=NOW)
    assert [(p.action, p.rows) for p in both.partitions] == [("stored", 3)]
    assert Counter(r["source_file"] for r in billing_rows(svc.warehouse)) == {"cur-1.csv": 1, "cur-2.csv": 2}
    # The same parts in another order are the same delivery.
    swapped = billing.import_files([(part2, "cur-2.csv"), (part1, "cur-1.csv")], origin="test", now=NOW)
    assert swapped.delivery_id == both.delivery_id and swapped.replayed
    manifest = billing.read_manifest("aws", FINAL_ACCOUNT, "2023-06")
    assert manifest is not None and manifest.keys == [
        f"billing/provider=aws/billing_period=2023-06/{both.delivery_id}-{account_hash(FINAL_ACCOUNT)}.parquet"
    ]
