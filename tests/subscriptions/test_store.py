"""Subscriptions and their per-period deliveries kept in the control store, SQLite and DynamoDB
(moto): what is written reads back the same, a person's deliveries go with the subscription."""

from __future__ import annotations

from datetime import UTC, datetime

from tally.services.container import Services
from tally.settings import Settings
from tally.subscriptions.model import Delivery, Subscription
from tally.subscriptions.store import SubscriptionStore


def test_subscriptions_and_deliveries_round_trip(settings: Settings) -> None:
    store = SubscriptionStore(Services(settings).control)
    made = datetime(2026, 2, 18, 9, 30, 15, 123000, tzinfo=UTC)
    first = Subscription("s-000000000001", "p-1", "by-site", "weekly", "csv", "email", None, made)
    second = Subscription(
        "s-000000000002",
        "p-2",
        "mine",
        "monthly",
        "pdf",
        "webhook",
        "https://hooks.example.org/x",
        made.replace(day=19),
    )
    store.put(first)
    store.put(second)
    assert store.all() == [first, second]
    assert store.get("s-000000000002") == second and store.get("s-00000000000f") is None
    week = Delivery(
        first.subscription_id,
        "2026-W09",
        datetime(2026, 2, 23, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
        "failed",
        1,
        "webhook HTTP 503 after 3 tries",
        2,
        datetime(2026, 3, 2, 0, 15, tzinfo=UTC),
    )
    store.put_delivery(week)
    assert store.get_delivery(first.subscription_id, "2026-W09") == week
    sent = Delivery(**{**week.__dict__, "state": "sent", "attempts": 2, "detail": "by-site-2026-W09.csv"})
    store.put_delivery(sent)  # the same period again: replaced, not added
    later = Delivery(
        **{**week.__dict__, "period": "2026-W10", "start": week.end, "end": datetime(2026, 3, 9, tzinfo=UTC)}
    )
    store.put_delivery(later)
    assert store.deliveries(first.subscription_id) == [later, sent]  # newest first
    assert store.deliveries(second.subscription_id) == []
    store.delete(first.subscription_id)
    assert store.all() == [second]
    assert store.deliveries(first.subscription_id) == []
