"""Answering a CloudFormation custom resource: the outcome PUT to the pre-signed `ResponseURL`."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

MAX_REASON = 1000


def send_response(
    event: CloudFormationCustomResourceEvent,
    status: str,
    reason: str,
    physical: str,
    data: dict[str, str] | None = None,
) -> None:
    """PUT the outcome to CloudFormation's pre-signed S3 URL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:MAX_REASON],
            "PhysicalResourceId": physical,
            "StackId": event.stack_id,
            "RequestId": event.request_id,
            "LogicalResourceId": event.logical_resource_id,
            "NoEcho": False,
            "Data": data or {},
        }
    ).encode()
    url = event.response_url
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"ResponseURL is not an HTTP(S) URL: {url[:60]!r}")
    request = urllib.request.Request(  # noqa: S310 -- scheme checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 -- scheme checked above
        answer.read()
