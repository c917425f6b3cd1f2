"""Sending a rendered report: attached to a mail through the alerts' SMTP relay, or POSTed as the
file's bytes to the subscription's webhook (the alerts' retrying POST), signed when a secret is set.

On AWS mail goes through an SMTP relay too (SES's SMTP endpoint): the alerts' SNS topic carries
text only, never an attachment.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

from tally.alerts.delivery import DeliveryError, post, send_mail
from tally.alerts.settings import AlertsSettings
from tally.subscriptions.document import Document
from tally.subscriptions.settings import SubscriptionsSettings

SIGNATURE_HEADER = "X-Tally-Signature"


class Sender(Protocol):
    def email(self, to: str, subject: str, text: str, document: Document) -> None: ...

    def webhook(self, url: str, headers: dict[str, str], document: Document) -> None: ...


def signature(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


class ReportSender:
    """Raises DeliveryError when a channel fails or is not configured."""

    def __init__(
        self,
        alerts: AlertsSettings,
        settings: SubscriptionsSettings,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        # The alerts' section is read as a relay's settings: its SMTP host is optional here too.
        self.relay, self.settings, self.sleep = alerts, settings, sleep

    def email(self, to: str, subject: str, text: str, document: Document) -> None:
        relay = self.relay
        if not relay.smtp_host:
            raise DeliveryError("no SMTP relay is configured (the alerts' smtp_host setting)")
        mail = EmailMessage()
        mail["From"] = relay.smtp_from
        mail["To"] = to
        mail["Subject"] = subject
        mail.set_content(text)
        maintype, _, subtype = document.media_type.partition(";")[0].partition("/")
        mail.add_attachment(document.data, maintype=maintype, subtype=subtype, filename=document.filename)
        send_mail(relay, mail)

    def webhook(self, url: str, headers: dict[str, str], document: Document) -> None:
        sent = {
            **headers,
            "Content-Type": document.media_type,
            "Content-Disposition": f'attachment; filename="{document.filename}"',
        }
        if self.settings.webhook_secret:
            sent[SIGNATURE_HEADER] = signature(self.settings.webhook_secret, document.data)
        a = self.relay
        extra = {} if self.sleep is None else {"sleep": self.sleep}
        post(
            url,
            document.data,
            sent,
            a.webhook_timeout_seconds,
            a.webhook_attempts,
            a.webhook_backoff_seconds,
            **extra,
        )
