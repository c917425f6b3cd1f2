"""Delivery of fired and resolved alerts: SNS (AWS), a webhook, SMTP. Each channel is tried for
each message; a failure is recorded and counted, never raised out of an evaluation run.

Webhook: a JSON POST, `timeout` per try, at most `attempts` tries with doubling back-off on
network errors and 5xx/429 answers (a 4xx is final). SMTP: one mail per message to the alert's
recipients (none: nothing to send). SNS: one message per alert, with the site and kind as message
attributes for subscription filters.
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal, Protocol

from tally.alerts.model import Alert, alert_json
from tally.alerts.settings import AlertsSettings

Event = Literal["fired", "resolved"]


class DeliveryError(Exception):
    """A message a channel could not deliver (after its retries)."""


@dataclass(frozen=True)
class Message:
    event: Event
    alert: Alert

    def subject(self) -> str:
        where = "/".join(p for p in (self.alert.site, self.alert.resource) if p) or "all sites"
        return f"[Tally {self.event}] {self.alert.kind} at {where}: {self.alert.subject}"[:200]

    def body(self) -> dict[str, Any]:
        return {"event": self.event, "alert": alert_json(self.alert)}


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> str:
        """Deliver the message: 'sent' or 'skipped: <why>'; raise DeliveryError on failure."""
        ...


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        url: str,
        timeout: float,
        attempts: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the alerts webhook must be an http(s) URL, not {url[:60]!r}")
        self.url, self.timeout, self.attempts, self.backoff, self.sleep = (
            url,
            timeout,
            attempts,
            backoff,
            sleep,
        )

    def send(self, message: Message) -> str:
        data = json.dumps(message.body()).encode()
        post(
            self.url,
            data,
            {"Content-Type": "application/json"},
            self.timeout,
            self.attempts,
            self.backoff,
            self.sleep,
        )
        return "sent"


def post(
    url: str,
    data: bytes,
    headers: dict[str, str],
    timeout: float,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """POST `data` to an http(s) URL: at most `attempts` tries, doubling back-off on network
    errors and 5xx/429 answers (a 4xx is final); DeliveryError after the last."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"not an http(s) URL: {url[:60]!r}")
    last = ""
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (checked above)
                answer.read(65536)
            return
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
            if error.code < 500 and error.code != 429:
                break
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
    raise DeliveryError(f"webhook {last} after {attempt + 1} tries")


class SmtpChannel:
    name = "smtp"

    def __init__(self, settings: AlertsSettings) -> None:
        assert settings.smtp_host
        self.settings = settings

    def send(self, message: Message) -> str:
        if not message.alert.recipients:
            return "skipped: no recipients"
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = ", ".join(message.alert.recipients)
        mail["Subject"] = message.subject()
        mail.set_content(
            f"{message.alert.summary}\n\n" + json.dumps(message.body(), indent=2, sort_keys=True) + "\n"
        )
        send_mail(s, mail)
        return "sent"


def send_mail(s: AlertsSettings, mail: EmailMessage) -> None:
    """One mail through the configured SMTP relay (DeliveryError when it fails)."""
    try:
        with smtplib.SMTP(str(s.smtp_host), s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"smtp {type(error).__name__}: {error}") from error


class SnsChannel:
    name = "sns"

    def __init__(self, topic_arn: str, client: Any) -> None:
        self.topic_arn, self.client = topic_arn, client

    def send(self, message: Message) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        attributes = {
            "kind": {"DataType": "String", "StringValue": message.alert.kind},
            "event": {"DataType": "String", "StringValue": message.event},
        }
        if message.alert.site:
            attributes["site"] = {"DataType": "String", "StringValue": message.alert.site}
        try:
            self.client.publish(
                TopicArn=self.topic_arn,
                Subject=message.subject()[:100],
                Message=json.dumps(message.body()),
                MessageAttributes=attributes,
            )
        except (BotoCoreError, ClientError) as error:
            raise DeliveryError(f"sns {type(error).__name__}: {error}") from error
        return "sent"


class Deliverer:
    """Every channel for every message; what happened per channel, and failures counted."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = tuple(channels)

    def deliver(self, message: Message) -> dict[str, str]:
        out: dict[str, str] = {}
        for channel in self.channels:
            try:
                out[channel.name] = channel.send(message)
            except DeliveryError as error:
                out[channel.name] = f"failed: {error}"
            except Exception as error:  # a channel's own bug must not stop the run or other channels
                out[channel.name] = f"failed: {type(error).__name__}: {error}"
        return out


def channels_of(settings: AlertsSettings, sns_client: Callable[[], Any] | None = None) -> list[Channel]:
    out: list[Channel] = []
    if settings.topic_arn and sns_client is not None:
        out.append(SnsChannel(settings.topic_arn, sns_client()))
    if settings.webhook_url:
        out.append(
            WebhookChannel(
                settings.webhook_url,
                settings.webhook_timeout_seconds,
                settings.webhook_attempts,
                settings.webhook_backoff_seconds,
            )
        )
    if settings.smtp_host:
        out.append(SmtpChannel(settings))
    return out
