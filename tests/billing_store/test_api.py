"""POST /v1/billing over real HTTP (uvicorn on loopback), in local mode and against moto's S3."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.billing_store.helpers import (
    CUR2,
    CUR_FINAL,
    FOCUS_SAMPLE,
    GCP_EXPORT,
    billing_rows,
    not_final_of_final_account,
)
from tests.support.deployments import Deployment

PROBLEM = "application/problem+json"


@pytest.fixture
def billing_key(deployment: Deployment) -> str:
    return deployment.services.create_key(deployment.site, ("billing",)).plain


def _post(deployment: Deployment, key: str, body: bytes, content_type: str, **params: str) -> httpx.Response:
    with deployment.client(key) as client:
        return client.post("/v1/billing", content=body, headers={"Content-Type": content_type}, params=params)


def _data_rows(text: str) -> int:
    return sum(1 for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if row) - 1


def test_focus_csv_is_imported_and_restated(deployment: Deployment, billing_key: str) -> None:
    body = FOCUS_SAMPLE.read_bytes()
    response = _post(deployment, billing_key, body, "text/csv", filename=FOCUS_SAMPLE.name)
    assert response.status_code == 200, response.text
    answer = response.json()
    expected_rows = _data_rows(body.decode())
    assert (answer["source_format"], answer["provider"], answer["source_file"]) == (
        "focus-1.0",
        "mixed",
        FOCUS_SAMPLE.name,
    )
    assert answer["accepted"] + answer["rejected"] == answer["source_rows"] == expected_rows
    assert answer["periods_replaced"] == [] and not answer["replayed"]
    assert {p["action"] for p in answer["partitions"]} == {"stored"}
    stored = billing_rows(deployment.services.warehouse)
    assert len(stored) == sum(p["rows"] for p in answer["partitions"]) >= answer["accepted"]
    assert Counter(r["provider"] for r in stored).keys() == {p["provider"] for p in answer["partitions"]}

    again = _post(deployment, billing_key, body, "text/csv", filename=FOCUS_SAMPLE.name).json()
    assert again["delivery_id"] == answer["delivery_id"] and again["replayed"]
    assert len(billing_rows(deployment.services.warehouse)) == len(stored)


def test_not_final_then_final_over_http(deployment: Deployment, billing_key: str) -> None:
    first = _post(deployment, billing_key, not_final_of_final_account(), "text/csv", filename="june-nf.csv")
    assert first.status_code == 200, first.text
    final = _post(
        deployment,
        billing_key,
        CUR_FINAL.read_bytes(),
        "application/octet-stream",
        filename=CUR_FINAL.name,
    )
    assert final.status_code == 200, final.text
    replaced = final.json()["periods_replaced"]
    assert [(p["provider"], p["billing_account_id"], p["billing_period"]) for p in replaced] == [
        ("aws", "0099999999999", "2023-06")
    ]
    assert replaced[0]["replaced_deliveries"] == [first.json()["delivery_id"]]
    assert {r["source_file"] for r in billing_rows(deployment.services.warehouse)} == {CUR_FINAL.name}


def test_gzip_and_parquet_bodies(deployment: Deployment, billing_key: str) -> None:
    gz = _post(deployment, billing_key, gzip.compress(CUR2.read_bytes()), "application/gzip")
    assert gz.status_code == 200, gz.text
    assert gz.json()["source_file"] == "upload.csv.gz" and gz.json()["provider"] == "aws"
    assert gz.json()["accepted"] == _data_rows(CUR2.read_text())

    table = pacsv.read_csv(
        GCP_EXPORT,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in GCP_EXPORT.read_text().splitlines()[0].split(",")}
        ),
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    with deployment.client(billing_key) as client:
        response = client.post(
            "/v1/billing",
            content=sink.getvalue(),
            headers={
                "Content-Type": "application/vnd.apache.parquet",
                "Content-Disposition": 'attachment; filename="gcp-2020-11.parquet"',
            },
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["source_file"], answer["provider"], answer["billing_periods"]) == (
        "gcp-2020-11.parquet",
        "gcp",
        ["2026-02"],
    )
    assert answer["accepted"] == table.num_rows
    providers = Counter(r["provider"] for r in billing_rows(deployment.services.warehouse))
    assert providers["gcp"] >= table.num_rows and providers["aws"] > 0


def test_rejected_rows_are_listed(deployment: Deployment, billing_key: str) -> None:
    header = (
        "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,"
        "ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ProviderName"
    )
    row = "a,EUR,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,2025-01-05T00:00:00Z,2025-01-05T01:00:00Z,Usage"
    body = f"{header}\n{row},1,1,Lab\n{row},x,1,Lab\n".encode()
    answer = _post(deployment, billing_key, body, "text/csv; charset=utf-8", filename="lab.csv").json()
    assert (answer["accepted"], answer["rejected"], answer["errors_truncated"]) == (1, 1, False)
    assert [(e["source_file"], e["source_row"]) for e in answer["errors"]] == [("lab.csv", 2)]
    rules = [v["rule_id"] for v in answer["errors"][0]["violations"]]
    assert rules[0] == "BilledCost-C-004-M" and all(
        v["description"] for v in answer["errors"][0]["violations"]
    )
    quarantined = deployment.services.warehouse.list_keys("quarantine/billing/")
    assert [k.rsplit("/", 1)[-1] for k in quarantined] == [f"{answer['delivery_id']}.ndjson"]


def _bomb() -> bytes:
    return gzip.compress(b"BillingAccountId\n" + b"0" * (70 << 20), compresslevel=9)


@pytest.mark.parametrize(
    ("body", "content_type", "params", "status", "code"),
    [
        (b"", "text/csv", {}, 422, "empty"),
        (gzip.compress(CUR_FINAL.read_bytes())[:-40], "application/gzip", {}, 422, "truncated"),
        (b"name,colour\npear,green\n", "text/csv", {}, 422, "unknown-format"),
        (b"%PDF-1.7 not a bill", "application/pdf", {}, 415, None),
        (CUR_FINAL.read_bytes(), "application/octet-stream", {}, 400, None),
        (CUR_FINAL.read_bytes(), "text/csv", {"currency": "euros"}, 422, None),
        (b"x" * 4_600_000, "text/csv", {}, 413, None),
        (_bomb(), "application/gzip", {}, 413, None),
    ],
    ids=[
        "empty",
        "truncated-gzip",
        "unknown-format",
        "wrong-type",
        "octet-no-name",
        "bad-currency",
        "oversized",
        "gzip-bomb",
    ],
)
def test_unusable_bodies_get_problem_json_and_write_nothing(
    deployment: Deployment,
    billing_key: str,
    body: bytes,
    content_type: str,
    params: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    response = _post(deployment, billing_key, body, content_type, **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    if code is not None:
        assert problem["code"] == code
    assert deployment.services.warehouse.list_keys("") == []


def test_only_billing_keys_may_post(deployment: Deployment) -> None:
    body = CUR_FINAL.read_bytes()
    plain = _post(deployment, deployment.key, body, "text/csv")
    assert plain.status_code == 403 and plain.headers["content-type"] == PROBLEM
    assert "--scope billing:write" in plain.json()["detail"]
    other = deployment.services.create_key(deployment.site, ("hpc-1",)).plain
    assert _post(deployment, other, body, "text/csv").status_code == 403
    assert _post(deployment, "tly_0000000000000000_" + "x" * 40, body, "text/csv").status_code == 401
    with httpx.Client(base_url=deployment.url) as anonymous:
        assert (
            anonymous.post("/v1/billing", content=body, headers={"Content-Type": "text/csv"}).status_code
            == 401
        )
    assert deployment.services.warehouse.list_keys("") == []
