"""The OpenAPI document says what the server does: key, bodies, problem answers, 405 with Allow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tally.api.app import create_app
from tally.api.body import NDJSON_TYPES
from tests.support.deployments import Deployment
from tests.support.records import accelerator, job, ndjson, storage, vm

DOC: dict[str, Any] = create_app().openapi()
OPERATIONS = [
    (path, method, op)
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if method in {"get", "put", "post", "delete", "patch"}
]
SAMPLES: dict[str, Callable[..., dict[str, object]]] = {
    "jobs": job,
    "vms": vm,
    "storage": storage,
    "accelerators": accelerator,
}


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    # The schema with the document's components beside it, so its `#/components/...` refs resolve.
    return jsonschema_rs.Draft202012Validator({**schema, "components": DOC["components"]})


#: Routes that take no credential: health, and the browser's sign-in steps before it holds one.
PUBLIC = {"GET /v1/health", "GET /v1/auth/config", "GET /v1/auth/oidc/login", "GET /v1/auth/oidc/callback"}


def test_the_site_key_is_a_bearer_scheme_every_keyed_route_requires() -> None:
    scheme = DOC["components"]["securitySchemes"]["siteKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "tly_" in scheme["description"]
    unkeyed = sorted(f"{m.upper()} {p}" for p, m, op in OPERATIONS if op.get("security") != [{"siteKey": []}])
    assert unkeyed == sorted(PUBLIC)


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_refusal_is_problem_json_with_the_problem_schema(
    path: str, method: str, op: dict[str, Any]
) -> None:
    refusals = {code: answer for code, answer in op["responses"].items() if code >= "400"}
    if f"{method.upper()} {path}" not in PUBLIC:
        assert {"401", "403", "422"} <= set(refusals), f"{method} {path}"
    for code, answer in refusals.items():
        assert answer["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
        }, f"{method} {path} {code}"
    assert "HTTPValidationError" not in DOC["components"]["schemas"]


def test_records_route_declares_every_status_it_can_answer() -> None:
    post = DOC["paths"]["/v1/records/{kind}"]["post"]
    assert set(post["responses"]) == {"200", "400", "401", "403", "404", "413", "415", "422"}
    kind = next(p for p in post["parameters"] if p["name"] == "kind")
    assert kind["schema"]["enum"] == [
        "jobs",
        "vms",
        "storage",
        "accelerators",
        "summaries",
        "syncs",
        "grid_identities",
    ]
    assert "gzip" in post["requestBody"]["description"]
    assert set(post["requestBody"]["content"]) == {"application/json", *NDJSON_TYPES}


@pytest.mark.parametrize("media", ["application/json", *sorted(NDJSON_TYPES)])
@pytest.mark.parametrize("kind", list(SAMPLES))
def test_record_body_schema_takes_real_records_and_refuses_broken_ones(kind: str, media: str) -> None:
    schema = DOC["paths"]["/v1/records/{kind}"]["post"]["requestBody"]["content"][media]["schema"]
    check = _validator(schema)
    record = SAMPLES[kind](1)
    assert check.is_valid([record, SAMPLES[kind](2)])
    assert not check.is_valid([])  # an empty batch is refused (422)
    assert not check.is_valid([{**record, "surprise": 1}])  # unknown fields are refused
    assert not check.is_valid([{k: v for k, v in record.items() if k != "site"}])


def test_a_method_a_path_does_not_take_is_405_with_allow(deployment: Deployment) -> None:
    with deployment.client() as http:
        answer = http.delete("/v1/records/jobs")
        registry = http.patch("/v1/registry/resources/some-id", json={})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"  # a listing and a batch: nothing else is routed there
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 405
    assert registry.status_code == 405
    # Three routes share this path; Starlette alone would name only the first one's methods.
    assert registry.headers["allow"] == "DELETE, GET, PUT"


def test_docs_page_and_its_assets_come_from_the_server(deployment: Deployment) -> None:
    page = httpx.get(f"{deployment.url}/v1/docs")
    assert page.status_code == 200
    assert "/v1/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    script = httpx.get(f"{deployment.url}/v1/docs/assets/swagger-ui-bundle.js")
    css = httpx.get(f"{deployment.url}/v1/docs/assets/swagger-ui.css")
    assert script.status_code == css.status_code == 200
    assert len(script.content) > 500_000 and b"SwaggerUIBundle" in script.content
    assert css.headers["content-type"].startswith("text/css")


def test_ndjson_form_of_a_schema_valid_batch_is_accepted(deployment: Deployment) -> None:
    with deployment.client() as http:
        answer = http.post(
            "/v1/records/jobs",
            content=ndjson([job(1), job(2)]),
            headers={"Content-Type": "application/x-ndjson"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
