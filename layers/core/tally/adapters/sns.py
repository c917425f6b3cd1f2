"""The finance notifier on AWS: one SNS message per run that needs a look (`tally.domain.ports.Notifier`)."""

from __future__ import annotations

import json
from typing import Any

from tally.domain.ports import Notifier


def sns_notifier(topic_arn: str, region: str, endpoint_url: str | None = None) -> Notifier:
    import boto3  # only the verifier in AWS mode needs it

    client = boto3.client("sns", region_name=region, endpoint_url=endpoint_url)

    def publish(subject: str, message: dict[str, Any]) -> None:
        client.publish(TopicArn=topic_arn, Subject=subject[:100], Message=json.dumps(message, default=str))

    return publish
