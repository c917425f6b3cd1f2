"""The Athena views of `athena_queries/views/`, deployed by a CloudFormation custom resource.

Create and Update run each view file (`CREATE OR REPLACE VIEW <name> AS ...`) in dependency order;
Delete drops them in reverse order with `DROP VIEW IF EXISTS`. The SQL ships in the core layer, so
whatever view files exist at build time are deployed; nothing here names a view. Statements run
through the Athena engine (its polling and cancelling), one at a time.

Resource properties: `Database` (Glue database) and `WorkGroup` (Athena workgroup, which enforces
the result location); any other property only serves to trigger an update.

CloudFormation always gets an answer (SUCCESS or FAILED with the reason) on the pre-signed
`ResponseURL`, also when a statement fails or the time budget is nearly spent, so a stack never
waits an hour for a custom resource that died.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from tally.adapters.cloudformation import send_response
from tally.observability import logger
from tally.query.athena_engine import AthenaEngine
from tally.query.engine import QueryError, QueryTimeoutError
from tally.query.sql_files import SqlFile, views_in_order

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Stop waiting for Athena when this little of the Lambda budget is left, and report FAILED.
RESERVE_MS = 15_000


class DeployError(RuntimeError):
    """A statement failed or could not finish in time; the message goes to CloudFormation."""


def _first_line(sql: str) -> str:
    for line in sql.splitlines():
        text = line.strip()
        if text and not text.startswith("--"):
            return text[:120]
    return sql[:120]


def run(engine: AthenaEngine, sql: str) -> str:
    try:
        return engine.execute(sql)
    except QueryTimeoutError as error:
        raise DeployError(f"{_first_line(sql)}: {error}") from error
    except QueryError as error:
        raise DeployError(f"{_first_line(sql)}: {error.reason or error}") from error


def statement(view: SqlFile) -> str:
    """The file's CREATE OR REPLACE VIEW as Athena takes it: one statement, no trailing semicolon,
    and without the comment lines that head the file (Athena picks its parser from the first word).
    """
    lines = view.text.strip().rstrip(";").strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip()


def deploy(engine: AthenaEngine, views: list[SqlFile]) -> list[str]:
    for view in views:
        run(engine, statement(view))
        logger.info("view deployed", extra={"view": view.name})
    return [v.name for v in views]


def drop(engine: AthenaEngine, views: list[SqlFile]) -> list[str]:
    dropped = []
    for view in reversed(views):
        if not _NAME.match(view.name):
            raise DeployError(f"not a plain view name: {view.name!r}")
        run(engine, f"DROP VIEW IF EXISTS {view.name}")
        logger.info("view dropped", extra={"view": view.name})
        dropped.append(view.name)
    return dropped


def physical_id(database: str) -> str:
    return f"athena-views:{database}"


def answer_custom_resource(
    event: CloudFormationCustomResourceEvent, client: Any, remaining_ms: Callable[[], int]
) -> dict[str, Any]:
    """Deploy or drop the views as the event asks, with `client` (boto3's Athena client), and
    answer CloudFormation whatever happens."""
    request = str(event.get("RequestType", ""))
    props = event.resource_properties
    database = str(props.get("Database", ""))
    physical = event.physical_resource_id or physical_id(database)
    status, reason, data = "SUCCESS", "", {}
    try:
        if not database or not props.get("WorkGroup"):
            raise DeployError("the resource needs the properties Database and WorkGroup")
        engine = AthenaEngine(
            client,
            workgroup=str(props["WorkGroup"]),
            database=database,
            first_poll_seconds=0.5,
            timeout_seconds=math.inf,  # the Lambda budget bounds the wait, not a fixed time
            out_of_time=lambda: remaining_ms() < RESERVE_MS,
        )
        views = views_in_order()
        if request in ("Create", "Update"):
            physical = physical_id(database)
            data = {"Views": ",".join(deploy(engine, views))}
            reason = f"{len(views)} views deployed in {database}"
        elif request == "Delete":
            data = {"Views": ",".join(drop(engine, views))}
            reason = f"{len(views)} views dropped from {database}"
        else:
            raise DeployError(f"unknown RequestType {request!r}")
    except Exception as error:  # every failure must reach CloudFormation, whatever it is
        logger.exception("view deployment failed", extra={"request": request})
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    send_response(event, status, reason, physical, data)
    return {"Status": status, "Reason": reason, "PhysicalResourceId": physical}
