"""What each report kind offers: its base query (athena_queries/reports), dimensions and metrics.

Every SQL fragment here is fixed text; callers only pick names from these tables, so nothing a
client sends is ever spliced into SQL. Values travel as bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ReportKind = Literal["jobs", "vms", "storage", "accelerators", "cloud_cost"]
ValueType = Literal["string", "integer", "number", "boolean", "date"]

TIME_DIMENSIONS: dict[str, str] = {
    "day": "CAST(event_time AS DATE)",
    "month": "CAST(date_trunc('month', event_time) AS DATE)",
    "quarter": "CAST(date_trunc('quarter', event_time) AS DATE)",
    "year": "CAST(date_trunc('year', event_time) AS DATE)",
}


#: Exact sums are summed as DECIMAL(38, 9) (each value rounded to 1e-9), so a total is the same
#: digits whatever order the engine adds rows in; reports give them to EXACT_PLACES places.
EXACT_PLACES = 6


@dataclass(frozen=True)
class Metric:
    sql: str
    type: ValueType
    description: str
    # For exact sums: the SQL yields a DECIMAL; the report divides it by this and rounds it to
    # EXACT_PLACES (e.g. 3600 for seconds to hours). None: the SQL's value as it is.
    divisor: int | None = None


def exact_sum(column: str) -> str:
    return f"sum(CAST({column} AS DECIMAL(38, 9)))"


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
    # Metrics that need the base query `joined_base` (emissions: the carbon intensity join), so a
    # report asking for none of them does not pay for the join. `enriched_base` has them too.
    joined: frozenset[str] = field(default_factory=frozenset)
    joined_base: str | None = None
    # Metrics that need a benchmark, and the metric that says how much had none: asked for one,
    # a report always shows the other, so a missing benchmark never just reports less.
    normalised: frozenset[str] = field(default_factory=frozenset)
    unnormalised: str | None = None
    # The base query's text, for kinds defined at run time (custom kinds); else `base` names a file.
    base_sql: str | None = None
    # The columns the authorisation fence (tally.people.authz) filters on, by fence dimension: a
    # grant on a dimension a kind lacks (a person's own records in VM usage) reaches none of its rows.
    fence_columns: dict[str, str] = field(
        default_factory=lambda: {"site": "site", "project": "project", "vo": "vo"}
    )
    # Dimensions every report of the kind is grouped by, asked for or not (money by its currency).
    always_grouped: tuple[str, ...] = ()


def _hours(column: str, description: str) -> Metric:
    return Metric(exact_sum(column), "number", description, divisor=3600)


def _sum(column: str, description: str) -> Metric:
    return Metric(exact_sum(column), "number", description, divisor=1)


def _ratio(numerator: str, denominator: str, description: str) -> Metric:
    """A ratio of exact sums (so its digits do not depend on the order rows are added in)."""
    return Metric(
        f"CAST({exact_sum(numerator)} AS DOUBLE) / nullif(CAST({exact_sum(denominator)} AS DOUBLE), 0)",
        "number",
        description,
    )


def _unnormalised(quantity: str, normalised: str, description: str, divisor: int) -> Metric:
    return Metric(
        f"coalesce({exact_sum(f'CASE WHEN {normalised} IS NULL THEN {quantity} END')}, 0)",
        "number",
        description,
        divisor=divisor,
    )


JOBS = Kind(
    base="jobs",
    enriched_base="jobs_by_application",
    enriched=frozenset({"application", "commercial"}),
    joined_base="jobs_emissions",
    joined=frozenset({"co2e_kg", "jobs_without_intensity"}),
    boolean_dimensions=frozenset({"commercial"}),
    dimensions={
        "site": "site",
        "resource": "resource",
        "vo": "vo",
        "project": "project",
        "user": "report_user",
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
        "unnormalised_core_hours": _unnormalised(
            "core_seconds", "normalised_core_seconds", "core hours of jobs with no benchmark", 3600
        ),
        "gpu_hours": _hours("gpu_seconds", "wall hours x GPUs"),
        "cpu_efficiency": Metric(
            "CAST(sum(cpu_seconds) AS DOUBLE) / nullif(sum(core_seconds), 0)",
            "number",
            "CPU time / core time",
        ),
        "mean_wait_hours": Metric("avg(CAST(wait_seconds AS DOUBLE)) / 3600", "number", "mean queue wait"),
        # Energy sums only the jobs that measured it (NULL when none did, never 0);
        # jobs_without_energy says how many did not, jobs_without_intensity how many measured
        # energy at a site and time with no carbon intensity (so their CO2e is not in co2e_kg).
        "energy_kwh": Metric(exact_sum("energy_joules"), "number", "measured energy, kWh", 3_600_000),
        "co2e_kg": Metric(
            exact_sum("energy_joule_grams_per_kwh"),
            "number",
            "estimated emissions: energy x the site's carbon intensity at the job's end, kg CO2e",
            3_600_000_000,  # J x g/kWh -> kWh x g (/ 3.6e6) -> kg (/ 1000)
        ),
        "jobs_without_energy": Metric(
            "sum(CASE WHEN energy_joules IS NULL THEN 1 ELSE 0 END)",
            "integer",
            "jobs with no energy measured",
        ),
        "jobs_without_intensity": Metric(
            "sum(energy_without_intensity)", "integer", "jobs with energy but no carbon intensity"
        ),
        "memory_efficiency": _ratio(
            "memory_used_bytes",
            "memory_requested_bytes",
            "peak memory used / memory requested (jobs with both)",
        ),
    },
    default_metrics=("jobs", "core_hours", "normalised_core_hours", "cpu_efficiency"),
    normalised=frozenset(
        {"normalised_core_hours", "normalised_core_hours_hepscore23", "normalised_core_hours_hs06"}
    ),
    unnormalised="unnormalised_core_hours",
    fence_columns={"site": "site", "project": "project", "vo": "vo", "user": "person_id"},
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
        "measured_hours": _sum("measured_hours", "sampled uptime hours"),
        "cpu_busy_hours": _sum("cpu_busy_hours", "busy CPU hours"),
        "vcpu_hours": _sum("vcpu_hours", "uptime hours x vCPUs"),
        "normalised_hours": _sum("normalised_hours", "vCPU hours x benchmark"),
        "unnormalised_vcpu_hours": _unnormalised(
            "vcpu_hours", "normalised_hours", "vCPU hours of instances with no benchmark", 1
        ),
        "cpu_efficiency": _ratio("cpu_busy_hours", "vcpu_hours", "busy CPU / vCPU hours"),
        "network_rx_bytes": Metric("sum(net_rx_bytes)", "integer", "network bytes received"),
        "network_tx_bytes": Metric("sum(net_tx_bytes)", "integer", "network bytes sent"),
    },
    default_metrics=("instance_days", "measured_hours", "vcpu_hours", "normalised_hours"),
    normalised=frozenset({"normalised_hours"}),
    unnormalised="unnormalised_vcpu_hours",
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
        "avg_used_bytes": _sum("avg_used_bytes", "mean used bytes over the month"),
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
        "mean_utilisation_percent": _ratio(
            "utilisation_percent * utilised_basis_seconds",
            "utilised_basis_seconds",
            "utilisation weighted by allocated time",
        ),
        "normalised_hours": _hours("normalised_device_seconds", "device hours x benchmark per unit"),
        "unnormalised_device_hours": _unnormalised(
            "device_seconds", "normalised_device_seconds", "device hours with no benchmark", 3600
        ),
    },
    default_metrics=("device_hours", "mean_utilisation_percent"),
    normalised=frozenset({"normalised_hours"}),
    unnormalised="unnormalised_device_hours",
)

CLOUD_COST = Kind(
    base="cloud_cost",
    dimensions={
        "project": "project",
        "provider": "provider",
        "account": "account",
        "currency": "currency",
        "service": "service_name",
        "attribution": "attribution",
        "site": "site",
        "instance": "instance_key",
        "charge_category": "charge_category",
    },
    metrics={
        "lines": Metric("count(*)", "integer", "bill line items"),
        "billed_cost": _sum("billed_cost", "billed cost, in the billing currency"),
        "effective_cost": _sum("effective_cost", "amortised cost, in the billing currency"),
        "instances": Metric("count(DISTINCT instance_key)", "integer", "distinct instances billed"),
    },
    default_metrics=("lines", "billed_cost", "effective_cost"),
    # site: the measured VM's site; a line no VM of a site's was measured for reaches finance only.
    fence_columns={"site": "site", "project": "project"},
    always_grouped=("currency",),
)

KINDS: dict[ReportKind, Kind] = {
    "jobs": JOBS,
    "vms": VMS,
    "storage": STORAGE,
    "accelerators": ACCELERATORS,
    "cloud_cost": CLOUD_COST,
}
