"""The jobs views on DuckDB over a warehouse written by the real ingest, against numbers computed
independently in Python (tests/sql/scenario.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from tally.query.duckdb_engine import DuckDbEngine
from tests.sql.scenario import Scenario, application, deduplicated, effective_vo, expected_monthly, factors

METRICS = [
    "jobs",
    "wall_hours",
    "cpu_hours",
    "core_hours",
    "normalised_core_hours_hepscore23",
    "normalised_core_hours_hs06",
    "normalised_core_hours",
    "unnormalised_core_hours",
    "gpu_hours",
    "wait_hours",
]


def rows(engine: DuckDbEngine, sql: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = engine.query(sql).table.to_pylist()
    return out


def test_dedup_keeps_one_row_per_identity_and_the_latest_copy(
    engine: DuckDbEngine, scenario: Scenario
) -> None:
    expected = deduplicated(scenario.jobs)
    got = rows(engine, "SELECT site, local_job_id, end_time, vo, wall_seconds, ingested_at FROM jobs_dedup")
    assert len(got) == len(expected)
    assert len(scenario.jobs) > len(expected)  # the scenario does contain copies
    by_id = {(r["site"], r["local_job_id"]): r for r in got}
    resent = by_id[("alpha", "resent")]
    assert resent["wall_seconds"] == 200
    for job in expected:
        row = by_id[(job["site"], job["local_job_id"])]
        assert row["vo"] == job.get("vo")
        assert row["wall_seconds"] == job["wall_seconds"]


def test_raw_table_keeps_every_copy(engine: DuckDbEngine, scenario: Scenario) -> None:
    assert rows(engine, "SELECT count(*) AS n FROM jobs")[0]["n"] == len(scenario.jobs)


def test_normalised_factors_vo_and_benchmark_change(engine: DuckDbEngine, scenario: Scenario) -> None:
    got = {
        (r["site"], r["local_job_id"]): r
        for r in rows(
            engine,
            "SELECT site, local_job_id, vo, hepscore23_per_core, hs06_per_core, "
            "normalisation_type FROM jobs_normalised",
        )
    }
    for job in deduplicated(scenario.jobs):
        row = got[(job["site"], job["local_job_id"])]
        hep, hs06 = factors(job)
        assert row["hepscore23_per_core"] == pytest.approx(hep) if hep else row["hepscore23_per_core"] is None
        assert row["hs06_per_core"] == pytest.approx(hs06) if hs06 else row["hs06_per_core"] is None
        assert row["vo"] == effective_vo(job)
        assert row["normalisation_type"] == ("HEPscore23" if hep else "HS06" if hs06 else None)
    assert got[("alpha", "before-change")]["hepscore23_per_core"] == 10.0
    assert got[("alpha", "after-change")]["hepscore23_per_core"] == 12.0


def test_classified_application_and_commercial(engine: DuckDbEngine, scenario: Scenario) -> None:
    got = {
        (r["site"], r["local_job_id"]): (r["application"], r["commercial"])
        for r in rows(engine, "SELECT site, local_job_id, application, commercial FROM jobs_classified")
    }
    expected = {(j["site"], j["local_job_id"]): application(j) for j in deduplicated(scenario.jobs)}
    assert got == expected
    assert ("vasp", True) in got.values() and ("under_score", False) in got.values()
    # `_` in a glob is a literal underscore, not LIKE's any-character.
    assert all(app != "under_score" for (site, _), (app, _c) in got.items() if site == "alpha")


def test_monthly_matches_independent_sums(engine: DuckDbEngine, scenario: Scenario) -> None:
    expected = expected_monthly(scenario.jobs)
    got = rows(engine, "SELECT * FROM jobs_monthly")
    assert len(got) == len(expected)
    for row in got:
        key = (
            row["site"],
            row["resource"],
            row["vo"],
            row["project"],
            row["queue"],
            row["application"],
            row["commercial"],
            row["month"],
        )
        want = expected[key]
        for metric in METRICS:
            value = row[metric] if row[metric] is not None else 0.0
            assert value == pytest.approx(want[metric], rel=1e-9, abs=1e-9), (key, metric)
        assert row["cpu_efficiency"] == pytest.approx(want["cpu_seconds"] / want["core_seconds"])


def test_daily_agrees_with_monthly_and_midnight_and_zone(engine: DuckDbEngine) -> None:
    daily = rows(
        engine,
        "SELECT date_trunc('month', day) AS m, sum(jobs) AS jobs, sum(core_hours) AS ch "
        "FROM jobs_daily GROUP BY 1 ORDER BY 1",
    )
    monthly = rows(
        engine,
        "SELECT month, sum(jobs) AS jobs, sum(core_hours) AS ch FROM jobs_monthly GROUP BY 1 ORDER BY 1",
    )
    assert [r["jobs"] for r in daily] == [r["jobs"] for r in monthly]
    assert [r["ch"] for r in daily] == pytest.approx([r["ch"] for r in monthly])
    days = {
        r["local_job_id"]: r["day"]
        for r in rows(
            engine,
            "SELECT local_job_id, CAST(end_time AS DATE) AS day FROM jobs_normalised "
            "WHERE local_job_id IN ('midnight', 'zoned')",
        )
    }
    assert days == {"midnight": date(2026, 2, 1), "zoned": date(2025, 12, 31)}
    zoned = rows(engine, "SELECT end_time FROM jobs_dedup WHERE local_job_id = 'zoned'")[0]["end_time"]
    assert zoned == datetime(2025, 12, 31, 23, 30)


def test_partition_filter_prunes_but_keeps_answers(engine: DuckDbEngine) -> None:
    whole = rows(
        engine,
        "SELECT count(*) AS n FROM jobs_dedup WHERE end_time >= TIMESTAMP '2026-01-01 00:00:00' "
        "AND end_time < TIMESTAMP '2026-02-01 00:00:00'",
    )[0]["n"]
    # jobs partitions span a month: dt is YYYY-MM.
    pruned = rows(engine, "SELECT count(*) AS n FROM jobs_dedup WHERE dt = '2026-01'")[0]["n"]
    assert whole == pruned and whole >= 1
