"""A control store file written before key scopes opens in place and its keys keep working."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from tally.adapters.control_sqlite import SqliteControlStore
from tally.domain.control import DEFAULT_SCOPES, secret_matches

# The api_keys table as the first release created it (no scopes column).
OLD_SCHEMA = """
CREATE TABLE sites (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY, site TEXT NOT NULL REFERENCES sites(name), secret_hash TEXT NOT NULL,
    resources TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
"""


def test_an_old_file_gains_the_scopes_column_and_reads_old_keys_unscoped(tmp_path: Path) -> None:
    path = tmp_path / "control.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO sites VALUES ('A', '2025-01-01T00:00:00.000000Z')")
        for key_id, resources in (("00000000000000aa", "[]"), ("00000000000000bb", '["billing"]')):
            db.execute(
                "INSERT INTO api_keys VALUES (?, 'A', ?, ?, '2025-01-01T00:00:00.000000Z', NULL)",
                (key_id, hashlib.sha256(b"s3cret").hexdigest(), resources),
            )
    store = SqliteControlStore(path)
    agent, billing = store.get_key("00000000000000aa"), store.get_key("00000000000000bb")
    assert agent is not None and billing is not None
    assert (agent.scopes, agent.effective_scopes) == ((), DEFAULT_SCOPES)
    assert (billing.scopes, billing.effective_scopes) == ((), ("billing:write",))
    assert secret_matches(agent, "s3cret") and not secret_matches(agent, "s3cre7")
    SqliteControlStore(path)  # opening again (the column exists now) changes nothing
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(api_keys)")]
    assert columns.count("scopes") == 1
