"""The FastAPI application: the same app serves `tally serve` locally and Lambda through Mangum."""

from __future__ import annotations

from fastapi import FastAPI, Security

from tally import __version__
from tally.api import contract, docs, problem_handlers, records, sync_state
from tally.api.apel import router as apel_router
from tally.api.billing import router as billing_router
from tally.api.body_deadline import BodyDeadlineMiddleware
from tally.api.kinds import router as kinds_router
from tally.api.logs import router as logs_router
from tally.api.models import Health
from tally.api.people import router as people_router
from tally.api.portal import router as portal_router
from tally.api.registry import router as registry_router
from tally.api.reports import router as reports_router
from tally.observability import install as install_observability
from tally.services.container import Services
from tally.settings import Settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The app over `services` (the container), else over a container of `settings` (else the env)."""
    services = services or Services(settings or Settings())
    settings = services.settings
    app = FastAPI(
        title="Tally",
        version=__version__,
        summary="Usage accounting for research infrastructure.",
        openapi_url="/v1/openapi.json",
        docs_url=None,  # served by tally.api.docs from installed assets, not from a CDN
        redoc_url=None,
    )
    app.state.services = services
    problem_handlers.install(app)
    # Inside the observability middleware, so a body that timed out is logged as the 408 it got.
    app.add_middleware(BodyDeadlineMiddleware, seconds=settings.body_timeout_seconds)
    install_observability(app)
    # Every route but health takes the site key: declare it, so the contract (and the docs page) say so.
    keyed = [Security(contract.BEARER)]
    app.include_router(records.router, dependencies=keyed)
    app.include_router(sync_state.router, dependencies=keyed)
    app.include_router(billing_router, dependencies=keyed)
    app.include_router(reports_router, dependencies=keyed)
    app.include_router(registry_router, dependencies=keyed)
    app.include_router(apel_router, dependencies=keyed)
    app.include_router(logs_router, dependencies=keyed)
    app.include_router(kinds_router, dependencies=keyed)
    app.include_router(people_router, dependencies=keyed)
    app.include_router(portal_router, dependencies=keyed)
    contract.install(app)
    docs.install(app, openapi_url="/v1/openapi.json")

    @app.get("/v1/health", response_model=Health, tags=["meta"])
    async def health() -> Health:
        return Health(status="ok", mode=settings.mode)

    return app
