"""Planted alert scenarios over real Parquet and DuckDB, delivered to a real webhook and SMTP server
on loopback: exactly the planted alerts fire, once each across runs; a resolved one fires again
only after a new occurrence; a clean month fires none. Numbers are those of tests/alerts/world.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tally.alerts.model import Alert
from tally.alerts.settings import AlertsSettings
from tally.services.container import Services
from tests.alerts import world
from tests.alerts.receivers import Mailbox, Webhook, smtp_server, webhook
from tests.support.deployments import local_settings

EVERYTHING = world.EVERYTHING
add_rules = world.add_rules


@pytest.fixture
def receivers() -> Iterator[tuple[Webhook, Mailbox]]:
    with webhook() as hook, smtp_server() as box:
        yield hook, box


def services(home: Path, hook: Webhook, box: Mailbox, **alerts: object) -> Services:
    section = AlertsSettings(
        webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=box.port, webhook_backoff_seconds=0, **alerts
    )
    return Services(local_settings(home, alerts=section))


def people(svc: Services) -> dict[str, str]:
    """One person per covering grant, and one whose grants cover nothing planted."""
    emails = {}
    for label, role, scope in (
        ("admin", "admin", None),
        ("cloud", "site_manager", world.CLOUD),
        ("hpc", "site_manager", world.HPC),
        ("astro", "project_manager", "astro"),
        ("other", "project_manager", "elsewhere"),
        ("finance", "finance", None),
    ):
        person = svc.people.add_person(label.title(), f"{label}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        emails[label] = person.email
    return emails


def by_kind(alerts: list[Alert]) -> dict[str, Alert]:
    out: dict[str, Alert] = {}
    for alert in alerts:
        assert alert.kind not in out, f"two {alert.kind} alerts: {alerts}"
        out[alert.kind] = alert
    return out


def test_exactly_the_planted_alerts_fire_once_each(
    tmp_path: Path, receivers: tuple[Webhook, Mailbox]
) -> None:
    hook, box = receivers
    svc = services(tmp_path, hook, box)
    world.plant(svc)
    emails = people(svc)
    add_rules(svc)

    first = svc.alerts.run(world.NOW)
    assert first.rule_errors == {}
    assert len(first.fired) == 6
    fired = by_kind(svc.alerts.list_alerts(EVERYTHING))
    assert {k: (a.site, a.resource, a.subject) for k, a in fired.items()} == world.EXPECTED
    assert all(a.state == "open" for a in fired.values())

    idle = fired["idle_vm"]
    assert idle.measures["idle_hours"] == world.IDLE_HOURS
    assert idle.measures["idle_since"] == "2026-03-09T00:00:00Z"
    assert idle.money is not None and (idle.money.amount, idle.money.currency) == (world.IDLE_VM_MONEY, "USD")
    assert idle.money.amount == Decimal("3.46")
    gpu = fired["idle_gpu"]
    assert gpu.measures["idle_gpu_hours"] == world.IDLE_HOURS
    assert gpu.money is not None and (gpu.money.amount, gpu.money.currency) == (Decimal("110.16"), "USD")
    stuck = fired["stuck_vm"]
    assert stuck.measures["hours"] == 6.0 and stuck.measures["network_bytes"] == 0
    assert stuck.money is not None and stuck.money.amount == world.STUCK_MONEY
    assert fired["silent_agent"].measures["quiet_hours"] == 36.0
    assert fired["heavy_user"].measures["share_percent"] == round(world.HOG_SHARE, 3)
    assert fired["heavy_user"].measures["core_hours"] == 2304.0
    assert fired["heavy_load"].measures["load_percent"] == world.LOAD == 96.0

    # Recipients: the admins, the site's managers, the project's managers; nobody else.
    assert idle.recipients == tuple(sorted([emails["admin"], emails["cloud"], emails["astro"]]))
    assert fired["heavy_load"].recipients == tuple(sorted([emails["admin"], emails["hpc"]]))
    assert fired["silent_agent"].recipients == (emails["admin"],)

    # The second run finds the same conditions: nothing new fires, nothing is delivered again.
    second = svc.alerts.run(world.NOW + timedelta(minutes=15))
    assert (len(second.fired), second.refreshed, len(second.resolved)) == (0, 6, 0)
    assert len(svc.alerts.list_alerts(EVERYTHING)) == 6

    assert sorted((m["event"], m["alert"]["kind"]) for m in hook.received) == sorted(
        ("fired", k) for k in world.EXPECTED
    )
    idle_hook = next(m["alert"] for m in hook.received if m["alert"]["kind"] == "idle_vm")
    assert (idle_hook["amount"], idle_hook["currency"]) == ("3.46", "USD")
    assert len(box.mails) == 6
    to, mail = next((to, m) for to, m in box.mails if "idle_vm" in str(m["Subject"]))
    assert sorted(to) == sorted([emails["admin"], emails["cloud"], emails["astro"]])
    assert "3.46 USD" in mail.get_payload()
    assert first.deliveries == 12 and first.delivery_failures == 0


def test_a_resolved_alert_fires_again_only_after_a_new_occurrence(
    tmp_path: Path, receivers: tuple[Webhook, Mailbox]
) -> None:
    hook, box = receivers
    svc = services(tmp_path, hook, box)
    world.plant(svc)
    add_rules(svc)
    svc.alerts.run(world.NOW)
    idle = by_kind(svc.alerts.list_alerts(EVERYTHING))["idle_vm"]
    last = world.NOW - world.SAMPLE

    # i-idle's last sample, sent again (later copy wins): busy. The condition no longer holds.
    world.ingest(
        svc,
        "vms",
        world.CLOUD,
        [world.vm_sample("i-idle", last, 0.5, 5_000_000)],
        world.ARRIVED + timedelta(minutes=5),
    )
    resolved = svc.alerts.run(world.NOW)
    assert (resolved.fired, resolved.resolved) == ([], [idle.alert_id])
    stored = svc.alerts.store.get_alert(idle.alert_id)
    assert stored is not None and stored.state == "resolved" and stored.resolved_at == world.NOW
    assert [m["event"] for m in hook.received if m["alert"]["alert_id"] == idle.alert_id] == [
        "fired",
        "resolved",
    ]

    quiet = svc.alerts.run(world.NOW)
    assert (quiet.fired, quiet.resolved, quiet.refreshed) == ([], [], 5)

    # Idle again (a still later copy): a new occurrence, a new alert.
    world.ingest(
        svc,
        "vms",
        world.CLOUD,
        [world.vm_sample("i-idle", last, 0.02, 5_000_000)],
        world.ARRIVED + timedelta(minutes=10),
    )
    again = svc.alerts.run(world.NOW)
    assert len(again.fired) == 1 and again.fired[0] != idle.alert_id
    idle_alerts = svc.alerts.list_alerts(EVERYTHING, kind="idle_vm")
    assert sorted(a.state for a in idle_alerts) == ["open", "resolved"]
    assert {a.condition_key for a in idle_alerts} == {idle.condition_key}
    assert svc.alerts.list_alerts(EVERYTHING, state="open", kind="idle_vm")[0].money == idle.money


def test_a_clean_month_fires_none(tmp_path: Path, receivers: tuple[Webhook, Mailbox]) -> None:
    hook, box = receivers
    svc = services(tmp_path, hook, box)
    times = world.clean_month(svc)
    add_rules(svc)
    for at in times:
        outcome = svc.alerts.run(at)
        assert outcome.rule_errors == {} and outcome.fired == [], (at, svc.alerts.list_alerts(EVERYTHING))
    assert svc.alerts.list_alerts(EVERYTHING) == []
    assert hook.received == [] and box.mails == []


def test_a_removed_rule_resolves_its_alerts(tmp_path: Path, receivers: tuple[Webhook, Mailbox]) -> None:
    hook, box = receivers
    svc = services(tmp_path, hook, box)
    world.plant(svc)
    add_rules(svc)
    svc.alerts.run(world.NOW)
    stuck = by_kind(svc.alerts.list_alerts(EVERYTHING))["stuck_vm"]
    svc.alerts.delete_rule(stuck.rule_id, EVERYTHING)
    outcome = svc.alerts.run(world.NOW)
    assert outcome.resolved == [stuck.alert_id] and outcome.fired == []
