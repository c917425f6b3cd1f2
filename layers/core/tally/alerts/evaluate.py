"""One evaluation run: every enabled rule's conditions now, against the alerts already open.

A condition not open yet fires (a new alert, delivered); one open already is refreshed (its
numbers, its last-seen time) and not delivered again; an open alert whose condition a run no
longer finds is resolved (delivered as such), so the condition may fire again later. A rule whose
evaluation fails is counted and its open alerts stay as they are (unknown is not resolved); an
open alert of a rule removed or disabled is resolved.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tally.alerts.delivery import Deliverer, Event, Message
from tally.alerts.kinds import AllocationSource, EvaluationContext, kind_of
from tally.alerts.model import Alert, Condition, key_digest
from tally.alerts.pricing import Pricer
from tally.alerts.recipients import Recipients
from tally.alerts.store import AlertStore
from tally.domain.ports import QueryEngine

log = logging.getLogger("tally.alerts")


@dataclass
class RunOutcome:
    at: datetime
    rules: int = 0
    fired: list[str] = field(default_factory=list)
    refreshed: int = 0
    resolved: list[str] = field(default_factory=list)
    rule_errors: dict[str, str] = field(default_factory=dict)
    deliveries: int = 0
    delivery_failures: int = 0
    #: Resolved alerts removed as past their retention.
    purged: int = 0
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rules": self.rules,
            "fired": len(self.fired),
            "refreshed": self.refreshed,
            "resolved": len(self.resolved),
            "rule_errors": self.rule_errors,
            "deliveries": self.deliveries,
            "delivery_failures": self.delivery_failures,
            "purged": self.purged,
            "skipped": self.skipped,
        }


class AlertEvaluator:
    def __init__(
        self,
        store: AlertStore,
        engine: QueryEngine,
        pricer: Pricer,
        deliverer: Deliverer,
        recipients: Recipients,
        foresight: AllocationSource | None = None,
    ) -> None:
        self.store, self.engine, self.pricer = store, engine, pricer
        self.deliverer, self.recipients, self.foresight = deliverer, recipients, foresight

    def run(self, now: datetime) -> RunOutcome:
        outcome = RunOutcome(now)
        rules = [r for r in self.store.list_rules() if r.enabled]
        outcome.rules = len(rules)
        open_alerts = {a.condition_key: a for a in self.store.list_alerts() if a.state == "open"}
        current: dict[str, Condition] = {}
        ctx = EvaluationContext(self.engine, now, self.pricer, self.foresight)
        for rule in rules:
            try:
                found = kind_of(rule.kind).evaluate(rule, ctx)
            except Exception as error:  # one bad rule (or a query failing) must not stop the others
                log.warning("alert rule %s (%s) failed: %s", rule.rule_id, rule.kind, error)
                outcome.rule_errors[rule.rule_id] = f"{type(error).__name__}: {str(error)[:300]}"
                continue
            for condition in found:
                current.setdefault(condition.key, condition)
        for key, condition in current.items():
            held = open_alerts.get(key)
            if held is not None:
                self.store.put_alert(
                    replace(
                        held,
                        summary=condition.summary,
                        measures=condition.measures,
                        money=condition.money,
                        last_seen_at=now,
                    )
                )
                outcome.refreshed += 1
            else:
                fired = self._fire(condition, now, outcome)
                if fired is not None:
                    outcome.fired.append(fired.alert_id)
        for key, alert in open_alerts.items():
            if key in current or alert.rule_id in outcome.rule_errors:
                continue
            resolved = replace(alert, state="resolved", resolved_at=now)
            resolved = self._deliver("resolved", resolved, outcome)
            self.store.put_alert(resolved)
            self.store.release_open(key_digest(key))
            outcome.resolved.append(alert.alert_id)
        return outcome

    def _fire(self, condition: Condition, now: datetime, outcome: RunOutcome) -> Alert | None:
        alert = Alert(
            alert_id=f"a-{secrets.token_hex(6)}",
            rule_id=condition.rule_id,
            kind=condition.kind,
            condition_key=condition.key,
            subject=condition.subject,
            summary=condition.summary,
            site=condition.site,
            resource=condition.resource,
            project=condition.project,
            measures=condition.measures,
            money=condition.money,
            state="open",
            fired_at=now,
            last_seen_at=now,
            recipients=self.recipients.emails(condition.site, condition.project),
        )
        if not self.store.claim_open(condition.key_digest, alert.alert_id):
            # Held by another run's alert, unless that alert was never written (a crash between
            # the claim and the write) or is resolved already: then this run takes the claim over.
            holder_id = self.store.open_holder(condition.key_digest)
            holder = self.store.get_alert(holder_id) if holder_id else None
            if holder is not None and holder.state == "open":
                return None
            self.store.take_open(condition.key_digest, alert.alert_id)
        alert = self._deliver("fired", alert, outcome)
        self.store.put_alert(alert)
        return alert

    def _deliver(self, event: Event, alert: Alert, outcome: RunOutcome) -> Alert:
        results = self.deliverer.deliver(Message(event, alert))
        outcome.deliveries += sum(1 for r in results.values() if r == "sent")
        outcome.delivery_failures += sum(1 for r in results.values() if r.startswith("failed"))
        return replace(
            alert, deliveries={**alert.deliveries, **{f"{event}:{k}": v for k, v in results.items()}}
        )
