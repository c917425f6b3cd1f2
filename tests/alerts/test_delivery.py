"""Delivery over real connections: a webhook on loopback that fails, refuses or stalls (tries
bounded, failures counted, the run goes on), an SMTP server that is down, and SNS on moto's server
(the message reaches a subscribed SQS queue with its attributes)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from tally.alerts.delivery import Channel, Deliverer, Message, SmtpChannel, WebhookChannel, channels_of
from tally.alerts.model import Alert, Money
from tally.alerts.settings import AlertsSettings
from tally.services.container import Services
from tests.alerts import world
from tests.alerts.receivers import smtp_server, webhook
from tests.support.deployments import local_settings
from tests.support.servers import free_port

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)
ALERT = Alert(
    "a-0123456789ab", "r-0123456789ab", "idle_vm", "k", "aws/1/i-1", "VM i-1 idle", "CLOUD", "os1", "astro",
    {"idle_hours": 30.0}, Money(Decimal("2.88"), "USD"), "open", AT, AT, recipients=("ops@example.org",),
)  # fmt: skip


def test_a_failing_webhook_is_tried_a_bounded_number_of_times_and_counted(tmp_path: Path) -> None:
    with webhook() as hook:
        hook.status = 500
        section = AlertsSettings(webhook_url=hook.url, webhook_attempts=3, webhook_backoff_seconds=0.01)
        svc = Services(local_settings(tmp_path, alerts=section))
        world.plant(svc)
        world.add_rules(svc)
        outcome = svc.alerts.run(world.NOW)
    # Six alerts fired and were stored; each message was tried three times, none delivered.
    assert len(outcome.fired) == 6 and outcome.rule_errors == {}
    assert (hook.attempts, outcome.deliveries, outcome.delivery_failures) == (18, 0, 6)
    stored = svc.alerts.list_alerts(world.EVERYTHING)
    assert {a.deliveries["fired:webhook"] for a in stored} == {"failed: webhook HTTP 500 after 3 tries"}


def test_a_refusing_webhook_is_not_retried() -> None:
    with webhook() as hook:
        hook.status = 400
        results = Deliverer([WebhookChannel(hook.url, 2, 5, 0)]).deliver(Message("fired", ALERT))
    assert results == {"webhook": "failed: webhook HTTP 400 after 1 tries"} and hook.attempts == 1


def test_a_stalled_webhook_times_out_within_its_bound() -> None:
    with webhook() as hook:
        hook.stall_seconds = 1.5
        started = time.monotonic()
        results = Deliverer([WebhookChannel(hook.url, 0.3, 2, 0)]).deliver(Message("fired", ALERT))
        elapsed = time.monotonic() - started
    assert results["webhook"].startswith("failed: webhook") and "after 2 tries" in results["webhook"]
    assert elapsed < 1.5  # two tries of 0.3 s each, not the receiver's stall


def test_a_delivered_webhook_carries_the_alert_and_its_money() -> None:
    with webhook() as hook:
        assert Deliverer([WebhookChannel(hook.url, 2, 1, 0)]).deliver(Message("resolved", ALERT)) == {
            "webhook": "sent"
        }
    [body] = hook.received
    assert body["event"] == "resolved"
    assert (body["alert"]["alert_id"], body["alert"]["amount"], body["alert"]["currency"]) == (
        "a-0123456789ab", "2.88", "USD"
    )  # fmt: skip


def test_smtp_down_is_a_counted_failure_and_other_channels_still_deliver() -> None:
    closed = free_port()
    with webhook() as hook:
        mail = SmtpChannel(AlertsSettings(smtp_host="127.0.0.1", smtp_port=closed, smtp_timeout_seconds=2))
        channels: list[Channel] = [mail, WebhookChannel(hook.url, 2, 1, 0)]
        results = Deliverer(channels).deliver(Message("fired", ALERT))
    assert results["smtp"].startswith("failed: smtp ConnectionRefusedError")
    assert results["webhook"] == "sent" and len(hook.received) == 1


def test_mail_goes_to_the_recipients_with_the_summary() -> None:
    with smtp_server() as box:
        channel = SmtpChannel(
            AlertsSettings(smtp_host="127.0.0.1", smtp_port=box.port, smtp_from="t@example.org")
        )
        assert channel.send(Message("fired", ALERT)) == "sent"
        without = Message("fired", Alert(**{**ALERT.__dict__, "recipients": ()}))
        assert channel.send(without) == "skipped: no recipients"
    [(to, mail)] = box.mails
    assert to == ["ops@example.org"] and mail["From"] == "t@example.org"
    assert mail["Subject"] == "[Tally fired] idle_vm at CLOUD/os1: aws/1/i-1"
    assert "VM i-1 idle" in mail.get_payload() and '"amount": "2.88"' in mail.get_payload()


@pytest.mark.aws
def test_sns_publishes_to_the_topic_with_filterable_attributes(moto_endpoint: str) -> None:
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="eu-west-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="eu-west-1")
    topic = sns.create_topic(Name=f"alerts-{free_port()}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"alerts-{free_port()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    [channel] = channels_of(AlertsSettings(topic_arn=topic), lambda: sns)
    assert Deliverer([channel]).deliver(Message("fired", ALERT)) == {"sns": "sent"}
    [received] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(received["Body"])
    assert envelope["Subject"] == "[Tally fired] idle_vm at CLOUD/os1: aws/1/i-1"
    assert json.loads(envelope["Message"])["alert"]["amount"] == "2.88"
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"kind": "idle_vm", "event": "fired", "site": "CLOUD"}


@pytest.mark.aws
def test_sns_failure_is_counted(moto_endpoint: str) -> None:
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="eu-west-1")
    missing = "arn:aws:sns:eu-west-1:123456789012:no-such-topic"
    [channel] = channels_of(AlertsSettings(topic_arn=missing), lambda: sns)
    assert Deliverer([channel]).deliver(Message("fired", ALERT))["sns"].startswith("failed: sns")
