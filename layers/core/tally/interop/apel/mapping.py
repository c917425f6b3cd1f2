"""APEL records -> Tally records: which table each family fills and how its fields map.

Field lists, mandatory fields and units from APEL 2.5.0's record classes
(`apel/db/records/job.py`, `summary.py`, `normalised_summary.py`, `sync.py`, `cloud.py`,
`cloud_summary.py`) and EGI's grid and cloud record-format pages: times epoch seconds, durations
seconds, memory kB (job MemoryReal/MemoryVirtual), VM memory MB.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tally.domain.records import RecordKind
from tally.interop.apel.messages import Family, RawRecord
from tally.interop.apel.values import (
    INT64_MAX,
    FieldProblem,
    Fields,
    benchmark_name,
    epoch_seconds,
    parse_fqan,
    preferred,
)

KIB = 1024
MIB = 1024 * 1024

#: Keys of the v0.1 job message (EGI `APEL/MessageFormatV01`) under their later names.
JOB_ALIASES = {
    "LocalJobID": "LocalJobId",
    "LocalUserID": "LocalUserId",
    "UserFQAN": "FQAN",
    "ScalingFactorUnit": "ServiceLevelType",
    "ScalingFactor": "ServiceLevel",
}
#: The v0.2 summary page names the VO `Group`.
SUMMARY_ALIASES = {"Group": "VO"}
#: Batch systems named by InfrastructureDescription (`<client>-<CE type>-<batch system>`).
BATCH_SYSTEMS = {
    "slurm": "slurm",
    "pbs": "pbs",
    "torque": "torque",
    "pbspro": "pbspro",
    "htcondor": "htcondor",
    "condor": "htcondor",
    "sge": "sge",
    "uge": "uge",
    "lsf": "lsf",
}


@dataclass
class Mapped:
    kind: RecordKind
    record: dict[str, object]
    aside: dict[str, str]


def kind_of(family: Family) -> RecordKind:
    return KIND_OF[family]


def map_record(family: Family, header: str, raw: RawRecord) -> Mapped:
    """One APEL record as a Tally record of its table; FieldProblem names what is unusable."""
    if raw.problems:
        name, reason = raw.problems[0]
        raise FieldProblem(name, reason)
    try:
        mapped = MAPPERS[family](raw.fields, header)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, FieldProblem):
            raise
        # Arithmetic past what a time can hold (a start plus a wall time beyond year 9999).
        raise FieldProblem(None, f"values out of range: {exc}") from None
    for name, value in mapped.record.items():
        # A derived count (CpuCount rounded up to vCPUs, say) can pass what JSON and Parquet hold.
        if isinstance(value, int) and not -INT64_MAX <= value <= INT64_MAX:
            raise FieldProblem(name, f"{name} is out of range")
    return mapped


def _scaled(value: int | None, factor: int, name: str) -> int | None:
    """kB or MB as bytes, refused when the bytes pass what a Parquet INT64 holds."""
    if value is None:
        return None
    if value * factor > INT64_MAX:
        raise FieldProblem(name, f"{name} is {value}: more bytes than Tally can hold")
    return value * factor


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(record: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in record.items() if v is not None}


def _identity(f: Fields) -> tuple[str | None, str | None, str | None]:
    """VO, VO group and role: the record's own keys, else read from its FQAN."""
    fqan = f.text("FQAN")
    vo, group, role = parse_fqan(fqan) if fqan else (None, None, None)
    return f.text("VO") or vo, f.text("VOGroup") or group, f.text("VORole") or role


def _infrastructure(value: str | None) -> str:
    """APEL's InfrastructureType (grid or local) as Tally's infrastructure (grid or hpc)."""
    return "hpc" if value is not None and value.lower() == "local" else "grid"


def _batch_system(description: str | None) -> str:
    last = (description or "").rsplit("-", 1)[-1].lower()
    return BATCH_SYSTEMS.get(last, "other")


def job(values: dict[str, str], header: str, v04: bool = False) -> Mapped:
    # Mandatory: apel/db/records/job.py JobRecord._mandatory_fields (the same in JobRecord04).
    f = Fields(
        values, ("Site", "LocalJobId", "WallDuration", "CpuDuration", "StartTime", "EndTime"), JOB_ALIASES
    )
    vo, vo_group, vo_role = _identity(f)
    if v04:
        levels = f.benchmark_map("ServiceLevel") or {}
        chosen = preferred(levels)
    else:
        kind = benchmark_name("ServiceLevelType", f.text("ServiceLevelType"))
        level = f.number("ServiceLevel")
        chosen = (kind, level) if kind is not None and level is not None else None
    benchmark_type, per_core = chosen if chosen and chosen[1] > 0 else (None, None)
    processors = f.integer("Processors")
    nodes = f.integer("NodeCount")
    memory = f.integer("MemoryReal")
    site = f.text("Site")
    record: dict[str, object] = {
        "site": site,
        # SubmitHost (the CE) is the resource a grid job ran through; a record without one is the site's.
        "resource": f.text("SubmitHost") or site,
        "batch_system": _batch_system(f.text("InfrastructureDescription")),
        "infrastructure": _infrastructure(f.text("InfrastructureType")),
        "local_job_id": f.text("LocalJobId"),
        "local_user": f.text("LocalUserId"),
        "global_user": f.text("GlobalUserName"),
        "vo": vo,
        "vo_group": vo_group,
        "vo_role": vo_role,
        "queue": f.text("Queue"),
        "start_time": _iso(f.epoch("StartTime")),
        "end_time": _iso(f.epoch("EndTime")),
        "wall_seconds": f.integer("WallDuration"),
        "cpu_seconds": f.integer("CpuDuration"),
        # APEL allows 0 or no Processors/NodeCount (unknown); Tally counts such a job as one.
        "cores": processors or 1,
        "nodes": nodes or 1,
        "memory_max_bytes": _scaled(memory, KIB, "MemoryReal"),  # MemoryReal is kB
        # APEL accounts completed jobs only (EGI grid-accounting page).
        "state": "completed",
        "benchmark_type": benchmark_type,
        "benchmark_per_core": per_core,
    }
    f.used.update({"InfrastructureDescription", "ServiceLevelType", "ServiceLevel"})
    return Mapped("jobs", _clean(record), f.unused())


def _summary(values: dict[str, str], header: str, normalised: bool, v04: bool) -> Mapped:
    mandatory: tuple[str, ...] = ("Site", "Month", "Year", "WallDuration", "CpuDuration", "NumberOfJobs")
    if normalised:
        # apel/db/records/normalised_summary.py: the normalised durations are mandatory too.
        mandatory += ("NormalisedWallDuration", "NormalisedCpuDuration")
    f = Fields(values, mandatory, SUMMARY_ALIASES)
    month = f.month_start()
    earliest, latest = f.epoch("EarliestEndTime"), f.epoch("LatestEndTime")
    _within_month(month, earliest, "EarliestEndTime")
    _within_month(month, latest, "LatestEndTime")
    wall, cpu = f.integer("WallDuration") or 0, f.integer("CpuDuration") or 0
    extra: dict[str, object] = {}
    benchmark_type: str | None = None
    per_core = norm_wall = norm_cpu = None
    if normalised and v04:
        walls = f.benchmark_map("NormalisedWallDuration") or {}
        cpus = f.benchmark_map("NormalisedCpuDuration") or {}
        chosen = preferred(walls)
        if chosen is None:
            raise FieldProblem("NormalisedWallDuration", "NormalisedWallDuration names no benchmark")
        benchmark_type, norm_wall = chosen
        if benchmark_type not in cpus:
            raise FieldProblem(
                "NormalisedCpuDuration", f"NormalisedCpuDuration has no {benchmark_type} value"
            )
        norm_cpu = cpus[benchmark_type]
        others = {k: (v, cpus.get(k)) for k, v in walls.items() if k != benchmark_type}
        if others:
            extra["other_benchmarks"] = {k: {"wall": w, "cpu": c} for k, (w, c) in others.items()}
    elif normalised:
        # v0.3 carries no benchmark name: APEL writes its values as HEPSPEC (`get_msg`).
        benchmark_type = "HS06"
        norm_wall = float(f.integer("NormalisedWallDuration") or 0)
        norm_cpu = float(f.integer("NormalisedCpuDuration") or 0)
    else:
        if v04:
            chosen = preferred(f.benchmark_map("ServiceLevel") or {})
        else:
            kind = benchmark_name("ServiceLevelType", f.text("ServiceLevelType"))
            level = f.number("ServiceLevel")
            chosen = (kind, level) if kind is not None and level is not None else None
        if chosen is not None and chosen[1] > 0:
            benchmark_type, per_core = chosen
            # APEL's repository normalises a summary as WallDuration x ServiceLevel
            # (schemas/server.sql, the normalised summaries view).
            norm_wall, norm_cpu = wall * per_core, cpu * per_core
    f.used.update({"ServiceLevelType", "ServiceLevel"})
    vo, vo_group, vo_role = _identity(f)
    infrastructure = f.text("Infrastructure") or f.text("InfrastructureType")
    record: dict[str, object] = {
        "site": f.text("Site"),
        "summary_of": "jobs",
        "resource": f.text("SubmitHost") or "",
        "month_start": _iso(month),
        "global_user": f.text("GlobalUserName"),
        "vo": vo,
        "vo_group": vo_group,
        "vo_role": vo_role,
        "infrastructure": infrastructure,
        "infrastructure_description": f.text("InfrastructureDescription"),
        "node_count": f.integer("NodeCount"),
        "processors": f.integer("Processors"),
        "earliest_time": _iso(earliest),
        "latest_time": _iso(latest),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "record_count": f.integer("NumberOfJobs"),
        "benchmark_type": benchmark_type,
        "benchmark_per_core": per_core,
        "normalised_wall_seconds": norm_wall,
        "normalised_cpu_seconds": norm_cpu,
        "message_type": header,
    }
    return _with_extra(record, f, extra)


def _with_extra(record: dict[str, object], f: Fields, extra: dict[str, object]) -> Mapped:
    aside = f.unused()
    if aside:
        extra["fields"] = aside
    if extra:
        record["extra"] = json.dumps(extra, sort_keys=True)
    return Mapped("summaries", _clean(record), aside)


def _within_month(month: datetime, value: datetime | None, name: str) -> None:
    """APEL refuses a summary whose end times fall outside its month (NormalisedSummaryRecord)."""
    if value is None:
        return
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=month.tzinfo)
    if not month <= value <= following:
        raise FieldProblem(name, f"{name} {epoch_seconds(value)} is not within {month:%Y-%m}")


def sync(values: dict[str, str], header: str) -> Mapped:
    # apel/db/records/sync.py: Site, NumberOfJobs, Month and Year are mandatory.
    f = Fields(values, ("Site", "NumberOfJobs", "Month", "Year"), {})
    record: dict[str, object] = {
        "site": f.text("Site"),
        "resource": f.text("SubmitHost") or "",
        "month_start": _iso(f.month_start()),
        "record_count": f.integer("NumberOfJobs"),
        "message_type": header,
    }
    return Mapped("syncs", _clean(record), f.unused())


def _provider(cloud_type: str | None) -> str:
    text = (cloud_type or "").lower()
    for name in ("openstack", "opennebula", "kubernetes", "synnefo"):
        if name in text:
            return name
    return (cloud_type or "cloud")[:64]


def cloud(values: dict[str, str], header: str) -> Mapped:
    # apel/db/records/cloud.py: VMUUID and SiteName are mandatory; Tally also needs the start.
    f = Fields(values, ("VMUUID", "SiteName"), {})
    start = f.epoch("StartTime")
    if start is None:
        raise FieldProblem("StartTime", "StartTime is missing: Tally keeps a VM's usage from its start")
    wall = f.integer("WallDuration")
    end = f.epoch("EndTime")
    if end is None or epoch_seconds(end) == 0:
        # A running VM (EndTime 0 or none): its interval so far is its wall time since start.
        if wall is not None:
            end = datetime.fromtimestamp(epoch_seconds(start) + wall, start.tzinfo)
        else:
            end = f.epoch("RecordCreateTime")
        if end is None:
            raise FieldProblem("EndTime", "a VM without EndTime needs WallDuration or RecordCreateTime")
    cpu_count = f.number("CpuCount")
    memory = f.integer("Memory")
    fqan = f.text("FQAN")
    vo, _, _ = parse_fqan(fqan) if fqan else (None, None, None)
    kind = benchmark_name("BenchmarkType", f.text("BenchmarkType"))
    level = f.number("Benchmark")
    site = f.text("SiteName")
    record: dict[str, object] = {
        "site": site,
        "resource": f.text("CloudComputeService") or site,
        "provider": _provider(f.text("CloudType")),
        "account": f.text("LocalGroupId") or site,
        "instance_id": f.text("VMUUID"),
        "image_id": f.text("ImageId"),
        "vm_name": f.text("MachineName"),
        "vo": vo,
        "global_user": f.text("GlobalUserName"),
        "interval_start": _iso(start),
        "interval_end": _iso(end),
        "uptime_seconds": wall if wall is not None else max(0, epoch_seconds(end) - epoch_seconds(start)),
        "cpu_busy_seconds": float(f.integer("CpuDuration") or 0),
        "vcpus": max(1, math.ceil(cpu_count)) if cpu_count else 1,
        "memory_bytes": _scaled(memory, MIB, "Memory"),  # the cloud record's Memory is MB
        "state": f.text("Status"),
        "benchmark_type": kind if kind and level else None,
        "benchmark_per_core": level if kind and level else None,
        "measurement": "events",
    }
    f.used.add("CloudType")
    return Mapped("vms", _clean(record), f.unused())


def cloud_summary(values: dict[str, str], header: str) -> Mapped:
    # apel/db/records/cloud_summary.py: SiteName, Month, Year and NumberOfVMs are mandatory.
    f = Fields(values, ("SiteName", "Month", "Year", "NumberOfVMs"), {})
    month = f.month_start()
    kind = benchmark_name("BenchmarkType", f.text("BenchmarkType"))
    level = f.number("Benchmark")
    vo, vo_group, vo_role = _identity(f)
    record: dict[str, object] = {
        "site": f.text("SiteName"),
        "summary_of": "vms",
        "resource": f.text("CloudComputeService") or "",
        "month_start": _iso(month),
        "global_user": f.text("GlobalUserName"),
        "vo": vo,
        "vo_group": vo_group,
        "vo_role": vo_role,
        "status": f.text("Status"),
        "cloud_type": f.text("CloudType"),
        "image_id": f.text("ImageId"),
        "cpu_count": f.number("CpuCount"),
        "earliest_time": _iso(f.epoch("EarliestStartTime")),
        "latest_time": _iso(f.epoch("LatestStartTime")),
        "wall_seconds": f.integer("WallDuration") or 0,
        "cpu_seconds": f.integer("CpuDuration") or 0,
        "record_count": f.integer("NumberOfVMs"),
        "benchmark_type": kind if kind and level else None,
        "benchmark_per_core": level if kind and level else None,
        "message_type": header,
    }
    return _with_extra(record, f, {})


MAPPERS: dict[Family, Callable[[dict[str, str], str], Mapped]] = {
    "job": job,
    "job04": lambda v, h: job(v, h, v04=True),
    "summary": lambda v, h: _summary(v, h, normalised=False, v04=False),
    "summary04": lambda v, h: _summary(v, h, normalised=False, v04=True),
    "normalised": lambda v, h: _summary(v, h, normalised=True, v04=False),
    "normalised04": lambda v, h: _summary(v, h, normalised=True, v04=True),
    "sync": sync,
    "cloud": cloud,
    "cloud_summary": cloud_summary,
}
KIND_OF: dict[Family, RecordKind] = {
    "job": "jobs",
    "job04": "jobs",
    "summary": "summaries",
    "summary04": "summaries",
    "normalised": "summaries",
    "normalised04": "summaries",
    "sync": "syncs",
    "cloud": "vms",
    "cloud_summary": "summaries",
}
