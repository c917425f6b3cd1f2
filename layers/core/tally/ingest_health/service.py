"""Ingest health per resource, from the warehouse itself: when each resource last sent records,
how many arrived on each of the last 14 days (UTC, by arrival), which went quiet, and what the
ingest quarantined and why.

The records are counted as stored (every copy written, before deduplication): health is about
what agents send, not about usage. Arrival is not event time (an agent may send last year's jobs
today), so the record tables are read by ingested_at, not pruned by their dt partitions; the scan
reads four columns. Reasons are the first five errors of each quarantined record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tally.domain.ports import QueryEngine
from tally.ingest_health.settings import IngestHealthSettings
from tally.query.engine import Param

DAYS = 14
REASONS_PER_KIND = 10
REASON_POSITIONS = 5
#: Per kind: its table, the column naming the resource that sent it, its event time.
SOURCES = (
    ("jobs", "jobs", "resource", "end_time"),
    ("vms", "vms", "resource", "interval_end"),
    ("storage", "storage", "storage_system", "end_time"),
    ("accelerators", "accelerators", "resource", "interval_end"),
)


@dataclass(frozen=True)
class ResourceHealth:
    site: str
    kind: str
    resource: str
    last_received_at: datetime
    latest_event_time: datetime | None
    records_per_day: list[int]  # one per day of `IngestHealth.days`, oldest first
    hours_since_last: float
    quiet: bool


@dataclass(frozen=True)
class Reason:
    field: str | None
    message: str
    count: int


@dataclass(frozen=True)
class Quarantined:
    site: str | None
    kind: str
    records: int
    reasons: list[Reason]


@dataclass(frozen=True)
class IngestHealth:
    generated_at: datetime
    quiet_hours: int
    days: list[date]
    resources: list[ResourceHealth]
    quarantine: list[Quarantined]


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _site_clause(sites: list[str] | None) -> tuple[str, list[Param]]:
    if sites is None:
        return "", []
    if not sites:
        return " AND 1 = 0", []
    return f" AND site IN ({', '.join('?' for _ in sites)})", list(sites)


class IngestHealthService:
    def __init__(
        self,
        engine: QueryEngine,
        settings: IngestHealthSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def health(self, sites: list[str] | None, quiet_hours: int | None = None) -> IngestHealth:
        """Health of `sites` (None: every site)."""
        now = self.clock().astimezone(UTC)
        quiet = quiet_hours or self.settings.quiet_hours
        today = now.date()
        days = [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
        since = datetime.combine(today - timedelta(days=self.settings.lookback_days), datetime.min.time())
        return IngestHealth(
            now,
            quiet,
            days,
            self._resources(sites, since, now, days, quiet),
            self._quarantine(sites, days[0]),
        )

    def _resources(
        self, sites: list[str] | None, since: datetime, now: datetime, days: list[date], quiet: int
    ) -> list[ResourceHealth]:
        fence, fence_params = _site_clause(sites)
        parts, params = [], []
        for kind, table, resource, event in SOURCES:
            parts.append(
                f"SELECT site, '{kind}' AS kind, {resource} AS resource, CAST(ingested_at AS DATE) AS day, "
                f"count(*) AS records, max(ingested_at) AS last_received, max({event}) AS latest_event\n"
                f"FROM {table}\nWHERE ingested_at >= ?{fence}\nGROUP BY 1, 2, 3, 4"
            )
            params += [since, *fence_params]
        rows = self.engine.query("\nUNION ALL\n".join(parts), params).table.to_pylist()
        per: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
        for row in rows:
            per[(str(row["site"]), str(row["kind"]), str(row["resource"]))].append(row)
        position = {day: n for n, day in enumerate(days)}
        now_naive = _naive(now)
        out = []
        for (site, kind, resource), group in sorted(per.items()):
            counts = [0] * len(days)
            for row in group:
                day = row["day"]
                if isinstance(day, date) and day in position:
                    counts[position[day]] += int(str(row["records"]))
            last = max(_naive(r["last_received"]) for r in group if isinstance(r["last_received"], datetime))
            events = [_naive(r["latest_event"]) for r in group if isinstance(r["latest_event"], datetime)]
            hours = (now_naive - last).total_seconds() / 3600
            out.append(
                ResourceHealth(
                    site,
                    kind,
                    resource,
                    last.replace(tzinfo=UTC),
                    max(events).replace(tzinfo=UTC) if events else None,
                    counts,
                    round(hours, 3),
                    hours >= quiet,
                )
            )
        return out

    def _quarantine(self, sites: list[str] | None, first: date) -> list[Quarantined]:
        fence, fence_params = _site_clause(sites)
        where = f"dt >= ?{fence}"
        counts = self.engine.query(
            f"SELECT site, kind, count(*) AS records FROM quarantine WHERE {where} GROUP BY 1, 2",
            [first.isoformat(), *fence_params],
        ).table.to_pylist()
        # The first errors of each record, one position at a time: portable to Trino and DuckDB
        # alike (an UNNEST of an array of rows is not).
        parts, params = [], []
        for n in range(1, REASON_POSITIONS + 1):
            parts.append(
                f"SELECT site, kind, element_at(errors, {n}).field AS field, "
                f"element_at(errors, {n}).message AS message FROM quarantine "
                f"WHERE {where} AND cardinality(errors) >= {n}"
            )
            params += [first.isoformat(), *fence_params]
        reasons = self.engine.query(
            "SELECT site, kind, field, message, count(*) AS n FROM (\n"
            + "\nUNION ALL\n".join(parts)
            + "\n) AS reasons GROUP BY 1, 2, 3, 4",
            params,
        ).table.to_pylist()
        by_kind: dict[tuple[object, object], list[Reason]] = defaultdict(list)
        for r in reasons:
            by_kind[(r["site"], r["kind"])].append(Reason(r["field"], str(r["message"]), int(r["n"])))
        out = []
        for c in sorted(counts, key=lambda c: (str(c["site"]), str(c["kind"]))):
            top = sorted(by_kind[(c["site"], c["kind"])], key=lambda r: (-r.count, r.field or "", r.message))
            out.append(Quarantined(c["site"], str(c["kind"]), int(c["records"]), top[:REASONS_PER_KIND]))
        return out
