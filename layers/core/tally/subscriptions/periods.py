"""Delivery periods, UTC: a week is Monday 00:00 to the next Monday (exclusive), a month its first
day to the next month's first day.

A run delivers the period that ended last, if it ended after the subscription was made. A run
late by several periods sends only the last of them: a report of one past week is what the person
asked for, and a scheduler back after an outage should not flood their mailbox with old weeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

Cadence = Literal["weekly", "monthly"]
CADENCES: tuple[Cadence, ...] = ("weekly", "monthly")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def period_start(cadence: Cadence, at: datetime) -> datetime:
    """The start of the period `at` falls in."""
    day = at.astimezone(UTC).date()
    if cadence == "weekly":
        return _midnight(day - timedelta(days=day.weekday()))
    return _midnight(day.replace(day=1))


def last_ended(cadence: Cadence, now: datetime) -> tuple[datetime, datetime]:
    """The period that ended last at `now`, as (start inclusive, end exclusive)."""
    end = period_start(cadence, now)
    start = period_start(cadence, end - timedelta(days=1))
    return start, end


def due_period(cadence: Cadence, created_at: datetime, now: datetime) -> tuple[datetime, datetime] | None:
    """The period a run at `now` delivers, or None when the last one ended before the subscription."""
    start, end = last_ended(cadence, now)
    return (start, end) if end > created_at else None


def period_label(cadence: Cadence, start: datetime) -> str:
    """A period's name: 2026-W09 (ISO week) or 2026-03."""
    if cadence == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"
