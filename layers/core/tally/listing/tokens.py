"""Opaque tokens of the listings: a record's id (its identity) and a page's cursor (the keyset
position after its last row, bound to the query it came from).

Both are base64url JSON. Decoding never trusts them: every value is checked against the type of
the field it stands for, so a forged or truncated token is refused (TokenError), never run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from tally.listing.catalog import FieldType

#: A cursor or record id longer than this is not one of ours (identities are short strings).
MAX_TOKEN_CHARS = 8_192

Value = str | int | float | bool | datetime | None


class TokenError(ValueError):
    """A cursor or record id that is not one this server made."""


def _no_constants(name: str) -> Any:
    raise TokenError(f"{name} is not a JSON value")


def encode(payload: object) -> str:
    raw = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, what: str) -> Any:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"not a {what}: empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return json.loads(raw, parse_constant=_no_constants)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as error:
        raise TokenError(f"not a {what}") from error


def to_json(value: Value, kind: FieldType) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    return value


def from_json(value: object, kind: FieldType, what: str) -> Value:
    """A token's value as the bound parameter of a `kind` field (None stays None)."""
    if value is None:
        return None
    if kind == "timestamp":
        if not isinstance(value, str) or len(value) > 40:
            raise TokenError(f"not a {what}: a time is not a string")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            raise TokenError(f"not a {what}: {value!r} is not a time") from error
        if parsed.tzinfo is not None:
            raise TokenError(f"not a {what}: times are UTC without an offset")
        return parsed
    if kind == "string" and isinstance(value, str) and len(value) <= 65_536:
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    raise TokenError(f"not a {what}: a value is not a {kind}")


def query_digest(parts: object) -> str:
    """What a cursor is bound to: the kind, range, filters and sort of the query that made it."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
