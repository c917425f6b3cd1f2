"""API Gateway's request authoriser of the people's routes (HTTP API, payload format 2.0, simple
responses): it keeps anonymous traffic off `/v1/people*` and `/v1/me`.

A request is admitted when it carries a credential of a person that Tally accepts: a personal
access token, the provider's access token (a JWT) or a session cookie, each checked by the very
functions the API's caller check uses (tally.auth.credentials tells which one a request presents,
the people and single sign-on services verify it). The person's id goes to the function in the
authoriser's context; the function checks the request again in full (CSRF, grants) and answers it.
A site key, junk, an oversized header or no credential at all is refused here (API Gateway answers
403) without a store read. Nothing here logs or returns a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import cookie_parser

from tally.auth.credentials import SESSION_COOKIE, Kind, presented

if TYPE_CHECKING:
    from tally.people.model import PersonPrincipal
    from tally.services.container import Services

#: Longer than any credential Tally issues or a provider's access token (a few kB): refused unread.
MAX_CREDENTIAL_CHARS = 8 * 1024
#: A Cookie header (all cookies) past this is refused before it is parsed.
MAX_COOKIE_CHARS = 16 * 1024

REFUSED: dict[str, Any] = {"isAuthorized": False}


def authorise(event: Any, services: Services) -> dict[str, Any]:
    """The simple response for one authoriser event: admitted with the person's id, or refused."""
    person = person_of(event, services) if isinstance(event, Mapping) else None
    if person is None:
        return dict(REFUSED)
    return {
        "isAuthorized": True,
        "context": {"person_id": person.person.person_id, "via": person.via},
    }


def person_of(event: Mapping[str, Any], services: Services) -> PersonPrincipal | None:
    """The person whose credential the request carries, or None (a refusal)."""
    headers = event.get("headers")
    headers = headers if isinstance(headers, Mapping) else {}
    authorization = _text(headers.get("authorization"))
    session = _session_cookie(event.get("cookies"), headers.get("cookie"))
    if (authorization and len(authorization) > MAX_CREDENTIAL_CHARS) or (
        session and len(session) > MAX_CREDENTIAL_CHARS
    ):
        return None
    credential = presented(authorization, session)
    if credential.kind is Kind.PERSONAL_TOKEN:
        return services.people.token_principal(credential.secret)
    if credential.kind is Kind.PROVIDER_TOKEN:
        return _provider_person(services, credential.secret)
    if credential.kind is Kind.SESSION:
        person = services.people.session_principal(credential.secret)
        return person if person is not None and person.session is not None else None
    return None  # a site key (no people's route takes one) or nothing


def _provider_person(services: Services, token: str) -> PersonPrincipal | None:
    from tally.auth.sso import SsoError

    sso = services.sso
    if sso is None:
        return None
    try:
        return sso.bearer_principal(token)
    except SsoError:  # refused, unlinked, or the provider's keys out of reach: not admitted
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _session_cookie(cookies: Any, header: Any) -> str | None:
    """The session cookie's value from payload 2.0's `cookies` list or a Cookie header, parsed as
    the API parses it (Starlette's parser)."""
    parts = [c for c in cookies if isinstance(c, str)] if isinstance(cookies, list) else []
    if isinstance(header, str):
        parts.append(header)
    joined = "; ".join(parts)
    if not joined or len(joined) > MAX_COOKIE_CHARS:
        return None
    return cookie_parser(joined).get(SESSION_COOKIE)
