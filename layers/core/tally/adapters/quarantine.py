"""The quarantine: what was refused record by record, kept with its reasons, one NDJSON line each.

    quarantine/<kind>/dt=<UTC date received>/<batch-id>.ndjson

One entry shape for every writer (the records ingest, billing rows, a billing file refused whole):
the columns of the Glue table `quarantine` (batch_id, site, kind, index, received_at, errors,
record), then, for a file delivery only, where the file came from (origin, source_file,
source_format, rule_id; not columns of the table, the rule ids are also in errors[].field).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from tally.adapters.warehouse import partition_key
from tally.domain.ports import Warehouse

QUARANTINE = "quarantine"


@dataclass(frozen=True)
class FileProvenance:
    """Where a quarantined row of a file delivery came from."""

    origin: str
    source_file: str | None
    source_format: str | None
    rule_id: str | None


@dataclass(frozen=True)
class QuarantineEntry:
    batch_id: str
    site: str | None
    kind: str
    #: Position in the batch (the source row of a billing file); None for a file refused whole.
    index: int | None
    received_at: datetime
    #: (field, message) per reason.
    errors: list[tuple[str | None, str]]
    #: The record exactly as sent (or read), so it can be fixed and sent again; None if unread.
    record: str | None
    file: FileProvenance | None = None

    def as_json(self) -> bytes:
        entry: dict[str, object] = {
            "batch_id": self.batch_id,
            "site": self.site,
            "kind": self.kind,
            "index": self.index,
            "received_at": _iso(self.received_at),
            "errors": [{"field": f, "message": m} for f, m in self.errors],
            "record": self.record,
        }
        if self.file is not None:
            entry |= {
                "origin": self.file.origin,
                "source_file": self.file.source_file,
                "source_format": self.file.source_format,
                "rule_id": self.file.rule_id,
            }
        return orjson.dumps(entry)


def _iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return utc.isoformat().replace("+00:00", "Z")


def quarantine_prefix(kind: str) -> str:
    return f"{QUARANTINE}/{kind}"


def write_quarantine(
    warehouse: Warehouse, kind: str, received: datetime, name: str, entries: Iterable[QuarantineEntry]
) -> str:
    """Store `entries` as `quarantine/<kind>/dt=<received date>/<name>`; return the key."""
    key = partition_key(quarantine_prefix(kind), received.date(), name)
    warehouse.put_bytes(key, b"".join(entry.as_json() + b"\n" for entry in entries))
    return key
