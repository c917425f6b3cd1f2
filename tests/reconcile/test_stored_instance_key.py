"""The verifier stores each row's instance key; reconciliation_changes matches runs by it (and by
the old reduction only for rows of files written before the key was stored)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from tally.adapters.warehouse import open_warehouse, partition_key
from tally.query.duckdb_engine import DuckDbEngine
from tally.reconcile import RECONCILIATION_SCHEMA
from tally.reconcile.ids import verdict_instance_key
from tally.settings import Settings

DAY = date(2026, 4, 2)
ARN = "arn:aws:ec2:eu-west-1:111:instance/i-0ABC"
SCALE_SET_VM = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute"
    "/virtualMachineScaleSets/Pool/virtualMachines/3"
)

# Written before the key was stored: the reconciliation columns of that time.
LEGACY_SCHEMA = pa.schema([f for f in RECONCILIATION_SCHEMA if f.name != "instance_key"])


def test_the_key_of_a_row() -> None:
    assert verdict_instance_key("instance_day", "aws", ARN) == "i-0abc"
    assert verdict_instance_key("instance_day", "aws", "i-0abc") == "i-0abc"
    assert verdict_instance_key("instance_day", "azure", SCALE_SET_VM) == "pool_3"
    assert verdict_instance_key("instance_day", "gcp", "projects/p/zones/z/instances/VM-9") == "vm-9"
    assert verdict_instance_key("invoice", "aws", "INV-1") == "INV-1"


def _store(home: Path, run_id: str, judged_day: int, resource_id: str, verdict: str, key: str | None) -> None:
    """One run of one instance-day; `key` None writes the file as before the key was stored."""
    row = {
        "run_id": run_id,
        "kind": "instance_day",
        "provider": "aws",
        "account": "111",
        "resource_id": resource_id,
        "instance_id": None,
        "day": DAY,
        "billing_period": "2026-04",
        "billed_hours": 24.0,
        "cost": Decimal("9.6"),
        "currency": "USD",
        "verdict": verdict,
        "judged_at": datetime(2026, 5, judged_day, 6, tzinfo=UTC),
    }
    if key is None:
        table = pa.Table.from_pylist([row], schema=LEGACY_SCHEMA)
    else:
        table = pa.Table.from_pylist([{**row, "instance_key": key}], schema=RECONCILIATION_SCHEMA)
    warehouse = open_warehouse(Settings(mode="local", home=home))
    warehouse.write_parquet(partition_key("reconciliation", DAY, f"{run_id}.parquet"), table)


def _changes(home: Path) -> list[dict[str, object]]:
    sql = (
        "SELECT change, instance_key, resource_id, previous_verdict, latest_verdict "
        "FROM reconciliation_changes ORDER BY change, resource_id"
    )
    rows: list[dict[str, object]] = DuckDbEngine(home / "warehouse").query(sql).table.to_pylist()
    return rows


def test_runs_are_matched_by_the_stored_key_not_by_the_resource_spelling(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Two spellings no reduction of resource_id relates; the stored key says they are one instance.
    _store(home, "r1", 3, "old-name", "ok", "k-1")
    _store(home, "r2", 4, "new-name", "idle", "k-1")

    assert _changes(home) == [
        {
            "change": "changed",
            "instance_key": "k-1",
            "resource_id": "new-name",
            "previous_verdict": "ok",
            "latest_verdict": "idle",
        }
    ]


def test_a_run_stored_before_the_key_still_compares_with_a_new_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # The previous run's file has no instance_key column; its ARN reduces to the new run's key.
    _store(home, "r1", 3, ARN, "ok", None)
    _store(home, "r2", 4, "i-0abc", "idle", "i-0abc")

    assert _changes(home) == [
        {
            "change": "changed",
            "instance_key": "i-0abc",
            "resource_id": "i-0abc",
            "previous_verdict": "ok",
            "latest_verdict": "idle",
        }
    ]
