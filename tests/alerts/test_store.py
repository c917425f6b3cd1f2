"""Rules and alerts in both control stores (SQLite, and DynamoDB on moto's server): stored and read
back whole, a condition claimed by one alert at a time, the evaluation run one at a time."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tally.alerts.kinds import EvaluationContext, kind_of
from tally.alerts.model import Alert, AlertRule, Condition, Money, RuleInput, RuleScope, key_digest
from tally.alerts.pricing import BilledRates
from tally.alerts.service import RUN_LEASE
from tally.alerts.store import AlertStore
from tally.people.authz import Fence
from tally.services.container import Services
from tally.settings import Settings
from tests.alerts import world
from tests.support.deployments import local_settings

AT = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def test_rules_and_alerts_round_trip(settings: Settings) -> None:
    svc = Services(settings)
    store = AlertStore(svc.control)
    rule = AlertRule(
        "r-00000000abcd", "idle_vm", "idle", RuleScope(site="S", project="p"), {"hours": 24.0}, True, AT, "t"
    )
    assert store.put_rule(rule, create=True) and not store.put_rule(rule, create=True)
    assert store.get_rule(rule.rule_id) == rule and store.list_rules() == [rule]
    alert = Alert(
        "a-00000000abcd", rule.rule_id, "idle_vm", "key", "aws/1/i-1", "idle", "S", "os1", "p",
        {"idle_hours": 36.0, "idle_since": "2026-03-09T00:00:00Z", "hourly_rate": None},
        Money(Decimal("3.46"), "USD"), "open", AT, AT, recipients=("a@example.org",),
        deliveries={"fired:webhook": "sent"},
    )  # fmt: skip
    store.put_alert(alert)
    assert store.get_alert(alert.alert_id) == alert
    resolved = replace(alert, state="resolved", resolved_at=AT, money=None)
    store.put_alert(resolved)
    assert store.list_alerts() == [resolved]
    assert store.delete_rule(rule.rule_id) and store.get_rule(rule.rule_id) is None


def test_a_condition_is_claimed_by_one_alert_until_released(settings: Settings) -> None:
    store = AlertStore(Services(settings).control)
    digest = key_digest("r-1|idle_vm|S|os1|i-1")
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda n=n: wins.append(store.claim_open(digest, f"a-{n:012x}")))
        for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]
    store.release_open(digest)
    assert store.claim_open(digest, "a-00000000000f")


def test_a_second_run_while_one_holds_the_lease_is_skipped(settings: Settings) -> None:
    svc = Services(settings)
    assert svc.control.acquire_lock(RUN_LEASE, "another", datetime.now(UTC), 60)
    outcome = svc.alerts.run(AT)
    assert outcome.skipped == "another evaluation is running" and outcome.fired == []
    svc.control.release_lock(RUN_LEASE, "another")
    assert svc.alerts.run(AT).skipped is None


def test_a_claim_left_by_a_crashed_run_is_taken_over(tmp_path: Path) -> None:
    """A claim whose alert was never written (a crash between the two) does not block the
    condition for ever: the next run fires it."""
    svc = Services(local_settings(tmp_path))
    world.plant(svc)
    svc.alerts.add_rule(
        RuleInput.model_validate(world.RULES[3]), Fence(everything=True), "test"
    )  # silent_agent
    [condition] = [c for c in _conditions(svc) if c.kind == "silent_agent"]
    svc.alerts.store.claim_open(condition.key_digest, "a-0000000dead0")
    outcome = svc.alerts.run(world.NOW)
    assert len(outcome.fired) == 1
    assert svc.alerts.store.open_holder(condition.key_digest) == outcome.fired[0]


def _conditions(svc: Services) -> list[Condition]:
    ctx = EvaluationContext(svc.engine, world.NOW, BilledRates(svc.engine))
    return [c for r in svc.alerts.store.list_rules() for c in kind_of(r.kind).evaluate(r, ctx)]
