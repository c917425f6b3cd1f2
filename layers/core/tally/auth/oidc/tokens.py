"""Checking one JWT: its shape, algorithm, signature and claims, each refusal with its reason.

The order matters: the header's algorithm is checked against the allow-list before anything else,
and the (still unverified) issuer before any key is looked up, so a token from elsewhere or with a
made-up key id never makes Tally fetch anything. The claims a caller gets come from the verified
payload only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from tally.auth.oidc.errors import OidcError
from tally.auth.oidc.keys import SigningKey

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ACCESS_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})


@dataclass(frozen=True)
class VerifiedToken:
    """Who a verified token speaks for, and for whom and until when it was issued."""

    issuer: str
    subject: str
    audience: tuple[str, ...]
    expires_at: datetime
    email: str | None
    name: str | None
    scopes: frozenset[str]
    #: Every claim of the verified payload (e.g. email_verified, groups, eduperson_entitlement).
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class UnverifiedJwt:
    """A compact JWS split and decoded, not yet trusted."""

    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    alg: str
    kid: str | None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member {key!r}")
        out[key] = value
    return out


def _b64url_json(segment: str, what: str) -> dict[str, Any]:
    if not _B64URL.fullmatch(segment):
        raise OidcError("invalid_token", f"the {what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise OidcError("invalid_token", f"the {what} is not a JSON object") from None
    if not isinstance(value, dict):
        raise OidcError("invalid_token", f"the {what} is not a JSON object")
    return value


def split(token: str, *, max_bytes: int, allowed_algorithms: tuple[str, ...]) -> UnverifiedJwt:
    if not isinstance(token, str) or not token:
        raise OidcError("invalid_token", "no token")
    if len(token) > max_bytes:
        raise OidcError("invalid_token", f"the token is longer than {max_bytes} bytes")
    segments = token.split(".")
    if len(segments) == 5:
        raise OidcError("invalid_token", "encrypted tokens (JWE) are not accepted")
    if len(segments) != 3 or not segments[2]:
        raise OidcError("invalid_token", "not a signed JWT (three dot-separated parts)")
    header = _b64url_json(segments[0], "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed_algorithms:
        # `none` and HS* are never in the allow-list (see config.SUPPORTED_ALGORITHMS).
        raise OidcError("disallowed_algorithm", f"algorithm {alg!r} is not accepted")
    if "crit" in header:
        raise OidcError("invalid_token", "critical header extensions are not understood")
    if "jku" in header or "jwk" in header or "x5u" in header:
        # Keys come from the issuer's JWKS only, never from the token itself.
        raise OidcError("invalid_token", "tokens may not carry or point at their own key")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise OidcError("invalid_token", "the key id is not a string")
    payload = _b64url_json(segments[1], "payload")
    return UnverifiedJwt(header, payload, alg, kid)


def verify_signature(token: str, parsed: UnverifiedJwt, key: SigningKey) -> dict[str, Any]:
    """The payload, once the signature checks out with `key` under the header's algorithm only."""
    try:
        signature = jws.deserialize_compact(token, key.key, algorithms=[parsed.alg])
    except BadSignatureError:
        raise OidcError("bad_signature", "the signature does not match the issuer's key") from None
    except JoseError as exc:
        raise OidcError("bad_signature", f"the signature cannot be checked: {exc.error}") from None
    payload = json.loads(signature.payload, object_pairs_hook=_no_duplicates)
    if not isinstance(payload, dict):
        raise OidcError("invalid_token", "the payload is not a JSON object")
    return payload


def _instant(claims: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise OidcError("missing_claim", f"the token has no {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise OidcError("invalid_token", f"{name!r} is not a NumericDate")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise OidcError("invalid_token", f"{name!r} is out of range") from None


def check_times(claims: Mapping[str, Any], *, now: datetime, leeway: timedelta) -> datetime:
    """The expiry, after exp, nbf and iat are checked against `now` give or take `leeway`."""
    expires = _instant(claims, "exp", required=True)
    assert expires is not None
    if now - leeway >= expires:
        raise OidcError("expired", f"the token expired at {expires.isoformat()}")
    not_before = _instant(claims, "nbf", required=False)
    if not_before is not None and now + leeway < not_before:
        raise OidcError("not_yet_valid", f"the token is valid from {not_before.isoformat()}")
    issued = _instant(claims, "iat", required=False)
    if issued is not None and now + leeway < issued:
        raise OidcError("not_yet_valid", f"the token claims to be issued at {issued.isoformat()}")
    return expires


def audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return tuple(aud)
    if aud is None:
        return ()
    raise OidcError("invalid_token", "'aud' is neither a string nor a list of strings")


def scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """`scope` (RFC 9068, a space-separated string) or `scp` (a list, as some providers send)."""
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def to_verified(claims: Mapping[str, Any], expires: datetime) -> VerifiedToken:
    subject = _text(claims, "sub")
    if subject is None:
        raise OidcError("missing_claim", "the token has no 'sub'")
    return VerifiedToken(
        issuer=str(claims["iss"]),
        subject=subject,
        audience=audiences(claims),
        expires_at=expires,
        email=_text(claims, "email"),
        name=_text(claims, "name"),
        scopes=scopes(claims),
        claims=dict(claims),
    )


def check_access_token_type(parsed: UnverifiedJwt) -> None:
    """Refuse an ID token offered where an access token belongs (they share issuer and keys)."""
    typ = parsed.header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCESS_TYPES):
        raise OidcError("wrong_token_type", f"a token of type {typ!r} is not an access token")
    claims = parsed.payload
    if claims.get("token_use") == "id" or claims.get("typ") == "ID" or "nonce" in claims:
        raise OidcError("wrong_token_type", "an ID token is not an access token")


def check_id_token_type(parsed: UnverifiedJwt) -> None:
    typ = parsed.header.get("typ")
    if isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt"):
        raise OidcError("wrong_token_type", "an access token is not an ID token")
    if parsed.payload.get("token_use") == "access":
        raise OidcError("wrong_token_type", "an access token is not an ID token")


_HASH_FOR_ALG = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def token_hash(value: str, alg: str) -> str:
    """OIDC Core 3.1.3.6: the left half of the hash of `value`, as the ID token's at_hash holds it."""
    if alg in ("EdDSA", "Ed25519"):
        # Ed25519 signs with SHA-512 (OIDC Core errata; what providers compute).
        digest = hashlib.sha512(value.encode("ascii")).digest()
    else:
        digest = _HASH_FOR_ALG[alg[-3:]](value.encode("ascii")).digest()
    half = digest[: len(digest) // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings (state, nonce, hashes)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
