"""The Athena engine against moto's server: submission, polling with backoff, results, failures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
import requests

from tally.query.athena_engine import AthenaEngine, athena_literal
from tally.query.engine import QueryError, QueryTimeoutError

pytestmark = [pytest.mark.functional, pytest.mark.aws]
REGION = "eu-west-1"


@pytest.fixture
def athena(moto_endpoint: str) -> Any:
    client = boto3.client("athena", endpoint_url=moto_endpoint, region_name=REGION)
    if "tally" not in [w["Name"] for w in client.list_work_groups()["WorkGroups"]]:
        client.create_work_group(
            Name="tally", Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/athena/"}}
        )
    return client


def set_transitions(endpoint: str, progression: str, times: int = 1) -> None:
    body: dict[str, Any] = {
        "model_name": "athena::execution",
        "transition": {"progression": progression, "times": times},
    }
    assert requests.post(f"{endpoint}/moto-api/state-manager/set-transition", json=body, timeout=5).ok


def queue_result(endpoint: str, rows: list[list[str | None]], columns: list[tuple[str, str]]) -> None:
    def data(values: list[str | None]) -> dict[str, Any]:
        return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}

    body: dict[str, Any] = {
        "region": REGION,
        "results": [
            {
                "rows": [data([n for n, _ in columns]), *[data(r) for r in rows]],
                "column_info": [{"Name": n, "Type": t, "Nullable": "NULLABLE"} for n, t in columns],
            }
        ],
    }
    assert (
        requests.post(f"{endpoint}/moto-api/static/athena/query-results", json=body, timeout=5).status_code
        == 201
    )


def test_submits_polls_and_parses_typed_results(athena: Any, moto_endpoint: str) -> None:
    set_transitions(moto_endpoint, "manual", times=3)  # QUEUED -> RUNNING -> SUCCEEDED, 3 polls each
    try:
        queue_result(
            moto_endpoint,
            [["alpha", "2026-01-01", "12", "3.5", "true"], ["beta", None, None, "0.25", "false"]],
            [
                ("site", "varchar"),
                ("month", "date"),
                ("jobs", "bigint"),
                ("hours", "double"),
                ("commercial", "boolean"),
            ],
        )
        sleeps: list[float] = []
        engine = AthenaEngine(
            athena,
            "tally",
            "tally_db",
            output_location="s3://results/q/",
            sleep=sleeps.append,
            first_poll_seconds=0.5,
            max_poll_seconds=1.5,
        )
        result = engine.query(
            "SELECT site FROM jobs_monthly WHERE site = ? AND month >= ?", ["o'brien", date(2026, 1, 1)]
        )
    finally:
        set_transitions(moto_endpoint, "immediate")
    assert result.table.to_pylist() == [
        {"site": "alpha", "month": date(2026, 1, 1), "jobs": 12, "hours": 3.5, "commercial": True},
        {"site": "beta", "month": None, "jobs": None, "hours": 0.25, "commercial": False},
    ]
    assert result.bytes_scanned == 0 and result.engine == "athena"
    assert sleeps[:3] == [0.5, 1.0, 1.5] and all(s <= 1.5 for s in sleeps) and len(sleeps) >= 4
    execution = athena.get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    assert execution["Query"].startswith("SELECT site FROM jobs_monthly")
    assert execution["QueryExecutionContext"]["Database"] == "tally_db"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://results/q/")


def test_timeout_cancels_the_query(athena: Any, moto_endpoint: str) -> None:
    set_transitions(moto_endpoint, "manual", times=1000)
    try:
        engine = AthenaEngine(
            athena,
            "tally",
            "tally_db",
            sleep=lambda s: None,
            timeout_seconds=2,
            first_poll_seconds=1,
            max_poll_seconds=1,
        )
        with pytest.raises(QueryTimeoutError) as caught:
            engine.query("SELECT 1")
    finally:
        set_transitions(moto_endpoint, "immediate")
    status = athena.get_query_execution(QueryExecutionId=caught.value.query_id)["QueryExecution"]["Status"]
    assert status["State"] == "CANCELLED"


def test_failed_and_cancelled_queries_raise_with_athena_reason(athena: Any) -> None:
    """moto never fails a query, so this client answers like Athena does for a failed one."""

    class FailingAthena:
        def __init__(self, state: str) -> None:
            self.state = state

        def start_query_execution(self, **request: Any) -> dict[str, Any]:
            started: dict[str, Any] = athena.start_query_execution(**request)  # submission still goes to moto
            return started

        def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
            return {
                "QueryExecution": {
                    "QueryExecutionId": QueryExecutionId,
                    "Status": {
                        "State": self.state,
                        "StateChangeReason": "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
                    },
                }
            }

    engine = AthenaEngine(FailingAthena("FAILED"), "tally", "tally_db", sleep=lambda s: None)
    with pytest.raises(QueryError, match="Column 'nope' cannot be resolved") as caught:
        engine.query("SELECT nope FROM jobs")
    assert caught.value.query_id and "COLUMN_NOT_FOUND" in caught.value.reason
    with pytest.raises(QueryError, match="cancelled"):
        AthenaEngine(FailingAthena("CANCELLED"), "tally", "tally_db", sleep=lambda s: None).query("SELECT 1")


def test_refused_submission_is_a_query_error(moto_endpoint: str) -> None:
    class Refusing:
        def start_query_execution(self, **request: Any) -> dict[str, Any]:
            raise boto3.client("athena", region_name=REGION).exceptions.InvalidRequestException(
                {"Error": {"Code": "InvalidRequestException", "Message": "workgroup is disabled"}}, "Start"
            )

    with pytest.raises(QueryError, match="workgroup is disabled"):
        AthenaEngine(Refusing(), "tally", "db").query("SELECT 1")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("o'brien", "'o''brien'"),
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        (5, "5"),
        (True, "true"),
        (None, "NULL"),
        (1.5, "DOUBLE '1.5'"),
        (date(2026, 1, 2), "DATE '2026-01-02'"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "TIMESTAMP '2026-01-02 03:04:05.000000'"),
    ],
)
def test_parameters_become_safe_literals(value: Any, literal: str) -> None:
    assert athena_literal(value) == literal
