"""What each report kind offers: its base query (athena_queries/reports), dimensions and metrics.

Every SQL fragment here is fixed text; callers only pick names from these tables, so nothing a
client sends is ever spliced into SQL. Values travel as bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ReportKind = Literal["jobs", "vms", "storage", "accelerators"]
ValueType = Literal["string", "integer", "number", "boolean", "date"]

TIME_DIMENSIONS: dict[str, str] = {
    "day": "CAST(event_time AS DATE)",
    "month": "CAST(date_trunc('month', event_time) AS DATE)",
    "quarter": "CAST(date_trunc('quarter', event_time) AS DATE)",
    "year": "CAST(date_trunc('year', event_time) AS DATE)",
}


@dataclass(frozen=True)
class Metric:
    sql: str
    type: ValueType
    description: str


@dataclass(frozen=True)
class Kind:
    base: str
    dimensions: dict[str, str]  # name -> column of the base query
    metrics: dict[str, Metric]
    time_dimensions: tuple[str, ...] = tuple(TIME_DIMENSIONS)
    default_metrics: tuple[str, ...] = ()
    # Dimensions that need the richer base query `enriched_base`.
    enriched: frozenset[str] = field(default_factory=frozenset)
    enriched_base: str | None = None
    boolean_dimensions: frozenset[str] = field(default_factory=frozenset)


def _hours(column: str, description: str) -> Metric:
    return Metric(f"CAST(sum({column}) AS DOUBLE) / 3600", "number", description)


JOBS = Kind(
    base="jobs",
    enriched_base="jobs_by_application",
    enriched=frozenset({"application", "commercial"}),
    boolean_dimensions=frozenset({"commercial"}),
    dimensions={
        "site": "site",
        "resource": "resource",
        "vo": "vo",
        "project": "project",
        "user": "user_name",
        "queue": "queue",
        "infrastructure": "infrastructure",
        "state": "state",
        "application": "application",
        "commercial": "commercial",
        "normalisation": "normalisation_type",
    },
    metrics={
        "jobs": Metric("count(*)", "integer", "number of jobs"),
        "wall_hours": _hours("wall_seconds", "wall-clock hours"),
        "cpu_hours": _hours("cpu_seconds", "CPU hours"),
        "core_hours": _hours("core_seconds", "wall hours x cores"),
        "normalised_core_hours": _hours(
            "normalised_core_seconds", "core hours x benchmark (HEPscore23 preferred)"
        ),
        "normalised_core_hours_hepscore23": _hours(
            "normalised_hepscore23_seconds", "core hours x HEPscore23"
        ),
        "normalised_core_hours_hs06": _hours("normalised_hs06_seconds", "core hours x HS06"),
        "gpu_hours": _hours("gpu_seconds", "wall hours x GPUs"),
        "cpu_efficiency": Metric(
            "CAST(sum(cpu_seconds) AS DOUBLE) / nullif(sum(core_seconds), 0)",
            "number",
            "CPU time / core time",
        ),
        "mean_wait_hours": Metric("avg(CAST(wait_seconds AS DOUBLE)) / 3600", "number", "mean queue wait"),
    },
    default_metrics=("jobs", "core_hours", "normalised_core_hours", "cpu_efficiency"),
)

VMS = Kind(
    base="vms",
    dimensions={
        "site": "site",
        "resource": "resource",
        "provider": "provider",
        "account": "account",
        "region": "region",
        "instance_type": "instance_type",
        "project": "project",
        "vo": "vo",
    },
    metrics={
        "instance_days": Metric("count(*)", "integer", "instance-days with samples"),
        "instances": Metric("count(DISTINCT instance_id)", "integer", "distinct instances"),
        "measured_hours": Metric("sum(measured_hours)", "number", "sampled uptime hours"),
        "cpu_busy_hours": Metric("sum(cpu_busy_hours)", "number", "busy CPU hours"),
        "vcpu_hours": Metric("sum(vcpu_hours)", "number", "uptime hours x vCPUs"),
        "normalised_hours": Metric("sum(normalised_hours)", "number", "vCPU hours x benchmark"),
        "cpu_efficiency": Metric(
            "sum(cpu_busy_hours) / nullif(sum(vcpu_hours), 0)", "number", "busy CPU / vCPU hours"
        ),
    },
    default_metrics=("instance_days", "measured_hours", "vcpu_hours", "normalised_hours"),
)

STORAGE = Kind(
    base="storage",
    time_dimensions=("month",),
    dimensions={
        "site": "site",
        "storage_system": "storage_system",
        "share": "storage_share",
        "media": "storage_media",
        "vo": "vo",
        "project": "project",
    },
    metrics={
        "avg_used_bytes": Metric("sum(avg_used_bytes)", "number", "mean used bytes over the month"),
        "peak_used_bytes": Metric("sum(peak_used_bytes)", "integer", "sum of per-path peaks"),
        "last_used_bytes": Metric("sum(last_used_bytes)", "integer", "latest snapshot in the month"),
        "allocated_bytes": Metric("sum(peak_allocated_bytes)", "integer", "allocated bytes (peak)"),
    },
    default_metrics=("avg_used_bytes", "peak_used_bytes", "allocated_bytes"),
)

ACCELERATORS = Kind(
    base="accelerators",
    dimensions={
        "site": "site",
        "resource": "resource",
        "type": "accelerator_type",
        "vendor": "vendor",
        "model": "model",
        "vo": "vo",
        "project": "project",
        "associated_kind": "associated_kind",
    },
    metrics={
        "intervals": Metric("count(*)", "integer", "allocation intervals"),
        "allocations": Metric("count(DISTINCT associated_id)", "integer", "distinct jobs or VMs"),
        "device_hours": _hours("device_seconds", "allocated device hours"),
        "active_device_hours": _hours("active_device_seconds", "active device hours"),
        "mean_utilisation_percent": Metric(
            "CAST(sum(utilisation_percent * utilised_basis_seconds) AS DOUBLE)"
            " / nullif(sum(utilised_basis_seconds), 0)",
            "number",
            "utilisation weighted by allocated time",
        ),
        "normalised_hours": _hours("normalised_device_seconds", "device hours x benchmark per unit"),
    },
    default_metrics=("device_hours", "mean_utilisation_percent"),
)

KINDS: dict[ReportKind, Kind] = {"jobs": JOBS, "vms": VMS, "storage": STORAGE, "accelerators": ACCELERATORS}
