"""Logs, metrics and correlation ids of the API (tally.observability), locally and as in Lambda."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tally import observability
from tally.api.app import create_app
from tally.services.container import Services
from tally.settings import Settings
from tests.support.lambdas import LambdaContext, load_function
from tests.support.records import NDJSON, job, ndjson


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    app = create_app(Settings(mode="local", home=tmp_path))
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    key = svc.create_key("SITE-A").plain
    with TestClient(app) as test_client:
        yield test_client, key


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line the Powertools logger writes, at INFO, in its JSON format."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(observability.logger.registered_formatter)
    std = logging.getLogger(observability.logger.name)
    level = std.level
    std.addHandler(handler)
    std.setLevel(logging.INFO)
    yield sink
    std.removeHandler(handler)
    std.setLevel(level)


def emf(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]


def batch(n: int, bad: int = 0) -> bytes:
    records = [job(i) for i in range(n)] + [job(100 + i, cores=0) for i in range(bad)]
    return ndjson(records)


def test_batch_metrics_per_site_and_kind_when_enabled(
    client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TALLY_METRICS", "1")
    http, key = client
    headers = {"Authorization": f"Bearer {key}", **NDJSON}

    answer = http.post("/v1/records/jobs", content=batch(3, bad=1), headers=headers)

    assert answer.status_code == 200
    [document] = emf(capsys.readouterr().out)
    assert (document["site"], document["kind"], document["service"]) == ("SITE-A", "jobs", "tally")
    assert document["RecordsAccepted"] == [3.0]
    assert document["RecordsRejected"] == [1.0]
    assert document["RecordsDuplicate"] == [0.0]
    assert document["BatchLatency"][0] > 0
    [declared] = document["_aws"]["CloudWatchMetrics"]
    assert declared["Namespace"] == "Tally"
    assert declared["Dimensions"] == [["site", "kind", "service"]]
    assert {m["Name"]: m["Unit"] for m in declared["Metrics"]}["BatchLatency"] == "Milliseconds"

    # The same batch again writes nothing new and counts nothing new.
    again = http.post("/v1/records/jobs", content=batch(3, bad=1), headers=headers)
    assert again.json()["replayed"] is True
    assert emf(capsys.readouterr().out) == []


def test_refused_batches_are_counted_by_status(
    client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TALLY_METRICS", "1")
    http, key = client

    answer = http.post(
        "/v1/records/jobs",
        content=b"<xml/>",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/xml"},
    )
    unauthenticated = http.post("/v1/records/jobs", content=batch(1), headers=NDJSON)

    assert (answer.status_code, unauthenticated.status_code) == (415, 401)
    documents = emf(capsys.readouterr().out)
    assert [(d["kind"], d["status"], d["BatchesRefused"]) for d in documents] == [
        ("jobs", "415", [1.0]),
        ("jobs", "401", [1.0]),
    ]


def test_nothing_reaches_stdout_locally_unless_asked(
    client: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TALLY_METRICS", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    http, key = client

    answer = http.post(
        "/v1/records/jobs", content=batch(2), headers={"Authorization": f"Bearer {key}", **NDJSON}
    )

    assert answer.status_code == 200
    assert capsys.readouterr().out == ""
    assert observability.logger.log_level > logging.INFO  # WARNING locally: `tally serve` stays quiet


def test_metrics_can_be_switched_off_in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "tally-ingest")
    assert observability.metrics_enabled()
    monkeypatch.setenv("TALLY_METRICS", "0")
    assert not observability.metrics_enabled()
    assert observability.record_batch("S", "jobs", 1, 0, 0, 1.0) is None


def test_correlation_id_is_the_clients_when_well_formed_else_a_new_one(
    client: tuple[TestClient, str], log_lines: io.StringIO
) -> None:
    http, key = client
    headers = {"Authorization": f"Bearer {key}", **NDJSON}

    mine = http.post(
        "/v1/records/jobs", content=batch(1), headers={**headers, "X-Correlation-Id": "agent-run-42"}
    )
    hostile = http.get("/v1/health", headers={"X-Correlation-Id": "x" * 500})

    assert mine.headers["x-correlation-id"] == "agent-run-42"
    assert hostile.headers["x-correlation-id"] != "x" * 500
    assert len(hostile.headers["x-correlation-id"]) == 36  # a fresh uuid
    [line] = [json.loads(x) for x in log_lines.getvalue().splitlines() if "batch ingested" in x]
    assert line["correlation_id"] == "agent-run-42"
    assert (line["site"], line["kind"], line["accepted"], line["rejected"]) == ("SITE-A", "jobs", 1, 0)


def test_lambda_handler_logs_with_the_api_gateway_request_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    monkeypatch.setenv("TALLY_MODE", "local")
    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    services = Services(Settings(mode="local", home=tmp_path))
    services.add_site("SITE-A")
    key = services.create_key("SITE-A").plain
    app = load_function("ingest_api")
    body = batch(2).decode()
    event = {
        "version": "2.0",
        "routeKey": "ANY /v1/{proxy+}",
        "rawPath": "/v1/records/jobs",
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {key}", "content-type": "application/x-ndjson"},
        "requestContext": {
            "http": {
                "method": "POST",
                "path": "/v1/records/jobs",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.7",
            },
            "requestId": "apigw-req-7",
            "routeKey": "ANY /v1/{proxy+}",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }

    answer = app.handler(event, LambdaContext("tally-ingest", 29_000))

    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"]["x-correlation-id"] == "apigw-req-7"
    [line] = [json.loads(x) for x in log_lines.getvalue().splitlines() if "batch ingested" in x]
    assert line["correlation_id"] == "apigw-req-7"
    assert line["function_name"] == "tally-ingest"
    assert line["accepted"] == 2
