"""Control-plane entities: sites, API keys and their scopes, sync state and ingest counters.

Keys are `tly_<key id>_<secret>`: the id finds the stored key, the secret (256 random bits) is
checked against its stored hash. The hash is HMAC-SHA256 keyed with a random salt of its own
(`s1$<salt hex>$<hmac hex>`, the message binding the key id), so no two stored hashes are alike and
a hash copied onto another key id does not verify. No slow KDF: the secrets are random 256-bit
tokens, not passwords, so stretching would only add latency to every request. Keys stored before
(bare SHA-256 of the secret) still verify, in constant time, and are rewritten in the salted form
on their first use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KEY_PREFIX = "tly"
_HASH_SCHEME = "s1"
_LEGACY_HASH = re.compile(r"^[0-9a-f]{64}$")

# -- scopes: what a key may do (the site fence applies on top: a key acts for its site only) ------
RECORDS_WRITE = "records:write"  # post usage records (of the key's resources, if it has any), sync state
REPORTS_READ = "reports:read"  # usage reports of the key's site
REGISTRY_READ = "registry:read"  # the key's site's registry entries
REGISTRY_WRITE = "registry:write"  # add, replace and delete them (reading included)
BILLING_WRITE = "billing:write"  # post billing exports for accounts the key's site owns (or new ones)
BILLING_READ = "billing:read"  # list the billing partitions the key's site owns
SCOPES: tuple[str, ...] = (
    RECORDS_WRITE,
    REPORTS_READ,
    REGISTRY_READ,
    REGISTRY_WRITE,
    BILLING_WRITE,
    BILLING_READ,
)
#: What a site agent's key gets when no scope is named (and what keys stored without scopes have).
DEFAULT_SCOPES: tuple[str, ...] = (RECORDS_WRITE, REPORTS_READ, REGISTRY_WRITE)
#: The legacy way to make a billing key (`--resource billing`): it may post bills, nothing else.
LEGACY_BILLING_RESOURCE = "billing"
#: Which scopes a scope includes (writing a site's registry includes reading it).
_IMPLIES: dict[str, frozenset[str]] = {REGISTRY_WRITE: frozenset({REGISTRY_READ})}
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
    #: As stored; empty for keys made before scopes existed (see `effective_scopes`).
    scopes: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def effective_scopes(self) -> tuple[str, ...]:
        """The stored scopes, or for a key stored without any, what it could do before scopes:
        a `billing` resource key posts bills only, any other key gets the defaults."""
        if self.scopes:
            return self.scopes
        if LEGACY_BILLING_RESOURCE in self.resources:
            return (BILLING_WRITE,)
        return DEFAULT_SCOPES


def granted(scopes: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The scopes a key holds, with the ones they include."""
    out = set(scopes)
    for scope in scopes:
        out |= _IMPLIES.get(scope, frozenset())
    return frozenset(out)


def check_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ControlError(f"unknown scope {unknown[0]!r}: use one of {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in scopes)


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


def hash_secret(key_id: str, secret: str, salt: bytes | None = None) -> str:
    """The stored form of a key's secret: HMAC-SHA256 under a fresh per-key salt."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hmac.new(salt, f"{key_id}:{secret}".encode(), hashlib.sha256).hexdigest()
    return f"{_HASH_SCHEME}${salt.hex()}${digest}"


def is_legacy_hash(secret_hash: str) -> bool:
    """True for a hash stored before salting (bare SHA-256 hex), to be rewritten on use."""
    return bool(_LEGACY_HASH.match(secret_hash))


def mint_key(
    site: str, resources: tuple[str, ...], now: datetime, scopes: tuple[str, ...] = DEFAULT_SCOPES
) -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(
        key_id,
        site,
        hash_secret(key_id, secret),
        now,
        tuple(sorted(set(resources))),
        scopes=check_scopes(scopes),
    )
    return NewKey(record, f"{KEY_PREFIX}_{key_id}_{secret}")


def parse_key(plain: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY_FORMAT.match(plain)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(key: ApiKey, secret: str) -> bool:
    """Constant-time check of a secret against the stored hash (salted, or the legacy form)."""
    if is_legacy_hash(key.secret_hash):
        return hmac.compare_digest(key.secret_hash, hashlib.sha256(secret.encode()).hexdigest())
    scheme, _, rest = key.secret_hash.partition("$")
    salt_hex, _, _digest = rest.partition("$")
    if scheme != _HASH_SCHEME:
        return False
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(key.secret_hash, hash_secret(key.key_id, secret, salt))


# -- billing accounts -------------------------------------------------------------------------------
#: The owner of billing accounts first stored by an operator path without a site: `tally billing
#: import` without --site and the S3 landing importer. Not a valid site name, so no key is its site.
OPERATOR_OWNER = "@operator"


@dataclass(frozen=True)
class BillingAccount:
    """A (provider, billing account) and the one owner whose deliveries may restate or read it."""

    provider: str
    billing_account_id: str
    owner: str
    claimed_at: datetime
