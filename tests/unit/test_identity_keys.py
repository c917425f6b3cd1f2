"""Record identities are day-prefixed keys; a store of bare digests migrates and counts exactly.

Every digest here is computed by hand from the record's fields (the text the ingest hashes), not
by the code under test.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tally.adapters.control_dynamodb import DynamoControlStore
from tally.adapters.control_sqlite import IDENTITY_KEYS_VERSION, LEGACY_IDENTITIES, SqliteControlStore
from tally.adapters.warehouse import open_warehouse
from tally.api.body import split_lines
from tally.domain.records import MODELS
from tally.services.ingest import IngestService, Principal
from tests.support.deployments import aws_settings, local_settings
from tests.support.records import job, ndjson

WHO = Principal("SITE-A", "k")


def digest(n: int) -> bytes:
    """The digest of `job(n)` as the ingest has always hashed it: kind, site, resource, then the
    identity fields (site, resource, local job id, end time in integer microseconds)."""
    record = job(n)
    end = datetime.fromisoformat(str(record["end_time"]).replace("Z", "+00:00"))
    micros = int(end.timestamp()) * 1_000_000
    text = "\x1f".join(
        ["jobs", "SITE-A", "cluster1", "SITE-A", "cluster1", str(record["local_job_id"]), str(micros)]
    )
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def day_key(n: int) -> bytes:
    end = datetime.fromisoformat(str(job(n)["end_time"]).replace("Z", "+00:00"))
    days = (end.date() - date(1970, 1, 1)).days
    return (days + (1 << 31)).to_bytes(4, "big") + digest(n)


def ingest(home: Path, numbers: range) -> int:
    """Post `job(n)` for each n as one batch; the stored distinct count of cluster1 after it."""
    settings = local_settings(home)
    control = SqliteControlStore(settings.local_control_db)
    service = IngestService(open_warehouse(settings), control, 100_000, 300)
    service.ingest("jobs", split_lines("application/x-ndjson", ndjson([job(n) for n in numbers])), WHO)
    return control.get_sync("SITE-A", "jobs", "cluster1").record_count


def stored(path: Path, table: str = "sync_records") -> set[bytes]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute(f"SELECT identity FROM {table}")}


def make_old_store(home: Path, numbers: range) -> Path:
    """A store as Tally left it before day-prefixed keys: bare digests, user_version 0."""
    assert ingest(home, numbers) == len(numbers)
    path = local_settings(home).local_control_db
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM sync_records")
        db.executemany("INSERT INTO sync_records VALUES (?)", ((digest(n),) for n in numbers))
        db.execute("PRAGMA user_version = 0")
    return path


def test_every_kind_partitions_by_a_field_of_its_identity() -> None:
    # What makes the day prefix safe: one record (one identity) always has one partition day.
    assert all(model.partition_time in model.identity for model in MODELS.values())


def test_a_new_store_keeps_keys_prefixed_by_the_records_day(tmp_path: Path) -> None:
    numbers = range(1430, 1450)  # job(n) ends n minutes after 2026-03-01: these straddle midnight
    assert ingest(tmp_path, numbers) == 20
    path = local_settings(tmp_path).local_control_db
    assert stored(path) == {day_key(n) for n in numbers}
    assert {key[:4] for key in stored(path)} == {
        (20513 + (1 << 31)).to_bytes(4, "big"),  # 2026-03-01 is day 20,513 since 1970
        (20514 + (1 << 31)).to_bytes(4, "big"),
    }
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == IDENTITY_KEYS_VERSION
        assert (
            db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (LEGACY_IDENTITIES,)).fetchone() is None
        )


def test_a_migrated_store_counts_records_posted_before_it_exactly_once(tmp_path: Path) -> None:
    path = make_old_store(tmp_path, range(0, 50))
    SqliteControlStore(path)  # opening migrates
    assert stored(path, LEGACY_IDENTITIES) == {digest(n) for n in range(50)}
    assert stored(path) == set()
    # The same 50 records again (a new batch: ten new ones with them): only the ten count.
    assert ingest(tmp_path, range(0, 60)) == 60
    # And again, after the re-seen keys moved to their new form: nothing counts.
    assert ingest(tmp_path, range(5, 55)) == 60
    assert stored(path) == {day_key(n) for n in range(60)}
    assert stored(path, LEGACY_IDENTITIES) == {digest(n) for n in range(50)}  # never written again


def test_migration_runs_once(tmp_path: Path) -> None:
    path = make_old_store(tmp_path, range(0, 30))
    SqliteControlStore(path)
    assert ingest(tmp_path, range(20, 40)) == 40
    SqliteControlStore(path)  # a second open: the new keys are not moved aside again
    SqliteControlStore(path)
    assert stored(path, LEGACY_IDENTITIES) == {digest(n) for n in range(30)}
    assert stored(path) == {day_key(n) for n in range(20, 40)}
    assert ingest(tmp_path, range(0, 40)) == 40


def test_a_migrated_batch_counts_distinct_keys_of_both_forms(tmp_path: Path) -> None:
    path = make_old_store(tmp_path, range(0, 3))
    store = SqliteControlStore(path)
    when = datetime(2026, 3, 2, tzinfo=UTC)
    # 0 and 1 were counted as bare digests; 7 is new and sent twice; 8 is new, in another resource.
    store.advance_sync_many(
        "SITE-A",
        "jobs",
        [
            ("cluster1", when, [day_key(0), day_key(1), day_key(7), day_key(7)]),
            ("cluster2", when, [day_key(8)]),
        ],
    )
    assert store.get_sync("SITE-A", "jobs", "cluster1").record_count == 3 + 1
    assert store.get_sync("SITE-A", "jobs", "cluster2").record_count == 1


@pytest.mark.aws
def test_dynamodb_keeps_bare_digests_so_its_old_items_still_deduplicate(moto_endpoint: str) -> None:
    table = aws_settings(moto_endpoint).control_table
    assert table is not None
    store = DynamoControlStore(table, "eu-west-1", moto_endpoint)
    when = datetime(2026, 3, 2, tzinfo=UTC)
    # Items written before the day prefix existed: the bare digest, hex, as the sort key.
    store.advance_sync("SITE-A", "jobs", "cluster1", when, [digest(n) for n in range(10)])
    store.advance_sync("SITE-A", "jobs", "cluster1", when, [day_key(n) for n in range(15)])
    assert store.get_sync("SITE-A", "jobs", "cluster1").record_count == 15
    items = store._query("SEEN#SITE-A#jobs#cluster1")
    assert sorted(item["sk"]["S"] for item in items) == sorted(digest(n).hex() for n in range(15))
