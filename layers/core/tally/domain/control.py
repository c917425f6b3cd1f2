"""Control-plane entities: sites, API keys, sync state and ingest counters (no storage here)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KEY_PREFIX = "tly"
_KEY_FORMAT = re.compile(r"^tly_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})$")


class ControlError(ValueError):
    """A control-plane request that cannot be carried out (unknown site, duplicate name, ...)."""


@dataclass(frozen=True)
class Site:
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    site: str
    secret_hash: str
    created_at: datetime
    resources: tuple[str, ...] = ()
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewKey:
    """A freshly minted key: `plain` is shown once and never stored."""

    record: ApiKey
    plain: str


@dataclass(frozen=True)
class SyncState:
    site: str
    kind: str
    resource: str
    latest_event_time: datetime | None
    record_count: int


@dataclass(frozen=True)
class IngestCount:
    site: str
    day: date
    kind: str
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class BatchOutcome:
    """What a stored batch produced; replayed verbatim when the same batch is posted again."""

    batch_id: str
    site: str
    kind: str
    accepted: int
    duplicates: int
    rejected: int
    errors: list[dict[str, object]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def utc_text(value: datetime) -> str:
    """Fixed-width UTC text, so stores that compare strings (SQL max(), DynamoDB conditions)
    order instants correctly."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc_text(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def validate_site_name(name: str) -> str:
    if not SITE_NAME.match(name):
        raise ControlError(
            f"invalid site name {name!r}: use letters, digits, '.', '_' or '-' (at most 128 characters)"
        )
    return name


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random tokens, so a fast hash is enough: no dictionary to attack.
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_key(site: str, resources: tuple[str, ...], now: datetime) -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, site, hash_secret(secret), now, tuple(sorted(set(resources))))
    return NewKey(record, f"{KEY_PREFIX}_{key_id}_{secret}")


def parse_key(plain: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY_FORMAT.match(plain)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.secret_hash, hash_secret(secret))
