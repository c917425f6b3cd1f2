"""The alerts section of Tally's settings (`TALLY_ALERTS` as JSON, or `TALLY_ALERTS_<FIELD>`).

Delivery channels are optional and independent: SNS (AWS), a webhook, SMTP. With none configured,
alerts are still evaluated, stored and listed.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AlertsSettings(BaseModel):
    model_config = {"frozen": True}

    #: How often `tally serve` evaluates the rules (seconds); 0 turns its scheduler off.
    schedule_seconds: float = Field(default=900.0, ge=0)
    #: Resolved alerts are kept this many days after they resolve, then removed by the next
    #: evaluation (open alerts are kept however old); 0 keeps them for ever.
    resolved_retention_days: float = Field(default=180.0, ge=0, le=36_500)
    #: The SNS topic alerts are published to (AWS mode).
    topic_arn: str | None = None
    #: A URL that gets each fired and resolved alert as a JSON POST.
    webhook_url: str | None = None
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: Tries per message (the first included); a failure after the last is counted, not raised.
    webhook_attempts: int = Field(default=3, ge=1, le=10)
    #: Seconds between tries (doubled after each failure).
    webhook_backoff_seconds: float = Field(default=0.5, ge=0, le=30)
    #: An SMTP relay that mails each alert to its recipients.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "tally-alerts@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
