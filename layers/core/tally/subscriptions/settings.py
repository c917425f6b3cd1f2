"""The subscriptions section of Tally's settings (`TALLY_SUBSCRIPTIONS` as JSON, or
`TALLY_SUBSCRIPTIONS_<FIELD>`). Mail goes through the alerts' SMTP relay (TALLY_ALERTS_SMTP_*)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SubscriptionsSettings(BaseModel):
    model_config = {"frozen": True}

    #: URL prefixes a person's webhook must start with (e.g. "https://hooks.example.org/"). Empty:
    #: webhook delivery is off, so nobody can make the server POST to an address of their choosing.
    webhook_prefixes: tuple[str, ...] = ()
    #: Tries of one period's delivery across scheduler runs before it is recorded as given up.
    max_attempts: int = Field(default=5, ge=1, le=50)
    #: A person keeps at most this many subscriptions.
    max_per_person: int = Field(default=20, ge=1, le=1000)
    #: A shared secret: when set, each webhook POST carries X-Tally-Signature: sha256=<HMAC of body>.
    webhook_secret: str | None = None
