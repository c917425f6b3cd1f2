"""Subscriptions and their deliveries in the control store's documents (SQLite locally, DynamoDB
on AWS), as saved views are kept.

All subscriptions are one collection, so the scheduler reads them with one query; a person's are
those naming them (a subscription of someone else reads as absent). Each subscription's deliveries
are their own collection, one document per period, so "once per period" is one read.
"""

from __future__ import annotations

from typing import Any

from tally.domain.control import parse_utc_text, utc_text
from tally.domain.ports import Documents
from tally.subscriptions.model import Delivery, Subscription

SUBSCRIPTIONS = "subscriptions"


def _deliveries(subscription_id: str) -> str:
    return f"subscription-deliveries:{subscription_id}"


def _time(text: object) -> Any:
    parsed = parse_utc_text(str(text))
    assert parsed is not None
    return parsed


class SubscriptionStore:
    def __init__(self, docs: Documents) -> None:
        self.docs = docs

    def put(self, s: Subscription) -> None:
        doc = {
            "person_id": s.person_id,
            "view": s.view,
            "cadence": s.cadence,
            "format": s.format,
            "channel": s.channel,
            "url": s.url,
            "created_at": utc_text(s.created_at),
        }
        self.docs.put_doc(SUBSCRIPTIONS, s.subscription_id, doc, create_only=True)

    @staticmethod
    def _of(d: dict[str, Any]) -> Subscription:
        return Subscription(
            d["_id"],
            d["person_id"],
            d["view"],
            d["cadence"],
            d["format"],
            d["channel"],
            d.get("url"),
            _time(d["created_at"]),
        )

    def get(self, subscription_id: str) -> Subscription | None:
        d = self.docs.get_doc(SUBSCRIPTIONS, subscription_id)
        return None if d is None else self._of({**d, "_id": subscription_id})

    def all(self) -> list[Subscription]:
        return sorted((self._of(d) for d in self.docs.list_docs(SUBSCRIPTIONS)), key=lambda s: s.created_at)

    def delete(self, subscription_id: str) -> None:
        for d in self.docs.list_docs(_deliveries(subscription_id)):
            self.docs.delete_doc(_deliveries(subscription_id), d["_id"])
        self.docs.delete_doc(SUBSCRIPTIONS, subscription_id)

    def put_delivery(self, d: Delivery) -> None:
        doc = {
            "start": utc_text(d.start),
            "end": utc_text(d.end),
            "state": d.state,
            "attempts": d.attempts,
            "detail": d.detail[:500],
            "rows": d.rows,
            "at": utc_text(d.at),
        }
        self.docs.put_doc(_deliveries(d.subscription_id), d.period, doc)

    def _delivery(self, subscription_id: str, period: str, d: dict[str, Any]) -> Delivery:
        return Delivery(
            subscription_id,
            period,
            _time(d["start"]),
            _time(d["end"]),
            d["state"],
            int(d["attempts"]),
            d["detail"],
            d.get("rows"),
            _time(d["at"]),
        )

    def get_delivery(self, subscription_id: str, period: str) -> Delivery | None:
        d = self.docs.get_doc(_deliveries(subscription_id), period)
        return None if d is None else self._delivery(subscription_id, period, d)

    def deliveries(self, subscription_id: str) -> list[Delivery]:
        out = [
            self._delivery(subscription_id, d["_id"], d)
            for d in self.docs.list_docs(_deliveries(subscription_id))
        ]
        return sorted(out, key=lambda d: d.start, reverse=True)
