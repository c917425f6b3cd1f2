"""The dedup views over both partition layouts a warehouse can hold while it is upgraded.

jobs, storage and accelerators are written to month partitions (dt=YYYY-MM); warehouses written
before hold day folders (dt=YYYY-MM-DD) until compaction moves them. A record sent again after the
upgrade sits in both: the views must count it once, the later copy winning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from tally.adapters.warehouse import open_warehouse
from tally.domain.records import MODELS
from tally.domain.schema import cluster_order, stored_schema
from tally.query.duckdb_engine import DuckDbEngine
from tally.settings import Settings


def _job(job_id: str, queue: str, batch: str, ingested: datetime) -> dict[str, object]:
    end = datetime(2026, 3, 5, 12, tzinfo=UTC)
    return {
        "site": "S",
        "resource": "r",
        "batch_system": "slurm",
        "infrastructure": "hpc",
        "local_job_id": job_id,
        "end_time": end,
        "wall_seconds": 3600,
        "cpu_seconds": 3600,
        "cores": 2,
        "nodes": 1,
        "gpus": 0,
        "state": "CANCELLED",
        "cancelled_by": "1234",
        "queue": queue,
        "ingested_at": ingested,
        "batch_id": batch,
    }


def test_a_record_in_a_day_folder_and_its_month_counts_once(tmp_path: Path) -> None:
    warehouse = open_warehouse(Settings(mode="local", home=tmp_path))
    schema = stored_schema("jobs")
    old = datetime(2026, 3, 6, tzinfo=UTC)
    new = datetime(2026, 4, 2, tzinfo=UTC)
    legacy = pa.Table.from_pylist([_job("1", "old", "b1", old), _job("2", "old", "b1", old)], schema=schema)
    warehouse.write_parquet("jobs/dt=2026-03-05/b1.parquet", legacy)
    again = pa.Table.from_pylist([_job("1", "new", "b2", new)], schema=schema)
    model = MODELS["jobs"]
    keys = warehouse.write_partitioned(
        "jobs", again, model.partition_time, "b2", model.partition_span, cluster_order("jobs")
    )
    assert keys == ["jobs/dt=2026-03/b2.parquet"]

    rows = (
        DuckDbEngine(tmp_path / "warehouse")
        .query("SELECT local_job_id, queue, cancelled_by, state FROM jobs_dedup ORDER BY local_job_id")
        .table.to_pylist()
    )

    assert rows == [
        {"local_job_id": "1", "queue": "new", "cancelled_by": "1234", "state": "CANCELLED"},
        {"local_job_id": "2", "queue": "old", "cancelled_by": "1234", "state": "CANCELLED"},
    ]
