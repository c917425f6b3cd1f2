"""The committed OpenAPI document is the app's own: any drift fails until `make openapi` is run."""

from __future__ import annotations

import json

from tally.api.app import create_app
from tests.support.paths import REPO


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads((REPO / "openapi" / "openapi.json").read_text())
    assert committed == create_app().openapi(), "openapi/openapi.json is stale: run `make openapi`"


def test_contract_documents_every_record_kind_and_problem_answers() -> None:
    doc = create_app().openapi()
    post = doc["paths"]["/v1/records/{kind}"]["post"]
    assert {"200", "400", "401", "403", "404", "413", "415", "422"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["413"]["content"]
    assert "/v1/sync-state" in doc["paths"]
