"""An edit under a control-store lease (tally.domain.leases), on the SQLite control store: the lease
is held for the block and given back after it, even when the block fails; a lease held by someone
else makes the edit wait, then refuse with the caller's error."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tally.adapters.control_sqlite import SqliteControlStore
from tally.domain.leases import leased


class BusyError(Exception):
    pass


def test_the_lease_is_held_for_the_block_and_given_back(tmp_path: Path) -> None:
    store = SqliteControlStore(tmp_path / "control.sqlite3")
    now = datetime.now(UTC)
    with leased(store, "things/a", 30.0, 1.0, BusyError):
        assert not store.acquire_lock("things/a", "someone else", now, 30.0)
        assert store.acquire_lock("things/b", "someone else", now, 30.0)  # one lease a name
    assert store.acquire_lock("things/a", "someone else", now, 30.0)
    store.release_lock("things/a", "someone else")
    with pytest.raises(ZeroDivisionError), leased(store, "things/a", 30.0, 1.0, BusyError):
        _ = 1 / 0
    assert store.acquire_lock("things/a", "someone else", now, 30.0)


def test_a_lease_held_elsewhere_makes_the_edit_wait_then_refuse(tmp_path: Path) -> None:
    store = SqliteControlStore(tmp_path / "control.sqlite3")
    assert store.acquire_lock("things/a", "someone else", datetime.now(UTC), 30.0)
    started = time.monotonic()
    with pytest.raises(BusyError), leased(store, "things/a", 30.0, 0.3, BusyError):
        pytest.fail("the block ran without the lease")
    assert time.monotonic() - started >= 0.3
