"""A subscription, its delivery records, and the bounds a new one is checked against."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tally.domain.errors import RequestRefused
from tally.subscriptions.periods import CADENCES, Cadence

Format = Literal["csv", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "pdf")
Channel = Literal["email", "webhook"]
CHANNELS: tuple[Channel, ...] = ("email", "webhook")
DeliveryState = Literal["sent", "failed", "refused", "given_up"]
#: States after which a period is not tried again.
FINAL: frozenset[str] = frozenset({"sent", "refused", "given_up"})

SUBSCRIPTION_ID = re.compile(r"^s-[0-9a-f]{12}$")
MAX_URL = 2000
#: What a POST body may be as sent (a view name, three words and a URL, with JSON's wrapping).
MAX_BODY_BYTES = 4096


class InvalidSubscription(RequestRefused):
    """A subscription's fields outside what Tally can deliver (422)."""


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    person_id: str
    view: str  # the saved view's name, read again at each run
    cadence: Cadence
    format: Format
    channel: Channel
    url: str | None  # the webhook's (email goes to the person's address at run time)
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """What became of one period of one subscription."""

    subscription_id: str
    period: str  # 2026-W09 or 2026-03
    start: datetime
    end: datetime
    state: DeliveryState
    attempts: int
    detail: str
    rows: int | None
    at: datetime


def check_choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidSubscription(f"{what} is one of {', '.join(allowed)}")
    return value


def check_cadence(value: object) -> Cadence:
    return check_choice(value, CADENCES, "cadence")  # type: ignore[return-value]


def check_format(value: object) -> Format:
    return check_choice(value, FORMATS, "format")  # type: ignore[return-value]


def check_channel(value: object) -> Channel:
    return check_choice(value, CHANNELS, "channel")  # type: ignore[return-value]


def check_url(value: object, prefixes: tuple[str, ...]) -> str:
    if not prefixes:
        raise InvalidSubscription("webhook delivery is not enabled on this Tally: choose email")
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_URL or any(ord(c) <= 32 for c in value):
        raise InvalidSubscription(f"url must be a URL of at most {MAX_URL} characters, without spaces")
    if not value.startswith(("http://", "https://")) or not value.startswith(prefixes):
        raise InvalidSubscription(f"a webhook url must start with one of: {', '.join(prefixes)}")
    return value


def check_subscription_id(value: str) -> str:
    from tally.domain.errors import NotFound

    if not SUBSCRIPTION_ID.match(value):
        raise NotFound(f"no subscription {value[:40]!r}")
    return value
