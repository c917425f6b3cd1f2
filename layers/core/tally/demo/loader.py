"""Loads demo sites, keys and usage into a Tally home through the real ingest path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import orjson

from tally.demo.generator import SITES, generate_jobs
from tally.domain.records import RecordKind
from tally.services.body import RecordLines
from tally.services.container import Services
from tally.services.ingest import Principal

BATCH = 5_000
KEYS_FILE = "demo-keys.json"


def _batches(records: Iterable[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def demo_keys_path(svc: Services) -> Path:
    return svc.settings.resolved_home / KEYS_FILE


def needs_demo(svc: Services) -> bool:
    return not svc.control.list_sites()


def load_demo(
    svc: Services,
    jobs: int = 60_000,
    months: int = 6,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, str]:
    """Create the demo sites with one key each, then post the demo records; return site -> key."""
    now = now or datetime.now(UTC)
    keys: dict[str, str] = {}
    for site in SITES:
        if svc.control.get_site(site) is None:
            svc.add_site(site)
        new = svc.create_key(site)
        keys[site] = new.plain
    path = demo_keys_path(svc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    path.chmod(0o600)

    by_site: dict[str, list[dict[str, object]]] = {s: [] for s in SITES}
    for record in generate_jobs(now, months=months, jobs=jobs):
        by_site[str(record["site"])].append(record)
    for records in by_site.values():
        # Agents post in the order jobs end; so does the demo (fewer, fuller partitions).
        records.sort(key=lambda r: str(r["end_time"]))
    _post_all(svc, "jobs", by_site, keys, progress)
    return keys


def _post_all(
    svc: Services,
    kind: RecordKind,
    by_site: dict[str, list[dict[str, object]]],
    keys: dict[str, str],
    progress: Callable[[int], None] | None,
) -> None:
    for site, records in by_site.items():
        who = svc.authenticate(f"Bearer {keys[site]}")
        assert isinstance(who, Principal)
        for batch in _batches(records, BATCH):
            lines = RecordLines(b"\n".join(orjson.dumps(r) for r in batch), len(batch))
            result = svc.ingest.ingest(kind, lines, who)
            if result.rejected:
                raise RuntimeError(f"demo {kind} records were rejected: {result.errors[:3]}")
            if progress:
                progress(len(batch))
