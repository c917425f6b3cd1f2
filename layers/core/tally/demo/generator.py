"""Realistic, reproducible demo usage: several sites and clusters, VOs, projects, users, months of jobs.

Everything is drawn from a seeded generator, so the same arguments always give the same records.
The records are plain dicts in the API contract, posted through the same ingest path as an agent's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Cluster:
    site: str
    resource: str
    batch_system: str
    infrastructure: str
    queues: tuple[str, ...]
    cores_per_node: int
    gpus_per_node: int = 0
    gpu_model: str | None = None
    # What the site's agent is configured with; None leaves normalisation to the registry.
    benchmark_type: str | None = None
    benchmark_per_core: float | None = None
    share: float = 1.0


CLUSTERS: tuple[Cluster, ...] = (
    Cluster("NORTH-HPC", "hex", "slurm", "hpc", ("compute", "long", "debug"), 64, share=3.0),
    Cluster(
        "NORTH-HPC", "hex-gpu", "slurm", "hpc", ("gpu",), 48, gpus_per_node=4, gpu_model="a100", share=0.8
    ),
    Cluster(
        "LAKESIDE-GRID",
        "ce01",
        "htcondor",
        "grid",
        ("grid",),
        32,
        benchmark_type="HEPscore23",
        benchmark_per_core=16.4,
        share=2.5,
    ),
    Cluster(
        "LAKESIDE-GRID",
        "ce02",
        "pbs",
        "grid",
        ("long", "short"),
        24,
        benchmark_type="HS06",
        benchmark_per_core=11.2,
        share=1.2,
    ),
    Cluster("RIVERSIDE-UNI", "bluebear", "sge", "hpc", ("all.q", "bigmem.q"), 40, share=1.0),
    Cluster("RIVERSIDE-UNI", "oak", "lsf", "hpc", ("normal", "priority"), 28, share=0.6),
)

SITES: tuple[str, ...] = tuple(dict.fromkeys(c.site for c in CLUSTERS))

VOS = ("atlas", "cms", "lhcb", "alice", "dune")
# HPC projects: (account, research group application mix)
PROJECTS = (
    ("climate-ensemble", ("wrf", "cesm", "python")),
    ("genomics-pipeline", ("gatk", "bwa", "python")),
    ("lattice-qcd", ("grid-qcd", "chroma")),
    ("cfd-turbine", ("ansys-fluent", "openfoam")),
    ("materials-dft", ("vasp", "quantum-espresso")),
    ("ml-imaging", ("pytorch", "python")),
    ("astro-survey", ("python", "gadget4")),
)
GRID_APPS = {"atlas": "athena", "cms": "cmssw", "lhcb": "gaudi", "alice": "aliphysics", "dune": "larsoft"}
USERS = tuple(f"{first}{last}" for first in "abcdefghjk" for last in ("smith", "okafor", "lee", "novak"))
STATES = (
    ("COMPLETED", 0.82),
    ("FAILED", 0.07),
    ("CANCELLED by 10231", 0.04),
    ("TIMEOUT", 0.04),
    ("OUT_OF_MEMORY", 0.015),
    ("NODE_FAIL", 0.01),
    ("PREEMPTED", 0.005),
)


def _pick_state(rng: random.Random) -> str:
    x = rng.random()
    for state, p in STATES:
        if x < p:
            return state
        x -= p
    return "COMPLETED"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def demo_window(now: datetime, months: int) -> tuple[datetime, datetime]:
    """From the first day `months` whole months back to the start of today (UTC)."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    year, month = end.year, end.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=UTC), end


def _job(
    rng: random.Random, c: Cluster, number: int, start: datetime, end_limit: datetime
) -> dict[str, object]:
    gpu = c.gpus_per_node > 0
    if c.infrastructure == "grid":
        vo = rng.choice(VOS)
        cores = rng.choice((1, 1, 8, 8, 8))
        project, application = vo, GRID_APPS[vo]
        user = f"{vo}prd{rng.randint(1, 9):03d}"
    else:
        vo = None
        project, apps = rng.choice(PROJECTS)
        application = rng.choice(apps)
        cores = rng.choice((1, 4, 16, 32, c.cores_per_node, 2 * c.cores_per_node))
        user = rng.choice(USERS)
    nodes = max(1, math.ceil(cores / c.cores_per_node))
    gpus = rng.choice((1, 2, 4)) if gpu else 0
    wall = int(min(rng.lognormvariate(8.3, 1.1), 72 * 3600))
    efficiency = min(0.99, max(0.02, rng.betavariate(6, 1.6)))
    end = start + timedelta(seconds=wall)
    if end >= end_limit:
        # Clip at the window's end: the job ends (and if need be starts) just before it.
        end = end_limit - timedelta(seconds=1)
        start = min(start, end)
        wall = int((end - start).total_seconds())
    submit = start - timedelta(seconds=int(rng.expovariate(1 / 1800)))
    array = rng.random() < 0.12
    mem_req = cores * rng.choice((2, 4, 8)) * 1024**3
    record: dict[str, object] = {
        "site": c.site,
        "resource": c.resource,
        "batch_system": c.batch_system,
        "infrastructure": c.infrastructure,
        "local_job_id": f"{number}_{rng.randint(0, 99)}" if array else str(number),
        "array_job_id": str(number) if array else None,
        "job_name": f"{application}-{rng.randint(1, 500)}",
        "local_user": user,
        "local_group": project if vo is None else vo,
        "project": project,
        "queue": rng.choice(c.queues),
        "application": application,
        "submit_time": _iso(submit),
        "start_time": _iso(start),
        "end_time": _iso(end),
        "wall_seconds": wall,
        "cpu_seconds": int(wall * cores * efficiency),
        "cores": cores,
        "nodes": nodes,
        "gpus": gpus,
        "gpu_model": c.gpu_model if gpu else None,
        "memory_requested_bytes": mem_req,
        "memory_max_bytes": int(mem_req * rng.uniform(0.1, 0.95)),
        "state": _pick_state(rng),
        "exit_code": 0,
        "node_list": f"{c.resource}-n{rng.randint(1, 400):03d}",
    }
    if vo is not None:
        record.update(
            vo=vo,
            global_user=f"/DC=org/DC=example/OU=People/CN={user}",
            vo_group=f"/{vo}",
            vo_role="production" if "prd" in user else None,
        )
    if c.benchmark_type:
        record.update(benchmark_type=c.benchmark_type, benchmark_per_core=c.benchmark_per_core)
    return record


def generate_jobs(
    now: datetime, months: int = 6, jobs: int = 60_000, seed: int = 2026
) -> Iterator[dict[str, object]]:
    """Yield `jobs` job records spread over the last `months` months, by cluster share."""
    rng = random.Random(seed)
    start, end = demo_window(now, months)
    span = (end - start).total_seconds()
    total_share = sum(c.share for c in CLUSTERS)
    for c in CLUSTERS:
        count = round(jobs * c.share / total_share)
        base = rng.randint(1_000_000, 9_000_000)
        for i in range(count):
            # More work on weekdays and in office hours, as on real clusters.
            offset = rng.random() * span
            t = start + timedelta(seconds=offset)
            if t.weekday() >= 5 and rng.random() < 0.4:
                t -= timedelta(days=2)
            t = max(start, t)
            yield _job(rng, c, base + i, t, end)
