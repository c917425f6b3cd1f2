"""The alerts service: rules managed within the caller's fence, alerts listed within it, and the
evaluation run (one at a time across processes, by a control-store lease).

Fences come from the one authorisation point (tally.people.authz): a rule is reachable when the
fence lets everything through or names its site; an alert when the fence names its site or its
project. What a caller cannot reach reads as absent (404), as in the registry.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from tally.alerts.delivery import Deliverer
from tally.alerts.evaluate import AlertEvaluator, RunOutcome
from tally.alerts.kinds import AllocationSource, kind_of
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


class BadCursorError(AlertError):
    """A listing cursor this service did not hand out (422)."""


@dataclass(frozen=True)
class AlertPage:
    items: list[Alert]
    #: Pass back as `cursor` for the next page; None on the last.
    next_cursor: str | None


def _cursor(alert: Alert) -> str:
    text = f"{alert.fired_at.isoformat()}|{alert.alert_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    """The (fired_at, alert_id) a cursor names: the page goes on with the alerts after it."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        fired, alert_id = text.split("|")
        at = datetime.fromisoformat(fired)
        check_id(alert_id, "a")
    except (binascii.Error, UnicodeDecodeError, ValueError, AlertError) as error:
        raise BadCursorError("cursor is not one this listing handed out") from error
    if at.tzinfo is None:
        raise BadCursorError("cursor is not one this listing handed out")
    return at, alert_id


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
        foresight: Callable[[], AllocationSource] | None = None,
        resolved_retention_days: float = 0.0,
    ) -> None:
        self.store, self._engine, self._pricer, self._foresight = store, engine, pricer, foresight
        self.resolved_retention_days = resolved_retention_days
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

    def page_alerts(
        self,
        fence: Fence,
        limit: int,
        cursor: str | None = None,
        state: AlertState | None = None,
        kind: str | None = None,
        site: str | None = None,
    ) -> AlertPage:
        """`limit` alerts of the listing (newest first) after the one `cursor` names. The cursor is
        a position (fired time and id), so alerts fired meanwhile do not shift later pages."""
        alerts = self.list_alerts(fence, state=state, kind=kind, site=site)
        if cursor is not None:
            after = _after(cursor)
            alerts = [a for a in alerts if (a.fired_at, a.alert_id) < after]
        items = alerts[:limit]
        more = len(alerts) > limit
        return AlertPage(items, _cursor(items[-1]) if more and items else None)

    def purge_resolved(self, now: datetime) -> int:
        """Remove the alerts resolved longer than the retention ago; how many."""
        if self.resolved_retention_days <= 0:
            return 0
        cutoff = now - timedelta(days=self.resolved_retention_days)
        gone = 0
        for alert in self.store.list_alerts():
            if alert.state == "resolved" and alert.resolved_at is not None and alert.resolved_at < cutoff:
                gone += int(self.store.delete_alert(alert.alert_id))
        return gone

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
                # Nothing to evaluate or resolve: no query engine needed.
                return replace(RunOutcome(now), purged=self.purge_resolved(now))
            engine = self._engine()
            foresight = self._foresight() if self._foresight is not None else None
            evaluator = AlertEvaluator(
                self.store, engine, self._pricer(engine), self.deliverer, self.recipients, foresight
            )
            outcome = evaluator.run(now)
            outcome.purged = self.purge_resolved(now)
            return outcome
        finally:
            self.leases.release_lock(RUN_LEASE, holder)
