"""FastAPI dependencies: the service container, the authenticated principal, and the scope check
every authenticated route goes through (`require`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from tally.api.problems import forbidden
from tally.domain.control import (
    BILLING_READ,
    BILLING_WRITE,
    RECORDS_WRITE,
    REGISTRY_READ,
    REGISTRY_WRITE,
    REPORTS_READ,
)
from tally.services.container import Services
from tally.services.ingest import Principal


def services(request: Request) -> Services:
    container: Services = request.app.state.services
    return container


def principal(
    svc: Annotated[Services, Depends(services)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    return svc.authenticate(authorization)


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


ServicesDep = Annotated[Services, Depends(services)]
RecordsWriter = Annotated[Principal, Depends(require(RECORDS_WRITE))]
ReportsReader = Annotated[Principal, Depends(require(REPORTS_READ))]
RegistryReader = Annotated[Principal, Depends(require(REGISTRY_READ))]
RegistryWriter = Annotated[Principal, Depends(require(REGISTRY_WRITE))]
BillingWriter = Annotated[Principal, Depends(require(BILLING_WRITE))]
BillingReader = Annotated[Principal, Depends(require(BILLING_READ, BILLING_WRITE))]
