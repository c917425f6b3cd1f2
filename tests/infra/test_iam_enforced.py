"""The template's role policies, enforced by moto's IAM simulation, against the real code paths.

Each role's statements are taken from the transformed template, their references filled in with
this test's bucket and table, and attached to an IAM user; the code then runs with that user's
keys while moto checks every request. This shows the roles are enough for what pyarrow's S3
client and boto3 really send, and that what a role must not do is refused.

Two moto details are bridged, both ways the simulation differs from AWS: moto names the
permission of HeadBucket `s3:HeadBucket` where AWS checks `s3:ListBucket`, and moto checks
DynamoDB requests against the resource `*` rather than the table ARN (the DynamoDB actions are
checked against the calls in the code by test_template.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication

from tally.adapters.warehouse import partition_key
from tally.compaction import Compactor
from tally.services.body import split_lines
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.settings import Settings
from tests.conftest import aws_settings
from tests.infra.sam import as_list, transformed
from tests.support.records import job, ndjson
from tests.support.warehouse import rows

pytestmark = pytest.mark.aws

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def resolve(value: Any, names: dict[str, str]) -> str:
    """A policy Resource with the stack's references replaced by this test's names."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        logical, _ = value["Fn::GetAtt"]
        return names[f"{logical}.Arn"]
    if "Ref" in value:
        return names[value["Ref"]]
    text = value["Fn::Sub"]
    return re.sub(r"\$\{([\w:.]+)\}", lambda m: names[m.group(1)], text)


def role_policy(role: str, names: dict[str, str]) -> dict[str, Any]:
    statements = []
    for policy in transformed()["Resources"][role]["Properties"]["Policies"]:
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            actions = as_list(statement["Action"])
            if not any(a.startswith(("s3:", "dynamodb:")) for a in actions):
                continue
            if any(a.startswith("dynamodb:") for a in actions):
                resources = ["*"]  # moto checks DynamoDB against "*" (see the module docstring)
            else:
                resources = [resolve(r, names) for r in as_list(statement["Resource"])]
            if "s3:ListBucket" in actions:
                actions = [*actions, "s3:HeadBucket"]  # moto's name for what ListBucket allows
            statements.append({"Effect": "Allow", "Action": actions, "Resource": resources})
    return {"Version": "2012-10-17", "Statement": statements}


class Deployment:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.settings = aws_settings(endpoint)
        assert self.settings.warehouse_uri and self.settings.control_table
        self.bucket = self.settings.warehouse_uri.removeprefix("s3://").split("/")[0]
        table = self.settings.control_table
        self.names = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "WarehouseBucket": self.bucket,
            "WarehouseBucket.Arn": f"arn:aws:s3:::{self.bucket}",
            "AthenaResultsBucket": "results-unused",
            "AthenaResultsBucket.Arn": "arn:aws:s3:::results-unused",
            "ControlTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}",
        }
        self.iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)

    def keys_for(self, role: str) -> dict[str, str]:
        user = f"{role}-{uuid.uuid4().hex[:6]}"
        self.iam.create_user(UserName=user)
        self.iam.put_user_policy(
            UserName=user, PolicyName=role, PolicyDocument=json.dumps(role_policy(role, self.names))
        )
        key = self.iam.create_access_key(UserName=user)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture
def deployment(moto_endpoint: str) -> Deployment:
    return Deployment(moto_endpoint)


@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Switch this process's AWS credentials (boto3 and pyarrow read them when clients are made)."""

    def switch(credentials: dict[str, str]) -> None:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        for name, value in credentials.items():
            monkeypatch.setenv(name, value)
        boto3.setup_default_session()

    yield switch
    monkeypatch.undo()
    boto3.setup_default_session()


def post(svc: Services, records: list[dict[str, object]], at: datetime) -> None:
    svc.ingest.ingest(
        "jobs", split_lines("application/x-ndjson", ndjson(records)), Principal("SITE-A", "k"), at
    )


def test_api_role_ingests_and_quarantines_but_cannot_delete_usage_records(
    deployment: Deployment, as_role: Any
) -> None:
    operator = Services(deployment.settings)
    operator.add_site("SITE-A")  # the operator's job, with the operator's credentials
    as_role(deployment.keys_for("IngestRole"))
    at = datetime(2026, 3, 2, tzinfo=UTC)

    with enable_iam_authentication():
        api = Services(Settings(**deployment.settings.model_dump()))
        post(api, [job(1), job(2), job(3, cores=0)], at)  # one record to quarantine
        post(api, [job(2), job(4)], at + timedelta(minutes=1))
        keys = api.warehouse.list_keys("jobs")
        billing = partition_key("billing/provider=aws", date(2026, 1, 1), "x.parquet").replace(
            "/dt=2026-01-01", "/billing_period=2026-01"
        )
        api.warehouse.put_bytes(billing, b"restated")
        api.warehouse.delete([billing])  # restatements may replace billing files
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            api.warehouse.delete(keys[:1])
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            api.warehouse.fs.open_output_stream(f"{deployment.bucket}/elsewhere/x").close()

    assert len(keys) == 2
    assert sorted(str(r["local_job_id"]) for r in rows(operator.warehouse, "jobs")) == [
        "1001",
        "1002",
        "1002",
        "1004",
    ]
    assert operator.warehouse.list_keys("quarantine/jobs")


def test_compaction_role_compacts_and_cannot_touch_the_control_table(
    deployment: Deployment, as_role: Any
) -> None:
    operator = Services(deployment.settings)
    operator.add_site("SITE-A")
    for n in range(4):
        post(operator, [job(i, queue=f"q{n}") for i in range(n, n + 5)], datetime(2026, 3, 2, n, tzinfo=UTC))
    before = rows(operator.warehouse, "jobs")
    as_role(deployment.keys_for("CompactionRole"))

    with enable_iam_authentication():
        compaction = Services(Settings(**deployment.settings.model_dump()))
        result = Compactor(compaction.warehouse).run(date(2026, 3, 10))
        with pytest.raises(Exception, match="AccessDenied"):
            compaction.control.get_site("SITE-A")

    assert result.partitions and result.duplicates_removed == len(before) - 8
    assert len(rows(operator.warehouse, "jobs")) == 8
