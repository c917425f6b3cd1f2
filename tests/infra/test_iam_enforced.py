"""The template's role policies, enforced by moto's IAM simulation, against the real code paths.

Each role's statements are taken from the transformed template, their references filled in with
this test's bucket and table, and attached to an IAM user; the code then runs with that user's
keys while moto checks every request. This shows the roles are enough for what pyarrow's S3
client and boto3 really send, and that what a role must not do is refused.

Two moto details are bridged, both ways the simulation differs from AWS: moto names the
permission of HeadBucket `s3:HeadBucket` where AWS checks `s3:ListBucket`, and moto checks
DynamoDB and SNS requests against the resource `*` rather than the table or topic ARN (their
actions and resources are checked against the code by test_template.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication

from tally.adapters.warehouse import partition_key
from tally.alerts.delivery import Message, SnsChannel
from tally.alerts.model import Alert, AlertRule, Money, RuleScope
from tally.alerts.service import RUN_LEASE
from tally.api.body import split_lines
from tally.compaction import Compactor
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.settings import Settings
from tally.subscriptions.model import Delivery, Subscription
from tally.subscriptions.service import RUN_LEASE as SUBSCRIPTIONS_LEASE
from tests.billing_store.helpers import CUR_FINAL, FINAL_ACCOUNT, billing_rows, not_final_of_final_account
from tests.infra.sam import REPO, as_list, transformed
from tests.reconcile.scenarios import fleet, plant_over_billed
from tests.reconcile.warehouse_fixtures import store_bill, store_vms
from tests.support.deployments import aws_settings
from tests.support.lambdas import LambdaContext, load_function
from tests.support.records import job, ndjson
from tests.support.warehouse import rows

pytestmark = pytest.mark.aws

ACCOUNT = "123456789012"
REGION = "eu-west-1"
EVENTS = REPO / "tests" / "events"


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
            if not any(a.startswith(("s3:", "dynamodb:", "sns:")) for a in actions):
                continue
            if any(a.startswith(("dynamodb:", "sns:")) for a in actions):
                resources = ["*"]  # moto checks these against "*" (see the module docstring)
            else:
                resources = [resolve(r, names) for r in as_list(statement["Resource"])]
            if "s3:ListBucket" in actions:
                actions = [*actions, "s3:HeadBucket"]  # moto's name for what ListBucket allows
            if {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(actions):
                # AWS authorises a transaction by its Put/Update parts; moto asks for its own name.
                actions = [*actions, "dynamodb:TransactWriteItems"]
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
            "BillingLandingBucket": f"{self.bucket}-landing",
            "BillingLandingBucket.Arn": f"arn:aws:s3:::{self.bucket}-landing",
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


CONTEXT = LambdaContext("tally-test", memory_limit_in_mb=6144)


def handler_env(monkeypatch: pytest.MonkeyPatch, deployment: Deployment, **extra: str) -> None:
    """The function's environment as the template sets it (plus the test endpoints)."""
    assert deployment.settings.warehouse_uri
    values = {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": deployment.settings.warehouse_uri,
        "TALLY_S3_ENDPOINT_URL": deployment.endpoint,
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def landed_event(bucket: str, key: str, version: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "eventbridge_s3_object_created_billing.json").read_text())
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update({"key": key, "version-id": version})
    return event


def test_billing_importer_role_imports_restates_and_quarantines_but_touches_nothing_else(
    deployment: Deployment, as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = Services(deployment.settings)
    post(operator, [job(1)], datetime(2026, 3, 2, tzinfo=UTC))  # usage records it must not touch
    s3 = boto3.client("s3", endpoint_url=deployment.endpoint, region_name=REGION)
    landing = deployment.names["BillingLandingBucket"]
    s3.create_bucket(Bucket=landing, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=landing, VersioningConfiguration={"Status": "Enabled"})
    key = "aws/cur/2023-06/report.csv"
    not_final = s3.put_object(Bucket=landing, Key=key, Body=not_final_of_final_account())["VersionId"]
    final = s3.put_object(Bucket=landing, Key=key, Body=CUR_FINAL.read_bytes())["VersionId"]
    broken = s3.put_object(Bucket=landing, Key="gcp/broken.csv", Body=b"col_a,col_b\n1,2\n")["VersionId"]
    handler_env(
        monkeypatch,
        deployment,
        TALLY_CONTROL_TABLE=str(deployment.settings.control_table),
        TALLY_DYNAMODB_ENDPOINT_URL=deployment.endpoint,
    )
    as_role(deployment.keys_for("BillingImporterRole"))

    with enable_iam_authentication():
        importer = load_function("billing_importer")
        first = importer.handler(landed_event(landing, key, not_final), CONTEXT)["imported"][0]
        second = importer.handler(landed_event(landing, key, final), CONTEXT)["imported"][0]
        with pytest.raises(importer.BillingImportFailedError, match="unrecognised billing export header"):
            importer.handler(landed_event(landing, "gcp/broken.csv", broken), CONTEXT)
        warehouse = importer.services.billing.warehouse
        usage = warehouse.list_keys("jobs")
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.get_bytes(usage[0])
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.delete(usage)
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.put_bytes("quarantine/jobs/dt=2026-03-02/x.ndjson", b"{}")
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.delete(warehouse.list_keys("quarantine/billing"))
        landing_client = boto3.client("s3", endpoint_url=deployment.endpoint, region_name=REGION)
        with pytest.raises(Exception, match="AccessDenied"):
            landing_client.put_object(Bucket=landing, Key="aws/forged.csv", Body=b"x")
        with pytest.raises(Exception, match="AccessDenied"):
            landing_client.delete_object(Bucket=landing, Key=key)

    partition = f"aws/{FINAL_ACCOUNT}/2023-06"
    assert first["actions"] == {partition: "stored"}
    assert second["actions"] == {partition: "replaced"} and second["replaced"] == [partition]
    assert {r["invoice_id"] for r in billing_rows(operator.warehouse)} == {"987654321"}
    assert len(billing_rows(operator.warehouse)) == 3  # the not-final delivery's file was deleted
    [error] = operator.warehouse.list_keys("quarantine/billing")
    assert error.endswith(".error.ndjson")
    assert len(rows(operator.warehouse, "jobs")) == 1


def test_invoice_verifier_role_judges_reports_and_notifies_finance_only(
    deployment: Deployment, as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns = boto3.client("sns", endpoint_url=deployment.endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=deployment.endpoint, region_name=REGION)
    topic = sns.create_topic(Name=f"finance-{deployment.bucket}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"finance-{deployment.bucket}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    deployment.names["FinanceTopic"] = topic
    operator = Services(deployment.settings)
    f = fleet()
    plant_over_billed(f)
    store_vms(operator.warehouse, f.vms)
    [bill] = [k for k in store_bill(operator.warehouse, f.bill, "delivery-1") if "provider=aws" in k]
    operator.warehouse.put_bytes(
        "reference/invoices/2026-03.csv", b"invoice_id,currency,total\nINV-1,USD,0.01\n"
    )
    handler_env(
        monkeypatch, deployment, TALLY_SNS_ENDPOINT_URL=deployment.endpoint, TALLY_FINANCE_TOPIC_ARN=topic
    )
    as_role(deployment.keys_for("InvoiceVerifierRole"))
    event = {"scheduled_time": "2026-03-07T06:00:00Z"}  # the template's schedule input

    with enable_iam_authentication():
        verifier = load_function("invoice_verifier")
        result = verifier.handler(event, CONTEXT)
        again = verifier.handler(event, CONTEXT)  # a retry: the .notified marker is read back
        warehouse = Services(Settings(**deployment.settings.model_dump())).warehouse
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.delete([bill])
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.put_bytes(bill, b"forged")
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            warehouse.put_bytes("vms/dt=2026-03-01/forged.parquet", b"forged")
        client = boto3.client("sns", endpoint_url=deployment.endpoint, region_name=REGION)
        with pytest.raises(Exception, match="AccessDenied"):  # publish, and nothing else
            client.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.org")

    _february, march = result["runs"]
    assert march["verdicts"] == {"ok": 15, "over_billed": 1} and march["notified"]
    assert march["invoices"].get("total_mismatch") == 1  # the reference totals were read
    assert not again["runs"][1]["notified"]
    assert operator.warehouse.list_keys("reconciliation")
    assert set(march["reports"]) <= set(operator.warehouse.list_keys("reports/reconciliation/2026-03"))
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    assert len(messages) == 1 and "2026-03" in json.loads(messages[0]["Body"])["Subject"]


def test_alerts_evaluator_role_keeps_alerts_in_the_control_table_and_publishes_to_its_topic(
    deployment: Deployment, as_role: Any
) -> None:
    sns = boto3.client("sns", endpoint_url=deployment.endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=deployment.endpoint, region_name=REGION)
    topic = sns.create_topic(Name=f"alerts-{deployment.bucket}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"alerts-{deployment.bucket}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    deployment.names["AlertsTopic"] = topic
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    rule = AlertRule(
        "r-00000000beef", "idle_vm", "idle", RuleScope(site="SITE-A"), {"hours": 24.0}, True, at, "t"
    )
    Services(deployment.settings).alerts.store.put_rule(rule, create=True)
    # A report subscription, which the same function delivers (tally.subscriptions).
    subscription = Subscription("s-00000000beef", "p-1", "by-site", "weekly", "csv", "email", None, at)
    Services(deployment.settings).subscriptions.store.put(subscription)
    as_role(deployment.keys_for("AlertsEvaluatorRole"))

    with enable_iam_authentication():
        svc = Services(Settings(**deployment.settings.model_dump()))
        store = svc.alerts.store
        assert store.list_rules() == [rule]
        alert = Alert(
            "a-00000000beef", rule.rule_id, "idle_vm", "k", "aws/1/i-1", "idle", "SITE-A", "os1", None,
            {}, Money(Decimal("1.00"), "USD"), "open", at, at,
        )  # fmt: skip
        assert store.claim_open("digest", alert.alert_id) and not store.claim_open("digest", "a-000000000000")
        store.put_alert(alert)
        store.release_open("digest")
        assert svc.control.acquire_lock(RUN_LEASE, "me", datetime.now(UTC), 60)
        svc.control.release_lock(RUN_LEASE, "me")
        subscriptions = svc.subscriptions.store
        assert subscriptions.all() == [subscription] and svc.saved_views.list("p-1") == []
        delivery = Delivery(subscription.subscription_id, "2026-W10", at, at, "sent", 1, "x.csv", 2, at)
        subscriptions.put_delivery(delivery)
        assert subscriptions.get_delivery(subscription.subscription_id, "2026-W10") == delivery
        assert svc.control.acquire_lock(SUBSCRIPTIONS_LEASE, "me", datetime.now(UTC), 60)
        svc.control.release_lock(SUBSCRIPTIONS_LEASE, "me")
        client = boto3.client("sns", endpoint_url=deployment.endpoint, region_name=REGION)
        assert SnsChannel(topic, client).send(Message("fired", alert)) == "sent"
        with pytest.raises(Exception, match="AccessDenied"):  # publish, and nothing else
            client.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.org")
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            svc.warehouse.put_bytes("vms/dt=2026-03-01/forged.parquet", b"forged")

    assert Services(deployment.settings).alerts.store.get_alert(alert.alert_id) == alert
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"])["alert"]["alert_id"] == alert.alert_id


def test_people_authoriser_role_reads_people_and_drops_expired_sessions_only(
    deployment: Deployment, as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = Services(deployment.settings)
    ada = owner.people.add_person("Ada", "ada@example.org", "test", password="correct horse battery")
    owner.people.add_grant(ada.person_id, "admin", None, "test")
    _token, plain = owner.people.create_token(owner.people.principal_of(ada), "notebook", days=1)
    live, live_cookie = owner.people.login("ada@example.org", "correct horse battery")
    old, old_cookie = owner.people.login("ada@example.org", "correct horse battery")
    stale = owner.control.get_doc("sessions", old.session_id)
    assert stale is not None
    stale["expires_at"] = "2026-01-01T00:00:00.000000Z"
    owner.control.put_doc("sessions", old.session_id, {k: v for k, v in stale.items() if k != "_id"})
    for name, value in {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": str(deployment.settings.warehouse_uri),
        "TALLY_CONTROL_TABLE": str(deployment.settings.control_table),
        "TALLY_S3_ENDPOINT_URL": deployment.endpoint,
        "TALLY_DYNAMODB_ENDPOINT_URL": deployment.endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    as_role(deployment.keys_for("PeopleAuthoriserRole"))

    def event(headers: dict[str, str], cookies: list[str] | None = None) -> dict[str, Any]:
        context = {"requestId": "r-1", "http": {"method": "GET", "path": "/v1/me"}}
        return {"version": "2.0", "type": "REQUEST", "headers": headers, "cookies": cookies or [],
                "requestContext": context}  # fmt: skip

    with enable_iam_authentication():
        function = load_function("people_authoriser")
        context = LambdaContext("tally-people-authoriser")
        by_token = function.handler(event({"authorization": f"Bearer {plain}"}), context)
        by_cookie = function.handler(event({}, [f"tally_session={live_cookie}"]), context)
        expired = function.handler(event({}, [f"tally_session={old_cookie}"]), context)
        # It cannot add people, nor write the warehouse. (That it reads only the people's items is
        # a condition moto does not check: test_template.py holds the role to it.)
        with pytest.raises(Exception, match="AccessDenied"):
            function.services.people.add_person("Mallory", "m@example.org", "test")
        with pytest.raises(OSError, match=r"(?i)access.?denied"):
            function.services.warehouse.put_bytes("people/identities/forged.parquet", b"forged")
    assert by_token == {"isAuthorized": True, "context": {"person_id": ada.person_id, "via": "token"}}
    assert by_cookie == {"isAuthorized": True, "context": {"person_id": ada.person_id, "via": "session"}}
    assert expired == {"isAuthorized": False}
    assert owner.people.store.get_session(old.session_id) is None  # dropped on its late use
    assert owner.people.store.get_session(live.session_id) is not None
