"""Defects the contract fuzzer found, each pinned by the request that showed it."""

from __future__ import annotations

from tally.api.app import create_app
from tests.support.deployments import Deployment

PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~"


def test_a_billing_file_whose_header_is_not_text_is_422_not_500(deployment: Deployment) -> None:
    key = deployment.services.create_key("SITE-A", ("billing",)).plain
    with deployment.client(key) as http:
        answer = http.post(
            "/v1/billing?filename=picture.bin",
            content=PNG_HEAD,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "unknown-format"


def test_a_registry_body_that_is_not_utf8_is_a_documented_400(deployment: Deployment) -> None:
    with deployment.client() as http:
        answer = http.put(
            "/v1/registry/resources/some-id",
            content=b"\xc8\x9c\xff",
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.json()["title"] == "Malformed request body"
    documented = create_app().openapi()["paths"]["/v1/registry/{kind}/{entry_id}"]["put"]["responses"]
    assert "400" in documented


def test_a_registry_time_given_as_a_number_is_refused_not_read_as_unix_time(deployment: Deployment) -> None:
    entry = {"resource": "cluster1", "benchmark_type": "HS06", "benchmark_per_core": 10.0, "valid_from": 0}
    with deployment.client() as http:
        answer = http.post("/v1/registry/resources", json=entry)
        listed = http.get("/v1/registry/resources")
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["valid_from"]
    assert listed.json() == []
