"""Named mutual exclusion across processes through the control store's leases (as the registry's)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from tally.domain.ports import Leases
from tally.registry.store import LEASE_SECONDS, WAIT_SECONDS


class MoneyBusyError(RuntimeError):
    """Another edit held the lease for longer than an edit waits."""


@contextmanager
def holding(leases: Leases, name: str) -> Iterator[None]:
    holder = uuid.uuid4().hex
    deadline, pause = time.monotonic() + WAIT_SECONDS, 0.01
    while not leases.acquire_lock(name, holder, datetime.now(UTC), LEASE_SECONDS):
        if time.monotonic() > deadline:
            raise MoneyBusyError(f"another change of {name} is under way: retry")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    try:
        yield
    finally:
        leases.release_lock(name, holder)
