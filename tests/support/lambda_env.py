"""A Lambda's AWS-mode environment against moto's server: fresh warehouse bucket and control table,
the TALLY_* variables a handler reads at import, and a versioned landing bucket beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tally.settings import Settings
from tests.support.deployments import aws_settings
from tests.support.paths import REPO

EVENTBRIDGE_OBJECT_CREATED = REPO / "tests" / "events" / "eventbridge_s3_object_created_billing.json"


@dataclass(frozen=True)
class AwsLambdaEnv:
    settings: Settings
    s3: Any
    landing: str


def aws_lambda_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AwsLambdaEnv:
    settings = aws_settings(moto_endpoint)
    for name, value in {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": settings.warehouse_uri,
        "TALLY_S3_ENDPOINT_URL": moto_endpoint,
        "TALLY_CONTROL_TABLE": settings.control_table,
        "TALLY_DYNAMODB_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, str(value))
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="eu-west-1")
    landing = f"{settings.control_table}-landing"
    s3.create_bucket(Bucket=landing, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=landing, VersioningConfiguration={"Status": "Enabled"})
    return AwsLambdaEnv(settings, s3, landing)


def object_created(bucket: str, key: str, version: str) -> dict[str, Any]:
    """The EventBridge "Object Created" event of `key` (that version) in `bucket`, as S3 sends it."""
    event: dict[str, Any] = json.loads(EVENTBRIDGE_OBJECT_CREATED.read_text())
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update({"key": key, "version-id": version})
    return event
