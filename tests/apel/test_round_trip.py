"""APEL out, then in: a month of demo data published into an SSM outgoing queue (read back with
the `dirq` package, as ssmsend reads it), imported by a second Tally and by the first, with totals
computed here from the stored records, not by the publisher's SQL."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tally.interop.apel.publish import Published, months_to_publish
from tally.query.open_engine import open_engine
from tally.services.container import Services
from tests.apel.helpers import fresh, ingest_demo, queue_texts, who
from tests.support.warehouse import rows

NOW = datetime(2026, 6, 15, tzinfo=UTC)
MONTH = "2026-05"
GRID, CLOUD = "LAKESIDE-GRID", "CLOUD-BURST"
PER_MESSAGE = 100


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Services:
    home = tmp_path_factory.mktemp("source")
    svc = fresh(home, GRID, CLOUD, apel={"records_per_message": PER_MESSAGE})
    ingest_demo(svc, (GRID, CLOUD), NOW, jobs=6000, months=2)
    return svc


@pytest.fixture(scope="module")
def queue(source: Services, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Published]]:
    folder = tmp_path_factory.mktemp("outgoing")
    done = {site: source.apel_publisher.publish(site, [MONTH], folder) for site in (GRID, CLOUD)}
    return folder, done


def _month_jobs(svc: Services, site: str) -> list[dict[str, object]]:
    seen: dict[tuple[object, ...], dict[str, object]] = {}
    for r in rows(svc.warehouse, "jobs"):
        end = r["end_time"]
        if r["site"] == site and isinstance(end, datetime) and f"{end:%Y-%m}" == MONTH:
            seen[(r["site"], r["resource"], r["local_job_id"], end)] = r
    return list(seen.values())


def _int(value: object) -> int:
    return int(str(value))


def test_the_queue_holds_apel_messages_of_at_most_the_limit(queue: tuple[Path, dict[str, Published]]) -> None:
    folder, done = queue
    messages = queue_texts(folder)
    headers = Counter(m.splitlines()[0] for m in messages)
    assert set(headers) == {
        "APEL-normalised-summary-message: v0.4",
        "APEL-sync-message: v0.1",
        "APEL-cloud-summary-message: v0.4",
        '<?xml version="1.0" ?>',
    }
    assert len(messages) == sum(sum(p.messages.values()) for p in done.values())
    for message in messages:
        count = (
            message.count("</sr:StorageUsageRecord>") if message.startswith("<") else message.count("%%\n")
        )
        assert 1 <= count <= PER_MESSAGE
    grid = done[GRID]
    assert grid.messages["summaries"] == -(-grid.records["summaries"] // PER_MESSAGE)
    assert grid.jobs_without_benchmark == 0


def test_a_second_tally_imports_identical_totals(
    source: Services, queue: tuple[Path, dict[str, Published]], tmp_path: Path
) -> None:
    folder, _ = queue
    target = fresh(tmp_path, GRID, CLOUD)
    for message in queue_texts(folder):
        site = CLOUD if "SiteName: CLOUD-BURST" in message else GRID
        result = target.apel.import_message(message.encode(), who(site))
        assert result.rejected == 0, result.errors[:3]
    jobs = _month_jobs(source, GRID)
    summaries = [r for r in rows(target.warehouse, "summaries") if r["summary_of"] == "jobs"]
    assert sum(_int(r["record_count"]) for r in summaries) == len(jobs) > 500
    assert sum(_int(r["wall_seconds"]) for r in summaries) == sum(_int(j["wall_seconds"]) for j in jobs)
    assert sum(_int(r["cpu_seconds"]) for r in summaries) == sum(_int(j["cpu_seconds"]) for j in jobs)
    # APEL's normalisation: WallDuration x the benchmark per core, each record rounded to a second.
    expected: dict[str, float] = defaultdict(float)
    for j in jobs:
        expected[str(j["benchmark_type"])] += _int(j["wall_seconds"]) * float(str(j["benchmark_per_core"]))
    published: dict[str, float] = defaultdict(float)
    for r in summaries:
        published[str(r["benchmark_type"])] += float(str(r["normalised_wall_seconds"]))
    assert set(published) == set(expected) == {"HEPscore23", "HS06"}
    for name, value in expected.items():
        assert abs(published[name] - value) <= 0.5 * len(summaries)
    syncs = {(r["resource"], _int(r["record_count"])) for r in rows(target.warehouse, "syncs")}
    assert syncs == set(Counter(str(j["resource"]) for j in jobs).items())
    # Storage: the same snapshots, field by field.
    keep = ("storage_system", "storage_share", "path", "owner", "vo", "end_time", "used_bytes", "file_count")
    held = {
        tuple(r[k] for k in keep)
        for r in rows(source.warehouse, "storage")
        if r["site"] == GRID and f"{r['end_time']:%Y-%m}" == MONTH
    }
    assert {tuple(r[k] for k in keep) for r in rows(target.warehouse, "storage")} == held
    # Cloud: VM wall and CPU time of the month.
    vms = [r for r in rows(source.warehouse, "vms") if f"{r['interval_start']:%Y-%m}" == MONTH]
    clouds = [r for r in rows(target.warehouse, "summaries") if r["summary_of"] == "vms"]
    wall = sum((r["interval_end"] - r["interval_start"]).total_seconds() for r in vms)  # type: ignore[operator]
    assert sum(_int(r["wall_seconds"]) for r in clouds) == wall
    cpu = sum(float(str(r["cpu_busy_seconds"])) for r in vms)
    assert abs(sum(_int(r["cpu_seconds"]) for r in clouds) - cpu) <= 0.5 * len(clouds)
    assert sum(_int(r["record_count"]) for r in clouds) >= len({r["instance_id"] for r in vms})


def test_published_summaries_imported_back_are_in_sync(
    source: Services, queue: tuple[Path, dict[str, Published]]
) -> None:
    folder, _ = queue
    for message in queue_texts(folder):
        if "Site: LAKESIDE-GRID" in message:
            assert source.apel.import_message(message.encode(), who(GRID)).rejected == 0
    engine = open_engine(source.settings)
    (check,) = engine.query(
        "SELECT * FROM summaries_vs_jobs WHERE site = ? AND month = ?", (GRID, MONTH)
    ).table.to_pylist()
    assert check["in_sync"] is True and check["published_jobs"] == len(_month_jobs(source, GRID))
    statuses = engine.query(
        "SELECT status, count(*) AS n FROM syncs_vs_jobs WHERE site = ? AND month = ? GROUP BY status",
        (GRID, MONTH),
    ).table.to_pylist()
    assert statuses == [{"status": "in sync", "n": 2}]


def test_months_to_publish() -> None:
    assert months_to_publish("2026-03", date(2026, 6, 1)) == ["2026-03"]
    assert months_to_publish(None, date(2026, 6, 30)) == ["2026-05", "2026-06"]
    assert months_to_publish(None, date(2026, 1, 2)) == ["2025-12", "2026-01"]
    with pytest.raises(ValueError):
        months_to_publish("2026-13", date(2026, 1, 2))
