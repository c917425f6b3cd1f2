"""The usage-record contract: one pydantic model per kind, the single source of truth.

The Arrow/Parquet schema (`tally.domain.schema`) and the columnar checks of the ingest fast path
(`tally.domain.columnar`) are derived from these models, never written by hand.

Units: times UTC, durations seconds, memory and storage bytes. A naive timestamp is read as UTC,
the same way the Arrow JSON reader reads it, so both validation paths agree.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

RecordKind = Literal["jobs", "vms", "storage", "accelerators", "summaries", "syncs", "grid_identities"]
KINDS: tuple[RecordKind, ...] = (
    "jobs",
    "vms",
    "storage",
    "accelerators",
    "summaries",
    "syncs",
    "grid_identities",
)

# String length limits: generous for real data, small enough to refuse garbage.
NAME = 256
LONG = 1024
NODES = 65_536
INT64_MAX = 2**63 - 1  # Parquet INT64: the largest count or byte size a column can hold


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 is a valid time whose UTC instant is before year 1.
        raise ValueError(
            f"time is out of range once converted to UTC ({value.isoformat()} lies outside the years"
            " 1 to 9999 in UTC)"
        ) from None


UtcTime = Annotated[datetime, AfterValidator(_as_utc)]
Name = Annotated[str, Field(min_length=1, max_length=NAME)]
OptName = Annotated[str | None, Field(default=None, max_length=NAME)]
OptLong = Annotated[str | None, Field(default=None, max_length=LONG)]
Seconds = Annotated[int, Field(ge=0, le=10**11)]
OptSeconds = Annotated[int | None, Field(default=None, ge=0, le=10**11)]
OptBytes = Annotated[int | None, Field(default=None, ge=0, le=INT64_MAX)]
OptCount = Annotated[int | None, Field(default=None, ge=0, le=10**9)]
BenchmarkType = Literal["HEPscore23", "HS06", "si2k"]
#: How much time one `dt` partition spans.
PartitionSpan = Literal["day", "month"]


class TimeOrder:
    """A cross-field rule: `later` must not precede `earlier` (checked by both validation paths)."""

    def __init__(self, earlier: str, later: str) -> None:
        self.earlier = earlier
        self.later = later

    @property
    def message(self) -> str:
        return f"{self.later} is before {self.earlier}"


class UsageRecord(BaseModel):
    """Fields and rules every kind shares. Subclasses declare identity, event time and partition."""

    # JSON has no NaN or Infinity, and a count is never one: both validation paths refuse them.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, frozen=True, allow_inf_nan=False)

    kind: ClassVar[RecordKind]
    # Fields whose values together identify one record (the dedupe key).
    identity: ClassVar[tuple[str, ...]]
    # Field whose date (or month, by `partition_span`) is the partition `dt`.
    partition_time: ClassVar[str]
    # A month per partition where a day holds a few hundred rows (a day file would be mostly
    # footer); a day where a day alone fills files (VM samples every 15 minutes).
    partition_span: ClassVar[PartitionSpan] = "month"
    # String fields (nearly) unique per record: stored without a dictionary, which for them only
    # costs a dictionary page as large as the column.
    unique_strings: ClassVar[tuple[str, ...]] = ()
    # Field that says how far a source has been read (served by /v1/sync-state).
    event_time: ClassVar[str]
    # Field naming the collecting resource, used for key fencing and sync state.
    resource_field: ClassVar[str] = "resource"
    time_order: ClassVar[tuple[TimeOrder, ...]] = ()

    site: Name

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        """`true` is not 1: pydantic's lax mode would take it, Arrow's reader (the fast path) does not."""
        if isinstance(value, bool) and info.field_name is not None:
            kind = _number_kind(cls.model_fields[info.field_name].annotation)
            if kind == "int":
                raise PydanticCustomError("int_type", "Input should be a valid integer")
            if kind == "float":
                raise PydanticCustomError("float_type", "Input should be a valid number")
        return value

    @model_validator(mode="after")
    def _times_in_order(self) -> UsageRecord:
        for rule in self.time_order:
            earlier, later = getattr(self, rule.earlier), getattr(self, rule.later)
            if earlier is not None and later is not None and later < earlier:
                raise ValueError(rule.message)
        return self

    @classmethod
    def time_fields(cls) -> list[str]:
        return [n for n, f in cls.model_fields.items() if f.annotation in (datetime, datetime | None)]


def _number_kind(annotation: object) -> str | None:
    """'int' or 'float' for a (possibly optional, annotated) numeric field annotation, else None."""
    found = (
        {a for a in typing.get_args(annotation) if a is not type(None)}
        if typing.get_args(annotation)
        else {annotation}
    )
    for arg in list(found):
        if typing.get_origin(arg) is Annotated:
            found.discard(arg)
            found.add(typing.get_args(arg)[0])
    if found == {int}:
        return "int"
    if found == {float}:
        return "float"
    return None


class JobRecord(UsageRecord):
    """One ended batch or grid job allocation (never a job step)."""

    kind = "jobs"
    identity = ("site", "resource", "local_job_id", "end_time")
    partition_time = "end_time"
    unique_strings = ("local_job_id",)
    event_time = "end_time"
    time_order = (TimeOrder("submit_time", "start_time"), TimeOrder("start_time", "end_time"))

    resource: Name
    batch_system: Literal["slurm", "pbs", "torque", "pbspro", "htcondor", "sge", "uge", "lsf", "other"]
    infrastructure: Literal["hpc", "grid"] = "hpc"
    local_job_id: Name
    array_job_id: OptName
    array_index: OptCount
    job_name: OptLong
    local_user: OptName
    local_group: OptName
    global_user: OptLong
    vo: OptName
    vo_group: OptName
    vo_role: OptName
    project: OptName
    queue: OptName
    qos: OptName
    application: OptName
    submit_time: UtcTime | None = None
    start_time: UtcTime | None = None
    end_time: UtcTime
    wall_seconds: Seconds
    cpu_seconds: Seconds
    cores: Annotated[int, Field(ge=1, le=10**7)]
    nodes: Annotated[int, Field(ge=1, le=10**6)] = 1
    gpus: Annotated[int, Field(ge=0, le=10**6)] = 0
    gpu_model: OptName
    memory_requested_bytes: OptBytes
    memory_max_bytes: OptBytes
    energy_joules: OptBytes
    state: Name
    exit_code: Annotated[int | None, Field(default=None, ge=-(2**31), le=2**31)]
    node_list: Annotated[str | None, Field(default=None, max_length=NODES)]
    benchmark_type: BenchmarkType | None = None
    benchmark_per_core: Annotated[float | None, Field(default=None, gt=0, le=10_000)]
    # Who cancelled a CANCELLED job (Slurm's `CANCELLED by <uid>`); `state` stays CANCELLED.
    cancelled_by: OptName


class VmRecord(UsageRecord):
    """One virtual machine over one sampling interval, measured inside the VM or derived from the
    cloud's events (`measurement`)."""

    kind = "vms"
    identity = ("provider", "account", "instance_id", "interval_start")
    partition_time = "interval_start"
    partition_span = "day"
    event_time = "interval_end"
    resource_field = "resource"
    time_order = (TimeOrder("interval_start", "interval_end"), TimeOrder("boot_time", "interval_end"))

    resource: Name
    provider: Annotated[str, Field(min_length=1, max_length=64)]
    account: Name
    region: OptName
    instance_id: Name
    instance_type: OptName
    image_id: OptName
    vm_name: OptLong
    project: OptName
    vo: OptName
    global_user: OptLong
    interval_start: UtcTime
    interval_end: UtcTime
    boot_time: UtcTime | None = None
    uptime_seconds: Seconds
    cpu_busy_seconds: Annotated[float, Field(ge=0, le=1e12)]
    cpu_idle_seconds: Annotated[float, Field(ge=0, le=1e12)] = 0.0
    cpu_iowait_seconds: Annotated[float, Field(ge=0, le=1e12)] = 0.0
    cpu_steal_seconds: Annotated[float, Field(ge=0, le=1e12)] = 0.0
    vcpus: Annotated[int, Field(ge=1, le=100_000)]
    memory_bytes: OptBytes
    net_rx_bytes: OptBytes
    net_tx_bytes: OptBytes
    state: OptName
    benchmark_type: BenchmarkType | None = None
    benchmark_per_core: Annotated[float | None, Field(default=None, gt=0, le=10_000)]
    # How the interval was measured: "agent" (inside the VM; the default when absent) or "events"
    # (derived from the cloud's own notifications, e.g. OpenStack Nova: CPU counters not measured).
    measurement: Literal["agent", "events"] | None = None


class StorageRecord(UsageRecord):
    """One usage snapshot of a share, path or owner (EMI StAR semantics)."""

    kind = "storage"
    identity = ("site", "storage_system", "storage_share", "path", "owner", "end_time")
    partition_time = "end_time"
    event_time = "end_time"
    resource_field = "storage_system"
    time_order = (TimeOrder("start_time", "end_time"),)

    storage_system: Name
    storage_share: Annotated[str, Field(max_length=NAME)] = ""
    storage_media: Literal["disk", "tape", "object", "other"] | None = None
    storage_class: OptName
    path: Annotated[str, Field(max_length=LONG)] = ""
    owner: Annotated[str, Field(max_length=LONG)] = ""
    group: OptName
    vo: OptName
    vo_group: OptName
    vo_role: OptName
    project: OptName
    start_time: UtcTime | None = None
    end_time: UtcTime
    file_count: OptBytes
    used_bytes: Annotated[int, Field(ge=0, le=INT64_MAX)]
    logical_used_bytes: OptBytes
    allocated_bytes: OptBytes
    record_id: OptLong


class AcceleratorRecord(UsageRecord):
    """One GPU/FPGA allocation or usage interval, tied to a job or a VM."""

    kind = "accelerators"
    identity = ("site", "resource", "associated_id", "model", "interval_start")
    partition_time = "interval_start"
    event_time = "interval_end"
    time_order = (TimeOrder("interval_start", "interval_end"),)

    resource: Name
    associated_kind: Literal["job", "vm"] = "job"
    associated_id: Name
    accelerator_type: Literal["GPU", "FPGA", "other"] = "GPU"
    vendor: OptName
    model: Name
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    interval_start: UtcTime
    interval_end: UtcTime
    allocated_seconds: Seconds
    active_seconds: OptSeconds
    utilisation_percent: Annotated[float | None, Field(default=None, ge=0, le=100)]
    memory_bytes: OptBytes
    local_user: OptName
    global_user: OptLong
    vo: OptName
    project: OptName
    benchmark_type: OptName
    benchmark_per_unit: Annotated[float | None, Field(default=None, gt=0, le=1e9)]


class SummaryRecord(UsageRecord):
    """One published monthly summary of jobs or VMs (APEL summary and cloud summary records), kept
    as the publisher sent it so it can be compared with the individual records Tally holds.

    Durations are seconds (as APEL's summarisers write them); the normalised durations are
    seconds x the benchmark per core of `benchmark_type` (APEL: WallDuration x ServiceLevel).
    """

    kind = "summaries"
    identity = (
        "site",
        "summary_of",
        "resource",
        "month_start",
        "global_user",
        "vo",
        "vo_group",
        "vo_role",
        "infrastructure",
        "node_count",
        "processors",
        "status",
        "cloud_type",
        "image_id",
        "benchmark_type",
    )
    partition_time = "month_start"
    event_time = "month_start"
    time_order = (TimeOrder("earliest_time", "latest_time"),)

    # "jobs" for job summaries, "vms" for cloud summaries.
    summary_of: Literal["jobs", "vms"] = "jobs"
    # APEL's SubmitHost (jobs) or CloudComputeService (VMs); empty when the summary names none.
    resource: Annotated[str, Field(max_length=NAME)] = ""
    # The first instant (UTC) of the summarised month.
    month_start: UtcTime
    global_user: OptLong
    vo: OptName
    vo_group: OptName
    vo_role: OptName
    infrastructure: OptName
    infrastructure_description: OptName
    node_count: OptCount
    processors: OptCount
    status: OptName
    cloud_type: OptName
    image_id: OptLong
    cpu_count: Annotated[float | None, Field(default=None, ge=0, le=1e9)]
    # End times of the first and last job (jobs) or start times of the first and last VM (VMs).
    earliest_time: UtcTime | None = None
    latest_time: UtcTime | None = None
    wall_seconds: Annotated[int, Field(ge=0, le=INT64_MAX)]
    cpu_seconds: Annotated[int, Field(ge=0, le=INT64_MAX)]
    record_count: Annotated[int, Field(ge=0, le=INT64_MAX)]
    benchmark_type: BenchmarkType | None = None
    benchmark_per_core: Annotated[float | None, Field(default=None, gt=0, le=10_000)]
    normalised_wall_seconds: Annotated[float | None, Field(default=None, ge=0, le=1e15)]
    normalised_cpu_seconds: Annotated[float | None, Field(default=None, ge=0, le=1e15)]
    # The message header the summary came in (e.g. `APEL-normalised-summary-message: v0.4`).
    message_type: OptName
    # Keys of the record this contract has no column for, as a JSON object (kept, not dropped).
    extra: Annotated[str | None, Field(default=None, max_length=NODES)]


class SyncRecord(UsageRecord):
    """One sync record: how many jobs a site (and submit host) says it has for a month."""

    kind = "syncs"
    identity = ("site", "resource", "month_start")
    partition_time = "month_start"
    event_time = "month_start"

    # APEL's SubmitHost; empty when the record names none.
    resource: Annotated[str, Field(max_length=NAME)] = ""
    month_start: UtcTime
    record_count: Annotated[int, Field(ge=0, le=INT64_MAX)]
    message_type: OptName


class GridIdentityRecord(UsageRecord):
    """One BLAH/CREAM accounting line: the grid identity (certificate DN, VOMS FQAN) of the batch
    job a computing element submitted. Joined to `jobs` by the view jobs_identified, so a job
    posted without a global user or VO gets them whichever of the two arrived first."""

    kind = "grid_identities"
    identity = ("site", "resource", "lrms_id", "submit_time")
    partition_time = "submit_time"
    # One line per grid job: a busy CE writes tens of thousands a day.
    partition_span = "day"
    unique_strings = ("lrms_id", "grid_job_id")
    event_time = "submit_time"

    # The batch system (cluster) the CE submits to: the `resource` of its jobs.
    resource: Name
    # BLAH's lrmsID: the batch job id, possibly with the server suffix (`9575064.lrms1`).
    lrms_id: Name
    # BLAH's timestamp: when the CE handed the job to the batch system.
    submit_time: UtcTime
    global_user: Annotated[str, Field(min_length=1, max_length=LONG)]
    fqan: OptLong
    vo: OptName
    vo_group: OptName
    vo_role: OptName
    ce: OptName
    grid_job_id: OptName
    local_user: OptName


MODELS: dict[RecordKind, type[UsageRecord]] = {
    "jobs": JobRecord,
    "vms": VmRecord,
    "storage": StorageRecord,
    "accelerators": AcceleratorRecord,
    "summaries": SummaryRecord,
    "syncs": SyncRecord,
    "grid_identities": GridIdentityRecord,
}
