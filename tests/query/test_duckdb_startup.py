"""DuckDB engine start-up: no file is read before a query needs its table, the compiled SQL is
kept between processes, and files written with fewer columns are still read (by name)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tally.domain.schema import stored_schema
from tally.query import compiled
from tally.query.duckdb_engine import DuckDbEngine
from tally.query.engine import QueryError
from tally.query.sql_files import sql_root


def job(job_id: str, day: int, **extra: Any) -> dict[str, Any]:
    end = datetime(2026, 3, day, 12, tzinfo=UTC)
    return {
        "site": "alpha",
        "resource": "cpu",
        "local_job_id": job_id,
        "end_time": end,
        "start_time": end.replace(hour=10),
        "wall_seconds": 7200,
        "cores": 4,
        "ingested_at": end,
        "batch_id": f"b-{job_id}",
        **extra,
    }


def write_jobs(
    root: Path, day: int, name: str, rows: list[dict[str, Any]], drop: tuple[str, ...] = ()
) -> None:
    schema = stored_schema("jobs")
    for column in drop:
        schema = schema.remove(schema.get_field_index(column))
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k not in drop} for r in rows], schema=schema)
    folder = root / "jobs" / f"dt=2026-03-{day:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"{name}.parquet")


def test_start_up_reads_no_file_and_a_query_reads_only_what_it_names(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    write_jobs(root, 1, "a", [job("1", 1)])
    # Not Parquet at all: any engine that reads every footer while starting fails on it.
    (root / "jobs" / "dt=2026-03-02").mkdir(parents=True)
    (root / "jobs" / "dt=2026-03-02" / "b.parquet").write_bytes(b"not a parquet file")
    engine = DuckDbEngine(root)
    assert engine.query("SELECT 1 AS one").table.to_pylist() == [{"one": 1}]
    assert engine.query("SELECT count(*) AS n FROM registry_resources").table.to_pylist() == [{"n": 0}]
    # A typo is the user's error, said on one line; it does not make the engine read every file.
    with pytest.raises(QueryError) as typo:
        engine.query("SELECT nope FROM jobs")
    assert 'Referenced column "nope" not found' in str(typo.value) and "\n" not in str(typo.value)
    with pytest.raises(QueryError):
        engine.query("SELECT count(*) FROM jobs")


@pytest.mark.parametrize("older_first", [True, False], ids=["older-file-first", "older-file-last"])
def test_files_without_a_later_column_are_read_by_name(tmp_path: Path, older_first: bool) -> None:
    root = tmp_path / "warehouse"
    # A file written before node_list and gpu_model existed, and one written after.
    old_day, new_day = (1, 2) if older_first else (2, 1)
    write_jobs(root, old_day, "old", [job("old", old_day)], drop=("node_list", "gpu_model"))
    write_jobs(root, new_day, "new", [job("new", new_day, node_list="n[1-2]", gpu_model="A100")])
    engine = DuckDbEngine(root)
    got = engine.query(
        "SELECT local_job_id, node_list, gpu_model, wall_seconds * cores AS core_seconds "
        "FROM jobs_dedup ORDER BY local_job_id"
    ).table.to_pylist()
    assert got == [
        {"local_job_id": "new", "node_list": "n[1-2]", "gpu_model": "A100", "core_seconds": 28800},
        {"local_job_id": "old", "node_list": None, "gpu_model": None, "core_seconds": 28800},
    ]


def test_columns_have_the_ddl_types_whatever_the_file_holds(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    rows = [job("1", 1)]
    schema = stored_schema("jobs")
    # cores written as int32: the view still says BIGINT, as the DDL does.
    narrow = schema.set(schema.get_field_index("cores"), pa.field("cores", pa.int32()))
    folder = root / "jobs" / "dt=2026-03-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=narrow), folder / "a.parquet")
    table = DuckDbEngine(root).query("SELECT cores FROM jobs").table
    assert table.schema.field("cores").type == pa.int64()
    assert table.to_pylist() == [{"cores": 4}]


def test_compiled_catalog_is_kept_in_a_file_named_by_the_sql(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    source = sql_root()
    for section in ("tables", "views", "reports"):
        (sql / section).mkdir(parents=True)
        for file in (source / section).glob("*.sql"):
            (sql / section / file.name).write_text(file.read_text())
    cache = tmp_path / "cache"
    first = compiled.compiled_catalog(sql, cache)
    files = list(cache.glob("sql-*.json"))
    assert [f.name for f in files] == [f"sql-{compiled.catalog_key(sql)}.json"]
    assert compiled.compiled_catalog(sql, cache) == first  # read back from the file, equal
    saved = json.loads(files[0].read_text())
    assert {v["name"] for v in saved["views"]} == {f.stem for f in (source / "views").glob("*.sql")}
    # A view file changes: a new key, so the old catalog is never used for it.
    view = sql / "views" / "jobs_daily.sql"
    view.write_text(view.read_text() + "\n-- changed\n")
    assert compiled.catalog_key(sql) != files[0].name[4:-5]
    compiled.compiled_catalog(sql, cache)
    assert len(list(cache.glob("sql-*.json"))) == 2
    assert not list(cache.glob("*.tmp"))


def test_a_damaged_catalog_file_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    path = cache / f"sql-{compiled.catalog_key()}.json"
    path.write_text('{"tables": [')
    catalog = compiled.compiled_catalog(None, cache)
    assert "jobs_normalised" in catalog.views
    assert json.loads(path.read_text())["views"]
