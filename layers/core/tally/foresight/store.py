"""Allocations in the control store, as JSON documents of the `allocations` collection (SQLite
locally, DynamoDB on AWS: the documents port of tally.domain.ports.ControlStore)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tally.domain.control import parse_utc_text, utc_text
from tally.foresight.model import Allocation, AllocationUnit, ResourceRef
from tally.people.store import Documents

COLLECTION = "allocations"


class AllocationStore:
    def __init__(self, docs: Documents) -> None:
        self.docs = docs

    def put(self, allocation: Allocation, create_only: bool = False) -> bool:
        doc = {
            "project": allocation.project,
            "resources": [{"site": r.site, "resource": r.resource} for r in allocation.resources],
            "unit": allocation.unit.value,
            # Decimal as text: JSON numbers would pass through a float.
            "amount": str(allocation.amount),
            "start": allocation.start.isoformat(),
            "end": allocation.end.isoformat(),
            "created_at": utc_text(allocation.created_at),
            "created_by": allocation.created_by,
            "note": allocation.note,
            "currency": allocation.currency,
        }
        return self.docs.put_doc(COLLECTION, allocation.allocation_id, doc, create_only=create_only)

    def get(self, allocation_id: str) -> Allocation | None:
        doc = self.docs.get_doc(COLLECTION, allocation_id)
        return None if doc is None else self._allocation(allocation_id, doc)

    def list(self) -> list[Allocation]:
        return [self._allocation(d["_id"], d) for d in self.docs.list_docs(COLLECTION)]

    def delete(self, allocation_id: str) -> bool:
        return self.docs.delete_doc(COLLECTION, allocation_id)

    @staticmethod
    def _allocation(allocation_id: str, doc: dict[str, Any]) -> Allocation:
        created = parse_utc_text(doc["created_at"])
        assert created is not None
        return Allocation(
            allocation_id,
            doc["project"],
            tuple(ResourceRef(r["site"], r["resource"]) for r in doc["resources"]),
            AllocationUnit(doc["unit"]),
            Decimal(doc["amount"]),
            date.fromisoformat(doc["start"]),
            date.fromisoformat(doc["end"]),
            created,
            doc["created_by"],
            doc.get("note", ""),
            doc.get("currency"),
        )
