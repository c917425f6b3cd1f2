"""Expiring documents of the control store, on SQLite and on moto's DynamoDB: a document given
`expires_at` is read and listed until then, and from then on is gone (never read or listed, no
obstacle to a create-only put) and removed by the store."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tally.domain.control import ControlError
from tally.services.container import Services
from tally.settings import Settings

COLLECTION = "sso_used_states"


def test_a_document_lives_until_it_expires(settings: Settings) -> None:
    store = Services(settings).control
    now = datetime.now(UTC)
    assert store.put_doc(COLLECTION, "live", {"n": 1}, create_only=True, expires_at=now + timedelta(hours=1))
    assert store.put_doc(
        COLLECTION, "dead", {"n": 2}, create_only=True, expires_at=now - timedelta(seconds=1)
    )
    assert store.put_doc(COLLECTION, "forever", {"n": 3})
    assert store.get_doc(COLLECTION, "live") == {"n": 1, "_id": "live"}
    assert store.get_doc(COLLECTION, "dead") is None
    assert [d["_id"] for d in store.list_docs(COLLECTION)] == ["forever", "live"]
    # An unexpired document still blocks a create-only put; an expired one does not.
    assert not store.put_doc(COLLECTION, "live", {"n": 9}, create_only=True)
    assert store.put_doc(COLLECTION, "dead", {"n": 4}, create_only=True)
    assert store.get_doc(COLLECTION, "dead") == {"n": 4, "_id": "dead"}  # stored without expiry now
    assert [d["_id"] for d in store.list_docs(COLLECTION)] == ["dead", "forever", "live"]
    # Other collections and the append-only audit log are untouched by expiry.
    assert store.put_doc("audit", "a-1", {"what": "x"}, create_only=True)
    with pytest.raises(ControlError):
        store.put_doc("audit", "a-1", {"what": "y"})
    assert store.get_doc("audit", "a-1") == {"what": "x", "_id": "a-1"}


def test_sqlite_purges_a_collections_expired_documents_on_its_next_put(settings: Settings) -> None:
    if settings.mode != "local":
        pytest.skip("the SQLite file")
    store = Services(settings).control
    now = datetime.now(UTC)
    for n in range(3):
        store.put_doc(COLLECTION, f"old-{n}", {}, expires_at=now - timedelta(seconds=1))
    store.put_doc("alerts", "kept", {}, expires_at=now - timedelta(seconds=1))
    store.put_doc(COLLECTION, "new", {}, expires_at=now + timedelta(minutes=10))

    def stored(collection: str) -> list[str]:
        with sqlite3.connect(settings.local_control_db) as db:
            rows = db.execute(
                "SELECT doc_id FROM people_docs WHERE collection = ? ORDER BY doc_id", (collection,)
            )
            return [r[0] for r in rows]

    # Each put into the collection removed the expired rows already there: only the live one is
    # left. Another collection's expired row waits for that collection's next put (unread till then).
    assert stored(COLLECTION) == ["new"]
    assert stored("alerts") == ["kept"] and store.get_doc("alerts", "kept") is None


def test_dynamodb_items_carry_the_tables_ttl_attribute(settings: Settings) -> None:
    if settings.mode != "aws":
        pytest.skip("the DynamoDB table")
    from tally.adapters.control_dynamodb import TTL_ATTRIBUTE

    store = Services(settings).control
    expires = datetime.now(UTC) + timedelta(minutes=10, microseconds=1)
    store.put_doc(COLLECTION, "m-1", {"n": 1}, create_only=True, expires_at=expires)
    store.put_doc(COLLECTION, "m-2", {"n": 2})
    db = boto3.client("dynamodb", endpoint_url=settings.dynamodb_endpoint_url, region_name="eu-west-1")

    def item(doc_id: str) -> dict[str, Any]:
        key = {"pk": {"S": f"PEOPLE#{COLLECTION}"}, "sk": {"S": doc_id}}
        return dict(db.get_item(TableName=str(settings.control_table), Key=key)["Item"])

    # Epoch seconds, rounded up: DynamoDB never deletes the item before it expires.
    assert item("m-1")[TTL_ATTRIBUTE] == {"N": str(math.ceil(expires.timestamp()))}
    assert TTL_ATTRIBUTE not in item("m-2")
