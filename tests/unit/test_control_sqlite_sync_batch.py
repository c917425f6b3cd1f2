"""A batch's sync state is written in one SQLite transaction, with exact distinct counts."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tally.adapters.control_sqlite import SqliteControlStore


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def test_one_batch_of_several_resources_commits_once_and_counts_distinct_records(tmp_path: Path) -> None:
    store = SqliteControlStore(tmp_path / "control.sqlite3")
    early, late = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
    store.advance_sync("S", "jobs", "cpu", late, [digest("cpu-1"), digest("cpu-2")])
    statements: list[str] = []
    store._sync_conn().set_trace_callback(statements.append)
    store.advance_sync_many(
        "S",
        "jobs",
        [
            # cpu-2 was counted before; cpu-3 twice in the batch counts once.
            ("cpu", early, [digest("cpu-2"), digest("cpu-3"), digest("cpu-3")]),
            ("gpu", early, [digest("gpu-1")]),
            ("bigmem", late, [digest("bigmem-1"), digest("bigmem-2"), digest("bigmem-3")]),
        ],
    )
    store._sync_conn().set_trace_callback(None)
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE", "COMMIT"]
    assert store.get_sync("S", "jobs", "cpu").record_count == 3
    assert store.get_sync("S", "jobs", "cpu").latest_event_time == late  # never moves back
    assert store.get_sync("S", "jobs", "gpu").record_count == 1
    assert store.get_sync("S", "jobs", "gpu").latest_event_time == early
    assert store.get_sync("S", "jobs", "bigmem").record_count == 3


def test_a_failing_resource_leaves_the_whole_batch_uncounted(tmp_path: Path) -> None:
    store = SqliteControlStore(tmp_path / "control.sqlite3")
    when = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(sqlite3.Error):
        # A text identity where a digest goes: the second resource's insert fails after the first's.
        store.advance_sync_many(
            "S",
            "jobs",
            [("cpu", when, [digest("a")]), ("gpu", when, [digest("b"), object()])],  # type: ignore[list-item]
        )
    assert store.get_sync("S", "jobs", "cpu").record_count == 0
    assert store.get_sync("S", "jobs", "gpu").record_count == 0
