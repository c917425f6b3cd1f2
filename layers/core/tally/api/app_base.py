"""What every Tally app has, whichever routes it serves: the services container, problem+json
answers, the body deadline, observability and the health route."""

from __future__ import annotations

from fastapi import FastAPI

from tally import __version__
from tally.api import problem_handlers
from tally.api.body_deadline import BodyDeadlineMiddleware
from tally.api.models import Health
from tally.observability import install as install_observability
from tally.services.container import Services
from tally.settings import Settings


def base_app(settings: Settings | None, services: Services | None, *, openapi_url: str | None) -> FastAPI:
    """An app over `services` (the container), else over a container of `settings` (else the env)."""
    services = services or Services(settings or Settings())
    settings = services.settings
    app = FastAPI(
        title="Tally",
        version=__version__,
        summary="Usage accounting for research infrastructure.",
        openapi_url=openapi_url,
        docs_url=None,  # served by tally.api.docs from installed assets, not from a CDN
        redoc_url=None,
    )
    app.state.services = services
    problem_handlers.install(app)
    # Inside the observability middleware, so a body that timed out is logged as the 408 it got.
    app.add_middleware(BodyDeadlineMiddleware, seconds=settings.body_timeout_seconds)
    install_observability(app)

    @app.get("/v1/health", response_model=Health, tags=["meta"])
    async def health() -> Health:
        return Health(status="ok", mode=settings.mode)

    return app
