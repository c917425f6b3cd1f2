"""jobs_identified: which BLAH line (grid_identities) gives a job posted without a global user or VO
its identity. Jobs and lines are written as Parquet with the warehouse writer and read through the
views on DuckDB; the expected identities are worked out here, by hand for the named cases and by a
plain Python reading of APEL's rule (every line in the window, best first) for the random ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tally.adapters.warehouse import open_warehouse
from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import cluster_order, stored_schema
from tally.query.duckdb_engine import DuckDbEngine
from tally.settings import Settings

END = datetime(2026, 3, 15, 12, tzinfo=UTC)
INGESTED = datetime(2026, 4, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def job(job_id: str, end: datetime = END, resource: str = "r", **over: Any) -> dict[str, Any]:
    return {
        "site": "S",
        "resource": resource,
        "batch_system": "slurm",
        "infrastructure": "hpc",
        "local_job_id": job_id,
        "end_time": end,
        "wall_seconds": 3600,
        "cpu_seconds": 3600,
        "cores": 1,
        "nodes": 1,
        "gpus": 0,
        "state": "COMPLETED",
        "ingested_at": INGESTED,
        "batch_id": "jobs-1",
        **over,
    }


def line(lrms_id: str, submit: datetime, dn: str, vo: str = "atlas", resource: str = "r") -> dict[str, Any]:
    return {
        "site": "S",
        "resource": resource,
        "lrms_id": lrms_id,
        "submit_time": submit,
        "global_user": dn,
        "vo": vo,
        "vo_group": f"/{vo}",
        "vo_role": "Role=NULL",
        "ingested_at": INGESTED,
        "batch_id": "blah-1",
    }


def identified(home: Path, jobs: list[dict[str, Any]], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """local_job_id -> (global_user, vo, vo_group, infrastructure) as jobs_identified gives them."""
    warehouse = open_warehouse(Settings(mode="local", home=home))
    written: tuple[tuple[RecordKind, list[dict[str, Any]]], ...] = (
        ("jobs", jobs),
        ("grid_identities", lines),
    )
    for kind, rows in written:
        if rows:
            model = MODELS[kind]
            table = pa.Table.from_pylist(rows, schema=stored_schema(kind))
            warehouse.write_partitioned(
                kind, table, model.partition_time, f"{kind}-1", model.partition_span, cluster_order(kind)
            )
    got = (
        DuckDbEngine(home / "warehouse")
        .query("SELECT local_job_id, global_user, vo, vo_group, infrastructure FROM jobs_identified")
        .table.to_pylist()
    )
    assert len(got) == len(jobs)  # one row per job, whatever matched
    return {r["local_job_id"]: (r["global_user"], r["vo"], r["vo_group"], r["infrastructure"]) for r in got}


def grid(dn: str, vo: str = "atlas") -> tuple[str, str, str, str]:
    return (dn, vo, f"/{vo}", "grid")


UNTOUCHED = (None, None, None, "hpc")


def test_no_identity_line_leaves_the_job_as_posted(tmp_path: Path) -> None:
    got = identified(tmp_path, [job("1"), job("2")], [line("2", END - timedelta(hours=2), "/CN=Two")])
    assert got["1"] == UNTOUCHED


def test_one_line_in_the_window_gives_its_identity(tmp_path: Path) -> None:
    jobs = [job("1"), job("9575064")]
    lines = [
        line("1.ce1", END - timedelta(hours=3), "/CN=One"),
        line("9575064.lrms1", END, "/CN=Edge", "cms"),
    ]
    got = identified(tmp_path, jobs, lines)
    assert got["1"] == grid("/CN=One")
    assert got["9575064"] == grid("/CN=Edge", "cms")  # submitted at the very end: still before it


def test_of_two_lines_in_the_window_the_last_submitted_before_the_end_wins(tmp_path: Path) -> None:
    jobs = [job("1"), job("2"), job("3"), job("4"), job("5")]
    lines = [
        # job 1: two before its end and one after: the later of the two before wins.
        line("1", END - 10 * DAY, "/CN=Early"),
        line("1", END - 2 * DAY, "/CN=Later"),
        line("1", END + timedelta(hours=12), "/CN=After"),
        # job 2: both after its end, within a day: the latest wins.
        line("2", END + timedelta(hours=2), "/CN=Soon"),
        line("2", END + timedelta(hours=20), "/CN=Latest"),
        # job 3: two DNs with the same submit time: the smaller DN wins.
        line("3.a", END - DAY, "/CN=Zed"),
        line("3.b", END - DAY, "/CN=Alpha", "cms"),
        # job 4: the one before is older than 28 days, so the one within a day after wins.
        line("4", END - 29 * DAY, "/CN=Stale"),
        line("4", END + timedelta(hours=6), "/CN=Fresh", "lhcb"),
        # job 5: the one before is 28 days old exactly (in the window), the one after comes later.
        line("5", END - 28 * DAY, "/CN=Month"),
        line("5", END + timedelta(hours=1), "/CN=Hour"),
    ]
    got = identified(tmp_path, jobs, lines)
    assert got["1"] == grid("/CN=Later")
    assert got["2"] == grid("/CN=Latest")
    assert got["3"] == grid("/CN=Alpha", "cms")
    assert got["4"] == grid("/CN=Fresh", "lhcb")
    assert got["5"] == grid("/CN=Month")


def test_a_line_outside_the_window_or_of_another_job_gives_nothing(tmp_path: Path) -> None:
    jobs = [job("1"), job("2"), job("3"), job("4"), job("5", resource="other")]
    lines = [
        line("1", END - 28 * DAY - timedelta(seconds=1), "/CN=TooOld"),
        line("2", END + DAY + timedelta(seconds=1), "/CN=TooLate"),
        line("3", END + DAY, "/CN=DayAfter"),  # a day after exactly: in the window
        line("40", END, "/CN=OtherJob"),
        line("5", END, "/CN=OtherResource"),
    ]
    got = identified(tmp_path, jobs, lines)
    assert got["1"] == got["2"] == got["4"] == got["5"] == UNTOUCHED
    assert got["3"] == grid("/CN=DayAfter")


def test_what_the_job_says_is_kept(tmp_path: Path) -> None:
    jobs = [
        job("1", global_user="/CN=Own", vo="dune", vo_group="/dune"),
        job("2", global_user="/CN=OwnNoVo"),
        job("3", vo="belle"),
    ]
    lines = [line(n, END - timedelta(hours=1), "/CN=Line") for n in ("1", "2", "3")]
    got = identified(tmp_path, jobs, lines)
    assert got["1"] == ("/CN=Own", "dune", "/dune", "hpc")  # has both: not matched at all
    assert got["2"] == ("/CN=OwnNoVo", "atlas", "/atlas", "grid")  # only the missing VO filled
    assert got["3"] == ("/CN=Line", "belle", "/atlas", "grid")


def apel_rule(job_row: dict[str, Any], lines: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Every line of the job's batch id in [end - 28 days, end + 1 day], best first."""
    if job_row.get("global_user") is not None and job_row.get("vo") is not None:
        return UNTOUCHED
    end = job_row["end_time"]
    candidates = [
        ln
        for ln in lines
        if ln["resource"] == job_row["resource"]
        and ln["lrms_id"].split(".")[0] == job_row["local_job_id"].split(".")[0]
        and ln["submit_time"] - DAY <= end <= ln["submit_time"] + 28 * DAY
    ]
    if not candidates:
        return UNTOUCHED
    best = min(
        candidates,
        key=lambda ln: (ln["submit_time"] > end, -ln["submit_time"].timestamp(), ln["global_user"]),
    )
    return grid(best["global_user"], best["vo"])


@pytest.mark.parametrize(
    ("seed", "spread_hours"),
    [(1, 1000), (2, 1000), (3, 1000), (4, 60), (5, 60), (6, 30)],
    ids=["sparse-1", "sparse-2", "sparse-3", "dense-4", "dense-5", "dense-6"],
)
def test_random_jobs_and_lines_follow_the_rule(tmp_path: Path, seed: int, spread_hours: int) -> None:
    rng = random.Random(seed)
    # Few batch ids, reused, and lines spread over two months around the jobs: many jobs match
    # several lines, some none, and the window's edges are hit at whole hours.
    jobs = [
        job(
            f"{rng.randrange(8)}.{i}",
            END + timedelta(hours=rng.randrange(-min(300, spread_hours), min(300, spread_hours))),
        )
        for i in range(150)
    ]
    lines = []
    taken = set()
    for _ in range(60):
        batch_id = f"{rng.randrange(8)}"
        submit = END + timedelta(hours=rng.randrange(-spread_hours, spread_hours * 2 // 5))
        if (batch_id, submit) in taken:
            continue
        taken.add((batch_id, submit))
        lines.append(
            line(
                f"{batch_id}.ce{rng.randrange(2)}", submit, f"/CN=U{rng.randrange(5)}", rng.choice(["a", "b"])
            )
        )
    got = identified(tmp_path, jobs, lines)
    expected = {row["local_job_id"]: apel_rule(row, lines) for row in jobs}
    assert got == expected
    assert sum(v != UNTOUCHED for v in expected.values()) > 20  # the case is not trivially empty
