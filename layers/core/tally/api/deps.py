"""FastAPI dependencies: the service container, the authenticated caller (a site key or a person),
the scope check of the key-only routes (`require`) and the grant check of the others (`authorised`),
both answered by the one authorisation point, tally.people.authz."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Cookie, Depends, Header, Request

from tally.api.problems import Problem, forbidden, unauthorized
from tally.auth.credentials import SESSION_COOKIE, Kind, presented
from tally.auth.sso import SsoError
from tally.domain.control import (
    BILLING_READ,
    BILLING_WRITE,
    RECORDS_WRITE,
    REGISTRY_READ,
    REGISTRY_WRITE,
    REPORTS_READ,
)
from tally.people.authz import Action, Caller, Fence, authorise
from tally.people.model import PersonPrincipal
from tally.services.container import Services
from tally.services.ingest import Principal

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services(request: Request) -> Services:
    container: Services = request.app.state.services
    return container


def caller(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)] = None,
    csrf: Annotated[str | None, Header(alias=CSRF_HEADER, include_in_schema=False)] = None,
) -> Caller:
    """Who is calling: a bearer credential (site key, personal access token, the OpenID
    provider's access token) or a session cookie.
    A cookie is sent by the browser on its own, so a request that changes anything must also carry
    the session's CSRF token in X-CSRF-Token (a cross-site page cannot read it)."""
    credential = presented(authorization, session)
    if credential.kind is Kind.PERSONAL_TOKEN:
        person = svc.people.token_principal(credential.secret)
        if person is None:
            raise unauthorized("the personal access token is not valid, has expired or was revoked")
        return person
    if credential.kind is Kind.PROVIDER_TOKEN:
        return _provider_principal(svc, credential.secret)
    if credential.kind is Kind.OTHER:
        return svc.authenticate(authorization)
    person = svc.people.session_principal(credential.secret)
    if person is None or person.session is None:
        raise unauthorized("the session has expired or is not valid: sign in again at /v1/auth/login")
    if request.method not in SAFE_METHODS and not (
        csrf and hmac.compare_digest(csrf.encode(), person.session.csrf_token.encode())
    ):
        raise forbidden(f"a signed-in browser's {request.method} needs the session's {CSRF_HEADER} header")
    return person


def _provider_principal(svc: Services, token: str) -> PersonPrincipal:
    """A provider's access token: its linked person (401 refused token, 403 unlinked identity)."""
    sso = svc.sso
    if sso is None:
        raise unauthorized("this Tally has no single sign-on provider: send a site key or a personal token")
    try:
        return sso.bearer_principal(token)
    except SsoError as error:
        if error.status == 403:
            raise forbidden(str(error)) from None
        if error.status == 502:
            raise Problem(502, "Provider unavailable", str(error)) from None
        raise unauthorized(str(error)) from None


def principal(who: Annotated[Caller, Depends(caller)]) -> Principal:
    """A site key (the routes agents use); people are refused."""
    if isinstance(who, PersonPrincipal):
        raise forbidden("this route is for site keys (agents and bill uploads), not for people")
    return who


def person(who: Annotated[Caller, Depends(caller)]) -> PersonPrincipal:
    """A person (session, token or provider access token); site keys are refused."""
    if not isinstance(who, PersonPrincipal):
        raise forbidden("this route is for people: sign in, or use a personal access token")
    return who


def require(*any_of: str) -> Callable[[Principal], Principal]:
    """A dependency that authenticates the caller and refuses it (403) unless its key holds one of
    `any_of`. The site fence (a key acts for its own site only) is the route's, on top of this."""

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.scopes & set(any_of):
            raise forbidden(
                f"this key of site {who.site!r} lacks the scope {' or '.join(any_of)} this request needs "
                f"(it holds {', '.join(sorted(who.scopes)) or 'none'}): create a key with "
                f"`tally keys create --site {who.site} --scope {any_of[0]}`"
            )
        return who

    return check


@dataclass(frozen=True)
class Access:
    """An authorised caller and the rows it may reach for the route's action."""

    who: Caller
    fence: Fence

    @property
    def actor(self) -> str:
        if isinstance(self.who, PersonPrincipal):
            return self.who.actor
        return f"key:{self.who.key_id}"


def authorised(action: Action) -> Callable[[Caller], Access]:
    """A dependency: the caller's fence for `action` from the one authorisation point (or 403)."""

    def check(who: Annotated[Caller, Depends(caller)]) -> Access:
        return Access(who, authorise(who, action))

    return check


ServicesDep = Annotated[Services, Depends(services)]
CallerDep = Annotated[Caller, Depends(caller)]
PersonDep = Annotated[PersonPrincipal, Depends(person)]
RecordsWriter = Annotated[Principal, Depends(require(RECORDS_WRITE))]
ReportsReader = Annotated[Principal, Depends(require(REPORTS_READ))]
RegistryReader = Annotated[Principal, Depends(require(REGISTRY_READ))]
RegistryWriter = Annotated[Principal, Depends(require(REGISTRY_WRITE))]
BillingWriter = Annotated[Principal, Depends(require(BILLING_WRITE))]
BillingReader = Annotated[Principal, Depends(require(BILLING_READ))]
UsageAccess = Annotated[Access, Depends(authorised(Action.USAGE_READ))]
RegistryReadAccess = Annotated[Access, Depends(authorised(Action.REGISTRY_READ))]
RegistryWriteAccess = Annotated[Access, Depends(authorised(Action.REGISTRY_WRITE))]
BillingReadAccess = Annotated[Access, Depends(authorised(Action.BILLING_READ))]
BillingWriteAccess = Annotated[Access, Depends(authorised(Action.BILLING_WRITE))]
IngestReadAccess = Annotated[Access, Depends(authorised(Action.INGEST_READ))]
PeopleAccess = Annotated[Access, Depends(authorised(Action.PEOPLE_MANAGE))]
AuditAccess = Annotated[Access, Depends(authorised(Action.AUDIT_READ))]
AlertsReadAccess = Annotated[Access, Depends(authorised(Action.ALERTS_READ))]
AlertsManageAccess = Annotated[Access, Depends(authorised(Action.ALERTS_MANAGE))]
KeysAccess = Annotated[Access, Depends(authorised(Action.KEYS_MANAGE))]
ReconciliationAccess = Annotated[Access, Depends(authorised(Action.RECONCILIATION_READ))]
