"""The control store's record identities: day-prefixed keys against bare random digests, same run.

    .venv/bin/python bench/identity_keys.py [--stored 2000000] [--days 180] [--new 200000] [--batch 5000]

A SQLite control store holding `--stored` identities of `--days` days of history counts `--new`
records of the following days in batches of `--batch` (one `advance_sync_many` each, as the
ingest does). Three stores, each built fresh in the same run:
  random digests   the keys as Tally stored them before (16 random bytes: every batch touches
                   index pages all over the file)
  day-prefixed     the keys as stored now (the record's day, then the digest)
  migrated         an old store opened by the new code: its digests moved aside, a key not yet
                   in the new table is looked up among them
Prints CPU seconds (this process) and wall seconds of the counting only, and the ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tally.adapters.control_sqlite import SqliteControlStore
from tally.domain.identity_keys import day_prefix

FIRST_DAY = 20_000  # days since 1970 of the oldest stored record


def digest(n: int) -> bytes:
    return hashlib.blake2b(f"jobs\x1fBENCH\x1fcluster\x1f{n}".encode(), digest_size=16).digest()


def keys(first: int, count: int, per_day: int, prefixed: bool) -> list[bytes]:
    """Identities of records first..first+count, `per_day` a day, in day order (as sites send)."""
    if not prefixed:
        return [digest(n) for n in range(first, first + count)]
    return [day_prefix(FIRST_DAY + n // per_day) + digest(n) for n in range(first, first + count)]


def fill(path: Path, stored: list[bytes], old_layout: bool) -> None:
    """Write the stored identities directly (in key order, as a long-lived index ends up)."""
    SqliteControlStore(path)
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO sync_records VALUES (?)", ((k,) for k in sorted(stored)))
        if old_layout:
            db.execute("PRAGMA user_version = 0")


def count_new(store: SqliteControlStore, batches: list[list[bytes]]) -> tuple[float, float]:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in batches:
        store.advance_sync_many("BENCH", "jobs", [("cluster", when, batch)])
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stored", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--new", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    a = parser.parse_args()
    per_day = max(1, a.stored // a.days)

    def batches_of(prefixed: bool) -> list[list[bytes]]:
        new = keys(a.stored, a.new, per_day, prefixed)
        return [new[i : i + a.batch] for i in range(0, len(new), a.batch)]

    runs: dict[str, Callable[[Path], tuple[float, float, int]]] = {}

    def run(label: str, prefixed_store: bool, prefixed_batches: bool, old_layout: bool) -> None:
        def go(path: Path) -> tuple[float, float, int]:
            fill(path, keys(0, a.stored, per_day, prefixed_store), old_layout)
            store = SqliteControlStore(path)  # opening migrates an old layout
            cpu, wall = count_new(store, batches_of(prefixed_batches))
            return cpu, wall, store.get_sync("BENCH", "jobs", "cluster").record_count

        runs[label] = go

    run("random digests", prefixed_store=False, prefixed_batches=False, old_layout=False)
    run("day-prefixed", prefixed_store=True, prefixed_batches=True, old_layout=False)
    run("migrated", prefixed_store=False, prefixed_batches=True, old_layout=True)
    print(f"{a.new:,} new records in batches of {a.batch:,}, into a store of {a.stored:,} ({a.days} days)")
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, go in runs.items():
            cpu, wall, counted = go(Path(tmp) / f"{label.replace(' ', '-')}.sqlite3")
            assert counted == a.new, (label, counted)
            results[label] = (cpu, wall)
    base_cpu, base_wall = results["random digests"]
    for label, (cpu, wall) in results.items():
        print(
            f"  {label:<15} CPU {cpu:6.2f} s  wall {wall:6.2f} s   "
            f"CPU ratio to random digests {cpu / base_cpu:4.2f}, wall {wall / base_wall:4.2f}"
        )


if __name__ == "__main__":
    main()
