"""vms, storage and accelerators views over a warehouse written with the warehouse writer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tally.adapters.warehouse import open_warehouse
from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import stored_schema
from tally.query.duckdb_engine import DuckDbEngine
from tally.registry.entries import ResourceBenchmark
from tally.registry.store import RegistryStore
from tally.settings import Settings

T0 = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)


def write(home: Path, kind: RecordKind, rows: list[dict[str, Any]], batch: str, ingested: datetime) -> None:
    schema = stored_schema(kind)
    model = MODELS[kind]
    full = []
    for row in rows:
        record = model.model_validate(row).model_dump()
        full.append({**record, "ingested_at": ingested, "batch_id": batch})
    warehouse = open_warehouse(Settings(mode="local", home=home))
    warehouse.write_partitioned(kind, pa.Table.from_pylist(full, schema=schema), model.partition_time, batch)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDbEngine:
    home = Path(tmp_path_factory.mktemp("other"))
    vm = {
        "site": "cloud",
        "resource": "os-1",
        "provider": "openstack",
        "account": "acc",
        "instance_id": "i-1",
        "uptime_seconds": 0,
        "vcpus": 4,
    }
    vms = []
    for i in range(8):  # 15-minute samples from 23:00 on Jan 31 to 01:00 on Feb 1
        start = T0 + timedelta(minutes=15 * i)
        vms.append(
            {
                **vm,
                "interval_start": start,
                "interval_end": start + timedelta(minutes=15),
                "uptime_seconds": 900 * (i + 1),
                "cpu_busy_seconds": 1800.0,
            }
        )
    vms.append(
        {
            **vm,
            "instance_id": "i-2",
            "vcpus": 2,
            "interval_start": T0,
            "interval_end": T0 + timedelta(minutes=15),
            "cpu_busy_seconds": 60.0,
            "benchmark_type": "HS06",
            "benchmark_per_core": 20.0,
        }
    )
    write(home, "vms", vms, "b1", T0)
    # The same sample again in a later batch with a corrected busy time: the later copy wins.
    write(home, "vms", [{**vms[0], "cpu_busy_seconds": 900.0}], "b2", T0 + timedelta(days=1))
    RegistryStore(open_warehouse(Settings(mode="local", home=home))).replace_all(
        "resources",
        [
            ResourceBenchmark(
                site="cloud",
                resource="os-1",
                benchmark_type="HEPscore23",
                benchmark_per_core=5.0,
                valid_from=datetime(2026, 2, 1, tzinfo=UTC),
            ),
        ],
    )
    share = {"site": "s", "storage_system": "dcache", "storage_share": "atlas", "vo": "atlas"}
    storage = [
        {**share, "end_time": datetime(2026, 1, d, tzinfo=UTC), "used_bytes": used, "allocated_bytes": 1000}
        for d, used in ((5, 100), (15, 300), (25, 200))
    ] + [{**share, "end_time": datetime(2026, 2, 1, tzinfo=UTC), "used_bytes": 50, "allocated_bytes": 2000}]
    write(home, "storage", storage, "s1", T0)
    gpu = {"site": "s", "resource": "gpu", "model": "A100", "associated_id": "job-1"}
    accelerators = [
        {
            **gpu,
            "count": 2,
            "interval_start": datetime(2026, 1, 10, tzinfo=UTC),
            "interval_end": datetime(2026, 1, 10, 1, tzinfo=UTC),
            "allocated_seconds": 3600,
            "active_seconds": 1800,
            "utilisation_percent": 50.0,
            "benchmark_per_unit": 3.0,
        },
        {
            **gpu,
            "associated_id": "job-2",
            "interval_start": datetime(2026, 1, 11, tzinfo=UTC),
            "interval_end": datetime(2026, 1, 11, 2, tzinfo=UTC),
            "allocated_seconds": 7200,
            "utilisation_percent": 80.0,
        },
    ]
    write(home, "accelerators", accelerators, "a1", T0)
    return DuckDbEngine(Settings(mode="local", home=home).local_warehouse)


def test_vm_instance_days(engine: DuckDbEngine) -> None:
    rows = engine.query("SELECT * FROM vms_instance_days ORDER BY instance_id, day").table.to_pylist()
    assert [(r["instance_id"], r["day"], r["samples"]) for r in rows] == [
        ("i-1", date(2026, 1, 31), 4),
        ("i-1", date(2026, 2, 1), 4),
        ("i-2", date(2026, 1, 31), 1),
    ]
    jan, feb, other = rows
    assert jan["measured_hours"] == pytest.approx(1.0)
    assert jan["cpu_busy_hours"] == pytest.approx((900 + 3 * 1800) / 3600)  # corrected copy won
    assert jan["vcpu_hours"] == pytest.approx(4.0)
    assert jan["normalised_hours"] is None  # the registry value starts on Feb 1
    assert feb["normalised_hours_hepscore23"] == pytest.approx(4.0 * 5.0)
    assert feb["max_uptime_seconds"] == 7200
    assert other["normalised_hours_hs06"] == pytest.approx(0.25 * 2 * 20.0)
    assert other["normalised_hours"] == pytest.approx(0.25 * 2 * 20.0)


def test_storage_monthly(engine: DuckDbEngine) -> None:
    rows = engine.query("SELECT * FROM storage_monthly ORDER BY month").table.to_pylist()
    assert [r["month"] for r in rows] == [date(2026, 1, 1), date(2026, 2, 1)]
    jan, feb = rows
    assert (jan["snapshots"], jan["avg_used_bytes"], jan["peak_used_bytes"], jan["last_used_bytes"]) == (
        3,
        pytest.approx(200.0),
        300,
        200,
    )
    assert (jan["peak_allocated_bytes"], feb["avg_used_bytes"], feb["peak_allocated_bytes"]) == (
        1000,
        50.0,
        2000,
    )


def test_accelerators_monthly(engine: DuckDbEngine) -> None:
    (row,) = engine.query("SELECT * FROM accelerators_monthly").table.to_pylist()
    assert row["intervals"] == 2 and row["allocations"] == 2
    assert row["device_hours"] == pytest.approx(2 * 1 + 1 * 2)
    assert row["active_device_hours"] == pytest.approx(1.0)
    assert row["mean_utilisation_percent"] == pytest.approx((50 * 7200 + 80 * 7200) / (7200 + 7200))
    assert row["normalised_hours"] == pytest.approx(2 * 1 * 3.0)
