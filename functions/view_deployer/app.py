"""CloudFormation custom resource that deploys the Athena views of `athena_queries/views/`.

What it runs, in which order, and how it always answers CloudFormation: tally.query.view_deployment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from tally.observability import lambda_entry
from tally.query.view_deployment import answer_custom_resource
from tally.services.container import Services

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def handle(event: dict[str, Any], context: Any, client: Any | None = None) -> dict[str, Any]:
    """`client`: an Athena client other than the container's (tests script Athena's answers)."""
    typed = CloudFormationCustomResourceEvent(event)
    athena = client or services.athena_client
    return answer_custom_resource(typed, athena, context.get_remaining_time_in_millis)


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)


handler = lambda_entry(_handler, correlation_path="RequestId")
