"""Subscriptions managed by their person, and the scheduled run that delivers what is due.

A run (one at a time across processes, by a control-store lease) takes every subscription whose
last ended period (tally.subscriptions.periods) has no final delivery yet, runs its saved view for
that period within the person's grants as they are now, renders it, sends it and records the
outcome under the period: sent, refused (the view or the grants no longer allow it: not retried),
failed (retried by the next run) or given up (failed `max_attempts` times).
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tally.alerts.delivery import DeliveryError
from tally.domain.errors import Conflict, NotFound
from tally.domain.ports import Leases
from tally.people.model import PersonPrincipal
from tally.query.engine import QueryEngine, QueryError
from tally.saved_views.model import SavedView, check_name
from tally.saved_views.service import SavedViewService
from tally.subscriptions.delivery import Sender
from tally.subscriptions.document import render
from tally.subscriptions.model import (
    FINAL,
    Delivery,
    DeliveryState,
    InvalidSubscription,
    Subscription,
    check_cadence,
    check_channel,
    check_format,
    check_subscription_id,
    check_url,
)
from tally.subscriptions.periods import due_period, period_label
from tally.subscriptions.report import NotAReport, RefusedByGrants, checked, run_for, view_query
from tally.subscriptions.settings import SubscriptionsSettings
from tally.subscriptions.store import SubscriptionStore

RUN_LEASE = "subscriptions/run"
RUN_LEASE_SECONDS = 900.0


@dataclass
class RunOutcome:
    at: datetime
    subscriptions: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "subscriptions": self.subscriptions,
            **{k: self.counts[k] for k in ("sent", "failed", "refused", "given_up", "not_due", "done")},
        }
        if self.skipped:
            out["skipped"] = self.skipped
        return out


class SubscriptionService:
    def __init__(
        self,
        store: SubscriptionStore,
        views: SavedViewService,
        principal: Callable[[str], PersonPrincipal | None],
        engine: Callable[[], QueryEngine],
        sender: Sender,
        leases: Leases,
        settings: SubscriptionsSettings,
    ) -> None:
        self.store, self.views, self.principal, self._engine = store, views, principal, engine
        self.sender, self.leases, self.settings = sender, leases, settings

    # -- a person's subscriptions ---------------------------------------------------------------
    def _view(self, person_id: str, name: str) -> SavedView | None:
        return next((v for v in self.views.list(person_id) if v.name == name), None)

    def create(
        self,
        person_id: str,
        view: object,
        cadence: object,
        fmt: object,
        channel: object,
        url: object = None,
        now: datetime | None = None,
    ) -> Subscription:
        if not isinstance(view, str):
            raise InvalidSubscription("view is the name of one of your saved views (a string)")
        checked_channel = check_channel(channel)
        sub = Subscription(
            f"s-{secrets.token_hex(6)}",
            person_id,
            view,
            check_cadence(cadence),
            check_format(fmt),
            checked_channel,
            check_url(url, self.settings.webhook_prefixes) if checked_channel == "webhook" else None,
            (now or datetime.now(UTC)).astimezone(UTC),
        )
        if checked_channel == "email" and url is not None:
            raise InvalidSubscription("url is for webhook delivery only")
        check_name(view)
        saved = self._view(person_id, view)
        if saved is None:
            raise NotFound(f"you have no saved view named {view!r}")
        checked(view_query(saved.state))
        mine = self.list_subscriptions(person_id)
        if len(mine) >= self.settings.max_per_person:
            raise Conflict(
                f"a person keeps at most {self.settings.max_per_person} subscriptions: delete one first"
            )
        same = (sub.view, sub.cadence, sub.format, sub.channel, sub.url)
        if any((s.view, s.cadence, s.format, s.channel, s.url) == same for s in mine):
            raise Conflict("you already have this subscription")
        self.store.put(sub)
        return sub

    def list_subscriptions(self, person_id: str | None = None) -> list[Subscription]:
        return [s for s in self.store.all() if person_id is None or s.person_id == person_id]

    def get(self, subscription_id: str, person_id: str | None = None) -> Subscription:
        sub = self.store.get(check_subscription_id(subscription_id))
        if sub is None or (person_id is not None and sub.person_id != person_id):
            raise NotFound(f"no subscription {subscription_id!r}")
        return sub

    def deliveries(self, subscription_id: str, person_id: str | None = None) -> list[Delivery]:
        return self.store.deliveries(self.get(subscription_id, person_id).subscription_id)

    def delete(self, subscription_id: str, person_id: str | None = None) -> None:
        self.store.delete(self.get(subscription_id, person_id).subscription_id)

    # -- the scheduled run ------------------------------------------------------------------------
    def run(self, now: datetime | None = None) -> RunOutcome:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        outcome = RunOutcome(now)
        holder = uuid.uuid4().hex
        if not self.leases.acquire_lock(RUN_LEASE, holder, datetime.now(UTC), RUN_LEASE_SECONDS):
            outcome.skipped = "another run is delivering"
            return outcome
        try:
            subs = self.store.all()
            outcome.subscriptions = len(subs)
            engine: QueryEngine | None = None
            for sub in subs:
                period = due_period(sub.cadence, sub.created_at, now)
                if period is None:
                    outcome.counts["not_due"] += 1
                    continue
                label = period_label(sub.cadence, period[0])
                before = self.store.get_delivery(sub.subscription_id, label)
                if before is not None and before.state in FINAL:
                    outcome.counts["done"] += 1
                    continue
                if engine is None:
                    engine = self._engine()
                attempts = (before.attempts if before else 0) + 1
                state, detail, rows = self._deliver(engine, sub, label, period[0], period[1])
                if state == "failed" and attempts >= self.settings.max_attempts:
                    state = "given_up"
                self.store.put_delivery(
                    Delivery(
                        sub.subscription_id, label, period[0], period[1], state, attempts, detail, rows, now
                    )
                )
                outcome.counts[state] += 1
            return outcome
        finally:
            self.leases.release_lock(RUN_LEASE, holder)

    def _deliver(
        self, engine: QueryEngine, sub: Subscription, label: str, start: datetime, end: datetime
    ) -> tuple[DeliveryState, str, int | None]:
        who = self.principal(sub.person_id)
        if who is None:
            return "refused", "the subscriber is no longer a person of this Tally", None
        saved = self._view(sub.person_id, sub.view)
        if saved is None:
            return "refused", f"the saved view {sub.view!r} was deleted", None
        try:
            result = run_for(engine, view_query(saved.state), who, start, end)
        except (NotAReport, RefusedByGrants) as refusal:
            return "refused", str(getattr(refusal, "detail", refusal)), None
        except QueryError as error:
            return "failed", f"query: {error}"[:500], None
        try:
            document = render(result, sub.format, saved.title, start, end, f"{sub.view}-{label}")
        except ImportError as error:
            return "failed", f"cannot render {sub.format}: {error}", None
        try:
            if sub.channel == "email":
                text = (
                    f"{saved.title}: the {sub.cadence} {result.spec.kind} report for {label}, "
                    f"{document.rows} rows, within your grants as of this delivery.\n"
                )
                self.sender.email(who.person.email, f"[Tally] {saved.title} {label}"[:200], text, document)
            else:
                assert sub.url is not None
                headers = {"X-Tally-Subscription": sub.subscription_id, "X-Tally-Period": label}
                self.sender.webhook(sub.url, headers, document)
        except DeliveryError as error:
            return "failed", str(error), document.rows
        return "sent", f"{document.filename}, {len(document.data)} bytes", document.rows
