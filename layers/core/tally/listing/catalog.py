"""What each record listing offers: the rows it reads, its fields, identity, sort keys and filters.

Filters take the reports API's dimension names (tally.reports.catalog) and read the same columns,
so a drill-down from a report's cell lists exactly the rows behind it. Every SQL fragment here is
fixed text; a request only picks names from these tables and its values are bound as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tally.reports.catalog import KINDS as REPORT_KINDS
from tally.reports.catalog import Kind as ReportKind

FieldType = Literal["string", "integer", "number", "timestamp", "boolean"]


@dataclass(frozen=True)
class Field:
    column: str  # a column of the listing's base query
    type: FieldType


@dataclass(frozen=True)
class Listing:
    kind: str
    base: str  # SELECT ... FROM a view: one row per deduplicated record
    time_field: str  # the event time: range, default sort, partition pruning
    identity: tuple[str, ...]  # fields that name one record (non-null), the keyset's tie-break
    fields: dict[str, Field]
    sortable: tuple[str, ...]
    report: ReportKind  # dimension names and columns, fence columns
    # Fields only the detail shows, read from `detail_table` by identity (a job's node list).
    detail_table: str | None = None
    detail_fields: tuple[str, ...] = ()

    def filter_column(self, dimension: str) -> str:
        return self.report.dimensions[dimension]


def _fields(types: dict[FieldType, str]) -> dict[str, Field]:
    return {name: Field(name, kind) for kind, names in types.items() for name in names.split()}


# Jobs: jobs_classified is person_usage (jobs_normalised with the job's person) with the application
# and commercial flag, so every dimension of the jobs report can be filtered on.
JOBS_BASE = """
SELECT
  site, resource, batch_system, infrastructure, local_job_id, array_job_id, array_index, job_name,
  local_user, local_group, global_user, vo, vo_group, vo_role, project, queue, qos, application,
  commercial, submit_time, start_time, end_time, wall_seconds, cpu_seconds, cores, nodes, gpus,
  gpu_model, memory_requested_bytes, memory_max_bytes, energy_joules, state, exit_code,
  benchmark_type, benchmark_per_core, hepscore23_per_core, hs06_per_core, normalisation_type,
  CAST(normalised_core_seconds AS DOUBLE) / 3600 AS normalised_core_hours,
  CAST(cpu_seconds AS DOUBLE) / nullif(wall_seconds * cores, 0) AS cpu_efficiency,
  CAST(memory_max_bytes AS DOUBLE) / nullif(memory_requested_bytes, 0) AS memory_used_fraction,
  coalesce(person_id, global_user, local_user || '@' || site) AS report_user, person_id,
  end_time AS event_time, dt
FROM jobs_classified
"""

JOBS = Listing(
    kind="jobs",
    base=JOBS_BASE,
    time_field="end_time",
    identity=("site", "resource", "local_job_id", "end_time"),
    fields={
        **_fields(
            {
                "string": "site resource batch_system infrastructure local_job_id array_job_id job_name "
                "local_user local_group global_user vo vo_group vo_role project queue qos application "
                "gpu_model state benchmark_type",
                "integer": "array_index wall_seconds cpu_seconds cores nodes gpus memory_requested_bytes "
                "memory_max_bytes energy_joules exit_code",
                "number": "benchmark_per_core normalised_core_hours cpu_efficiency memory_used_fraction",
                "timestamp": "submit_time start_time end_time",
                "boolean": "commercial",
            }
        ),
        "user": Field("report_user", "string"),
        "normalisation": Field("normalisation_type", "string"),
        "hepscore23_per_core": Field("hepscore23_per_core", "number"),
        "hs06_per_core": Field("hs06_per_core", "number"),
    },
    sortable=(
        "end_time",
        "start_time",
        "submit_time",
        "site",
        "resource",
        "local_job_id",
        "user",
        "vo",
        "project",
        "queue",
        "state",
        "application",
        "wall_seconds",
        "cpu_seconds",
        "cores",
        "memory_requested_bytes",
        "memory_max_bytes",
        "exit_code",
        "normalised_core_hours",
        "cpu_efficiency",
    ),
    report=REPORT_KINDS["jobs"],
    detail_table="jobs_dedup",
    detail_fields=("node_list",),
)

VMS = Listing(
    kind="vms",
    base="""
SELECT
  site, resource, provider, account, region, instance_id, instance_type, image_id, vm_name, project,
  vo, interval_start, interval_end, boot_time, uptime_seconds, cpu_busy_seconds, cpu_idle_seconds,
  cpu_iowait_seconds, cpu_steal_seconds, vcpus, memory_bytes, net_rx_bytes, net_tx_bytes, state,
  benchmark_type, benchmark_per_core, measurement, interval_start AS event_time, dt
FROM vms_dedup
""",
    time_field="interval_start",
    identity=("provider", "account", "instance_id", "interval_start"),
    fields=_fields(
        {
            "string": "site resource provider account region instance_id instance_type image_id vm_name "
            "project vo state benchmark_type measurement",
            "integer": "uptime_seconds vcpus memory_bytes net_rx_bytes net_tx_bytes",
            "number": "cpu_busy_seconds cpu_idle_seconds cpu_iowait_seconds cpu_steal_seconds "
            "benchmark_per_core",
            "timestamp": "interval_start interval_end boot_time",
        }
    ),
    sortable=(
        "interval_start",
        "site",
        "resource",
        "provider",
        "account",
        "instance_id",
        "instance_type",
        "project",
        "vo",
        "vcpus",
        "cpu_busy_seconds",
        "uptime_seconds",
    ),
    report=REPORT_KINDS["vms"],
)

STORAGE = Listing(
    kind="storage",
    base="""
SELECT
  site, storage_system, storage_share, storage_media, storage_class, path, owner, "group", vo,
  vo_group, vo_role, project, start_time, end_time, file_count, used_bytes, logical_used_bytes,
  allocated_bytes, end_time AS event_time, dt
FROM storage_dedup
""",
    time_field="end_time",
    identity=("site", "storage_system", "storage_share", "path", "owner", "end_time"),
    fields=_fields(
        {
            "string": "site storage_system storage_share storage_media storage_class path owner group vo "
            "vo_group vo_role project",
            "integer": "file_count used_bytes logical_used_bytes allocated_bytes",
            "timestamp": "start_time end_time",
        }
    ),
    sortable=(
        "end_time",
        "site",
        "storage_system",
        "storage_share",
        "path",
        "owner",
        "vo",
        "project",
        "used_bytes",
        "allocated_bytes",
        "file_count",
    ),
    report=REPORT_KINDS["storage"],
)

ACCELERATORS = Listing(
    kind="accelerators",
    base="""
SELECT
  site, resource, associated_kind, associated_id, accelerator_type, vendor, model, "count",
  interval_start, interval_end, allocated_seconds, active_seconds, utilisation_percent,
  memory_bytes, local_user, global_user, vo, project, benchmark_type, benchmark_per_unit,
  interval_start AS event_time, dt
FROM accelerators_dedup
""",
    time_field="interval_start",
    identity=("site", "resource", "associated_id", "model", "interval_start"),
    fields=_fields(
        {
            "string": "site resource associated_kind associated_id accelerator_type vendor model "
            "local_user global_user vo project benchmark_type",
            "integer": "count allocated_seconds active_seconds memory_bytes",
            "number": "utilisation_percent benchmark_per_unit",
            "timestamp": "interval_start interval_end",
        }
    ),
    sortable=(
        "interval_start",
        "site",
        "resource",
        "associated_id",
        "model",
        "vo",
        "project",
        "allocated_seconds",
        "utilisation_percent",
    ),
    report=REPORT_KINDS["accelerators"],
)

LISTINGS: dict[str, Listing] = {x.kind: x for x in (JOBS, VMS, STORAGE, ACCELERATORS)}
#: Rows a page may hold, and the page size when none is asked for.
MAX_PAGE = 1_000
DEFAULT_PAGE = 100
