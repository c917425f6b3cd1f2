"""The alerts API's answers (tally.api.alerts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tally.alerts.model import AlertRule, AlertState, RuleScope


class RuleOut(BaseModel):
    rule_id: str
    kind: str
    name: str
    scope: RuleScope
    params: dict[str, Any]
    enabled: bool
    created_at: str
    created_by: str

    @classmethod
    def of(cls, rule: AlertRule) -> RuleOut:
        return cls(
            rule_id=rule.rule_id,
            kind=rule.kind,
            name=rule.name,
            scope=rule.scope,
            params=rule.params,
            enabled=rule.enabled,
            created_at=rule.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            created_by=rule.created_by,
        )


class AlertOut(BaseModel):
    """One occurrence of a condition; `amount` (decimal text) and `currency` where it is priced."""

    alert_id: str
    rule_id: str
    kind: str
    state: AlertState
    subject: str
    summary: str
    site: str | None
    resource: str | None
    project: str | None
    measures: dict[str, float | str | None]
    amount: str | None
    currency: str | None
    fired_at: str
    last_seen_at: str
    resolved_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    recipients: list[str]
    deliveries: dict[str, str]
