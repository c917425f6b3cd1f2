"""The single sign-on tests' helpers: a movable clock, sign-in through the provider, forged tokens."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwk, jws

from tally.auth.oidc import HttpResponse, LoginStart, OidcClient, OidcConfig, OidcTokens, StdlibTransport
from tests.support.openid_provider import (
    API,
    API_SCOPE,
    PORTAL,
    REDIRECT_URI,
    OpenIdProvider,
    Person,
    TestClient,
)

SCOPES = ("openid", "email", "profile", "offline_access", API_SCOPE)


@dataclass
class Clock:
    """Wall time plus an offset the test moves (expiry, cache lifetimes, rate limits)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def config_for(provider: OpenIdProvider, client: TestClient = PORTAL, **overrides: Any) -> OidcConfig:
    fields: dict[str, Any] = {
        "issuer": provider.issuer,
        "client_id": client.client_id,
        "client_secret": client.secret,
        "redirect_uri": REDIRECT_URI,
        "scopes": SCOPES,
        "audience": client.resource,
    }
    return OidcConfig(**(fields | overrides))


def portal(provider: OpenIdProvider, clock: Clock | None = None, **overrides: Any) -> OidcClient:
    return OidcClient(config_for(provider, **overrides), clock=clock)


def sign_in(client: OidcClient, person: Person) -> tuple[LoginStart, dict[str, str]]:
    """The browser's part: from the authorisation URL to the callback's query parameters."""
    start = client.begin_login()
    visit = person.walk(start.url, stop_at=REDIRECT_URI)
    assert visit.callback is not None, visit.steps
    return start, visit.callback


def signed_in(client: OidcClient, person: Person) -> OidcTokens:
    start, callback = sign_in(client, person)
    return client.finish_login(
        code=callback["code"], state=callback["state"], expected=start, iss=callback["iss"]
    )


def payload_of(token: str) -> dict[str, Any]:
    """A JWT's claims, decoded here without the library (to compare against what it returns)."""
    segment = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    """Claims of an access token as the provider issues them for the portal (now, 5 minutes)."""
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": "alice",
        "aud": API,
        "iat": now,
        "exp": now + 300,
        "scope": API_SCOPE,
        "client_id": PORTAL.client_id,
        "jti": secrets.token_hex(8),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def forge(key: jwk.RSAKey, claims: dict[str, Any], **header: Any) -> str:
    """A token signed with `key` (one of a provider's own, or a stranger's), RS256 unless told."""
    protected = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid, **header}
    protected = {k: v for k, v in protected.items() if v is not None}
    return jws.serialize_compact(protected, json.dumps(claims).encode(), key, algorithms=[protected["alg"]])


class Recorder(StdlibTransport):
    """The real transport (its bounded read and deadline, not a copy of them), with every URL asked
    for written down and, optionally, the answers rewritten: a provider that behaves in some other
    standard way."""

    def __init__(self, rewrite: Callable[[str, HttpResponse], HttpResponse] | None = None) -> None:
        super().__init__()
        self.rewrite = rewrite
        self.urls: list[str] = []

    def request(self, method: str, url: str, **options: Any) -> HttpResponse:
        self.urls.append(url)
        response = super().request(method, url, **options)
        return self.rewrite(url, response) if self.rewrite else response

    def count(self, suffix: str) -> int:
        return sum(1 for url in self.urls if url.endswith(suffix))
