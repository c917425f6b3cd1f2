"""Overlapping ingest batches for the compaction tests, and what compaction must keep of them.

The expected rows are computed in plain Python: every row written, grouped by identity, keeping the
largest (ingested_at, batch_id).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tally.adapters.warehouse import FsWarehouse
from tally.api.body import split_lines
from tally.domain.records import MODELS, RecordKind
from tally.services.container import Services
from tally.services.ingest import Principal
from tests.support.records import FACTORIES, ndjson

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def ingest(svc: Services, kind: RecordKind, records: list[dict[str, object]], at: datetime) -> None:
    lines = split_lines("application/x-ndjson", ndjson(records))
    svc.ingest.ingest(kind, lines, Principal("SITE-A", "k1"), now=at)


def identity(kind: str, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[f] for f in MODELS[kind].identity)  # type: ignore[index]


def expected_latest(kind: str, all_rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in all_rows:
        key = identity(kind, row)
        if key not in best or (row["ingested_at"], row["batch_id"]) > (
            best[key]["ingested_at"],
            best[key]["batch_id"],
        ):
            best[key] = row
    return best


def parquet_keys(wh: FsWarehouse, table: str) -> list[str]:
    return [k for k in wh.list_keys(table) if k.endswith(".parquet")]


def fill(svc: Services, kind: RecordKind, batches: int = 6, per_batch: int = 40) -> None:
    """Overlapping batches: each resends part of the previous one with changed values."""
    factory = FACTORIES[kind]
    for b in range(batches):
        start = b * per_batch // 2  # half of each batch repeats identities of the previous batch
        records = [factory(n, **_variant(kind, b)) for n in range(start, start + per_batch)]
        ingest(svc, kind, records, T0 + timedelta(minutes=b))


def _variant(kind: str, b: int) -> dict[str, object]:
    """A field outside the identity that differs per batch, so a wrong pick is visible."""
    variants: dict[str, dict[str, object]] = {
        "jobs": {"queue": f"q{b}"},
        "vms": {"state": f"s{b}"},
        "storage": {"file_count": 1000 + b},
        "accelerators": {"vendor": f"v{b}"},
    }
    return variants[kind]
