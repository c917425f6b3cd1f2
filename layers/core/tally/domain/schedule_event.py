"""The time a scheduled Lambda run is for: `scheduled_time` from an EventBridge Scheduler input
template (<aws.scheduler.scheduled-time>), else an EventBridge scheduled event's `time`, else now.
A retried run gets the same scheduled time, so it does the same work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def event_time(event: Any) -> datetime:
    if isinstance(event, dict):
        for name in ("scheduled_time", "time"):
            value = event.get(name)
            if isinstance(value, str) and value:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)
