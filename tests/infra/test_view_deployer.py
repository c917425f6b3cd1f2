"""The Athena view deployer as CloudFormation drives it: events in, answers on the pre-signed URL.

Athena is moto's server (it records statements and reports them SUCCEEDED); the failure paths
use a scripted client, since moto runs no SQL. CloudFormation's response URL is a local HTTP
server that keeps what it was sent.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from tally.query.sql_files import list_files
from tests.support.lambdas import LambdaContext, load_function

VIEW_FILES = {f.name: f.text for f in list_files("views")}
CONTEXT = LambdaContext("tally-view-deployer", 600_000)


@dataclass
class CloudFormation:
    """Stands in for the pre-signed S3 URL: records every PUT."""

    url: str
    answers: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    answers: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            answers.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CloudFormation(
            f"http://127.0.0.1:{server.server_port}/cfn-response?X-Amz-Signature=abc", answers
        )
    finally:
        server.shutdown()


def event(kind: str, url: str, **props: str) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/tally/1",
        "RequestId": f"req-{kind.lower()}",
        "LogicalResourceId": "AthenaViews",
        "ResourceType": "Custom::AthenaViews",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:x", **props},
    }


@dataclass
class Athena:
    client: Any
    workgroup: str

    def executed(self) -> list[tuple[str, str]]:
        """(database, statement) of every query of the workgroup, in submission order."""
        ids = self.client.list_query_executions(WorkGroup=self.workgroup)["QueryExecutionIds"]
        out = []
        for query_id in ids:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            out.append((execution["QueryExecutionContext"]["Database"], execution["Query"]))
        return out


@pytest.fixture
def athena(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Athena]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", moto_endpoint)
    client = boto3.client("athena", endpoint_url=moto_endpoint, region_name="eu-west-1")
    workgroup = f"tally-{uuid.uuid4().hex[:8]}"  # moto keeps executions for the whole session
    client.create_work_group(
        Name=workgroup, Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/athena/"}}
    )
    yield Athena(client, workgroup)
    client.delete_work_group(WorkGroup=workgroup, RecursiveDeleteOption=True)


def view_name(sql: str) -> str:
    match = re.search(r"\b(?:VIEW|VIEW IF EXISTS)\s+([A-Za-z_][A-Za-z0-9_]*)", sql)
    assert match, sql
    return match.group(1)


def depends_on(name: str) -> set[str]:
    """Other views a view file reads (word match on the text, independent of the code's parser)."""
    text = re.sub(r"--[^\n]*", "", VIEW_FILES[name])
    body = text.split(" AS ", 1)[1]
    return {other for other in VIEW_FILES if other != name and re.search(rf"\b{other}\b", body)}


pytestmark = pytest.mark.aws


def test_create_deploys_every_view_after_the_views_it_reads(
    athena: Athena, cloudformation: CloudFormation
) -> None:
    assert len(VIEW_FILES) >= 1
    app = load_function("view_deployer")

    result = app.handler(
        event("Create", cloudformation.url, Database="tally", WorkGroup=athena.workgroup),
        CONTEXT,
    )

    assert result["Status"] == "SUCCESS", result["Reason"]
    [answer] = cloudformation.answers
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "athena-views:tally"
    assert (answer["RequestId"], answer["LogicalResourceId"]) == ("req-create", "AthenaViews")
    statements = athena.executed()
    assert {db for db, _ in statements} == {"tally"}
    order = [view_name(sql) for _, sql in statements]
    assert sorted(order) == sorted(VIEW_FILES)
    assert answer["Data"]["Views"].split(",") == order
    for position, name in enumerate(order):
        assert depends_on(name) <= set(order[:position]), f"{name} deployed before a view it reads"
    for _, sql in statements:
        assert sql.startswith("CREATE OR REPLACE VIEW ")
        assert not sql.rstrip().endswith(";")
        text = VIEW_FILES[view_name(sql)]
        assert sql == text[text.index("CREATE OR REPLACE VIEW") :].strip().rstrip(";").strip()


def test_delete_drops_every_view_in_reverse_order(athena: Athena, cloudformation: CloudFormation) -> None:
    app = load_function("view_deployer")
    create = event("Create", cloudformation.url, Database="tally", WorkGroup=athena.workgroup)
    app.handler(create, CONTEXT)
    created = [view_name(sql) for _, sql in athena.executed()]

    delete = event("Delete", cloudformation.url, Database="tally", WorkGroup=athena.workgroup)
    delete["PhysicalResourceId"] = "athena-views:tally"
    result = app.handler(delete, CONTEXT)

    assert result["Status"] == "SUCCESS", result["Reason"]
    drops = [sql for _, sql in athena.executed()][len(created) :]
    assert drops == [f"DROP VIEW IF EXISTS {name}" for name in reversed(created)]
    assert cloudformation.answers[-1]["PhysicalResourceId"] == "athena-views:tally"


def test_an_athena_error_is_reported_as_failed(athena: Athena, cloudformation: CloudFormation) -> None:
    app = load_function("view_deployer")

    result = app.handler(
        event("Update", cloudformation.url, Database="tally", WorkGroup="no-such-workgroup"),
        CONTEXT,
    )

    assert result["Status"] == "FAILED"
    [answer] = cloudformation.answers
    assert answer["Status"] == "FAILED"
    assert "WorkGroup does not exist" in answer["Reason"]


def test_missing_properties_are_reported_as_failed(cloudformation: CloudFormation) -> None:
    app = load_function("view_deployer")

    app.handler(event("Create", cloudformation.url, Database="tally"), CONTEXT)

    [answer] = cloudformation.answers
    assert answer["Status"] == "FAILED"
    assert "WorkGroup" in answer["Reason"]


@dataclass
class ScriptedAthena:
    """An Athena client whose queries go through the given states, for paths moto cannot show."""

    states: list[dict[str, str]]
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def start_query_execution(self, **kwargs: Any) -> dict[str, str]:
        self.started.append(kwargs["QueryString"])
        return {"QueryExecutionId": f"q{len(self.started)}"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803 -- boto3's keyword
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"Status": state}}

    def stop_query_execution(self, QueryExecutionId: str) -> None:  # noqa: N803 -- boto3's keyword
        self.stopped.append(QueryExecutionId)


def test_a_failed_statement_stops_the_deployment_with_athenas_reason(cloudformation: CloudFormation) -> None:
    app = load_function("view_deployer")
    client = ScriptedAthena(
        [
            {"State": "RUNNING"},
            {"State": "FAILED", "StateChangeReason": "line 3:1: Table tally.jobs does not exist"},
        ]
    )

    result = app.handle(
        event("Create", cloudformation.url, Database="tally", WorkGroup="wg"),
        CONTEXT,
        client,
    )

    assert result["Status"] == "FAILED"
    assert "Table tally.jobs does not exist" in cloudformation.answers[0]["Reason"]
    assert len(client.started) == 1  # nothing after the failing view


def test_a_query_still_running_when_time_runs_out_is_stopped_and_reported(
    cloudformation: CloudFormation,
) -> None:
    app = load_function("view_deployer")
    client = ScriptedAthena([{"State": "RUNNING"}])

    result = app.handle(
        event("Create", cloudformation.url, Database="tally", WorkGroup="wg"),
        LambdaContext("tally-view-deployer", 5_000),
        client,
    )

    assert result["Status"] == "FAILED"
    assert client.stopped == ["q1"]
    assert "time budget" in cloudformation.answers[0]["Reason"]
