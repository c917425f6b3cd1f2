"""Every (method, path) the app serves: the matrices enumerate them and fail on a route without an entry."""

from __future__ import annotations

from pathlib import Path

from fastapi import routing

from tally.api.app import create_app
from tests.support.deployments import local_settings


def app_routes() -> set[tuple[str, str]]:
    app = create_app(local_settings(Path("/nonexistent-tally-home")))
    out: set[tuple[str, str]] = set()
    # Included routers are nested in app.routes; FastAPI's own iterator flattens them.
    for route in routing.iter_route_contexts(app.routes):
        assert route.path is not None, route
        for method in route.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                out.add((method, route.path))
    return out
