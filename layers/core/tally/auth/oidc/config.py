"""How Tally reaches one OpenID provider: a settings section (issuer, client, limits)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tally.auth.oidc.urls import secure_url_problem

#: Asymmetric JWS algorithms Tally can verify. Never `none`, never HS* (an HMAC "key" taken from a
#: public JWKS is known to everyone, so anyone could sign).
SUPPORTED_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
_SCOPE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")  # RFC 6749 scope-token characters


class OidcConfig(BaseModel):
    """One provider and Tally's client registration there.

    Usable as a nested section of the settings (`oidc: OidcConfig | None = None`): from the
    environment as JSON, e.g. `TALLY_OIDC='{"issuer": "https://...", "client_id": "tally", ...}'`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Exactly as the provider spells it in its discovery document (a trailing slash matters).
    issuer: str
    client_id: str = Field(min_length=1)
    #: None for a public client (the portal: PKCE, no secret).
    client_secret: SecretStr | None = None
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    #: What access tokens must name in `aud` (the API's identifier); None means the client id.
    audience: str | None = None

    #: Clock skew allowed on exp, nbf and iat.
    leeway_seconds: int = Field(default=60, ge=0, le=600)
    allowed_algorithms: tuple[str, ...] = SUPPORTED_ALGORITHMS
    discovery_ttl_seconds: float = Field(default=3600.0, gt=0)
    jwks_ttl_seconds: float = Field(default=3600.0, gt=0)
    #: An unknown kid refetches the JWKS (key rotation) at most this often, so tokens with made-up
    #: kids cannot make Tally hammer the provider.
    jwks_refetch_interval_seconds: float = Field(default=60.0, ge=0)
    #: Whole-request bound on every call to the provider (connect, send, headers and body).
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: Largest response body read from the provider (discovery, JWKS, token endpoint).
    max_response_bytes: int = Field(default=512 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: Largest token accepted for verification (headers cap them anyway; this bounds the work).
    max_token_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)

    @field_validator("issuer", "redirect_uri")
    @classmethod
    def _secure(cls, value: str) -> str:
        problem = secure_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_has_no_query(cls, value: str) -> str:
        if "?" in value:
            raise ValueError("an issuer has no query string")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if not _SCOPE.fullmatch(scope):
                raise ValueError(f"not a scope: {scope!r}")
        if "openid" not in value:
            raise ValueError("the scopes must include 'openid'")
        return tuple(dict.fromkeys(value))

    @field_validator("allowed_algorithms")
    @classmethod
    def _algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("allow at least one algorithm")
        unknown = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if unknown:
            raise ValueError(f"not allowed: {unknown}; choose from {list(SUPPORTED_ALGORITHMS)}")
        return value

    @property
    def expected_audience(self) -> str:
        return self.audience or self.client_id

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"
