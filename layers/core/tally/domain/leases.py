"""An edit under a control-store lease: wait (backing off) for the lease, run the edit, give it back.
Edits of one thing (a registry kind, a custom kind's definition) from several processes or Lambda
sandboxes so run one at a time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from tally.domain.ports import Leases


@contextmanager
def leased(
    leases: Leases, name: str, lease_seconds: float, wait_seconds: float, busy: Callable[[], Exception]
) -> Iterator[None]:
    """Hold lease `name` for the block; raise `busy()` when another holder keeps it past the wait."""
    holder = uuid.uuid4().hex
    deadline, pause = time.monotonic() + wait_seconds, 0.01
    while not leases.acquire_lock(name, holder, datetime.now(UTC), lease_seconds):
        if time.monotonic() > deadline:
            raise busy()
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    try:
        yield
    finally:
        leases.release_lock(name, holder)
