"""Planted alert scenarios: records whose idle, stuck, silent, heavy and over-capacity cases are
known by construction, written through the real ingest into a local warehouse (real Parquet,
evaluated by real DuckDB), and a clean month in which nothing should fire.

NOW is the evaluation time. Every number an alert should carry is derived here by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from tally.alerts.model import RuleInput
from tally.domain.record_lines import RecordLines
from tally.people.authz import Fence
from tally.registry.entries import ResourceBenchmark
from tally.services.container import Services
from tally.services.ingest import Principal
from tests.reconcile.fixtures import line
from tests.reconcile.warehouse_fixtures import store_bill

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
CLOUD, HPC, QUIET = "CLOUD", "HPC", "QUIET"
ACCOUNT = "111122223333"
SAMPLE = timedelta(minutes=15)
VCPUS = 4
#: The ingest times: data arrives half an hour before NOW; QUIET's agent stopped 36 h before.
ARRIVED = NOW - timedelta(minutes=30)
QUIET_ARRIVED = NOW - timedelta(hours=36)
#: Billed rates per instance-hour (USD), from one 24-hour bill line per day.
RATES = {"i-idle": Decimal("0.096"), "i-busy": Decimal("3.06"), "i-stuck": Decimal("0.192")}
IDLE_SINCE = datetime(2026, 3, 9, tzinfo=UTC)  # i-idle and i-busy's GPU idle from here to NOW: 36 h

RULES: list[dict[str, Any]] = [
    {"kind": "idle_vm", "name": "idle VMs", "params": {"below_percent": 5, "hours": 24}},
    {"kind": "idle_gpu", "name": "idle GPUs", "params": {"below_percent": 5, "hours": 24}},
    {"kind": "stuck_vm", "name": "stuck VMs", "params": {"hours": 6}},
    {"kind": "silent_agent", "name": "quiet agents", "params": {"hours": 6}},
    {"kind": "heavy_user", "name": "heavy users", "params": {"window_hours": 168, "share_percent": 50}},
    {"kind": "heavy_load", "name": "HPC load", "scope": {"site": HPC}, "params": {"window_hours": 24}},
]


EVERYTHING = Fence(everything=True)


def add_rules(svc: Services) -> None:
    for rule in RULES:
        svc.alerts.add_rule(RuleInput.model_validate(rule), EVERYTHING, "test")


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest(svc: Services, kind: str, site: str, rows: list[dict[str, Any]], at: datetime) -> None:
    body = b"\n".join(orjson.dumps(r) for r in rows)
    result = svc.ingest.ingest(kind, RecordLines(body, len(rows)), Principal(site, "test"), now=at)  # type: ignore[arg-type]
    assert result.rejected == 0, result.errors


def vm_sample(
    instance: str, start: datetime, busy_share: float, net: int, site: str = CLOUD
) -> dict[str, Any]:
    return {
        "site": site,
        "resource": "os1",
        "provider": "aws",
        "account": ACCOUNT,
        "instance_id": instance,
        "vm_name": instance.removeprefix("i-"),
        "project": "astro",
        "interval_start": z(start),
        "interval_end": z(start + SAMPLE),
        "uptime_seconds": 86_400 * 5,
        "cpu_busy_seconds": round(busy_share * 900 * VCPUS, 3),
        "cpu_idle_seconds": round((1 - busy_share) * 900 * VCPUS, 3),
        "vcpus": VCPUS,
        "net_rx_bytes": net,
        "net_tx_bytes": net // 2,
    }


def gpu_interval(
    host: str, start: datetime, utilisation: float, kind: str = "vm", site: str = CLOUD
) -> dict[str, Any]:
    return {
        "site": site,
        "resource": "os1" if site == CLOUD else "cluster",
        "associated_kind": kind,
        "associated_id": host,
        "model": "A100",
        "count": 1,
        "interval_start": z(start),
        "interval_end": z(start + timedelta(hours=1)),
        "allocated_seconds": 3600,
        "utilisation_percent": utilisation,
        "project": "astro",
    }


def hpc_job(n: int, user: str, start: datetime, hours: float, cores: int, site: str = HPC) -> dict[str, Any]:
    end = start + timedelta(hours=hours)
    return {
        "site": site,
        "resource": "cluster" if site == HPC else "edge",
        "batch_system": "slurm",
        "local_job_id": str(n),
        "local_user": user,
        "project": "lattice",
        "start_time": z(start),
        "end_time": z(end),
        "wall_seconds": int(hours * 3600),
        "cpu_seconds": int(hours * 3600 * cores * 0.9),
        "cores": cores,
        "state": "COMPLETED",
    }


def bill_days(svc: Services, instance: str, first: datetime, days: int) -> None:
    rate = RATES[instance]
    lines = [
        line(
            provider="aws",
            account=ACCOUNT,
            resource_id=f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/{instance}",
            start=first + timedelta(days=d),
            end=first + timedelta(days=d + 1),
            cost=str(rate * 24),
            hours="24",
            row=d,
        )
        for d in range(days)
    ]
    store_bill(svc.warehouse, lines, f"bill-{instance}")


def plant(svc: Services) -> None:
    """The planted world at NOW (see the module note); each case below fires exactly one alert."""
    for site in (CLOUD, HPC, QUIET):
        svc.add_site(site)
    start = NOW - timedelta(hours=60)
    samples: list[dict[str, Any]] = []
    t = start
    k = 0
    while t < NOW:
        # i-idle: busy at 50 % until IDLE_SINCE, then 2 % for 36 h (idle_vm fires, 36 h priced).
        samples.append(vm_sample("i-idle", t, 0.5 if t < IDLE_SINCE else 0.02, 5_000_000))
        # i-busy: 30 % and 80 % by turns, with traffic: nothing (its GPU is the idle one).
        samples.append(vm_sample("i-busy", t, 0.3 if k % 2 else 0.8, 8_000_000))
        # i-stuck: varied with traffic, then 99 % flat and silent on the network for the last 12 h.
        stuck = t >= NOW - timedelta(hours=12)
        samples.append(
            vm_sample("i-stuck", t, 0.99 if stuck else (0.4 if k % 2 else 0.6), 0 if stuck else 9_000_000)
        )
        # i-gone: idle, but stopped reporting 24 h before NOW (not idle now: gone).
        if t < NOW - timedelta(hours=24):
            samples.append(vm_sample("i-gone", t, 0.01, 1_000))
        t += SAMPLE
        k += 1
    ingest(svc, "vms", CLOUD, samples, ARRIVED)
    gpus = []
    t = start
    while t < NOW:
        # i-busy's GPU: 60 % until IDLE_SINCE, then 0.5 % (idle_gpu fires, 36 GPU-hours).
        gpus.append(gpu_interval("i-busy", t, 60.0 if t < IDLE_SINCE else 0.5))
        # A batch job's GPU at HPC, busy throughout: nothing.
        gpus.append(gpu_interval("job-77", t, 85.0, kind="job", site=HPC))
        t += timedelta(hours=1)
    ingest(svc, "accelerators", CLOUD, [g for g in gpus if g["site"] == CLOUD], ARRIVED)
    ingest(svc, "accelerators", HPC, [g for g in gpus if g["site"] == HPC], ARRIVED)
    for instance in RATES:
        bill_days(svc, instance, datetime(2026, 3, 1, tzinfo=UTC), 9)
    # HPC: hog runs 96 of the cluster's 100 cores for the whole last day (heavy_load: 96 %) and
    # holds 2304 of 2384 core-hours in the week (heavy_user: 96.6 %); ann ran ten 2-hour 4-core jobs.
    jobs = [hpc_job(1, "hog", NOW - timedelta(hours=24), 24, 96)]
    jobs += [hpc_job(10 + i, "ann", datetime(2026, 3, 5, i, tzinfo=UTC), 2, 4) for i in range(10)]
    ingest(svc, "jobs", HPC, jobs, ARRIVED)
    svc.registry.add(
        "resources",
        ResourceBenchmark.model_validate(
            {
                "site": HPC,
                "resource": "cluster",
                "benchmark_type": "HS06",
                "benchmark_per_core": 10.0,
                "valid_from": "2026-01-01T00:00:00Z",
                "cores": 100,
            }
        ),
    )
    # QUIET: its agent sent a few small jobs, the last 36 h before NOW (silent_agent fires).
    quiet = [hpc_job(100 + i, "zed", datetime(2026, 3, 8, i, tzinfo=UTC), 1, 1, site=QUIET) for i in range(3)]
    ingest(svc, "jobs", QUIET, quiet, QUIET_ARRIVED)


#: What fires at NOW, by kind: (site, resource, subject), and the numbers computed by hand.
EXPECTED = {
    "idle_vm": (CLOUD, "os1", f"aws/{ACCOUNT}/i-idle"),
    "idle_gpu": (CLOUD, "os1", "vm/i-busy/A100"),
    "stuck_vm": (CLOUD, "os1", f"aws/{ACCOUNT}/i-stuck"),
    "silent_agent": (QUIET, "edge", "edge"),
    "heavy_user": (HPC, None, "hog@HPC"),
    "heavy_load": (HPC, "cluster", "cluster"),
}
IDLE_HOURS = 36.0
IDLE_VM_MONEY = (Decimal("0.096") * 36).quantize(Decimal("0.01"))  # 3.456 -> 3.46 USD
IDLE_GPU_MONEY = (Decimal("3.06") * 36).quantize(Decimal("0.01"))  # 110.16 USD
STUCK_MONEY = (Decimal("0.192") * 6).quantize(Decimal("0.01"))  # 1.152 -> 1.15 USD
HOG_SHARE = 100 * 2304 / (2304 + 80)
LOAD = 100 * 96 * 24 / (100 * 24)


def clean_month(svc: Services) -> list[datetime]:
    """February with nothing wrong: busy VMs and GPUs, agents reporting, load at 40 %, three users
    sharing evenly. Returns the times to evaluate at (weekly through the month)."""
    for site in (CLOUD, HPC):
        svc.add_site(site)
    first = datetime(2026, 2, 1, tzinfo=UTC)
    samples, gpus, jobs = [], [], []
    t, k = first, 0
    while t < datetime(2026, 3, 1, tzinfo=UTC):
        for instance in ("i-a", "i-b"):
            samples.append(vm_sample(instance, t, 0.3 + 0.1 * (k % 4), 4_000_000))
        if t.minute == 0:
            gpus.append(gpu_interval("i-a", t, 40.0 + (k % 3) * 10))
        t += SAMPLE
        k += 1
    for day in range(28):
        for u, user in enumerate(("ann", "bob", "cid")):
            # Each user: one 10-core job per 6 hours, back to back: 3 x 10 / 100 cores = 30 %.
            for q in range(4):
                start = first + timedelta(days=day, hours=6 * q)
                jobs.append(hpc_job(day * 100 + u * 10 + q, user, start, 6, 10))
    for week in range(4):
        until = first + timedelta(days=7 * (week + 1))
        arrived = until - timedelta(minutes=20)
        ingest(
            svc,
            "vms",
            CLOUD,
            [s for s in samples if z(until - timedelta(days=7)) <= s["interval_start"] < z(until)],
            arrived,
        )
        ingest(
            svc,
            "accelerators",
            CLOUD,
            [g for g in gpus if z(until - timedelta(days=7)) <= g["interval_start"] < z(until)],
            arrived,
        )
        ingest(
            svc,
            "jobs",
            HPC,
            [j for j in jobs if z(until - timedelta(days=7)) < j["end_time"] <= z(until)],
            arrived,
        )
    svc.registry.add(
        "resources",
        ResourceBenchmark.model_validate(
            {
                "site": HPC,
                "resource": "cluster",
                "benchmark_type": "HS06",
                "benchmark_per_core": 10.0,
                "valid_from": "2026-01-01T00:00:00Z",
                "cores": 100,
            }
        ),
    )
    return [first + timedelta(days=7 * (w + 1)) for w in range(4)]
