"""A small warehouse with known content, written through the real ingest service, and the
numbers the views must give, computed here in plain Python (independently of any SQL)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tally.domain.record_lines import RecordLines
from tally.registry.entries import ApplicationRule, Entry, RegistryKind, ResourceBenchmark, VoMapping
from tally.registry.store import RegistryStore
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.settings import Settings


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


FIRST_INGEST = utc("2026-03-01T08:00:00+00:00")
SECOND_INGEST = utc("2026-03-02T09:00:00+00:00")
BENCHMARK_CHANGE = utc("2026-01-15T12:00:00+00:00")

RESOURCES: list[Entry] = [
    ResourceBenchmark(
        site="alpha",
        resource="cpu-a",
        benchmark_type="HEPscore23",
        benchmark_per_core=10.0,
        valid_from=utc("2025-01-01T00:00:00+00:00"),
        valid_to=BENCHMARK_CHANGE,
    ),
    ResourceBenchmark(
        site="alpha",
        resource="cpu-a",
        benchmark_type="HEPscore23",
        benchmark_per_core=12.0,
        valid_from=BENCHMARK_CHANGE,
    ),
    ResourceBenchmark(
        site="alpha",
        resource="cpu-a",
        benchmark_type="HS06",
        benchmark_per_core=9.0,
        valid_from=utc("2025-01-01T00:00:00+00:00"),
    ),
    ResourceBenchmark(
        site="alpha",
        resource="cpu-b",
        benchmark_type="HS06",
        benchmark_per_core=8.0,
        valid_from=utc("2025-01-01T00:00:00+00:00"),
    ),
]
VO_MAPPING: list[Entry] = [
    VoMapping(site="alpha", match_field="project", match_value="p-astro", vo="astro"),
    VoMapping(site="alpha", match_field="local_group", match_value="g-bio", vo="bio"),
    VoMapping(site="beta", match_field="project", match_value="p-astro", vo="astro-beta"),
]
APPLICATIONS: list[Entry] = [
    ApplicationRule(site="alpha", application="gpu-generic", queue="gpu", priority=200),
    ApplicationRule(
        site="alpha", application="vasp", commercial=True, job_name_pattern="vasp_*", priority=10
    ),
    ApplicationRule(
        site="alpha", application="astro-sim", project="p-astro", job_name_pattern="sim?", priority=50
    ),
    ApplicationRule(site="beta", application="under_score", job_name_pattern="a_b*", priority=5),
]
REGISTRY: dict[RegistryKind, list[Entry]] = {
    "resources": RESOURCES,
    "vo_mapping": VO_MAPPING,
    "applications": APPLICATIONS,
}


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def random_jobs(rng: random.Random, count: int) -> list[dict[str, Any]]:
    jobs = []
    for i in range(count):
        site = rng.choice(["alpha", "alpha", "beta"])
        resource = rng.choice(["cpu-a", "cpu-b"]) if site == "alpha" else "hpc"
        end = utc("2025-12-20T00:00:00+00:00") + timedelta(seconds=rng.randrange(0, 60 * 86400))
        wall = rng.randrange(60, 3 * 86400)
        cores = rng.choice([1, 4, 8, 32])
        start = end - timedelta(seconds=wall)
        submit = start - timedelta(seconds=rng.randrange(0, 7200))
        job: dict[str, Any] = {
            "site": site,
            "resource": resource,
            "batch_system": "slurm",
            "local_job_id": f"{i}",
            "local_user": rng.choice(["ann", "bob", "cyd"]),
            "local_group": rng.choice(["g-bio", "g-phys", None]),
            "vo": rng.choice([None, None, "atlas", "cms"]),
            "project": rng.choice(["p-astro", "p-chem", None]),
            "queue": rng.choice(["gpu", "batch", None]),
            "job_name": rng.choice(["vasp_relax", "sim1", "sim12", "a_bc", "axbc", "run.sh", None]),
            "submit_time": iso(submit),
            "start_time": iso(start),
            "end_time": iso(end),
            "wall_seconds": wall,
            "cpu_seconds": int(wall * cores * rng.uniform(0.2, 1.0)),
            "cores": cores,
            "gpus": rng.choice([0, 0, 1, 2]),
            "state": "COMPLETED",
        }
        if rng.random() < 0.15:
            job["application"] = rng.choice(["vasp", "gromacs"])
        if rng.random() < 0.2:
            job["benchmark_type"], job["benchmark_per_core"] = rng.choice(
                [("HEPscore23", 15.0), ("HS06", 11.0), ("si2k", 2500.0)]
            )
        jobs.append(job)
    return jobs


def edge_jobs() -> list[dict[str, Any]]:
    base = {
        "site": "alpha",
        "resource": "cpu-a",
        "batch_system": "slurm",
        "state": "COMPLETED",
        "cores": 4,
        "cpu_seconds": 3600,
    }
    return [
        # Crosses midnight and the month end: counts in February.
        {
            **base,
            "local_job_id": "midnight",
            "start_time": "2026-01-31T22:00:00Z",
            "end_time": "2026-02-01T01:00:00Z",
            "wall_seconds": 10800,
        },
        # Ends at 01:30 local time in UTC+02:00: that is 23:30 UTC the day (and year) before.
        {
            **base,
            "local_job_id": "zoned",
            "start_time": "2026-01-01T00:30:00+02:00",
            "end_time": "2026-01-01T01:30:00+02:00",
            "wall_seconds": 3600,
        },
        # Either side of the benchmark change on the 15th at noon.
        {**base, "local_job_id": "before-change", "end_time": "2026-01-15T11:59:59Z", "wall_seconds": 3600},
        {**base, "local_job_id": "after-change", "end_time": "2026-01-15T12:00:00Z", "wall_seconds": 3600},
        # Sent again in the second batch with other numbers (see SECOND_BATCH).
        {**base, "local_job_id": "resent", "end_time": "2026-01-20T10:00:00Z", "wall_seconds": 100},
    ]


@dataclass
class Scenario:
    settings: Settings
    jobs: list[dict[str, Any]]  # every record as ingested, with its ingested_at
    registry: dict[RegistryKind, list[Entry]] = field(default_factory=dict)
    quarantined: dict[tuple[str, str, date], int] = field(default_factory=dict)


def build(home: Path) -> Scenario:
    settings = Settings(mode="local", home=home)
    services = Services(settings)
    for site in ("alpha", "beta"):
        services.add_site(site)
    rng = random.Random(20260301)
    first = random_jobs(rng, 160) + edge_jobs()
    resent = {**edge_jobs()[-1], "wall_seconds": 200, "cpu_seconds": 700}
    # Also re-send one random job of each site unchanged but for its VO, to prove the later copy wins.
    again = [dict(j, vo="late-vo") for j in first[:6]]
    second = [resent, *again]
    stored: list[dict[str, Any]] = []
    for batch, now in ((first, FIRST_INGEST), (second, SECOND_INGEST)):
        for site in ("alpha", "beta"):
            rows = [r for r in batch if r["site"] == site]
            _ingest(services, "jobs", site, rows, now)
            stored += [dict(r, _ingested_at=now) for r in rows]
    # Quarantine: two bad records from beta on the first day, one from alpha on the second.
    bad = {
        "site": "beta",
        "resource": "hpc",
        "batch_system": "slurm",
        "local_job_id": "x",
        "state": "X",
        "end_time": "2026-01-01T00:00:00Z",
        "wall_seconds": -5,
        "cpu_seconds": 1,
        "cores": 1,
    }
    _ingest(services, "jobs", "beta", [bad, dict(bad, local_job_id="y")], FIRST_INGEST)
    _ingest(services, "jobs", "alpha", [dict(bad, site="alpha", resource="cpu-a", cores=0)], SECOND_INGEST)
    quarantined = {("beta", "jobs", FIRST_INGEST.date()): 2, ("alpha", "jobs", SECOND_INGEST.date()): 1}
    store = RegistryStore(services.warehouse)
    for kind, entries in REGISTRY.items():
        store.replace_all(kind, entries, now=FIRST_INGEST)
    return Scenario(settings, stored, REGISTRY, quarantined)


def _ingest(services: Services, kind: str, site: str, rows: list[dict[str, Any]], now: datetime) -> None:
    if not rows:
        return
    body = b"\n".join(orjson.dumps(r) for r in rows)
    services.ingest.ingest(kind, RecordLines(body, len(rows)), Principal(site, "test"), now=now)  # type: ignore[arg-type]


# -- the expected numbers, in plain Python ---------------------------------------------------------


def deduplicated(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for job in jobs:
        key = (job["site"], job["resource"], job["local_job_id"], utc(job["end_time"]))
        if key not in latest or job["_ingested_at"] >= latest[key]["_ingested_at"]:
            latest[key] = job
    return list(latest.values())


def registry_factor(site: str, resource: str, kind: str, at: datetime) -> float | None:
    for entry in RESOURCES:
        assert isinstance(entry, ResourceBenchmark)
        if (entry.site, entry.resource, entry.benchmark_type) != (site, resource, kind):
            continue
        if entry.valid_from <= at and (entry.valid_to is None or at < entry.valid_to):
            return entry.benchmark_per_core
    return None


def factors(job: dict[str, Any]) -> tuple[float | None, float | None]:
    end = utc(job["end_time"])
    own_type, own = job.get("benchmark_type"), job.get("benchmark_per_core")
    hep = (
        own if own_type == "HEPscore23" else registry_factor(job["site"], job["resource"], "HEPscore23", end)
    )
    if own_type == "HS06":
        hs06 = own
    elif own_type == "si2k":
        hs06 = own / 250 if own is not None else None
    else:
        hs06 = registry_factor(job["site"], job["resource"], "HS06", end)
    return hep, hs06


def effective_vo(job: dict[str, Any]) -> str | None:
    if job.get("vo"):
        return str(job["vo"])
    for field_name in ("project", "local_group"):
        for entry in VO_MAPPING:
            assert isinstance(entry, VoMapping)
            if (
                entry.site == job["site"]
                and entry.match_field == field_name
                and entry.match_value == job.get(field_name)
            ):
                return entry.vo
    return None


def _glob_match(pattern: str, name: str) -> bool:
    if not pattern:
        return not name
    if pattern[0] == "*":
        return any(_glob_match(pattern[1:], name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    return (pattern[0] == "?" or pattern[0] == name[0]) and _glob_match(pattern[1:], name[1:])


def application(job: dict[str, Any]) -> tuple[str | None, bool]:
    name = job.get("application")
    if name is None:
        best: tuple[int, str] | None = None
        for rule in APPLICATIONS:
            assert isinstance(rule, ApplicationRule)
            if rule.site != job["site"]:
                continue
            if rule.queue is not None and rule.queue != job.get("queue"):
                continue
            if rule.project is not None and rule.project != job.get("project"):
                continue
            if rule.job_name_pattern is not None and (
                job.get("job_name") is None or not _glob_match(rule.job_name_pattern, job["job_name"])
            ):
                continue
            if best is None or rule.priority < best[0]:
                best = (rule.priority, rule.application)
        name = best[1] if best else None
    commercial = any(
        isinstance(r, ApplicationRule) and r.site == job["site"] and r.application == name and r.commercial
        for r in APPLICATIONS
    )
    return name, commercial


def expected_monthly(jobs: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, float]]:
    out: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for job in deduplicated(jobs):
        end = utc(job["end_time"])
        app, commercial = application(job)
        key = (
            job["site"],
            job["resource"],
            effective_vo(job),
            job.get("project"),
            job.get("queue"),
            app,
            commercial,
            date(end.year, end.month, 1),
        )
        hep, hs06 = factors(job)
        core = job["wall_seconds"] * job["cores"]
        row = out[key]
        row["jobs"] += 1
        row["wall_hours"] += job["wall_seconds"] / 3600
        row["cpu_hours"] += job["cpu_seconds"] / 3600
        row["core_hours"] += core / 3600
        row["normalised_core_hours_hepscore23"] += core * hep / 3600 if hep else 0.0
        row["normalised_core_hours_hs06"] += core * hs06 / 3600 if hs06 else 0.0
        preferred = hep if hep is not None else hs06
        row["normalised_core_hours"] += core * preferred / 3600 if preferred else 0.0
        row["unnormalised_core_hours"] += 0.0 if preferred else core / 3600
        row["gpu_hours"] += job.get("gpus", 0) * job["wall_seconds"] / 3600
        row["cpu_seconds"] += job["cpu_seconds"]
        row["core_seconds"] += core
        if job.get("submit_time") and job.get("start_time"):
            row["wait_hours"] += (utc(job["start_time"]) - utc(job["submit_time"])).total_seconds() / 3600
    return out
