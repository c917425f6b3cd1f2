"""The single sign-on section of Tally's settings (`TALLY_SSO` as JSON): what happens around the
provider's sign-in; the provider itself is `TALLY_OIDC` (tally.auth.oidc.OidcConfig)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tally.auth.oidc.urls import secure_url_problem


class SsoSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: A provider subject linked to nobody: False refuses it (403, an admin links it with
    #: `tally people link`); True creates a person for it (name and email from the token, no
    #: grants: they see nothing until someone grants them a role).
    auto_provision: bool = False
    #: How long a browser may take at the provider between /v1/auth/oidc/login and the callback.
    login_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    #: Where the provider sends the browser after RP-initiated logout (registered there); None:
    #: the origin of the OIDC redirect_uri, at `/`.
    post_logout_redirect_uri: str | None = None

    @field_validator("post_logout_redirect_uri")
    @classmethod
    def _secure(cls, value: str | None) -> str | None:
        if value is not None:
            problem = secure_url_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value
