"""Single sign-on with any standards-compliant OpenID provider (EGI Check-in, Keycloak, an
eduGAIN proxy, Cognito): the authorisation code flow with PKCE for the browser, and verification
of the provider's JWT access tokens against its published keys (with key rotation).

    client = OidcClient(OidcConfig(issuer=..., client_id=..., redirect_uri=...))
    start = client.begin_login()            # send the browser to start.url; keep the rest
    tokens = client.finish_login(code=..., state=..., expected=start)
    who = client.verify_access_token(bearer)  # OidcError(reason) when refused

The settings section (`OidcConfig`) imports nothing beyond pydantic: every function's settings
carry it, while only the API function has joserfc and cryptography (the auth layer on Lambda).
The client and the token types load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tally.auth.oidc.config import SUPPORTED_ALGORITHMS, OidcConfig
from tally.auth.oidc.errors import OidcError, OidcReason
from tally.auth.oidc.http import HttpError, HttpResponse, HttpTransport, StdlibTransport

if TYPE_CHECKING:
    from tally.auth.oidc.client import LoginStart, OidcClient, OidcTokens, code_challenge
    from tally.auth.oidc.discovery import ProviderMetadata
    from tally.auth.oidc.tokens import VerifiedToken

_LAZY = {
    "LoginStart": "client",
    "OidcClient": "client",
    "OidcTokens": "client",
    "code_challenge": "client",
    "ProviderMetadata": "discovery",
    "VerifiedToken": "tokens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "SUPPORTED_ALGORITHMS",
    "HttpError",
    "HttpResponse",
    "HttpTransport",
    "LoginStart",
    "OidcClient",
    "OidcConfig",
    "OidcError",
    "OidcReason",
    "OidcTokens",
    "ProviderMetadata",
    "StdlibTransport",
    "VerifiedToken",
    "code_challenge",
]
