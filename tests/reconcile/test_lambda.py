"""The invoice_verifier Lambda with a real EventBridge Scheduler event, against moto's server (S3 + SNS).

A SQS queue subscribed to the finance topic receives what the verifier publishes.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tally.adapters.warehouse import open_warehouse
from tally.settings import Settings
from tests.reconcile.scenarios import MARCH, fleet, plant_over_billed
from tests.reconcile.warehouse_fixtures import store_bill, store_vms
from tests.support.deployments import aws_settings
from tests.support.lambdas import LambdaContext, load_function

EVENT = Path(__file__).resolve().parent / "events" / "scheduler_invoice_verifier.json"


pytestmark = pytest.mark.functional  # the invoice verifier's handler on moto's server


@pytest.mark.aws
def test_scheduled_run_stores_reports_and_notifies(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = aws_settings(moto_endpoint)
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="eu-west-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="eu-west-1")
    topic = sns.create_topic(Name=f"finance-{settings.control_table}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"finance-{settings.control_table}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": settings.warehouse_uri,
        "TALLY_S3_ENDPOINT_URL": moto_endpoint,
        "TALLY_SNS_ENDPOINT_URL": moto_endpoint,
        "TALLY_FINANCE_TOPIC_ARN": topic,
    }.items():
        monkeypatch.setenv(name, str(value))

    warehouse = open_warehouse(settings)
    f = fleet()
    plant_over_billed(f)
    store_vms(warehouse, f.vms)
    store_bill(warehouse, f.bill, "delivery-1")

    module = load_function("invoice_verifier")
    event = json.loads(EVENT.read_text())
    result = module.handler(event, LambdaContext("tally-invoice-verifier"))

    # 7 March 06:00: days to 4 March are closed; February is still open to restatement.
    assert [r["period"] for r in result["runs"]] == ["2026-02", "2026-03"]
    february, march = result["runs"]
    assert february["instance_days"] == 0 and not february["notified"]
    assert march["verdicts"] == {"ok": 15, "over_billed": 1} and march["notified"]
    stored = open_warehouse(
        Settings(mode="aws", warehouse_uri=settings.warehouse_uri, s3_endpoint_url=moto_endpoint)
    )
    keys = stored.list_keys("reconciliation")
    assert sorted({k.split("/")[1] for k in keys}) == [f"dt={d.isoformat()}" for d in MARCH]
    rows = [r for k in keys for r in stored.read_parquet(k).to_pylist()]
    over = [r for r in rows if r["verdict"] == "over_billed"]
    assert [(r["instance_id"], r["day"], r["billed_hours"], r["measured_hours"]) for r in over] == [
        ("i-0aaa", MARCH[0], 24.0, 12.0)
    ]
    assert set(march["reports"]) == {
        k for k in stored.list_keys("reports/reconciliation/2026-03") if not k.endswith(".notified")
    }

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["TopicArn"] == topic and "2026-03" in envelope["Subject"]
    body = json.loads(envelope["Message"])
    assert body["verdicts"] == {"ok": 15, "over_billed": 1}
    instance_findings = [x for x in body["findings"] if x["kind"] == "instance_day"]
    assert [(x["instance_id"], x["day"], x["verdict"]) for x in instance_findings] == [
        ("i-0aaa", "2026-03-01", "over_billed")
    ]
    assert body["reports"] == march["reports"]

    # The schedule fires again (a retry): same run, no second message.
    again = module.handler(event, LambdaContext("tally-invoice-verifier"))
    assert again["runs"][1]["run_id"] == march["run_id"] and not again["runs"][1]["notified"]
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []
