"""Named mutual exclusion across processes through the control store's leases (as the registry's),
on the one lease loop of tally.domain.leases."""

from __future__ import annotations

from contextlib import AbstractContextManager

from tally.domain.leases import leased
from tally.domain.ports import Leases
from tally.registry.store import LEASE_SECONDS, WAIT_SECONDS


class MoneyBusyError(RuntimeError):
    """Another edit held the lease for longer than an edit waits."""


def holding(leases: Leases, name: str) -> AbstractContextManager[None]:
    """Hold lease `name` for the block, or raise MoneyBusyError when another edit keeps it."""
    return leased(
        leases,
        name,
        LEASE_SECONDS,
        WAIT_SECONDS,
        lambda: MoneyBusyError(f"another change of {name} is under way: retry"),
    )
