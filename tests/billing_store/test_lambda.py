"""The S3-event Lambda (functions/billing_importer/app.py) with real event JSON, against moto's server."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import orjson
import pytest

from tally.demo.bills import generate_bills
from tally.domain.control import OPERATOR_OWNER
from tally.services.billing import BillingService
from tally.services.container import Services
from tests.billing_store.helpers import (
    CUR2,
    CUR_FINAL,
    FINAL_ACCOUNT,
    billing_rows,
    not_final_of_final_account,
)
from tests.support.lambda_env import aws_lambda_env, object_created
from tests.support.lambdas import LambdaContext, load_function
from tests.support.paths import REPO

EVENTS = REPO / "tests" / "events"


@dataclass
class Env:
    module: ModuleType
    services: Services
    s3: Any
    landing: str

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> str:
        response = self.s3.put_object(Bucket=self.landing, Key=key, Body=body, Metadata=metadata or {})
        return str(response["VersionId"])

    def notification(self, key: str, version: str) -> dict[str, Any]:
        event: dict[str, Any] = copy.deepcopy(
            json.loads((EVENTS / "s3_object_created_billing.json").read_text())
        )
        s3 = event["Records"][0]["s3"]
        s3["bucket"]["name"] = self.landing
        s3["bucket"]["arn"] = f"arn:aws:s3:::{self.landing}"
        s3["object"].update(key=quote_plus(key, safe="/"), versionId=version)
        return event

    def eventbridge(self, key: str, version: str) -> dict[str, Any]:
        return object_created(self.landing, key, version)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(event, LambdaContext("tally-billing-importer"))
        return result


@pytest.fixture
def env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    aws = aws_lambda_env(moto_endpoint, monkeypatch)
    settings, s3, landing = aws.settings, aws.s3, aws.landing
    yield Env(load_function("billing_importer"), Services(settings), s3, landing)


def test_s3_notification_imports_the_object_once(env: Env) -> None:
    key = "aws/cur reports/2026-01/research cur.csv"
    version = env.put(key, CUR2.read_bytes())
    event = env.notification(key, version)
    assert "+" in event["Records"][0]["s3"]["object"]["key"]  # URL-encoded as S3 sends it

    result = env.invoke(event)
    [summary] = result["imported"]
    assert summary["object"] == f"s3://{env.landing}/{key}"
    assert (summary["provider"], summary["billing_periods"], summary["rejected"]) == ("aws", ["2026-01"], 0)
    stored = billing_rows(env.services.warehouse)
    assert len(stored) == summary["accepted"] == 5  # the five data rows of the CUR 2.0 file
    assert {r["source_file"] for r in stored} == {f"s3://{env.landing}/{key}"}
    keys = sorted(env.services.warehouse.list_keys("billing/"))

    again = env.invoke(event)  # S3 delivers at least once: a duplicate event changes nothing
    assert again["imported"][0]["delivery_id"] == summary["delivery_id"]
    assert set(again["imported"][0]["actions"].values()) == {"unchanged"}
    assert sorted(env.services.warehouse.list_keys("billing/")) == keys
    assert len(billing_rows(env.services.warehouse)) == 5


def test_eventbridge_restatement_and_a_late_duplicate(env: Env) -> None:
    key = "aws/cur/2023-06/report.csv"
    not_final = env.put(key, not_final_of_final_account())
    final = env.put(key, CUR_FINAL.read_bytes())  # the same key, a new version

    first = env.invoke(env.eventbridge(key, not_final))["imported"][0]
    second = env.invoke(env.eventbridge(key, final))["imported"][0]
    partition = f"aws/{FINAL_ACCOUNT}/2023-06"
    assert first["actions"] == {partition: "stored"}
    assert second["replaced"] == [partition]
    invoices = {r["invoice_id"] for r in billing_rows(env.services.warehouse)}
    assert invoices == {"987654321"} and len(billing_rows(env.services.warehouse)) == 3

    late = env.invoke(env.eventbridge(key, not_final))["imported"][0]
    assert late["actions"] == {partition: "stale"}
    assert {r["invoice_id"] for r in billing_rows(env.services.warehouse)} == {"987654321"}


def test_metadata_defaults_fill_missing_columns(env: Env) -> None:
    body = (
        b"BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
        b"ChargeCategory,BilledCost,EffectiveCost,ProviderName\n"
        b"lab-1,2025-05-01T00:00:00Z,2025-06-01T00:00:00Z,2025-05-02T00:00:00Z,2025-05-02T01:00:00Z,"
        b"Usage,4.25,4.25,Lab Cloud\n"
    )
    without = env.put("focus/lab-nocurrency.csv", body)
    refused = env.invoke(env.notification("focus/lab-nocurrency.csv", without))["imported"][0]
    # Without a currency the row breaks a FOCUS rule: quarantined, nothing stored.
    assert (refused["accepted"], refused["rejected"], refused["actions"]) == (0, 1, {})
    [entry] = [
        orjson.loads(line)
        for line in env.services.warehouse.get_bytes(refused["quarantine_key"]).splitlines()
    ]
    assert entry["rule_id"].startswith("BillingCurrency")
    version = env.put("focus/lab.csv", body, metadata={"tally-billing-currency": "CHF"})
    summary = env.invoke(env.notification("focus/lab.csv", version))["imported"][0]
    assert (summary["accepted"], summary["rejected"]) == (1, 0)
    [row] = billing_rows(env.services.warehouse)
    assert (row["billing_currency"], str(row["billed_cost"])) == ("CHF", "4.250000000000000000")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"col_a,col_b\n1,2\n", "unknown-format"),
        (gzip.compress(CUR_FINAL.read_bytes())[:-30], "truncated"),
        (b"", "empty"),
    ],
    ids=["unknown-format", "truncated-gzip", "empty"],
)
def test_a_failed_file_raises_and_leaves_an_error_record(env: Env, body: bytes, code: str) -> None:
    key = "gcp/exports/broken.csv.gz"
    version = env.put(key, body)
    with pytest.raises(env.module.BillingImportFailedError, match=r"broken\.csv\.gz"):
        env.invoke(env.notification(key, version))
    assert env.services.warehouse.list_keys("billing/") == []
    [error_key] = env.services.warehouse.list_keys("quarantine/billing/")
    assert error_key.endswith(".error.ndjson")
    entry = orjson.loads(env.services.warehouse.get_bytes(error_key))
    assert entry["errors"][0]["field"] == code
    assert entry["origin"] == f"s3://{env.landing}/{key}?versionId={version}"
    # The landed object is left where it was.
    assert env.s3.head_object(Bucket=env.landing, Key=key)["VersionId"] == version


def test_a_missing_object_raises(env: Env) -> None:
    with pytest.raises(env.module.BillingImportFailedError, match="NoSuch"):
        env.invoke(env.notification("aws/never-landed.csv", "3HL4kqtJvjVBH40Nrjfkd"))
    assert len(env.services.warehouse.list_keys("quarantine/billing/")) == 1


def test_manifests_and_folder_markers_are_skipped_with_a_reason(env: Env) -> None:
    manifest = "aws/cur/20230601-20230701/cur-Manifest.json"
    version = env.put(manifest, b'{"reportKeys": []}')
    folder = env.put("aws/cur/", b"")
    result = env.invoke(env.notification(manifest, version))
    assert result["imported"][0]["skipped"].startswith("export manifest")
    assert env.invoke(env.notification("aws/cur/", folder))["imported"][0]["skipped"] == "folder marker"
    assert env.services.warehouse.list_keys("") == []
    assert BillingService(env.services.warehouse).manifests() == []


def test_other_events_are_refused(env: Env) -> None:
    with pytest.raises(ValueError, match="neither"):
        env.invoke({"hello": "world"})
    deleted = env.eventbridge("aws/x.csv", "v1")
    deleted["detail-type"] = "Object Deleted"
    assert env.invoke(deleted) == {"imported": []}


def test_landed_files_are_the_operators_and_obey_a_sites_ownership(env: Env) -> None:
    aws_bill, azure_bill = generate_bills(datetime(2026, 6, 15, tzinfo=UTC))
    env.services.add_site("SITE-A")
    env.services.billing.import_files([(aws_bill.content, aws_bill.filename)], origin="api", site="SITE-A")
    stored = billing_rows(env.services.warehouse)

    foreign = env.put("focus/aws-2026-05.csv", aws_bill.content + b"\n")  # other bytes, a new delivery
    with pytest.raises(env.module.BillingImportFailedError, match="belong to another owner"):
        env.invoke(env.notification("focus/aws-2026-05.csv", foreign))
    assert billing_rows(env.services.warehouse) == stored
    [error] = env.services.warehouse.list_keys("quarantine/billing/")
    assert orjson.loads(env.services.warehouse.get_bytes(error))["rule_id"] == "not-owner"

    own = env.put("focus/azure-2026-05.csv", azure_bill.content)
    [summary] = env.invoke(env.notification("focus/azure-2026-05.csv", own))["imported"]
    assert summary["actions"] == {"azure/8611537/2026-05": "stored"}
    owner = env.services.control.get_billing_account("azure", "8611537")
    assert owner is not None and owner.owner == OPERATOR_OWNER
