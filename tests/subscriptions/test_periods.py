"""Due-date logic: the period a run delivers, at week and month boundaries (UTC), and when a
subscription made mid-period is first due. Expected periods are written out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tally.subscriptions.periods import due_period, last_ended, period_label


def t(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (t(2026, 3, 2, 0, 0), t(2026, 2, 23), t(2026, 3, 2)),  # Monday midnight: the week just ended
        (t(2026, 3, 1, 23, 59, 59), t(2026, 2, 16), t(2026, 2, 23)),  # Sunday's last second: not yet
        (t(2026, 3, 4, 12), t(2026, 2, 23), t(2026, 3, 2)),  # mid-week: still the last whole week
        (t(2027, 1, 1, 8), t(2026, 12, 21), t(2026, 12, 28)),  # across the new year
        (t(2027, 1, 4, 0, 1), t(2026, 12, 28), t(2027, 1, 4)),
    ],
)
def test_last_ended_week(now: datetime, start: datetime, end: datetime) -> None:
    assert last_ended("weekly", now) == (start, end)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (t(2026, 3, 1, 0, 0), t(2026, 2, 1), t(2026, 3, 1)),  # 28-day February
        (t(2026, 2, 28, 23, 59), t(2026, 1, 1), t(2026, 2, 1)),  # 31-day January
        (t(2028, 3, 15), t(2028, 2, 1), t(2028, 3, 1)),  # leap February
        (t(2027, 1, 1, 0, 0), t(2026, 12, 1), t(2027, 1, 1)),  # December, across the year
        (t(2026, 5, 1, 3), t(2026, 4, 1), t(2026, 5, 1)),  # 30-day April
    ],
)
def test_last_ended_month(now: datetime, start: datetime, end: datetime) -> None:
    assert last_ended("monthly", now) == (start, end)


def test_an_offset_time_is_read_in_utc() -> None:
    from datetime import timedelta, timezone

    # 01:30 on Monday at UTC+2 is 23:30 on Sunday UTC: the week has not ended yet.
    local = datetime(2026, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert last_ended("weekly", local) == (t(2026, 2, 16), t(2026, 2, 23))


def test_labels() -> None:
    assert period_label("weekly", t(2026, 2, 23)) == "2026-W09"
    assert period_label("weekly", t(2026, 12, 28)) == "2026-W53"  # 2026 has 53 ISO weeks
    assert period_label("weekly", t(2027, 1, 4)) == "2027-W01"
    assert period_label("monthly", t(2026, 2, 1)) == "2026-02"


def test_first_due_period_is_the_first_to_end_after_subscribing() -> None:
    made = t(2026, 2, 18, 9)  # a Wednesday
    assert due_period("weekly", made, t(2026, 2, 20)) is None  # the last week ended before it
    assert due_period("weekly", made, t(2026, 2, 23, 0, 5)) == (t(2026, 2, 16), t(2026, 2, 23))
    assert due_period("monthly", made, t(2026, 2, 28, 23)) is None
    assert due_period("monthly", made, t(2026, 3, 1, 0, 5)) == (t(2026, 2, 1), t(2026, 3, 1))
    # Made exactly as a week starts: that week is its first.
    assert due_period("weekly", t(2026, 2, 23), t(2026, 2, 24)) is None
    assert due_period("weekly", t(2026, 2, 23), t(2026, 3, 2)) == (t(2026, 2, 23), t(2026, 3, 2))
