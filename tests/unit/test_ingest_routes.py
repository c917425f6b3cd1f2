"""The sites' ingest app serves exactly the whole API's site routes, with the same handlers and
dependencies, so the ingest Lambda and the API function answer an agent alike."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, routing
from fastapi.params import Security

from tally.api import contract
from tally.api.app import create_app
from tally.api.ingest_app import ROUTES, create_ingest_app
from tests.support.deployments import local_settings

# The modules whose routes agents and site hosts call with a site key (written out here, not
# taken from the app code, so a router added to or dropped from one app shows).
SITE_MODULES = {f"tally.api.{name}" for name in ("records", "sync_state", "logs", "apel", "kinds")}
HEALTH = ("GET", "/v1/health")


def routes_of(app: FastAPI) -> dict[tuple[str, str], routing.RouteContext]:
    """Each (method, path) the app serves, with the route as included (its effective dependencies)."""
    out: dict[tuple[str, str], routing.RouteContext] = {}
    for route in routing.iter_route_contexts(app.routes):
        if not isinstance(route.original_route, routing.APIRoute):
            continue  # the whole app's openapi.json and docs page are plain routes
        assert route.path is not None and route.methods is not None, route
        for method in route.methods - {"HEAD", "OPTIONS"}:
            assert (method, route.path) not in out, (method, route.path)
            out[(method, route.path)] = route
    return out


def test_the_ingest_app_serves_the_site_routes_of_the_whole_api_alike() -> None:
    settings = local_settings(Path("/nonexistent-tally-home"))
    ingest, whole = routes_of(create_ingest_app(settings)), routes_of(create_app(settings))
    site_subset = {key for key, route in whole.items() if route.endpoint.__module__ in SITE_MODULES}
    assert set(ingest) - {HEALTH} == site_subset
    # Every route API Gateway sends to the ingest function is one of them.
    assert set(ROUTES) <= site_subset
    for key in site_subset:
        mine, theirs = ingest[key], whole[key]
        # The same route definition (handler, route class such as the custom kinds' capped body) ...
        assert mine.original_route is theirs.original_route, key
        assert mine.endpoint is theirs.endpoint, key
        # ... included alike.
        assert mine.dependencies == theirs.dependencies, key
        assert mine.responses == theirs.responses, key
        # Each declares the site key (checked by the handlers; declared for the contract).
        assert mine.dependencies == [Security(contract.BEARER)], key
    assert ingest[HEALTH].dependencies == whole[HEALTH].dependencies == []
