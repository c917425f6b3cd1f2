"""APEL out: a site's month as normalised summary v0.4, sync v0.1, cloud summary v0.4 and StAR
messages, at most `records_per_message` records a message, into an outbox (tally.interop.apel.outbox):
an SSM outgoing directory queue (`dirq.QueueSimple`, the queue SSM's sender reads), an S3 prefix in
that queue's layout, or ARGO AMS directly. `tally apel publish` writes a local queue (or, with
`--ams`, AMS); the scheduled publisher on AWS (functions/apel_publisher) writes to AMS when
`apel.ams` is configured, else to `apel.outgoing_uri`, for the current and the previous month of
each site of `apel.publish_sites` (every site when empty).

Summaries follow APEL's repository rules (schemas/server.sql, the summaries it builds from job
records): grouped by Site, Month, Year, GlobalUserName, VO, VOGroup, VORole, SubmitHost,
Infrastructure, NodeCount and Processors; WallDuration and CpuDuration the sums of the jobs'
seconds; NormalisedWallDuration = sum of WallDuration x the benchmark per core, rounded. One
benchmark per record: HEPscore23 where a job's is known, else HEPSPEC (HS06).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tally.interop.apel.outbox import DirqOutbox, Outbox, PublishError, S3Outbox, split_s3_uri
from tally.interop.apel.render import (
    CLOUD_SUMMARY_HEADER,
    NORMALISED_SUMMARY_HEADER,
    SYNC_HEADER,
    Value,
    messages,
    star_messages,
)
from tally.interop.apel.settings import ApelSettings
from tally.interop.apel.values import APEL_BENCHMARK
from tally.query.engine import QueryEngine

# The benchmark per core of the job's normalisation type (HEPscore23 preferred, as jobs_normalised).
_PER_CORE = "CASE WHEN normalisation_type = 'HEPscore23' THEN hepscore23_per_core ELSE hs06_per_core END"
JOB_SUMMARIES = f"""
SELECT site, resource, global_user, vo, vo_group, vo_role, infrastructure, nodes, cores,
  normalisation_type,
  count(*) AS jobs,
  sum(wall_seconds) AS wall_seconds,
  sum(cpu_seconds) AS cpu_seconds,
  sum(wall_seconds * {_PER_CORE}) AS normalised_wall,
  sum(cpu_seconds * {_PER_CORE}) AS normalised_cpu,
  min(end_time) AS earliest_end, max(end_time) AS latest_end
FROM jobs_normalised
WHERE site = ? AND substr(dt, 1, 7) = ?
GROUP BY site, resource, global_user, vo, vo_group, vo_role, infrastructure, nodes, cores, normalisation_type
ORDER BY resource, global_user, vo, vo_group, vo_role, infrastructure, nodes, cores, normalisation_type
"""
SYNCS = """
SELECT resource, count(*) AS jobs FROM jobs_dedup
WHERE site = ? AND substr(dt, 1, 7) = ?
GROUP BY resource ORDER BY resource
"""
CLOUD_SUMMARIES = """
SELECT site, resource, global_user, vo, state, provider, image_id, benchmark_type,
  count(DISTINCT instance_id) AS vms,
  sum(date_diff('second', interval_start, interval_end)) AS wall_seconds,
  sum(cpu_busy_seconds) AS cpu_seconds,
  max(benchmark_per_core) AS benchmark,
  min(interval_start) AS earliest_start, max(interval_start) AS latest_start
FROM vms_dedup
WHERE site = ? AND substr(CAST(interval_start AS varchar), 1, 7) = ?
GROUP BY site, resource, global_user, vo, state, provider, image_id, benchmark_type
ORDER BY resource, global_user, vo, state, provider, image_id, benchmark_type
"""
STORAGE = """
SELECT site, storage_system, storage_share, storage_media, storage_class, path, owner, "group", vo,
  vo_group, vo_role, start_time, end_time, file_count, used_bytes, logical_used_bytes, allocated_bytes,
  record_id
FROM storage_dedup
WHERE site = ? AND substr(dt, 1, 7) = ?
ORDER BY storage_system, storage_share, path, owner, end_time
"""


@dataclass
class Published:
    site: str
    months: list[str]
    queue: str
    messages: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    # Jobs left out of summaries because no benchmark is known for them (they still count in syncs).
    jobs_without_benchmark: int = 0
    names: list[str] = field(default_factory=list)


def months_to_publish(month: str | None, today: date) -> list[str]:
    """The month asked for, or (as APEL's client does) the current and the previous month."""
    if month is not None:
        parsed = datetime.strptime(month, "%Y-%m")
        return [f"{parsed:%Y-%m}"]
    previous = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    return [f"{previous:%Y-%m}", f"{today:%Y-%m}"]


class ApelPublisher:
    """A site's months as APEL messages, into the outbox asked for (or the configured one)."""

    def __init__(
        self,
        engine: Callable[[], QueryEngine],
        settings: ApelSettings,
        sites: Callable[[], list[str]] = list,
        s3_client: Callable[[], Any] | None = None,
        region: str = "eu-west-1",
    ) -> None:
        self._engine = engine
        self.settings = settings
        self._sites = sites
        self._s3_client = s3_client
        self._region = region
        self._signer: Any = None  # tally.interop.apel.signing.MessageSigner, loaded on first use

    def signed(self, queue: Outbox) -> Outbox:
        """`queue` itself, or (with `apel.signing`) an outbox signing every message put in it."""
        if self.settings.signing is None:
            return queue
        from tally.interop.apel.signing import SignedOutbox, load_signer  # needs `cryptography`

        if self._signer is None:
            self._signer = load_signer(self.settings.signing, self._region)
        return SignedOutbox(queue, self._signer)

    def local_queue(self, folder: Path | None = None) -> Outbox:
        """The SSM outgoing queue on this host: `folder`, else `apel.outgoing_dir`."""
        target = folder or self.settings.outgoing_dir
        if target is None:
            raise PublishError("no outgoing queue: pass --out DIR or set apel.outgoing_dir")
        return DirqOutbox(target)

    def ams(self) -> Outbox:
        """ARGO AMS, as `apel.ams` configures it (the token read once, here)."""
        from tally.interop.apel.ams import AmsOutbox, ams_token

        section = self.settings.ams
        if section is None:
            raise PublishError("no AMS configured: set apel.ams (host, project, topic, token)")
        return AmsOutbox(section, ams_token(section, self._region))

    def scheduled_outbox(self, site: str) -> Outbox:
        """Where the scheduled run publishes: AMS when configured, else the site's S3 prefix of
        `apel.outgoing_uri`, else the local queue."""
        if self.settings.ams is not None:
            return self.ams()
        uri = self.settings.outgoing_uri
        if uri is None:
            return self.local_queue()
        if self._s3_client is None:
            raise PublishError("apel.outgoing_uri needs an S3 client")
        bucket, prefix = split_s3_uri(uri)
        return S3Outbox(self._s3_client(), bucket, f"{prefix}/{site}".lstrip("/"))

    def publish_scheduled(self, today: date) -> list[Published]:
        """The current and the previous month of every configured site (APEL's client's run)."""
        sites = self.settings.publish_sites or sorted(self._sites())
        months = months_to_publish(None, today)
        ams = self.ams() if self.settings.ams is not None else None
        return [self.publish(site, months, ams or self.scheduled_outbox(site)) for site in sites]

    def run_scheduled(self, event: Any) -> dict[str, Any]:
        """The scheduled run (functions/apel_publisher): the months of the event's scheduled day,
        so a retried run publishes the same months."""
        from dataclasses import asdict

        from tally.domain.schedule_event import event_time

        day = event_time(event).date()
        return {"day": day.isoformat(), "published": [asdict(p) for p in self.publish_scheduled(day)]}

    def publish(self, site: str, months: Sequence[str], to: Outbox | Path | None = None) -> Published:
        """Publish into `to`: an outbox, a queue folder, or (None) the local queue configured."""
        queue = self.signed(to if to is not None and not isinstance(to, Path) else self.local_queue(to))
        engine = self._engine()
        done = Published(site, list(months), queue.target)
        per = self.settings.records_per_message

        def emit(name: str, texts: Iterator[str], count: int) -> None:
            n = 0
            for text in texts:
                done.names.append(queue.add(text))
                n += 1
            done.messages[name] = done.messages.get(name, 0) + n
            done.records[name] = done.records.get(name, 0) + count

        for month in months:
            year, number = int(month[:4]), int(month[5:7])
            rows = engine.query(JOB_SUMMARIES, (site, month)).table.to_pylist()
            done.jobs_without_benchmark += sum(
                int(r["jobs"]) for r in rows if r["normalisation_type"] is None
            )
            summaries = [_job_summary(r, year, number) for r in rows if r["normalisation_type"] is not None]
            emit("summaries", messages(NORMALISED_SUMMARY_HEADER, summaries, per), len(summaries))
            syncs = [
                _sync(site, r, year, number) for r in engine.query(SYNCS, (site, month)).table.to_pylist()
            ]
            emit("syncs", messages(SYNC_HEADER, syncs, per), len(syncs))
            clouds = [
                _cloud_summary(r, year, number)
                for r in engine.query(CLOUD_SUMMARIES, (site, month)).table.to_pylist()
            ]
            emit("cloud_summaries", messages(CLOUD_SUMMARY_HEADER, clouds, per), len(clouds))
            storage = engine.query(STORAGE, (site, month)).table.to_pylist()
            emit("storage", star_messages(storage, per), len(storage))
        return done


def _job_summary(r: dict[str, object], year: int, month: int) -> list[tuple[str, Value]]:
    benchmark = APEL_BENCHMARK[str(r["normalisation_type"])]
    return [
        ("Site", str(r["site"])),
        ("Month", month),
        ("Year", year),
        ("GlobalUserName", _opt(r["global_user"])),
        ("VO", _opt(r["vo"])),
        ("VOGroup", _opt(r["vo_group"])),
        ("VORole", _opt(r["vo_role"])),
        ("SubmitHost", str(r["resource"])),
        ("Infrastructure", "grid" if r["infrastructure"] == "grid" else "local"),
        ("NodeCount", _int(r["nodes"])),
        ("Processors", _int(r["cores"])),
        ("EarliestEndTime", _time(r["earliest_end"])),
        ("LatestEndTime", _time(r["latest_end"])),
        ("WallDuration", _int(r["wall_seconds"])),
        ("CpuDuration", _int(r["cpu_seconds"])),
        # APEL's repository rounds normalised sums to whole seconds (schemas/server.sql ROUND).
        ("NormalisedWallDuration", {benchmark: float(round(_float(r["normalised_wall"])))}),
        ("NormalisedCpuDuration", {benchmark: float(round(_float(r["normalised_cpu"])))}),
        ("NumberOfJobs", _int(r["jobs"])),
    ]


def _sync(site: str, r: dict[str, object], year: int, month: int) -> list[tuple[str, Value]]:
    return [
        ("Site", site),
        ("SubmitHost", str(r["resource"])),
        ("NumberOfJobs", _int(r["jobs"])),
        ("Month", month),
        ("Year", year),
    ]


def _cloud_summary(r: dict[str, object], year: int, month: int) -> list[tuple[str, Value]]:
    benchmark = r["benchmark_type"]
    return [
        ("SiteName", str(r["site"])),
        ("CloudComputeService", str(r["resource"])),
        ("Month", month),
        ("Year", year),
        ("GlobalUserName", _opt(r["global_user"])),
        ("VO", _opt(r["vo"])),
        ("Status", _opt(r["state"])),
        ("CloudType", _opt(r["provider"])),
        ("ImageId", _opt(r["image_id"])),
        ("EarliestStartTime", _time(r["earliest_start"])),
        ("LatestStartTime", _time(r["latest_start"])),
        ("WallDuration", _int(r["wall_seconds"])),
        ("CpuDuration", round(_float(r["cpu_seconds"]))),
        ("BenchmarkType", APEL_BENCHMARK.get(str(benchmark)) if benchmark else None),
        ("Benchmark", _float(r["benchmark"]) if benchmark and r["benchmark"] is not None else None),
        ("NumberOfVMs", _int(r["vms"])),
    ]


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float | Decimal) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def _time(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
