"""Which credential a request presents, told from its Authorization header and session cookie.

The API's caller check (tally.api.deps) and API Gateway's request authoriser
(tally.auth.request_authoriser) both ask this, so both read a request the same way: a bearer
personal access token, a bearer provider token (a JWT), a session cookie (only when there is no
Authorization header at all), or anything else (a site key, or nothing), which is the API's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tally.auth.sso import looks_like_jwt
from tally.people.service import is_person_token

#: The browser's session cookie (HttpOnly, Secure, SameSite=Strict, path /v1: tally.api.auth).
SESSION_COOKIE = "tally_session"


class Kind(Enum):
    PERSONAL_TOKEN = "token"  # noqa: S105 (a kind's name, not a secret)
    PROVIDER_TOKEN = "oidc"  # noqa: S105
    SESSION = "session"
    OTHER = "other"


@dataclass(frozen=True)
class Presented:
    kind: Kind
    #: The token or the cookie's value (empty for OTHER: the site key check reads the header).
    secret: str = ""


def presented(authorization: str | None, session: str | None) -> Presented:
    if authorization is not None or session is None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and is_person_token(token):
            return Presented(Kind.PERSONAL_TOKEN, token)
        if scheme.lower() == "bearer" and looks_like_jwt(token):
            return Presented(Kind.PROVIDER_TOKEN, token)
        return Presented(Kind.OTHER)
    return Presented(Kind.SESSION, session)
