"""The Lambda entry point, invoked with real API Gateway HTTP API v2 events, against moto's server."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tally.services.container import Services
from tests.support.deployments import aws_settings
from tests.support.lambdas import LambdaContext, load_function
from tests.support.records import gzipped, job
from tests.support.warehouse import rows

EVENTS = Path(__file__).resolve().parents[1] / "events"
CONTEXT = LambdaContext("tally-ingest-api", 30_000)


def _event(name: str, key: str, body: bytes | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    event = copy.deepcopy(event)
    event["headers"]["authorization"] = f"Bearer {key}"
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return event


# The whole API's function and the sites' ingest function answer the ingest routes alike.
@pytest.fixture(params=["ingest_api", "site_ingest"])
def lambda_env(
    request: pytest.FixtureRequest, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[ModuleType, Services, str]:
    settings = aws_settings(moto_endpoint)
    for name, value in {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": settings.warehouse_uri,
        "TALLY_CONTROL_TABLE": settings.control_table,
        "TALLY_S3_ENDPOINT_URL": moto_endpoint,
        "TALLY_DYNAMODB_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, str(value))
    module = load_function(request.param)
    svc = Services(settings)
    svc.add_site("SITE-A")
    return module, svc, svc.create_key("SITE-A").plain


def test_base64_gzip_body_through_mangum(lambda_env: tuple[ModuleType, Services, str]) -> None:
    module, svc, key = lambda_env
    records = [job(n) for n in range(20)]
    response = module.handler(_event("http_api_v2_post_records.json", key, gzipped(records)), CONTEXT)
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert (body["accepted"], body["rejected"]) == (20, 0)
    assert len(rows(svc.warehouse, "jobs")) == 20

    state = module.handler(_event("http_api_v2_get_sync_state.json", key), CONTEXT)
    assert state["statusCode"] == 200
    assert json.loads(state["body"])["latest_event_time"] == max(str(r["end_time"]) for r in records)


def test_problem_json_through_mangum(lambda_env: tuple[ModuleType, Services, str]) -> None:
    module, svc, key = lambda_env
    response = module.handler(_event("http_api_v2_post_records.json", key, b"\x1f\x8bnot gzip"), CONTEXT)
    assert response["statusCode"] == 400
    assert response["headers"]["content-type"] == "application/problem+json"
    unauthorized = module.handler(_event("http_api_v2_post_records.json", "nope", gzipped([job(1)])), CONTEXT)
    assert unauthorized["statusCode"] == 401
    assert svc.warehouse.list_keys("") == []


def test_the_sites_ingest_function_serves_only_the_ingest_routes(
    lambda_env: tuple[ModuleType, Services, str],
) -> None:
    module, _svc, key = lambda_env
    event = _event("http_api_v2_get_sync_state.json", key)
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/reports/jobs"
    answer = module.handler(event, CONTEXT)
    # The whole API has the route (and judges the query); the ingest function has no such route
    # (API Gateway sends reports to the API function, see tests/infra/test_template.py).
    served = "site_ingest" not in str(module.__file__)
    assert (answer["statusCode"] != 404) == served, answer
    assert answer["headers"]["content-type"] == "application/problem+json"  # either way
