"""FastAPI dependencies: the service container and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]
