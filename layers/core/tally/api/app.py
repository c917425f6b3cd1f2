"""The FastAPI application: the same app serves `tally serve` locally and Lambda through Mangum."""

from __future__ import annotations

from fastapi import FastAPI, Security

from tally.api import contract, docs
from tally.api.alerts import router as alerts_router
from tally.api.app_base import base_app
from tally.api.billing import router as billing_router
from tally.api.foresight import router as foresight_router
from tally.api.ingest_app import include_ingest_routes
from tally.api.money import router as money_router
from tally.api.people import router as people_router
from tally.api.portal import router as portal_router
from tally.api.registry import router as registry_router
from tally.api.reports import router as reports_router
from tally.api.sso import router as sso_router
from tally.services.container import Services
from tally.settings import Settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The app over `services` (the container), else over a container of `settings` (else the env)."""
    app = base_app(settings, services, openapi_url="/v1/openapi.json")
    # Every route but health takes the site key: declare it, so the contract (and the docs page) say so.
    keyed = [Security(contract.BEARER)]
    # The sites' routes first, as the sites' ingest app has them (tally.api.ingest_app).
    include_ingest_routes(app)
    app.include_router(billing_router, dependencies=keyed)
    app.include_router(reports_router, dependencies=keyed)
    app.include_router(registry_router, dependencies=keyed)
    app.include_router(people_router, dependencies=keyed)
    app.include_router(sso_router)  # public: the sign-in itself (logout checks the session)
    app.include_router(foresight_router, dependencies=keyed)
    app.include_router(alerts_router, dependencies=keyed)
    app.include_router(portal_router, dependencies=keyed)
    app.include_router(money_router, dependencies=keyed)
    contract.install(app)
    docs.install(app, openapi_url="/v1/openapi.json")
    return app
