"""Rules and alerts in the control store, as documents (SQLite locally, DynamoDB on AWS).

Collections: `alert_rules` (one per rule), `alerts` (one per occurrence), and `alert_open` (one
per condition while it holds, keyed by its digest). Firing claims `alert_open` create-only, so two
evaluations at once (two `tally serve` workers, a retried Lambda) fire a condition once; resolving
removes the claim, so the next occurrence can be claimed again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from tally.alerts.model import Alert, AlertRule, AlertState, Money, RuleScope
from tally.domain.control import parse_utc_text, utc_text
from tally.people.store import Documents

RULES, ALERTS, OPEN = "alert_rules", "alerts", "alert_open"


def _time(value: object) -> datetime:
    parsed = parse_utc_text(str(value))
    assert parsed is not None
    return parsed


def _maybe(value: object) -> datetime | None:
    return None if value is None else _time(value)


def _text(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


class AlertStore:
    def __init__(self, docs: Documents) -> None:
        self.docs = docs

    # -- rules ------------------------------------------------------------------------------------
    def put_rule(self, rule: AlertRule, create: bool = False) -> bool:
        doc = {
            "kind": rule.kind,
            "name": rule.name,
            "scope": rule.scope.model_dump(),
            "params": rule.params,
            "enabled": rule.enabled,
            "created_at": utc_text(rule.created_at),
            "created_by": rule.created_by,
        }
        return self.docs.put_doc(RULES, rule.rule_id, doc, create_only=create)

    def get_rule(self, rule_id: str) -> AlertRule | None:
        doc = self.docs.get_doc(RULES, rule_id)
        return None if doc is None else self._rule(rule_id, doc)

    def list_rules(self) -> list[AlertRule]:
        return [self._rule(d["_id"], d) for d in self.docs.list_docs(RULES)]

    def delete_rule(self, rule_id: str) -> bool:
        return self.docs.delete_doc(RULES, rule_id)

    @staticmethod
    def _rule(rule_id: str, d: dict[str, Any]) -> AlertRule:
        return AlertRule(
            rule_id,
            d["kind"],
            d["name"],
            RuleScope.model_validate(d["scope"]),
            dict(d["params"]),
            bool(d["enabled"]),
            _time(d["created_at"]),
            d["created_by"],
        )

    # -- alerts -----------------------------------------------------------------------------------
    def claim_open(self, key_digest: str, alert_id: str) -> bool:
        """Mark the condition open under `alert_id`; False if an alert holds it already."""
        return self.docs.put_doc(OPEN, key_digest, {"alert_id": alert_id}, create_only=True)

    def open_holder(self, key_digest: str) -> str | None:
        """The alert id holding the condition, if any."""
        doc = self.docs.get_doc(OPEN, key_digest)
        return None if doc is None else str(doc["alert_id"])

    def take_open(self, key_digest: str, alert_id: str) -> None:
        """Hand the condition to `alert_id` whoever holds it (a holder found dead)."""
        self.docs.put_doc(OPEN, key_digest, {"alert_id": alert_id})

    def release_open(self, key_digest: str) -> None:
        self.docs.delete_doc(OPEN, key_digest)

    def put_alert(self, alert: Alert) -> None:
        doc = {
            "rule_id": alert.rule_id,
            "kind": alert.kind,
            "condition_key": alert.condition_key,
            "subject": alert.subject,
            "summary": alert.summary,
            "site": alert.site,
            "resource": alert.resource,
            "project": alert.project,
            "measures": alert.measures,
            "amount": None if alert.money is None else str(alert.money.amount),
            "currency": None if alert.money is None else alert.money.currency,
            "state": alert.state,
            "fired_at": utc_text(alert.fired_at),
            "last_seen_at": utc_text(alert.last_seen_at),
            "resolved_at": _text(alert.resolved_at),
            "acknowledged_at": _text(alert.acknowledged_at),
            "acknowledged_by": alert.acknowledged_by,
            "recipients": list(alert.recipients),
            "deliveries": alert.deliveries,
        }
        self.docs.put_doc(ALERTS, alert.alert_id, doc)

    def delete_alert(self, alert_id: str) -> bool:
        return self.docs.delete_doc(ALERTS, alert_id)

    def get_alert(self, alert_id: str) -> Alert | None:
        doc = self.docs.get_doc(ALERTS, alert_id)
        return None if doc is None else self._alert(alert_id, doc)

    def list_alerts(self) -> list[Alert]:
        return [self._alert(d["_id"], d) for d in self.docs.list_docs(ALERTS)]

    @staticmethod
    def _alert(alert_id: str, d: dict[str, Any]) -> Alert:
        money = None if d.get("amount") is None else Money(Decimal(d["amount"]), d["currency"])
        return Alert(
            alert_id=alert_id,
            rule_id=d["rule_id"],
            kind=d["kind"],
            condition_key=d["condition_key"],
            subject=d["subject"],
            summary=d["summary"],
            site=d.get("site"),
            resource=d.get("resource"),
            project=d.get("project"),
            measures=dict(d.get("measures") or {}),
            money=money,
            state=cast(AlertState, d["state"]),
            fired_at=_time(d["fired_at"]),
            last_seen_at=_time(d["last_seen_at"]),
            resolved_at=_maybe(d.get("resolved_at")),
            acknowledged_at=_maybe(d.get("acknowledged_at")),
            acknowledged_by=d.get("acknowledged_by"),
            recipients=tuple(d.get("recipients") or ()),
            deliveries=dict(d.get("deliveries") or {}),
        )
