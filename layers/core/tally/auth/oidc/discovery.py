"""The provider's discovery document (OpenID Connect Discovery 1.0) and its JSON fetches."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tally.auth.oidc.config import OidcConfig
from tally.auth.oidc.errors import OidcError, OidcReason
from tally.auth.oidc.http import HttpError, HttpTransport
from tally.auth.oidc.urls import secure_url_problem


class ProviderMetadata(BaseModel):
    """What Tally uses of the discovery document; everything else is ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    code_challenge_methods_supported: tuple[str, ...] | None = None
    # The default when absent, per the discovery specification.
    token_endpoint_auth_methods_supported: tuple[str, ...] = ("client_secret_basic",)

    @field_validator(
        "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"
    )
    @classmethod
    def _secure(cls, value: str | None) -> str | None:
        if value is not None:
            problem = secure_url_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value


def get_json(
    http: HttpTransport,
    config: OidcConfig,
    url: str,
    *,
    reason: OidcReason,
    what: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """(status, JSON object) of one call; any transport failure or non-object body is `reason`."""
    try:
        response = http.request(
            method,
            url,
            headers={"Accept": "application/json", "User-Agent": "tally-oidc", **(headers or {})},
            body=body,
            timeout=config.http_timeout_seconds,
            max_bytes=config.max_response_bytes,
        )
    except HttpError as exc:
        raise OidcError(reason, f"{what}: {exc}") from None
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError):
        raise OidcError(reason, f"{what}: HTTP {response.status}, not JSON") from None
    if not isinstance(document, dict):
        raise OidcError(reason, f"{what}: HTTP {response.status}, not a JSON object")
    return response.status, document


def fetch_metadata(http: HttpTransport, config: OidcConfig) -> ProviderMetadata:
    status, document = get_json(
        http, config, config.discovery_url, reason="discovery_failed", what="discovery document"
    )
    if status != 200:
        raise OidcError("discovery_failed", f"discovery document: HTTP {status}")
    try:
        metadata = ProviderMetadata.model_validate(document)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise OidcError("discovery_failed", f"discovery document: unusable {fields}") from None
    # Discovery 4.3: the document must name exactly the issuer it was fetched for (a provider
    # cannot speak for another one).
    if metadata.issuer != config.issuer:
        raise OidcError(
            "discovery_failed", f"the document names issuer {metadata.issuer!r}, not {config.issuer!r}"
        )
    methods = metadata.code_challenge_methods_supported
    if methods is not None and "S256" not in methods:
        raise OidcError("discovery_failed", "the provider does not offer PKCE with S256")
    return metadata
