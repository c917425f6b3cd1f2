"""CloudFormation custom resource that deploys the Athena views of `athena_queries/views/`.

Create and Update run each view file (`CREATE OR REPLACE VIEW <name> AS ...`) in dependency order;
Delete drops them in reverse order with `DROP VIEW IF EXISTS`. The SQL ships in the core layer, so
whatever view files exist at build time are deployed; nothing here names a view.

Resource properties: `Database` (Glue database) and `WorkGroup` (Athena workgroup, which enforces
the result location); any other property only serves to trigger an update.

CloudFormation always gets an answer (SUCCESS or FAILED with the reason) on the pre-signed
`ResponseURL`, also when a statement fails or the time budget is nearly spent, so a stack never
waits an hour for a custom resource that died.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from tally.observability import lambda_entry, logger
from tally.query.sql_files import SqlFile, views_in_order

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Stop waiting for Athena when this little of the Lambda budget is left, and report FAILED.
RESERVE_MS = 15_000
MAX_REASON = 1000


class DeployError(RuntimeError):
    """A statement failed or could not finish in time; the message goes to CloudFormation."""


@dataclass
class Athena:
    """Runs one statement at a time in a workgroup and waits for it, with backoff."""

    client: Any
    database: str
    workgroup: str
    out_of_time: Callable[[], bool]
    poll_seconds: float = 0.5
    max_poll_seconds: float = 5.0

    def run(self, sql: str) -> str:
        started = self.client.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
        )
        query_id = str(started["QueryExecutionId"])
        delay = self.poll_seconds
        while True:
            status = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return query_id
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or state.lower()
                raise DeployError(f"{_first_line(sql)}: {reason}")
            if self.out_of_time():
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise DeployError(f"{_first_line(sql)}: still {state} when the time budget ran out")
            time.sleep(delay)
            delay = min(delay * 2, self.max_poll_seconds)


def _first_line(sql: str) -> str:
    for line in sql.splitlines():
        text = line.strip()
        if text and not text.startswith("--"):
            return text[:120]
    return sql[:120]


def statement(view: SqlFile) -> str:
    """The file's CREATE OR REPLACE VIEW as Athena takes it: one statement, no trailing semicolon,
    and without the comment lines that head the file (Athena picks its parser from the first word).
    """
    lines = view.text.strip().rstrip(";").strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip()


def deploy(athena: Athena, views: list[SqlFile]) -> list[str]:
    for view in views:
        athena.run(statement(view))
        logger.info("view deployed", extra={"view": view.name})
    return [v.name for v in views]


def drop(athena: Athena, views: list[SqlFile]) -> list[str]:
    dropped = []
    for view in reversed(views):
        if not _NAME.match(view.name):
            raise DeployError(f"not a plain view name: {view.name!r}")
        athena.run(f"DROP VIEW IF EXISTS {view.name}")
        logger.info("view dropped", extra={"view": view.name})
        dropped.append(view.name)
    return dropped


def physical_id(database: str) -> str:
    return f"athena-views:{database}"


def send_response(
    event: dict[str, Any], status: str, reason: str, physical: str, data: dict[str, str] | None = None
) -> None:
    """PUT the outcome to CloudFormation's pre-signed S3 URL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:MAX_REASON],
            "PhysicalResourceId": physical,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data or {},
        }
    ).encode()
    url = event["ResponseURL"]
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"ResponseURL is not an HTTP(S) URL: {url[:60]!r}")
    request = urllib.request.Request(  # noqa: S310 -- scheme checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 -- scheme checked above
        answer.read()


def handle(event: dict[str, Any], context: Any, client: Any | None = None) -> dict[str, Any]:
    request = event.get("RequestType", "")
    props = event.get("ResourceProperties") or {}
    database = str(props.get("Database", ""))
    physical = str(event.get("PhysicalResourceId") or physical_id(database))
    status, reason, data = "SUCCESS", "", {}
    try:
        if not database or not props.get("WorkGroup"):
            raise DeployError("the resource needs the properties Database and WorkGroup")
        athena = Athena(
            client or boto3.client("athena"),
            database,
            str(props["WorkGroup"]),
            out_of_time=lambda: bool(context.get_remaining_time_in_millis() < RESERVE_MS),
        )
        views = views_in_order()
        if request in ("Create", "Update"):
            physical = physical_id(database)
            data = {"Views": ",".join(deploy(athena, views))}
            reason = f"{len(views)} views deployed in {database}"
        elif request == "Delete":
            data = {"Views": ",".join(drop(athena, views))}
            reason = f"{len(views)} views dropped from {database}"
        else:
            raise DeployError(f"unknown RequestType {request!r}")
    except Exception as error:  # every failure must reach CloudFormation, whatever it is
        logger.exception("view deployment failed", extra={"request": request})
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    send_response(event, status, reason, physical, data)
    return {"Status": status, "Reason": reason, "PhysicalResourceId": physical}


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)


handler = lambda_entry(_handler, correlation_path="RequestId")
