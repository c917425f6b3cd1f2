"""The sites' ingest app: only the routes agents and site hosts call with a site key (records,
custom-kind records, sync state, logs and APEL messages), for the Lambda that API Gateway sends
those routes to. It imports none of the people's, reports' or money's routes, so its cold start
stays a fraction of the whole API's (bench/cold_start.py). Every route here is also in the whole
app (`tally.api.app`), with the same handler and contract: both include them through
`include_ingest_routes`, and `tally serve` serves both at once."""

from __future__ import annotations

from fastapi import FastAPI, Security

from tally.api import contract, records, sync_state
from tally.api.apel import router as apel_router
from tally.api.app_base import base_app
from tally.api.kinds import router as kinds_router
from tally.api.logs import router as logs_router
from tally.services.container import Services
from tally.settings import Settings

#: The (method, path) pairs API Gateway routes to this app (template.yaml, SiteIngestFunction).
ROUTES = (
    ("POST", "/v1/records/{kind}"),
    ("POST", "/v1/records/custom/{name}"),
    ("GET", "/v1/sync-state"),
    ("POST", "/v1/logs/{source}"),
    ("POST", "/v1/apel"),
)


def include_ingest_routes(app: FastAPI) -> None:
    """Add the sites' routers to `app`, each route declaring the site key: the one list of them, so
    this app and the whole API cannot drift apart."""
    keyed = [Security(contract.BEARER)]
    for router in (records.router, sync_state.router, logs_router, apel_router, kinds_router):
        app.include_router(router, dependencies=keyed)


def create_ingest_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The ingest routes over `services`, else over a container of `settings` (else the env)."""
    app = base_app(settings, services, openapi_url=None)
    include_ingest_routes(app)
    return app
