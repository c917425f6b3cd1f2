"""Loads demo sites, keys and usage into a Tally home through the real ingest path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import groupby, islice
from pathlib import Path

import orjson

from tally.demo.bills import generate_bills
from tally.demo.generator import (
    CLOUD_SITE,
    SITES,
    accelerators_for,
    demo_window,
    generate_jobs,
    generate_storage,
    generate_vms,
    vm_month,
)
from tally.demo.people import create_demo_people
from tally.demo.registry import seed_demo_registry
from tally.domain.record_lines import RecordLines
from tally.domain.records import MODELS, RecordKind
from tally.services.container import Services
from tally.services.reconcile import RunSummary

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


def demo_records(now: datetime, jobs: int, months: int) -> dict[RecordKind, list[dict[str, object]]]:
    """Every demo record by kind, each list in the order an agent would post it (by event time)."""
    job_records = list(generate_jobs(now, months=months, jobs=jobs))
    by_kind: dict[RecordKind, list[dict[str, object]]] = {
        "jobs": job_records,
        "accelerators": list(accelerators_for(job_records)),
        "storage": list(generate_storage(now, months=months)),
        "vms": list(generate_vms(now)),
    }
    for kind, records in by_kind.items():
        event = MODELS[kind].event_time
        records.sort(key=lambda r: (str(r["site"]), str(r[event])))
    return by_kind


def load_demo(
    svc: Services,
    jobs: int = 60_000,
    months: int = 6,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Create the demo sites with one key each and one person per role (tally.demo.people), post
    the demo records, import the bills and judge them, then compact the partitions; return
    site -> key.

    `progress(done, total)` is called after every batch and every compacted partition (the
    total grows by the partitions to compact once the records are in).
    """
    now = now or datetime.now(UTC)
    keys: dict[str, str] = {}
    for site in (*SITES, CLOUD_SITE):
        if svc.control.get_site(site) is None:
            svc.add_site(site)
        keys[site] = svc.create_key(site).plain
    path = demo_keys_path(svc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    path.chmod(0o600)

    create_demo_people(svc)

    start, end = demo_window(now, months)
    seed_demo_registry(svc.registry, start, end)
    by_kind = demo_records(now, jobs, months)
    total = sum(len(r) for r in by_kind.values())
    done = 0
    for kind, records in by_kind.items():
        for site, group in groupby(records, key=lambda r: str(r["site"])):
            who = svc.authenticate(f"Bearer {keys[site]}")
            for batch in _batches(group, BATCH):
                lines = RecordLines(b"\n".join(orjson.dumps(r) for r in batch), len(batch))
                result = svc.ingest.ingest(kind, lines, who)
                if result.rejected:
                    raise RuntimeError(f"demo {kind} records were rejected: {result.errors[:3]}")
                done += len(batch)
                if progress:
                    progress(done, total)
    load_bills_and_reconcile(svc, now)
    compact_demo(
        svc, now, lambda merged, groups: progress(total + merged, total + groups) if progress else None
    )
    return keys


def compact_demo(svc: Services, now: datetime, progress: Callable[[int, int], None] | None = None) -> int:
    """Merge the small files the batches wrote (a few per day and table) into one per partition,
    as the daily compaction does in production: reports then open a third of the files.
    Returns the number of partitions compacted."""
    compactor = svc.compaction
    today = now.date()
    work = [
        (table, day, group)
        for table in sorted(compactor.tables)
        for day, files in sorted(compactor.partitions(table).items())
        if (today - day).days >= compactor.policy.min_age_days
        for group in compactor.plan(files)
    ]
    for done, (table, day, group) in enumerate(work, start=1):
        compactor.compact(table, day, group)
        if progress:
            progress(done, len(work))
    return len(work)


def load_bills_and_reconcile(svc: Services, now: datetime) -> RunSummary:
    """Import the demo bills through the billing store, then run the invoice verifier on them."""
    bills = svc.billing  # the demo's accounts are the operator's, as from the S3 landing bucket
    for bill in generate_bills(now):
        bills.import_files([(bill.content, bill.filename)], origin="demo", now=now)
    period = vm_month(now)[0].strftime("%Y-%m")
    return svc.reconcile.run(period, now)
