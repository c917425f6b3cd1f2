from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from tally.query.duckdb_engine import DuckDbEngine
from tests.sql.scenario import Scenario, utc


def test_ingest_daily_counts_records_batches_latest_event_and_quarantine(
    engine: DuckDbEngine, scenario: Scenario
) -> None:
    got = {
        (r["site"], r["kind"], r["day"]): r
        for r in engine.query("SELECT * FROM ingest_daily").table.to_pylist()
    }
    records: Counter[tuple[str, str, date]] = Counter()
    latest: dict[tuple[str, str, date], Any] = {}
    for job in scenario.jobs:
        key = (job["site"], "jobs", job["_ingested_at"].date())
        records[key] += 1
        end = utc(job["end_time"]).replace(tzinfo=None)
        latest[key] = max(latest.get(key, end), end)
    assert set(got) == set(records) | set(scenario.quarantined)
    for key, row in got.items():
        assert row["records"] == records.get(key, 0), key
        assert row["quarantined"] == scenario.quarantined.get(key, 0), key
        assert row["latest_event"] == latest.get(key), key
        assert row["batches"] == (1 if key in records else 0)


def test_quarantine_table_reads_the_ndjson_files(engine: DuckDbEngine) -> None:
    rows = engine.query(
        "SELECT site, kind, record_kind, dt, errors FROM quarantine ORDER BY site"
    ).table.to_pylist()
    assert [r["site"] for r in rows] == ["alpha", "beta", "beta"]
    assert {r["record_kind"] for r in rows} == {"jobs"}
    assert all(r["errors"] and r["errors"][0]["message"] for r in rows)
