"""Single sign-on against one OpenID provider: the code flow with PKCE, refresh, token checks."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tally.auth.oidc.cache import TtlCache
from tally.auth.oidc.config import OidcConfig
from tally.auth.oidc.discovery import ProviderMetadata, fetch_metadata, get_json
from tally.auth.oidc.errors import OidcError
from tally.auth.oidc.http import HttpTransport, StdlibTransport
from tally.auth.oidc.keys import KeySet, parse_jwks
from tally.auth.oidc.tokens import (
    UnverifiedJwt,
    VerifiedToken,
    audiences,
    check_access_token_type,
    check_id_token_type,
    check_times,
    same,
    split,
    to_verified,
    token_hash,
    verify_signature,
)


@dataclass(frozen=True)
class LoginStart:
    """Where to send the browser, and what to keep (server side or in a sealed cookie) until the
    provider sends it back: all three are secrets of this one sign-in."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class OidcTokens:
    access_token: str
    #: Absent only from a refresh response that issued no new ID token.
    id_token: str | None
    refresh_token: str | None
    #: When the access token expires (from the token response's expires_in, else the token itself).
    expires_at: datetime
    #: The verified ID token, or (after a refresh without one) the verified access token.
    claims: VerifiedToken


def _random() -> str:
    return secrets.token_urlsafe(32)


def code_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class OidcClient:
    """One provider, one client registration. Thread-safe; build it once and share it.

    The discovery document and the JWKS are fetched lazily and cached (see `OidcConfig` for the
    time-to-live and the rate limit of refetches on an unknown key id).
    """

    def __init__(
        self,
        config: OidcConfig,
        *,
        http: HttpTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._http: HttpTransport = http or StdlibTransport()
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        retry = timedelta(seconds=max(config.jwks_refetch_interval_seconds, 1.0))
        self._metadata = TtlCache(
            lambda: fetch_metadata(self._http, config),
            ttl=timedelta(seconds=config.discovery_ttl_seconds),
            retry=retry,
            clock=self._clock,
        )
        self._jwks = TtlCache(
            self._fetch_jwks,
            ttl=timedelta(seconds=config.jwks_ttl_seconds),
            retry=retry,
            clock=self._clock,
        )

    # --- provider documents ------------------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (cached)."""
        return self._metadata.get()

    @property
    def jwks_fetches(self) -> int:
        """How many times the JWKS was fetched (rotation refetches included)."""
        return self._jwks.fetches

    def _fetch_jwks(self) -> KeySet:
        status, document = get_json(
            self._http, self.config, self.metadata().jwks_uri, reason="discovery_failed", what="JWKS"
        )
        if status != 200:
            raise OidcError("discovery_failed", f"JWKS: HTTP {status}")
        return parse_jwks(document)

    # --- the browser sign-in -----------------------------------------------------------------

    def begin_login(self, *, prompt: str | None = None, login_hint: str | None = None) -> LoginStart:
        """The authorisation request (code flow, PKCE S256) and the secrets to check its answer."""
        metadata = self.metadata()
        state, nonce, verifier = _random(), _random(), secrets.token_urlsafe(64)
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        # OIDC Core 11: a provider ignores offline_access unless the user is asked to consent.
        if prompt is None and "offline_access" in self.config.scopes:
            prompt = "consent"
        if prompt is not None:
            params["prompt"] = prompt
        if login_hint is not None:
            params["login_hint"] = login_hint
        return LoginStart(_with_query(metadata.authorization_endpoint, params), state, nonce, verifier)

    def finish_login(
        self, *, code: str, state: str, expected: LoginStart, iss: str | None = None
    ) -> OidcTokens:
        """Redeem the code the provider sent to the redirect URI.

        `state` is the callback's state parameter and `iss` its issuer parameter (RFC 9207), when
        the provider sends one; both must match, then the ID token must carry the sign-in's nonce.
        """
        if not isinstance(state, str) or not same(state, expected.state):
            raise OidcError("state_mismatch", "the callback's state is not this sign-in's")
        if iss is not None and iss != self.config.issuer:
            raise OidcError("wrong_issuer", f"the callback comes from issuer {iss!r}")
        if not code:
            raise OidcError("token_request_failed", "the callback has no code")
        response = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": expected.code_verifier,
            }
        )
        id_token = response.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("token_request_failed", "the token response has no ID token")
        access_token = response["access_token"]
        claims = self.verify_id_token(id_token, nonce=expected.nonce, access_token=access_token)
        return self._tokens(response, id_token, claims, refresh_token=None)

    def refresh(self, refresh_token: str, *, subject: str | None = None) -> OidcTokens:
        """New tokens for a refresh token. With `subject`, a new ID token must name that subject
        (OIDC Core 12.2). The provider may rotate the refresh token; the answer holds the one to
        keep."""
        if not refresh_token:
            raise OidcError("token_request_failed", "no refresh token")
        response = self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
        access_token = response["access_token"]
        id_token = response.get("id_token")
        if isinstance(id_token, str):
            claims = self.verify_id_token(id_token, nonce=None, access_token=access_token)
        else:
            id_token = None
            claims = self.verify_access_token(access_token)
        if subject is not None and claims.subject != subject:
            raise OidcError("subject_mismatch", "the refreshed tokens name another subject")
        return self._tokens(response, id_token, claims, refresh_token=refresh_token)

    def logout_url(self, id_token_hint: str | None, post_logout_redirect_uri: str | None) -> str | None:
        """RP-initiated logout at the provider, or None when it offers no end_session_endpoint."""
        endpoint = self.metadata().end_session_endpoint
        if endpoint is None:
            return None
        params = {"client_id": self.config.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        return _with_query(endpoint, params)

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        metadata = self.metadata()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        secret = self.config.client_secret
        if secret is None:
            form = {**form, "client_id": self.config.client_id}
        elif "client_secret_basic" in metadata.token_endpoint_auth_methods_supported:
            # RFC 6749 2.3.1: both parts form-encoded before joining.
            pair = f"{_form(self.config.client_id)}:{_form(secret.get_secret_value())}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form = {**form, "client_id": self.config.client_id, "client_secret": secret.get_secret_value()}
        status, document = get_json(
            self._http,
            self.config,
            metadata.token_endpoint,
            reason="token_request_failed",
            what="token endpoint",
            method="POST",
            body=urlencode(form).encode("ascii"),
            headers=headers,
        )
        if status != 200:
            error = document.get("error")
            label = error if isinstance(error, str) and error.isascii() and len(error) < 64 else "error"
            raise OidcError("token_request_failed", f"the token endpoint answered HTTP {status} ({label})")
        if not isinstance(document.get("access_token"), str) or not document["access_token"]:
            raise OidcError("token_request_failed", "the token response has no access token")
        token_type = document.get("token_type")
        if not isinstance(token_type, str) or token_type.lower() not in ("bearer", "dpop"):
            raise OidcError("token_request_failed", f"unexpected token type {token_type!r}")
        return document

    def _tokens(
        self,
        response: Mapping[str, Any],
        id_token: str | None,
        claims: VerifiedToken,
        *,
        refresh_token: str | None,
    ) -> OidcTokens:
        access_token: str = response["access_token"]
        expires_in = response.get("expires_in")
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and 0 < expires_in < 10**8:
            expires_at = self._clock() + timedelta(seconds=expires_in)
        else:
            expires_at = claims.expires_at
        new_refresh = response.get("refresh_token")
        return OidcTokens(
            access_token=access_token,
            id_token=id_token,
            refresh_token=new_refresh if isinstance(new_refresh, str) and new_refresh else refresh_token,
            expires_at=expires_at,
            claims=claims,
        )

    # --- token checks ------------------------------------------------------------------------

    def verify_access_token(self, token: str) -> VerifiedToken:
        """A bearer token sent to the API: signed by the issuer, for our audience, not expired."""
        parsed = self._parse(token)
        check_access_token_type(parsed)
        claims, expires = self._verify(token, parsed)
        audience = self.config.expected_audience
        named = audiences(claims)
        # Cognito's access tokens carry no `aud`, only the app client's id (API Gateway's JWT
        # authoriser accepts either the same way).
        if audience not in named and not (not named and claims.get("client_id") == audience):
            raise OidcError("wrong_audience", f"the token is not for {audience!r}")
        return to_verified(claims, expires)

    def verify_id_token(
        self, token: str, *, nonce: str | None, access_token: str | None = None
    ) -> VerifiedToken:
        """An ID token from the token endpoint (OIDC Core 3.1.3.7)."""
        parsed = self._parse(token)
        check_id_token_type(parsed)
        claims, expires = self._verify(token, parsed)
        named = audiences(claims)
        if self.config.client_id not in named:
            raise OidcError("wrong_audience", "the ID token is not for this client")
        azp = claims.get("azp")
        if (len(named) > 1 or azp is not None) and azp != self.config.client_id:
            raise OidcError("wrong_audience", "the ID token was issued to another party (azp)")
        if nonce is not None:
            got = claims.get("nonce")
            if not isinstance(got, str) or not same(got, nonce):
                raise OidcError("nonce_mismatch", "the ID token's nonce is not this sign-in's")
        at_hash = claims.get("at_hash")
        if (access_token is not None and at_hash is not None) and (
            not isinstance(at_hash, str) or not same(at_hash, token_hash(access_token, parsed.alg))
        ):
            raise OidcError("bad_signature", "the ID token's at_hash does not match the access token")
        return to_verified(claims, expires)

    def _parse(self, token: str) -> UnverifiedJwt:
        parsed = split(
            token, max_bytes=self.config.max_token_bytes, allowed_algorithms=self.config.allowed_algorithms
        )
        # Before any key is looked up: a token from elsewhere costs nothing, fetches nothing.
        if parsed.payload.get("iss") != self.config.issuer:
            raise OidcError("wrong_issuer", f"the token's issuer is not {self.config.issuer!r}")
        return parsed

    def _verify(self, token: str, parsed: UnverifiedJwt) -> tuple[dict[str, Any], datetime]:
        fetched = self._jwks.fetches
        keys = self._jwks.get()
        key = keys.find(parsed.kid, parsed.alg)
        if key is None and self._jwks.fetches == fetched:
            # Perhaps the provider rotated its keys since we fetched them (not just now): look once
            # more, at most every jwks_refetch_interval_seconds.
            keys, _ = self._jwks.refresh(
                min_interval=timedelta(seconds=self.config.jwks_refetch_interval_seconds)
            )
            key = keys.find(parsed.kid, parsed.alg)
        if key is None:
            raise OidcError("unknown_key", f"no key of the issuer signs {parsed.alg} as {parsed.kid!r}")
        claims = verify_signature(token, parsed, key)
        if claims.get("iss") != self.config.issuer:
            raise OidcError("wrong_issuer", f"the token's issuer is not {self.config.issuer!r}")
        expires = check_times(claims, now=self._clock(), leeway=timedelta(seconds=self.config.leeway_seconds))
        return claims, expires


def _form(value: str) -> str:
    return urlencode({"": value})[1:]
