"""The append-only audit log's writer, apart from the people service: the components that audit
their changes (allocations, site keys) reach the log without the service's password machinery, so
a scheduled function that loads them does not need argon2."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tally.people.model import AuditEvent
from tally.people.store import PeopleStore


class AuditLog:
    """Appends one event per change; the store refuses to update or delete one."""

    def __init__(self, store: PeopleStore) -> None:
        self.store = store

    def __call__(self, actor: str, action: str, target: str, **detail: object) -> None:
        event = AuditEvent(uuid.uuid4().hex[:16], datetime.now(UTC), actor, action, target, dict(detail))
        self.store.append_audit(event)
