"""Hostile input: path tricks, control characters, deep nesting, huge numbers, non-standard JSON."""

from __future__ import annotations

import pytest

from tests.support.deployments import Deployment
from tests.support.records import NDJSON, job, ndjson
from tests.support.warehouse import quarantined, rows


@pytest.mark.parametrize("path", ["/v1/records/..%2Fjobs", "/v1/records/jobs%00", "/v1/records/JOBS"])
def test_kind_tricks_are_unknown_kinds(deployment: Deployment, path: str) -> None:
    with deployment.client() as http:
        answer = http.post(path, content=ndjson([job(1)]), headers=NDJSON)
    assert answer.status_code == 404
    assert deployment.services.warehouse.list_keys("") == []


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b'{"site": "SITE-A", "cores": ' + b"[" * 2000 + b"]" * 2000 + b"}", "not valid JSON"),
        (b'{"site": "SITE-A", "cores": NaN}', "not valid JSON"),
        (b'{"site": "SITE-A", "cores": Infinity}', "not valid JSON"),
        (b'{"site": "SITE-A", "cores": 99999999999999999999999999}', ""),
    ],
    ids=["deep-nesting", "nan", "infinity", "huge-int"],
)
def test_hostile_lines_are_rejected_with_a_reason(deployment: Deployment, line: bytes, fragment: str) -> None:
    body = ndjson([job(1)]) + line + b"\n" + ndjson([job(2)])
    with deployment.client() as http:
        answer = http.post("/v1/records/jobs", content=body, headers=NDJSON)
    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (2, 1)
    assert {e["index"] for e in result["errors"]} == {1}
    assert all(fragment in e["message"] for e in result["errors"] if e["field"] is None)
    assert len(quarantined(deployment.services.warehouse, "jobs")) == 1


def test_control_characters_and_injection_strings_are_stored_as_data(deployment: Deployment) -> None:
    values = {
        "job_name": "x\u0000y\u001b[31mred",
        "project": "'; DROP TABLE jobs; --",
        "queue": '=HYPERLINK("http://example.invalid")',
        "local_user": "../../etc/passwd",
    }
    with deployment.client() as http:
        result = http.post("/v1/records/jobs", json=[job(1, **values)]).json()
    assert result["accepted"] == 1
    (stored,) = rows(deployment.services.warehouse, "jobs")
    assert {k: stored[k] for k in values} == values
    assert all(".." not in k for k in deployment.services.warehouse.list_keys(""))
