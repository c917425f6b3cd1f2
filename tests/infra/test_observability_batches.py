"""The batch metrics come from the ingest service's result and the records route's own note."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tally.api.app import create_app
from tally.services.container import Services
from tally.settings import Settings
from tests.support.records import NDJSON, job, ndjson


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    monkeypatch.setenv("TALLY_METRICS", "1")
    app = create_app(Settings(mode="local", home=tmp_path))
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    with TestClient(app) as test_client:
        yield test_client, svc.create_key("SITE-A").plain


def emf(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]


def test_duplicates_within_a_batch_are_counted_as_the_service_found_them(
    client: tuple[TestClient, str], capsys: pytest.CaptureFixture[str]
) -> None:
    http, key = client
    # Three records, two of them the same job: 2 accepted, 1 duplicate, 0 rejected.
    body = ndjson([job(1), job(2), job(2)])

    answer = http.post("/v1/records/jobs", content=body, headers={"Authorization": f"Bearer {key}", **NDJSON})

    assert answer.status_code == 200
    assert (answer.json()["accepted"], answer.json()["duplicates"]) == (2, 1)
    [document] = emf(capsys.readouterr().out)
    assert (document["RecordsAccepted"], document["RecordsDuplicate"], document["RecordsRejected"]) == (
        [2.0],
        [1.0],
        [0.0],
    )


def test_refusals_after_routing_are_counted_and_other_routes_are_not(
    client: tuple[TestClient, str], capsys: pytest.CaptureFixture[str]
) -> None:
    http, key = client
    auth = {"Authorization": f"Bearer {key}", **NDJSON}

    foreign = http.post("/v1/records/jobs", content=ndjson([job(1, site="SITE-B")]), headers=auth)
    unknown = http.post("/v1/records/nothing", content=ndjson([job(1)]), headers=auth)
    other = http.get("/v1/sync-state", params={"kind": "jobs", "resource": "cluster1"}, headers=auth)

    assert (foreign.status_code, unknown.status_code) == (403, 404)
    assert other.status_code < 500
    documents = emf(capsys.readouterr().out)
    assert [(d["kind"], d["status"], d["BatchesRefused"]) for d in documents] == [
        ("jobs", "403", [1.0]),
        ("nothing", "404", [1.0]),
    ]
