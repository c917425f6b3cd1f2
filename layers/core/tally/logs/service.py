"""Import one raw log: parse it with the agent's parser, ingest its records as an agent's post.

The records go through `IngestService` exactly as a site agent's batches do (fencing by the key's
site and resources, validation and quarantine, content-derived batch ids), in batches of at most
the record limit. Lines the parser could not read are quarantined once per file content (the key is
derived from the source, site and bytes), so posting the same file again writes nothing new.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from tally.domain.ports import Warehouse
from tally.domain.record_lines import RecordLines
from tally.domain.records import KINDS, RecordKind
from tally.logs.parse import LineProblem, parse_log
from tally.services.ingest import IngestResult, IngestService, Principal

#: Line problems listed in an answer; the quarantine file keeps every one.
MAX_PROBLEMS_IN_RESPONSE = 1000
#: Records per ingest batch (see LogImportService.batch_size).
BATCH_RECORDS = 20_000


@dataclass
class LogImportResult:
    source: str
    kind: str
    site: str
    resource: str
    log_id: str
    lines: int
    records: int
    skipped: int
    unparsable: int
    problems: list[LineProblem]
    problems_truncated: bool
    quarantine_key: str | None
    batches: list[IngestResult] = field(default_factory=list)
    quarantine_existed: bool = False

    @property
    def accepted(self) -> int:
        return sum(b.accepted for b in self.batches)

    @property
    def duplicates(self) -> int:
        return sum(b.duplicates for b in self.batches)

    @property
    def rejected(self) -> int:
        return sum(b.rejected for b in self.batches)

    @property
    def replayed(self) -> bool:
        """Nothing new written: every batch was stored before, and so were the quarantined lines."""
        return all(b.replayed for b in self.batches) and (
            self.quarantine_key is None or self.quarantine_existed
        )


def log_id_for(source: str, site: str, resource: str, data: bytes) -> str:
    digest = hashlib.sha256()
    for part in (source.encode(), b"\0", site.encode(), b"\0", resource.encode(), b"\0", data):
        digest.update(part)
    return digest.hexdigest()[:32]


class LogImportService:
    def __init__(self, ingest: IngestService, warehouse: Warehouse, max_records: int) -> None:
        self.ingest = ingest
        self.warehouse = warehouse
        # Records per ingest batch: fixed, so the same file always makes the same batches (and ids);
        # small enough that one batch's Python records stay a few tens of MB.
        self.batch_size = min(max_records, BATCH_RECORDS)

    def import_log(
        self,
        source: str,
        data: bytes,
        who: Principal,
        resource: str,
        fields: str | None = None,
        timezone: str | None = None,
        now: datetime | None = None,
    ) -> LogImportResult:
        """Parse and ingest `data` (UTF-8 text; undecodable bytes are replaced, as the agent reads)."""
        now = now or datetime.now(UTC)
        text = data.decode("utf-8", errors="replace")
        parse = parse_log(source, text, who.site, resource, fields, timezone)
        kind = _kind(parse.kind)
        # Parsed to the end before anything is written: a file the parser does not recognise
        # (LogFormatError at the end of the stream) stores nothing.
        chunks = [_lines(chunk) for chunk in _chunks(parse.records(), self.batch_size)]
        batches = [self.ingest.ingest(kind, lines, who, now) for lines in chunks]
        log_id = log_id_for(source, who.site, resource, data)
        problems = parse.problems()
        key, existed = self._quarantine(source, problems, log_id, who, resource, now)
        return LogImportResult(
            source=source,
            kind=kind,
            site=who.site,
            resource=resource,
            log_id=log_id,
            lines=parse.lines,
            records=parse.records_out,
            skipped=parse.skipped,
            unparsable=parse.errors,
            problems=problems[:MAX_PROBLEMS_IN_RESPONSE],
            problems_truncated=len(problems) > MAX_PROBLEMS_IN_RESPONSE,
            quarantine_key=key,
            batches=batches,
            quarantine_existed=existed,
        )

    def _quarantine(
        self,
        source: str,
        problems: list[LineProblem],
        log_id: str,
        who: Principal,
        resource: str,
        now: datetime,
    ) -> tuple[str | None, bool]:
        """Every unreadable line with its reason, once per file content: (key, stored before)."""
        if not problems:
            return None, False
        key = f"quarantine/logs/{source}/{log_id}.ndjson"
        if self.warehouse.exists(key):
            return key, True
        received = now.isoformat().replace("+00:00", "Z")
        out = b"".join(
            orjson.dumps(
                {
                    "log_id": log_id,
                    "site": who.site,
                    "resource": resource,
                    "source": source,
                    "line": p.line,
                    "received_at": received,
                    "errors": [{"field": None, "message": p.message}],
                    "record": p.text,
                }
            )
            + b"\n"
            for p in problems
        )
        self.warehouse.put_bytes(key, out)
        return key, False


def _kind(name: str) -> RecordKind:
    for kind in KINDS:
        if kind == name:
            return kind
    raise ValueError(f"the agent's parser makes {name!r} records, which Tally does not store")


def _chunks(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(itertools.islice(records, size)):
        yield chunk


def _lines(records: list[dict[str, Any]]) -> RecordLines:
    return RecordLines(b"\n".join(orjson.dumps(r) for r in records), len(records))
