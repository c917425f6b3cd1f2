"""Why a sign-in or a token was refused, as one short reason code a caller can act on."""

from __future__ import annotations

from typing import Literal

OidcReason = Literal[
    # The token itself
    "invalid_token",  # not a compact JWS, undecodable, too large, or encrypted
    "disallowed_algorithm",  # `none`, HS*, or an algorithm outside the allow-list
    "unknown_key",  # no key of the issuer's JWKS has its kid (even after one refetch)
    "bad_signature",
    "expired",
    "not_yet_valid",  # nbf or iat in the future beyond the leeway
    "wrong_issuer",
    "wrong_audience",
    "wrong_token_type",  # an ID token offered as an access token
    "missing_claim",
    # The sign-in
    "state_mismatch",
    "nonce_mismatch",
    "subject_mismatch",  # a refreshed ID token names another subject
    "token_request_failed",  # the token endpoint refused the code or refresh token
    # The provider
    "discovery_failed",  # the discovery document or the JWKS could not be fetched or is unusable
    "insecure_endpoint",  # an endpoint that is neither https nor loopback http
]


class OidcError(Exception):
    """A refusal with a machine-readable `reason` and a human-readable `detail`.

    The detail never holds a token, a code or a secret: it may be logged and shown.
    """

    def __init__(self, reason: OidcReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: OidcReason = reason
        self.detail = detail
