"""Allocations kept in both control stores (SQLite locally, DynamoDB on moto's server): written,
read back exactly (the amount a decimal, never a float), replaced, listed and removed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tally.foresight.model import Allocation, AllocationUnit, ResourceRef
from tally.foresight.store import AllocationStore
from tally.services.container import Services
from tally.settings import Settings


def test_allocations_round_trip_in_the_control_store(settings: Settings) -> None:
    store = AllocationStore(Services(settings).control)
    first = Allocation(
        "al-0123456789ab",
        "lattice-qcd",
        (ResourceRef("SITE-A", "hex"), ResourceRef("SITE-B")),
        AllocationUnit.HEPSCORE23_CORE_HOURS,
        Decimal("250000.000000000000000001"),
        date(2026, 1, 1),
        date(2027, 1, 1),
        datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "person:p-1",
        "call 2026",
    )
    second = Allocation(
        "al-ba9876543210",
        "p2",
        (),
        AllocationUnit.GPU_HOURS,
        Decimal(40),
        date(2026, 3, 1),
        date(2026, 4, 1),
        datetime(2026, 2, 1, tzinfo=UTC),
        "cli:root",
    )
    assert store.put(first, create_only=True) and store.put(second, create_only=True)
    assert not store.put(first, create_only=True)  # an id is never taken twice
    assert store.get(first.allocation_id) == first
    assert store.list() == [first, second]
    changed = Allocation(**{**first.__dict__, "amount": Decimal("1.5"), "resources": ()})
    store.put(changed)
    assert store.get(first.allocation_id) == changed
    assert store.delete(second.allocation_id) and not store.delete(second.allocation_id)
    assert store.list() == [changed] and store.get("al-000000000000") is None
