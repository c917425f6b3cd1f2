"""The alerts service: rules managed within the caller's fence, alerts listed within it, and the
evaluation run (one at a time across processes, by a control-store lease).

Fences come from the one authorisation point (tally.people.authz): a rule is reachable when the
fence lets everything through or names its site; an alert when the fence names its site or its
project. What a caller cannot reach reads as absent (404), as in the registry.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from tally.alerts.delivery import Deliverer
from tally.alerts.evaluate import AlertEvaluator, RunOutcome
from tally.alerts.kinds import kind_of
from tally.alerts.model import (
    Alert,
    AlertError,
    AlertNotFoundError,
    AlertRule,
    AlertState,
    RuleInput,
    check_id,
)
from tally.alerts.pricing import Pricer
from tally.alerts.recipients import Recipients
from tally.alerts.store import AlertStore
from tally.domain.ports import KnownSites, Leases, QueryEngine
from tally.people.authz import Fence

RUN_LEASE = "alerts/run"
#: A run holds the lease at most this long (a crashed run cannot block the next for longer).
RUN_LEASE_SECONDS = 900.0


class AlertForbiddenError(AlertError):
    """A rule outside every site the caller's grants reach."""


class UnknownSiteError(AlertError):
    """A rule scoped to a site the control store does not hold."""


def _reaches_rule(fence: Fence, rule: AlertRule) -> bool:
    return fence.everything or (rule.scope.site is not None and fence.allows_site(rule.scope.site))


def _reaches_alert(fence: Fence, alert: Alert) -> bool:
    if fence.everything:
        return True
    return (alert.site is not None and alert.site in fence.values("site")) or (
        alert.project is not None and alert.project in fence.values("project")
    )


class AlertsService:
    def __init__(
        self,
        store: AlertStore,
        engine: Callable[[], QueryEngine],
        pricer: Callable[[QueryEngine], Pricer],
        deliverer: Deliverer,
        recipients: Recipients,
        leases: Leases,
        sites: KnownSites,
    ) -> None:
        self.store, self._engine, self._pricer = store, engine, pricer
        self.deliverer, self.recipients, self.leases, self.sites = deliverer, recipients, leases, sites

    # -- rules ------------------------------------------------------------------------------------
    def _checked(self, given: RuleInput, fence: Fence) -> dict[str, object]:
        params = kind_of(given.kind).check(given.params, given.scope)
        site = given.scope.site
        if not fence.everything:
            if site is None:
                raise AlertForbiddenError("name the rule's site (scope.site): your grants reach sites only")
            if not fence.allows_site(site):
                raise AlertForbiddenError(f"no grant of this caller manages alerts of site {site!r}")
        if site is not None and self.sites.get_site(site) is None:
            raise UnknownSiteError(f"no site named {site!r}")
        return params

    def add_rule(self, given: RuleInput, fence: Fence, actor: str) -> AlertRule:
        params = self._checked(given, fence)
        rule = AlertRule(
            f"r-{secrets.token_hex(6)}",
            given.kind,
            given.name,
            given.scope,
            params,
            given.enabled,
            datetime.now(UTC),
            actor,
        )
        self.store.put_rule(rule, create=True)
        return rule

    def get_rule(self, rule_id: str, fence: Fence) -> AlertRule:
        rule = self.store.get_rule(check_id(rule_id, "r"))
        if rule is None or not _reaches_rule(fence, rule):
            raise AlertNotFoundError(f"no rule {rule_id!r}")
        return rule

    def list_rules(self, fence: Fence) -> list[AlertRule]:
        return [r for r in self.store.list_rules() if _reaches_rule(fence, r)]

    def replace_rule(self, rule_id: str, given: RuleInput, fence: Fence) -> AlertRule:
        old = self.get_rule(rule_id, fence)
        params = self._checked(given, fence)
        rule = replace(
            old, kind=given.kind, name=given.name, scope=given.scope, params=params, enabled=given.enabled
        )
        self.store.put_rule(rule)
        return rule

    def delete_rule(self, rule_id: str, fence: Fence) -> None:
        self.get_rule(rule_id, fence)
        self.store.delete_rule(rule_id)

    # -- alerts -----------------------------------------------------------------------------------
    def list_alerts(
        self,
        fence: Fence,
        state: AlertState | None = None,
        kind: str | None = None,
        site: str | None = None,
    ) -> list[Alert]:
        alerts = [
            a
            for a in self.store.list_alerts()
            if _reaches_alert(fence, a)
            and (state is None or a.state == state)
            and (kind is None or a.kind == kind)
            and (site is None or a.site == site)
        ]
        return sorted(alerts, key=lambda a: (a.fired_at, a.alert_id), reverse=True)

    def acknowledge(self, alert_id: str, fence: Fence, actor: str) -> Alert:
        alert = self.store.get_alert(check_id(alert_id, "a"))
        if alert is None or not _reaches_alert(fence, alert):
            raise AlertNotFoundError(f"no alert {alert_id!r}")
        if alert.acknowledged_at is None:
            alert = replace(alert, acknowledged_at=datetime.now(UTC), acknowledged_by=actor)
            self.store.put_alert(alert)
        return alert

    # -- evaluation -------------------------------------------------------------------------------
    def run(self, now: datetime | None = None) -> RunOutcome:
        """Evaluate every enabled rule at `now` (default: the current time)."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        holder = uuid.uuid4().hex
        if not self.leases.acquire_lock(RUN_LEASE, holder, datetime.now(UTC), RUN_LEASE_SECONDS):
            return RunOutcome(now, skipped="another evaluation is running")
        try:
            if not any(r.enabled for r in self.store.list_rules()) and not any(
                a.state == "open" for a in self.store.list_alerts()
            ):
                return RunOutcome(now)  # nothing to evaluate or resolve: no query engine needed
            engine = self._engine()
            evaluator = AlertEvaluator(
                self.store, engine, self._pricer(engine), self.deliverer, self.recipients
            )
            return evaluator.run(now)
        finally:
            self.leases.release_lock(RUN_LEASE, holder)
