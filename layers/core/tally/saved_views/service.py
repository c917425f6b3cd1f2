"""Saved views per person, kept in the control store as documents (SQLite locally, DynamoDB on AWS).

Each person's views are one collection, `views:<person id>`, so listing them reads only theirs (a
DynamoDB query on one partition key) and nobody's view can be named by another person.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tally.domain.control import parse_utc_text, utc_text
from tally.domain.errors import Conflict, NotFound
from tally.domain.ports import Documents
from tally.saved_views.model import MAX_VIEWS, SavedView, check_name, check_state, check_title


def _collection(person_id: str) -> str:
    return f"views:{person_id}"


def _time(text: object) -> datetime:
    parsed = parse_utc_text(str(text))
    assert parsed is not None
    return parsed


def _view(doc: dict[str, Any]) -> SavedView:
    return SavedView(
        doc["_id"], doc["title"], doc["state"], _time(doc["created_at"]), _time(doc["updated_at"])
    )


class SavedViewService:
    def __init__(self, docs: Documents) -> None:
        self.docs = docs

    def list(self, person_id: str) -> list[SavedView]:
        return [_view(d) for d in self.docs.list_docs(_collection(person_id))]

    def put(self, person_id: str, name: str, title: object, state: object) -> tuple[SavedView, bool]:
        """Store the view under `name` (replacing one of that name); True if it is new."""
        name, title, checked = check_name(name), check_title(title), check_state(state)
        collection = _collection(person_id)
        now = datetime.now(UTC)
        before = self.docs.get_doc(collection, name)
        if before is None and len(self.docs.list_docs(collection)) >= MAX_VIEWS:
            raise Conflict(f"a person keeps at most {MAX_VIEWS} views: delete one first")
        created = now if before is None else _time(before["created_at"])
        doc = {"title": title, "state": checked, "created_at": utc_text(created), "updated_at": utc_text(now)}
        self.docs.put_doc(collection, name, doc)
        return SavedView(name, title, checked, created, now), before is None

    def delete(self, person_id: str, name: str) -> None:
        if not self.docs.delete_doc(_collection(person_id), check_name(name)):
            raise NotFound(f"no saved view named {name!r}")
