"""Alert rules, the conditions a rule finds, and the alerts they become.

A rule names a kind (tally.alerts.kinds), that kind's parameters and a scope: a site, optionally a
resource, optionally a project (none: everything the kind sees). A condition is one thing a rule
found to hold now, named by a stable key (the rule and the thing: an instance, a resource, a user),
so the same idle VM found by the next run is the same condition. An alert is one occurrence of a
condition: fired when the condition first holds, resolved when a later run no longer finds it; the
next occurrence of the same condition is a new alert.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tally.domain.control import ControlError

AlertState = Literal["open", "resolved"]
ALERT_STATES: tuple[AlertState, ...] = ("open", "resolved")
NAME = r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$"
_ID = re.compile(r"^[ar]-[0-9a-f]{12}$")


class AlertError(ControlError):
    """A rule or alert request that cannot be carried out."""


class AlertNotFoundError(AlertError):
    """No such rule or alert (or none the caller may see)."""


class RuleScope(BaseModel):
    """Where a rule looks: a site (and within it a resource), a project, or everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str | None = Field(default=None, pattern=NAME)
    resource: str | None = Field(default=None, pattern=NAME)
    project: str | None = Field(default=None, pattern=NAME)


class RuleInput(BaseModel):
    """A rule as a client sends it; `params` are checked by the kind's own model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=256)
    scope: RuleScope = RuleScope()
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True)
class AlertRule:
    rule_id: str
    kind: str
    name: str
    scope: RuleScope
    params: dict[str, Any]
    enabled: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Condition:
    """One thing a rule found to hold at evaluation time."""

    rule_id: str
    kind: str
    subject: str  # what it is about: an instance, a GPU, a resource, a user
    summary: str
    site: str | None = None
    resource: str | None = None
    project: str | None = None
    measures: dict[str, float | str | None] = field(default_factory=dict)
    money: Money | None = None

    @property
    def key(self) -> str:
        """Stable across runs: the rule and the subject (numbers change, the condition does not)."""
        return f"{self.rule_id}|{self.kind}|{self.site or ''}|{self.resource or ''}|{self.subject}"

    @property
    def key_digest(self) -> str:
        return key_digest(self.key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule_id: str
    kind: str
    condition_key: str
    subject: str
    summary: str
    site: str | None
    resource: str | None
    project: str | None
    measures: dict[str, float | str | None]
    money: Money | None
    state: AlertState
    fired_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    recipients: tuple[str, ...] = ()
    deliveries: dict[str, str] = field(default_factory=dict)


def check_id(value: str, prefix: str) -> str:
    if not _ID.match(value) or not value.startswith(prefix + "-"):
        raise AlertNotFoundError(f"no {'rule' if prefix == 'r' else 'alert'} {value[:40]!r}")
    return value


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as the API lists it and the channels send it (money as decimal text)."""

    def when(value: datetime | None) -> str | None:
        return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "alert_id": alert.alert_id,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "state": alert.state,
        "subject": alert.subject,
        "summary": alert.summary,
        "site": alert.site,
        "resource": alert.resource,
        "project": alert.project,
        "measures": alert.measures,
        "amount": None if alert.money is None else str(alert.money.amount),
        "currency": None if alert.money is None else alert.money.currency,
        "fired_at": when(alert.fired_at),
        "last_seen_at": when(alert.last_seen_at),
        "resolved_at": when(alert.resolved_at),
        "acknowledged_at": when(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
        "recipients": list(alert.recipients),
        "deliveries": alert.deliveries,
    }
