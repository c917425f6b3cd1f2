"""`run` and `import`: collect, spool, then deliver the spool oldest first."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from tally_agent import batching, collect
from tally_agent.config import Config
from tally_agent.context import ParseContext, ParseStats
from tally_agent.lock import RunLock
from tally_agent.registry import BATCH, SOURCES, UnrecognisedInputError, check_fields, nothing_recognised
from tally_agent.sources import gpu, grid_identity, nvidia, storage
from tally_agent.spool import Backoff, Spool, atomic_write, delay_for
from tally_agent.timeutil import iso_z, parse_iso_z, site_zone
from tally_agent.transport import Client, TransportError, tls_context

log = logging.getLogger("tally_agent")
EVENT_TIME = {
    "jobs": "end_time",
    "accelerators": "interval_end",
    "storage": "end_time",
    "vms": "interval_end",
}
EXIT_OK, EXIT_PENDING = 0, 75  # 75 = EX_TEMPFAIL: something is left in the spool for next time


@dataclass
class Report:
    spooled_batches: int = 0
    spooled_records: int = 0
    sent_batches: int = 0
    sent_records: int = 0  # records in the batches the server answered 2xx (replayed included)
    accepted: int = 0  # newly written; a replayed batch's records count under replayed_records
    duplicates: int = 0
    rejected: int = 0
    replayed_batches: int = 0  # batches the server had stored before (e.g. sent by a killed run)
    replayed_records: int = 0
    refused_batches: int = 0
    pending_batches: int = 0
    parse_errors: int = 0
    wrong_field_count: int = 0
    skipped_sending: str = ""
    since: Dict[str, Optional[str]] = field(default_factory=dict)
    hints: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    def add_parse(self, stats: ParseStats) -> None:
        self.parse_errors += stats.errors
        self.wrong_field_count += stats.wrong_field_count
        self.hints += [h for h in stats.hints if h not in self.hints]

    def line(self, command: str, spool: str) -> str:
        """The one-line account of a run, e.g. for a person running `import` by hand."""
        text = (
            f"tally-agent {command}: sent {self.sent_records} records in {self.sent_batches} batches: "
            f"{self.accepted} accepted, {self.duplicates} duplicates, {self.replayed_records} replayed "
            f"({self.replayed_batches} batches stored before), {self.rejected} rejected; "
            f"{self.pending_batches} batches left in the spool"
        )
        if self.refused_batches:
            text += f"; {self.refused_batches} batches refused (kept in {spool}/refused)"
        if self.parse_errors:
            text += f"; {self.parse_errors} unreadable lines"
            if self.wrong_field_count:
                text += f" ({self.wrong_field_count} with a wrong number of fields)"
        if self.skipped_sending:
            text += f"; not sent: {self.skipped_sending}"
        return text


class Agent:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = Path(config.spool_dir)
        self.spool = Spool(self.root)
        self.backoff = Backoff(
            self.root / "backoff.json", config.retry_base_seconds, config.retry_max_seconds
        )
        self.report = Report()
        self._client: Optional[Client] = None

    # -- delivery ---------------------------------------------------------------------------
    def client(self) -> Client:
        if self._client is None:
            c = self.config
            c.require("server")
            context = tls_context(c.ca_bundle, c.client_cert, c.client_key)
            self._client = Client(c.server, c.key(), context, c.timeout)
        return self._client

    def flush(self, force: bool = False) -> bool:
        """Post every spooled batch, oldest first. False when the server must be retried later."""
        wait = self.backoff.wait_left()
        if wait > 0 and not force:
            self.report.skipped_sending = f"backing off for {wait:.0f} s after earlier failures"
            log.info(self.report.skipped_sending)
            return False
        for kind, path in self.spool.pending():
            if not self._deliver(kind, path):
                delay = self.backoff.failed()
                log.warning(
                    "server unavailable; %d batches kept in the spool, next try in %.0f s",
                    self.spool.count(),
                    delay,
                )
                return False
        self.backoff.succeeded()
        return True

    def _deliver(self, kind: str, path: Path) -> bool:
        body = path.read_bytes()
        attempts = max(1, self.config.attempts)
        for attempt in range(1, attempts + 1):
            try:
                answer = self.client().post_batch(kind, body)
            except TransportError as exc:
                log.warning("post %s (%s) failed: %s", path.name, kind, exc)
            else:
                if answer.ok:
                    self._accepted(kind, path, answer.body)
                    return True
                if not answer.retryable:
                    reason = (
                        f"{answer.status} {answer.body.get('title', '')}: {answer.body.get('detail', '')}"
                    )
                    log.error(
                        "server refused batch %s (%s): %s; kept in %s",
                        path.name,
                        kind,
                        reason,
                        self.spool.refused,
                    )
                    self.spool.refuse(kind, path, reason)
                    self.report.refused_batches += 1
                    return True
                log.warning("post %s (%s) answered %s", path.name, kind, answer.status)
            if attempt < attempts:
                time.sleep(delay_for(attempt, self.config.retry_delay, 30.0))
        return False

    def _accepted(self, kind: str, path: Path, body: Dict[str, Any]) -> None:
        report = self.report
        accepted = int(body.get("accepted", 0) or 0)
        duplicates = int(body.get("duplicates", 0) or 0)
        rejected = int(body.get("rejected", 0) or 0)
        report.sent_batches += 1
        report.sent_records += accepted + duplicates + rejected
        if body.get("replayed") is True:
            # Stored by an earlier post whose answer never reached us: nothing new was written.
            report.replayed_batches += 1
            report.replayed_records += accepted + duplicates + rejected
            log.info("batch %s (%s) had been stored before (replayed)", path.name, kind)
            self.spool.done(path)
            return
        report.accepted += accepted
        report.duplicates += duplicates
        report.rejected += rejected
        for error in body.get("errors", []) or []:
            log.error(
                "server rejected %s record %s: %s: %s",
                kind,
                error.get("index"),
                error.get("field"),
                error.get("message"),
            )
        self.spool.done(path)

    # -- collection -------------------------------------------------------------------------
    def spool_records(self, kind: str, records: Iterable[Dict[str, Any]]) -> None:
        for body in batching.batches(records, self.config.max_batch_records, self.config.max_batch_bytes):
            self.spool.put(kind, body)
            self.report.spooled_batches += 1

    def _counted(self, kind: str, records: Iterable[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
        latest = None
        event = EVENT_TIME[kind]
        for record in records:
            self.report.spooled_records += 1
            if latest is None or record[event] > latest:
                latest = record[event]
            yield record
        if latest is not None:
            self._save_cursor(kind, latest)

    def since(self, kind: str, reachable: bool) -> datetime:
        c = self.config
        latest: Optional[str] = None
        if reachable:
            try:
                state = self.client().sync_state(c.resource, kind)
                latest = state.get("latest_event_time")
            except TransportError as exc:
                log.warning("sync-state for %s unavailable (%s); using the local cursor", kind, exc)
                latest = self._cursor(kind)
        else:
            latest = self._cursor(kind)
        if latest:
            return parse_iso_z(latest) - timedelta(seconds=c.overlap_seconds)
        return datetime.now(timezone.utc) - timedelta(days=c.first_run_days)

    def _cursor_path(self, kind: str) -> Path:
        return Path(self.config.state_dir) / f"cursor-{kind}.json"

    def _cursor(self, kind: str) -> Optional[str]:
        try:
            value = json.loads(self._cursor_path(kind).read_text(encoding="utf-8")).get("latest_event_time")
            return str(value) if value else None
        except (OSError, ValueError):
            return None

    def _save_cursor(self, kind: str, latest: str) -> None:
        current = self._cursor(kind)
        if current is None or latest > current:
            atomic_write(self._cursor_path(kind), json.dumps({"latest_event_time": latest}).encode())

    def context(self, source: str, zone_utc: bool = False) -> ParseContext:
        c = self.config
        return ParseContext(
            site=c.site,
            resource=c.resource,
            zone=site_zone("UTC" if zone_utc else c.timezone),
            batch_system=None,
            benchmark_type=c.benchmark_type or None,
            benchmark_per_core=c.benchmark_per_core,
            options=c.source_options(source),
        )

    def identities(self) -> Optional[grid_identity.IdentityJoin]:
        if not self.config.identity_logs:
            return None
        ctx = self.context("blah")
        return grid_identity.IdentityJoin(
            grid_identity.parse(collect.read_files(self.config.identity_logs), ctx)
        )

    def jobs_and_gpus(self, jobs: Iterable[Dict[str, Any]], since: Optional[datetime]) -> None:
        """Spool job records (and, if enabled, their GPU allocations) newer than `since`."""
        join = self.identities()
        floor = iso_z(since) if since is not None else None
        gpus: List[Dict[str, Any]] = []
        measured = None
        if self.config.gpu:
            # nvidia-smi accounting or samples, when the [gpu] section configures them.
            ctx = self.context("gpu")
            measured = nvidia.from_options(ctx.options, ctx.stats, ctx.zone)

        def selected() -> Iterator[Dict[str, Any]]:
            for job in jobs:
                if floor is not None and job["end_time"] < floor:
                    continue
                if join is not None:
                    job = join.apply(job)
                if self.config.gpu:
                    allocation = gpu.from_job(job, measured)
                    if allocation is not None:
                        gpus.append(allocation)
                yield job

        self.spool_records("jobs", self._counted("jobs", selected()))
        if gpus:
            self.spool_records("accelerators", self._counted("accelerators", gpus))


def run(config: Config, force: bool = False) -> Report:
    """One cron run: deliver the spool, ask where the server is, collect what is newer, deliver."""
    config.require("site", "resource", "server")
    agent = Agent(config)
    with RunLock(Path(config.spool_dir) / "tally-agent.lock"):
        delivered = agent.flush(force)
        source = config.batch_system
        if source not in BATCH:
            raise ValueError(f"unknown batch_system {source!r}")
        since = agent.since("jobs", reachable=delivered)
        agent.report.since["jobs"] = iso_z(since)
        options = config.source_options(source)
        live = collect.live_command(source, options, since) is not None
        ctx = agent.context(source, zone_utc=live)
        ctx.options = options
        agent.jobs_and_gpus(BATCH[source].parse(collect.lines_since(source, options, since), ctx), since)
        agent.report.add_parse(ctx.stats)
        if config.storage_paths:
            sctx = agent.context("storage")
            agent.spool_records(
                "storage", agent._counted("storage", storage.snapshot(config.storage_paths, sctx))
            )
        if delivered or force:
            agent.flush(force=True)
        agent.report.pending_batches = agent.spool.count()
    return agent.report


def import_files(config: Config, source: str, files: List[str]) -> Report:
    """Send history files through the same spool and batching as `run`."""
    config.require("site", "resource", "server")
    if source not in SOURCES or SOURCES[source].kind == "identities":
        raise ValueError(f"cannot import {source!r}")
    agent = Agent(config)
    with RunLock(Path(config.spool_dir) / "tally-agent.lock"):
        ctx = agent.context(source)
        check_fields(source, ctx.options)
        lines = collect.read_files(files)
        records = SOURCES[source].parse(lines, ctx)
        kind = SOURCES[source].kind
        if kind == "jobs":
            agent.jobs_and_gpus(records, None)
        else:
            agent.spool_records(kind, agent._counted(kind, records))
        agent.report.add_parse(ctx.stats)
        unrecognised = nothing_recognised(source, lines.content_lines, ctx.stats)
        if unrecognised:
            raise UnrecognisedInputError(unrecognised)
        agent.flush(force=True)
        agent.report.pending_batches = agent.spool.count()
    return agent.report
