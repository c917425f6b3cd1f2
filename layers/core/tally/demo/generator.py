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


def demo_energy_joules(wall: int, cores: int, nodes: int, gpus: int, efficiency: float) -> int:
    """A plausible measured energy: each node's idle draw, its busy cores and its GPUs (watts x
    seconds). No random draw, so adding energy leaves every other generated value as it was."""
    watts = 90.0 * nodes + 8.0 * cores * efficiency + 250.0 * gpus
    return int(watts * wall)


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
    if c.batch_system == "slurm":
        # Slurm measures energy (ConsumedEnergyRaw) on these clusters; the others leave it NULL.
        record["energy_joules"] = demo_energy_joules(wall, cores, nodes, gpus, efficiency)
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


# -- storage, accelerators, cloud VMs ------------------------------------------------------------

STORAGE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # site, storage system, media, shares (owner = share)
    ("NORTH-HPC", "lustre-scratch", "disk", tuple(p for p, _ in PROJECTS)),
    ("LAKESIDE-GRID", "dcache-disk", "disk", VOS),
    ("LAKESIDE-GRID", "castor-tape", "tape", ("atlas", "cms", "lhcb")),
    ("RIVERSIDE-UNI", "gpfs-home", "disk", ("genomics-pipeline", "cfd-turbine", "astro-survey")),
)
TIB = 1024**4


def generate_storage(now: datetime, months: int = 6, seed: int = 2027) -> Iterator[dict[str, object]]:
    """One snapshot per share per day: usage grows with noise, sometimes cleaned up."""
    rng = random.Random(seed)
    start, end = demo_window(now, months)
    days = int((end - start).total_seconds() // 86_400)
    for site, system, media, shares in STORAGE:
        for share in shares:
            allocated = rng.choice((50, 100, 200, 500)) * TIB
            used = allocated * rng.uniform(0.2, 0.5)
            files_per_tib = rng.randint(200_000, 3_000_000)
            for day in range(days):
                used = min(allocated, max(0.0, used * rng.uniform(0.995, 1.012)))
                if rng.random() < 0.01:
                    used *= 0.7  # a clean-up campaign
                taken = start + timedelta(days=day, hours=23, minutes=50)
                vo = share if share in VOS else None
                yield {
                    "site": site,
                    "storage_system": system,
                    "storage_share": share,
                    "storage_media": media,
                    "owner": share,
                    "group": share,
                    "vo": vo,
                    "project": None if vo else share,
                    "start_time": _iso(taken - timedelta(days=1)),
                    "end_time": _iso(taken),
                    "used_bytes": int(used),
                    "logical_used_bytes": int(used * 0.98),
                    "allocated_bytes": allocated,
                    "file_count": int(used / TIB * files_per_tib),
                }


def accelerators_for(
    jobs: Iterator[dict[str, object]] | list[dict[str, object]], seed: int = 2028
) -> Iterator[dict[str, object]]:
    """One accelerator record per GPU job: allocated GPU time and what nvidia-smi measured."""
    rng = random.Random(seed)
    for job in jobs:
        gpus = int(str(job["gpus"]))
        if gpus == 0:
            continue
        wall = int(str(job["wall_seconds"]))
        allocated = wall * gpus
        utilisation = rng.betavariate(5, 2) * 100
        yield {
            "site": job["site"],
            "resource": job["resource"],
            "associated_kind": "job",
            "associated_id": job["local_job_id"],
            "accelerator_type": "GPU",
            "vendor": "NVIDIA",
            "model": "NVIDIA A100-SXM4-40GB",
            "count": gpus,
            "interval_start": job["start_time"],
            "interval_end": job["end_time"],
            "allocated_seconds": allocated,
            "active_seconds": int(allocated * utilisation / 100),
            "utilisation_percent": round(utilisation, 1),
            "memory_bytes": 40 * 1024**3 * gpus,
            "local_user": job["local_user"],
            "project": job["project"],
        }


@dataclass(frozen=True)
class CloudVm:
    provider: str
    account: str
    region: str
    instance_id: str
    instance_type: str
    vcpus: int
    memory_gib: int
    benchmark_per_core: float
    # Fraction of the CPU the workload keeps busy; a near-zero one is an idle VM.
    busy: float
    # Days (from the window start) the VM ran; None = the whole window.
    days: tuple[int, int] | None = None


CLOUD_SITE = "CLOUD-BURST"
CLOUD_VMS: tuple[CloudVm, ...] = (
    CloudVm("aws", "123456789012", "eu-west-1", "i-0a1b2c3d4e5f60001", "c6i.4xlarge", 16, 32, 14.1, 0.86),
    CloudVm("aws", "123456789012", "eu-west-1", "i-0a1b2c3d4e5f60002", "c6i.4xlarge", 16, 32, 14.1, 0.91),
    CloudVm("aws", "123456789012", "eu-west-1", "i-0a1b2c3d4e5f60003", "m6i.2xlarge", 8, 32, 13.2, 0.02),
    CloudVm(
        "aws", "123456789012", "eu-west-1", "i-0a1b2c3d4e5f60004", "c6i.8xlarge", 32, 64, 14.1, 0.78, (3, 17)
    ),
    CloudVm(
        "azure",
        "0f8e2c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "westeurope",
        "tally-burst-vm01",
        "Standard_F16s_v2",
        16,
        32,
        13.6,
        0.88,
    ),
    CloudVm(
        "azure",
        "0f8e2c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "westeurope",
        "tally-burst-vm02",
        "Standard_F16s_v2",
        16,
        32,
        13.6,
        0.83,
    ),
    CloudVm(
        "azure",
        "0f8e2c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "westeurope",
        "tally-burst-vm03",
        "Standard_D8s_v5",
        8,
        32,
        12.9,
        0.74,
        (0, 20),
    ),
)
SAMPLE = timedelta(minutes=15)


def vm_month(now: datetime) -> tuple[datetime, datetime]:
    """The last whole calendar month before `now`: the month the cloud demo covers."""
    first_this = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first_last = (first_this - timedelta(days=1)).replace(day=1)
    return first_last, first_this


def generate_vms(now: datetime, seed: int = 2029) -> Iterator[dict[str, object]]:
    """15-minute samples of every demo VM over the last whole month, as the VM agent posts them."""
    rng = random.Random(seed)
    start, end = vm_month(now)
    for vm in CLOUD_VMS:
        first, last = vm.days or (0, (end - start).days)
        # Azure VMs know themselves by their ARM resource id (what the bills name), as the agent does.
        instance_id = (
            vm.instance_id
            if vm.provider != "azure"
            else f"/subscriptions/{vm.account}/resourceGroups/tally-burst/providers/"
            f"Microsoft.Compute/virtualMachines/{vm.instance_id}"
        )
        boot = start + timedelta(days=first)
        stop = min(end, start + timedelta(days=last))
        t = boot
        while t < stop:
            interval = SAMPLE.total_seconds() * vm.vcpus
            busy = interval * min(0.98, max(0.0, rng.gauss(vm.busy, 0.05)))
            steal = interval * rng.uniform(0, 0.01)  # at most 1 %, so busy + steal stays within the interval
            iowait = (interval - busy - steal) * rng.uniform(0, 0.05)
            yield {
                "site": CLOUD_SITE,
                "resource": f"{vm.provider}-burst",
                "provider": vm.provider,
                "account": vm.account,
                "region": vm.region,
                "instance_id": instance_id,
                "instance_type": vm.instance_type,
                "vm_name": vm.instance_id,
                "project": "ml-imaging" if vm.provider == "aws" else "climate-ensemble",
                "interval_start": _iso(t),
                "interval_end": _iso(t + SAMPLE),
                "boot_time": _iso(boot),
                "uptime_seconds": int((t + SAMPLE - boot).total_seconds()),
                "cpu_busy_seconds": round(busy, 2),
                "cpu_idle_seconds": round(interval - busy - steal - iowait, 2),
                "cpu_iowait_seconds": round(iowait, 2),
                "cpu_steal_seconds": round(steal, 2),
                "vcpus": vm.vcpus,
                "memory_bytes": vm.memory_gib * 1024**3,
                "net_rx_bytes": int(rng.uniform(1e7, 5e8)),
                "net_tx_bytes": int(rng.uniform(1e6, 1e8)),
                "state": "running",
                "benchmark_type": "HEPscore23",
                "benchmark_per_core": vm.benchmark_per_core,
            }
            t += SAMPLE
