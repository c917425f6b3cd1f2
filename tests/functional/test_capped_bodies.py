"""Every route whose body is parsed into a model reads it with a cap, over real HTTP: a body past
1 MiB is answered 413 (problem+json) whether it declares its length or streams it in chunks, a
body within the cap goes on to the route's own checks, and each such route documents its 413."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.servers import running_app

MIB = 1 << 20
PASSWORD = "correct horse battery staple"


def parsed_body_routes() -> list[tuple[str, str]]:
    """(method, path) of every route FastAPI parses a body for, found in the app itself."""
    app = create_app(local_settings(Path("/nonexistent-tally-home")))
    out = set()
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.body_field is not None:
            out |= {(m, str(context.path)) for m in route.methods or () if m not in ("HEAD", "OPTIONS")}
    return sorted(out)


ROUTES = parsed_body_routes()


def test_the_older_model_body_routes_are_among_them() -> None:
    assert {
        ("POST", "/v1/people"),
        ("POST", "/v1/people/{person_id}/grants"),
        ("PUT", "/v1/kinds/{name}"),
        ("POST", "/v1/registry/{kind}"),
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/tokens"),
    } <= set(ROUTES)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    app = create_app(local_settings(tmp_path_factory.mktemp("capped") / "home"))
    svc: Services = app.state.services
    admin = svc.people.add_person("Ada", "ada@example.org", "test", password=PASSWORD)
    svc.people.add_grant(admin.person_id, "admin", None, "test")
    _token, plain = svc.people.create_token(svc.people.principal_of(admin), "n", days=1)
    with running_app(app) as url:
        yield url, plain


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def oversized_object() -> bytes:
    # A well-formed JSON object one byte past the cap: only its size is wrong.
    head, tail = b'{"name": "', b'"}'
    return head + b"a" * (MIB + 1 - len(head) - len(tail)) + tail


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=lambda v: str(v))
def test_a_body_past_the_cap_is_413_declared_or_streamed(
    served: tuple[str, str], method: str, path: str
) -> None:
    url, token = served
    body = oversized_object()
    assert len(body) == MIB + 1
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        declared = http.request(method, concrete(path), content=body)
        streamed = http.request(method, concrete(path), content=chunks())  # chunked, no length
        anonymous = http.request(method, concrete(path), content=body, headers={"Authorization": ""})
    for answer in (declared, streamed, anonymous):
        assert answer.status_code == 413, (answer.status_code, answer.text[:200])
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 413


def test_a_body_within_the_cap_reaches_the_routes_own_checks(served: tuple[str, str]) -> None:
    url, token = served
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    head, tail = b'{"name": "', b'", "email": "bo@example.org"}'
    near = head + b"a" * (MIB - len(head) - len(tail)) + tail
    assert len(near) == MIB
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        too_long_a_name = http.post("/v1/people", content=near)
        made = http.post("/v1/people", json={"name": "Bo", "email": "bo@example.org"})
    assert too_long_a_name.status_code == 422  # the model's own length limit, not the cap
    assert made.status_code == 201 and made.json()["email"] == "bo@example.org"


def test_each_of_them_documents_its_413() -> None:
    spec = create_app(local_settings(Path("/nonexistent-tally-home"))).openapi()
    for method, path in ROUTES:
        assert "413" in spec["paths"][path][method.lower()]["responses"], (method, path)
