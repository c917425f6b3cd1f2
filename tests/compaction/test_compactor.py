"""Compaction, locally and on moto's S3 server with real Parquet: nothing lost, nothing doubled.

The rows it must keep are computed independently, in plain Python (tests/compaction/batches.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from tally.adapters.warehouse import FsWarehouse, open_warehouse
from tally.compaction import CompactionPolicy, Compactor
from tally.compaction.compactor import COMPACTED_PREFIX
from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import stored_schema
from tally.services.container import Services
from tally.settings import Settings
from tests.compaction.batches import T0, expected_latest, fill, identity, ingest, parquet_keys
from tests.support.records import FACTORIES
from tests.support.warehouse import rows

DAY = date(2026, 3, 1)
TODAY = date(2026, 3, 10)


def by_identity(kind: str, table_rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in table_rows:
        key = identity(kind, row)
        assert key not in out, f"identity {key} appears twice after compaction"
        out[key] = row
    return out


@pytest.mark.parametrize("kind", ["jobs", "vms", "storage", "accelerators"])
def test_compaction_keeps_exactly_the_latest_copy_of_each_record(
    settings: Settings, kind: RecordKind
) -> None:
    svc = Services(settings)
    fill(svc, kind)
    wh = svc.warehouse
    before = rows(wh, kind)
    files_before = parquet_keys(wh, kind)
    assert len(files_before) >= 3  # several batches in each partition
    want = expected_latest(kind, before)
    assert len(want) < len(before)  # the fixture really has duplicates

    result = Compactor(wh).run(TODAY)

    after = rows(wh, kind)
    got = by_identity(kind, after)
    assert got == want  # row for row, every column
    assert len(after) == len(want)
    assert result.duplicates_removed == len(before) - len(want)
    files_after = parquet_keys(wh, kind)
    days = {k.split("/")[1] for k in files_before}
    assert len(files_after) == len(days)  # one file per partition
    assert all(k.rsplit("/", 1)[1].startswith(COMPACTED_PREFIX) for k in files_after)
    assert wh.read_parquet(files_after[0]).schema == stored_schema(kind)


def test_second_run_changes_nothing(settings: Settings) -> None:
    svc = Services(settings)
    fill(svc, "jobs")
    Compactor(svc.warehouse).run(TODAY)
    keys, content = parquet_keys(svc.warehouse, "jobs"), rows(svc.warehouse, "jobs")

    again = Compactor(svc.warehouse).run(TODAY)

    assert again.partitions == []
    assert parquet_keys(svc.warehouse, "jobs") == keys
    assert rows(svc.warehouse, "jobs") == content


def test_late_arrivals_are_merged_into_the_compacted_file(settings: Settings) -> None:
    svc = Services(settings)
    fill(svc, "jobs", batches=3)
    Compactor(svc.warehouse).run(TODAY)
    # A later batch resends some records (newer ingested_at) and adds new ones.
    ingest(svc, "jobs", [FACTORIES["jobs"](n, queue="late") for n in range(30, 70)], T0 + timedelta(days=3))
    want = expected_latest("jobs", rows(svc.warehouse, "jobs"))

    Compactor(svc.warehouse).run(TODAY)

    got = by_identity("jobs", rows(svc.warehouse, "jobs"))
    assert got == want
    assert sum(1 for r in got.values() if r["queue"] == "late") == 40


def test_todays_partition_is_left_alone(tmp_path: Any) -> None:
    """Day partitions (VM samples) wait until the day is over."""
    svc = Services(Settings(mode="local", home=tmp_path))
    for b in range(3):
        records = [FACTORIES["vms"](n, state=f"s{b}") for n in range(b * 10, 200)]
        ingest(svc, "vms", records, T0 + timedelta(days=1, minutes=b))
    keys = parquet_keys(svc.warehouse, "vms")
    newest_day = max(date.fromisoformat(k.split("/")[1].removeprefix("dt=")) for k in keys)

    Compactor(svc.warehouse).run(newest_day)

    untouched = [k for k in parquet_keys(svc.warehouse, "vms") if f"dt={newest_day}" in k]
    assert untouched == [k for k in keys if f"dt={newest_day}" in k]
    assert len(untouched) > 1
    older = [k for k in parquet_keys(svc.warehouse, "vms") if f"dt={newest_day}" not in k]
    assert older and all(k.rsplit("/", 1)[1].startswith(COMPACTED_PREFIX) for k in older)


def test_a_month_partition_is_compacted_from_its_second_day(tmp_path: Any) -> None:
    svc = Services(Settings(mode="local", home=tmp_path))
    fill(svc, "jobs", batches=3)
    keys = parquet_keys(svc.warehouse, "jobs")
    assert {k.split("/")[1] for k in keys} == {"dt=2026-03"}

    assert Compactor(svc.warehouse).run(date(2026, 3, 1)).partitions == []
    assert parquet_keys(svc.warehouse, "jobs") == keys

    [part] = Compactor(svc.warehouse).run(date(2026, 3, 2)).partitions
    assert (part.dt, len(part.inputs), len(part.outputs)) == ("2026-03", 3, 1)
    assert part.bytes_in > part.bytes_out > 0


def test_day_folders_of_a_month_table_are_moved_into_their_month(tmp_path: Any) -> None:
    """Warehouses written when jobs had day partitions: compaction merges them into months."""
    wh = open_warehouse(Settings(mode="local", home=tmp_path))
    schema = stored_schema("jobs")
    written: list[dict[str, object]] = []
    for n, day in enumerate((date(2026, 2, 27), date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 5))):
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        row = _stored_job(n, f"b{n}", at) | {"end_time": at}
        written.append(row)
        table = pa.Table.from_pylist([row], schema=schema)
        wh.write_parquet(f"jobs/dt={day.isoformat()}/legacy-{n}.parquet", table)

    result = Compactor(wh).run(TODAY)

    assert sorted(p.dt for p in result.partitions) == ["2026-02", "2026-03"]
    keys = parquet_keys(wh, "jobs")
    assert {k.split("/")[1] for k in keys} == {"dt=2026-02", "dt=2026-03"}
    assert sorted(str(r["local_job_id"]) for r in rows(wh, "jobs")) == sorted(
        str(r["local_job_id"]) for r in written
    )
    assert Compactor(wh).run(TODAY).partitions == []  # nothing left to move


def test_stored_files_use_the_schemas_encodings(tmp_path: Any) -> None:
    import pyarrow.parquet as pq

    svc = Services(Settings(mode="local", home=tmp_path))
    fill(svc, "jobs", batches=2)
    Compactor(svc.warehouse).run(TODAY)
    [key] = parquet_keys(svc.warehouse, "jobs")
    meta = pq.ParquetFile(f"{svc.warehouse.base}/{key}").metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: set(meta.column(i).encodings) for i in range(meta.num_columns)
    }
    assert "DELTA_BINARY_PACKED" in encodings["end_time"] and "DELTA_BINARY_PACKED" in encodings["cores"]
    assert "DELTA_LENGTH_BYTE_ARRAY" in encodings["local_job_id"]
    assert "RLE_DICTIONARY" in encodings["site"] and "RLE_DICTIONARY" in encodings["queue"]
    # Rows sit in cluster order: by site and resource, then end time.
    table = svc.warehouse.read_parquet(key)
    ends = table.column("end_time").to_pylist()
    assert ends == sorted(ends)


# -- crash safety and readers ----------------------------------------------------------------


@dataclass
class Watched:
    """A warehouse that checks, before every change, that a reader still sees every record."""

    inner: FsWarehouse
    check: Callable[[], None]
    fail_on_delete_after: int | None = None
    deleted: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return self.inner.uri

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write_parquet(self, key: str, table: pa.Table) -> None:
        self.check()
        self.inner.write_parquet(key, table)
        self.check()

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            if self.fail_on_delete_after is not None and len(self.deleted) >= self.fail_on_delete_after:
                raise OSError("simulated crash while deleting compaction inputs")
            self.check()
            self.inner.delete([key])
            self.deleted.append(key)
            self.check()


def test_readers_never_miss_a_record_and_a_crash_midway_is_repaired(settings: Settings) -> None:
    svc = Services(settings)
    fill(svc, "vms")
    wh = svc.warehouse
    want = expected_latest("vms", rows(wh, "vms"))

    def reader_sees_everything() -> None:
        # What a deduplicating reader computes from the files present right now.
        assert expected_latest("vms", rows(wh, "vms")) == want

    watched = Watched(wh, reader_sees_everything, fail_on_delete_after=2)
    with pytest.raises(OSError, match="simulated crash"):
        Compactor(watched).run(TODAY)  # type: ignore[arg-type]
    assert watched.deleted  # it got as far as deleting some inputs
    reader_sees_everything()  # duplicates are visible now, but nothing is missing

    # The next run finishes the job: one copy of each record, nothing left behind.
    Compactor(Watched(wh, reader_sees_everything)).run(TODAY)  # type: ignore[arg-type]
    assert by_identity("vms", rows(wh, "vms")) == want
    assert all(k.rsplit("/", 1)[1].startswith(COMPACTED_PREFIX) for k in parquet_keys(wh, "vms"))


def test_a_file_written_during_compaction_is_kept(tmp_path: Any) -> None:
    svc = Services(Settings(mode="local", home=tmp_path))
    fill(svc, "jobs", batches=3)
    wh = svc.warehouse
    compactor = Compactor(wh)
    plan = compactor.partitions("jobs")
    day = sorted(plan)[0]
    inputs = plan[day]
    # A batch lands in the same partition after the listing, before the inputs are deleted.
    late = [FACTORIES["jobs"](n, queue="concurrent") for n in range(500, 505)]
    ingest(svc, "jobs", late, T0 + timedelta(days=1))
    new_keys = set(parquet_keys(wh, "jobs")) - {k for ks in plan.values() for k in ks}
    assert new_keys

    compactor.compact("jobs", day, inputs)

    assert new_keys <= set(parquet_keys(wh, "jobs"))
    assert sum(1 for r in rows(wh, "jobs") if r["queue"] == "concurrent") == 5


# -- sizes, schemas ------------------------------------------------------------------------


def test_large_partitions_are_split_evenly_without_duplicates(tmp_path: Any) -> None:
    svc = Services(Settings(mode="local", home=tmp_path))
    records = [FACTORIES["jobs"](n % 1000, local_job_id=str(n)) for n in range(6000)]
    for b in range(6):
        ingest(svc, "jobs", records[b * 1000 : (b + 1) * 1000], T0 + timedelta(minutes=b))
    ingest(svc, "jobs", records[:1000], T0 + timedelta(hours=1))  # a resend of the first batch
    wh = svc.warehouse
    want = expected_latest("jobs", rows(wh, "jobs"))
    sizes = [len(wh.get_bytes(k)) for k in parquet_keys(wh, "jobs")]
    policy = CompactionPolicy(
        target_file_bytes=sum(sizes) // 3, small_file_bytes=max(sizes) + 1, max_input_bytes=10 * sum(sizes)
    )

    Compactor(wh, policy, {"jobs": MODELS["jobs"].identity}).run(TODAY)

    outputs = parquet_keys(wh, "jobs")
    counts = [wh.read_parquet(k).num_rows for k in outputs]
    assert 3 <= len(outputs) <= 4
    assert max(counts) - min(counts) <= 1
    assert by_identity("jobs", rows(wh, "jobs")) == want


def test_over_budget_partitions_merge_small_files_in_groups(tmp_path: Any) -> None:
    svc = Services(Settings(mode="local", home=tmp_path))
    for b in range(7):
        ingest(
            svc, "jobs", [FACTORIES["jobs"](n, queue=f"q{b}") for n in range(100)], T0 + timedelta(minutes=b)
        )
    wh = svc.warehouse
    want = expected_latest("jobs", rows(wh, "jobs"))
    size = max(len(wh.get_bytes(k)) for k in parquet_keys(wh, "jobs"))
    policy = CompactionPolicy(
        target_file_bytes=100 * size, small_file_bytes=2 * size, max_input_bytes=3 * size
    )
    compactor = Compactor(wh, policy, {"jobs": MODELS["jobs"].identity})

    groups = compactor.plan(parquet_keys(wh, "jobs"))
    assert [len(g) for g in groups] == [3, 3]  # 7 files, 3 per budget, a lone leftover waits

    compactor.run(TODAY)
    # Nothing lost; remaining duplicates across groups are the views' job until a later run.
    assert expected_latest("jobs", rows(wh, "jobs")) == want


def test_older_files_without_a_newer_column_are_merged(tmp_path: Any) -> None:
    wh = open_warehouse(Settings(mode="local", home=tmp_path))
    schema = stored_schema("jobs")
    fresh = pa.Table.from_pylist(
        [_stored_job(1, "b2", datetime(2026, 3, 2, tzinfo=UTC)) | {"gpu_model": "A100"}], schema=schema
    )
    old_schema = pa.schema([f for f in schema if f.name != "gpu_model"])
    old = pa.Table.from_pylist([_stored_job(2, "b1", datetime(2026, 3, 1, tzinfo=UTC))], schema=old_schema)
    wh.write_partitioned("jobs", old, "end_time", "b1")
    wh.write_partitioned("jobs", fresh, "end_time", "b2")

    Compactor(wh).run(TODAY)

    merged = rows(wh, "jobs")
    assert len(parquet_keys(wh, "jobs")) == 1
    assert sorted((r["local_job_id"], r["gpu_model"]) for r in merged) == [("1", "A100"), ("2", None)]


def _stored_job(n: int, batch: str, ingested: datetime) -> dict[str, object]:
    return {
        "site": "SITE-A",
        "resource": "c1",
        "batch_system": "slurm",
        "infrastructure": "hpc",
        "local_job_id": str(n),
        "end_time": datetime(2026, 3, 1, 12, tzinfo=UTC),
        "wall_seconds": 10,
        "cpu_seconds": 10,
        "cores": 1,
        "nodes": 1,
        "gpus": 0,
        "state": "COMPLETED",
        "ingested_at": ingested,
        "batch_id": batch,
    }


def test_policy_refuses_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match="small_file_bytes"):
        CompactionPolicy(target_file_bytes=10, small_file_bytes=20)
    with pytest.raises(ValueError, match="max_input_bytes"):
        CompactionPolicy(target_file_bytes=10, small_file_bytes=5, max_input_bytes=4)


def test_command_line_compacts_the_local_warehouse(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tally.compaction.__main__ import main

    monkeypatch.setenv("TALLY_MODE", "local")
    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    svc = Services(Settings(mode="local", home=tmp_path))
    fill(svc, "accelerators", batches=3)
    want = expected_latest("accelerators", rows(svc.warehouse, "accelerators"))

    assert main(["--table", "accelerators", "--today", TODAY.isoformat()]) == 0

    assert by_identity("accelerators", rows(svc.warehouse, "accelerators")) == want
    out = capsys.readouterr().out
    assert '"table": "accelerators"' in out and "removed" in out
