"""Views that share a definition read it from one view: the registry benchmarks and the job metrics."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from tally.query.duckdb_engine import DuckDbEngine
from tally.query.sql_files import get_file, list_files, referenced_tables, view_body
from tally.registry.entries import ResourceBenchmark
from tests.sql.scenario import RESOURCES, Scenario, deduplicated


def reads(name: str) -> set[str]:
    return referenced_tables(view_body(get_file("views", name)))


def rows(engine: DuckDbEngine, sql: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = engine.query(sql).table.to_pylist()
    return out


def test_only_registry_benchmarks_reads_the_registry_resources_table() -> None:
    readers = {f.name for f in list_files("views") if "registry_resources" in reads(f.name)}
    assert readers == {"registry_benchmarks"}
    assert "registry_benchmarks" in reads("jobs_normalised")
    assert "registry_benchmarks" in reads("vms_instance_days")


def test_registry_benchmarks_holds_each_registry_interval(engine: DuckDbEngine) -> None:
    got = rows(
        engine,
        "SELECT site, resource, benchmark_type, benchmark_per_core, valid_from, valid_to "
        "FROM registry_benchmarks ORDER BY 1, 2, 3, 5",
    )
    expected = sorted(
        (
            {
                "site": e.site,
                "resource": e.resource,
                "benchmark_type": e.benchmark_type,
                "benchmark_per_core": e.benchmark_per_core,
                "valid_from": e.valid_from.replace(tzinfo=None),
                "valid_to": e.valid_to and e.valid_to.replace(tzinfo=None),
            }
            for e in RESOURCES
            if isinstance(e, ResourceBenchmark)
        ),
        key=lambda r: (r["site"], r["resource"], r["benchmark_type"], r["valid_from"]),
    )
    assert got == expected


def test_daily_and_monthly_select_a_grain_of_jobs_usage_and_define_no_metric() -> None:
    for name in ("jobs_daily", "jobs_monthly"):
        body = view_body(get_file("views", name))
        assert referenced_tables(body) == {"jobs_usage"}
        assert not list(body.find_all(exp.AggFunc)), f"{name} aggregates on its own"


def test_each_grain_of_jobs_usage_counts_every_job_once(engine: DuckDbEngine, scenario: Scenario) -> None:
    jobs = len(deduplicated(scenario.jobs))
    got = rows(engine, "SELECT grain, sum(jobs) AS jobs FROM jobs_usage GROUP BY grain ORDER BY grain")
    assert got == [{"grain": "day", "jobs": jobs}, {"grain": "month", "jobs": jobs}]
    monthly = rows(engine, "SELECT sum(jobs) AS jobs, count(*) AS n FROM jobs_monthly")
    daily = rows(engine, "SELECT sum(jobs) AS jobs, count(*) AS n FROM jobs_daily")
    assert monthly[0]["jobs"] == daily[0]["jobs"] == jobs
    assert monthly[0]["n"] < daily[0]["n"]  # the scenario's jobs end on several days of a month
