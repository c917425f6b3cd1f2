"""Single sign-on with any standards-compliant OpenID provider (EGI Check-in, Keycloak, an
eduGAIN proxy, Cognito): the authorisation code flow with PKCE for the browser, and verification
of the provider's JWT access tokens against its published keys (with key rotation).

    client = OidcClient(OidcConfig(issuer=..., client_id=..., redirect_uri=...))
    start = client.begin_login()            # send the browser to start.url; keep the rest
    tokens = client.finish_login(code=..., state=..., expected=start)
    who = client.verify_access_token(bearer)  # OidcError(reason) when refused
"""

from tally.auth.oidc.client import LoginStart, OidcClient, OidcTokens, code_challenge
from tally.auth.oidc.config import SUPPORTED_ALGORITHMS, OidcConfig
from tally.auth.oidc.discovery import ProviderMetadata
from tally.auth.oidc.errors import OidcError, OidcReason
from tally.auth.oidc.http import HttpError, HttpResponse, HttpTransport, StdlibTransport
from tally.auth.oidc.tokens import VerifiedToken

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
