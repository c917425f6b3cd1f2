"""The AWS engine: Athena runs the SQL; this submits it, waits with backoff and reads the result."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from tally.query.ddl import TableDef
from tally.query.engine import Param, QueryError, QueryResult, QueryTimeoutError

_RUNNING = {"QUEUED", "RUNNING"}

# Athena result types -> Arrow types (the values arrive as text).
_ARROW: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int64(),
    "smallint": pa.int64(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "real": pa.float64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "varchar": pa.string(),
    "char": pa.string(),
}


def athena_literal(value: Param) -> str:
    """A parameter as the SQL literal Athena substitutes for `?` (ExecutionParameters are SQL text)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinite values cannot be query parameters")
        return f"DOUBLE '{value!r}'"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + value.replace("'", "''") + "'"


def _convert(text: str | None, type_name: str) -> object:
    if text is None:
        return None
    base = type_name.lower().split("(")[0]
    if base == "boolean":
        return text.lower() == "true"
    if base in ("tinyint", "smallint", "integer", "bigint"):
        return int(text)
    if base in ("real", "float", "double"):
        return float(text)
    if base == "decimal":
        return Decimal(text)
    if base == "date":
        return date.fromisoformat(text)
    if base.startswith("timestamp"):
        return datetime.fromisoformat(text.replace(" UTC", "").strip())
    return text


def _arrow_type(column: dict[str, Any]) -> pa.DataType:
    base = str(column.get("Type", "varchar")).lower().split("(")[0]
    if base == "decimal":
        return pa.decimal128(int(column.get("Precision") or 38), int(column.get("Scale") or 0))
    if base.startswith("timestamp"):
        return pa.timestamp("us")
    return _ARROW.get(base, pa.string())


class AthenaEngine:
    name = "athena"

    def __init__(
        self,
        client: Any,
        workgroup: str,
        database: str,
        output_location: str | None = None,
        catalog: str = "AwsDataCatalog",
        first_poll_seconds: float = 0.25,
        max_poll_seconds: float = 5.0,
        timeout_seconds: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        out_of_time: Callable[[], bool] | None = None,
    ) -> None:
        """`out_of_time`, when given, is asked between polls: once it is true, the query is
        cancelled (a Lambda that must answer before its own time runs out)."""
        self.client = client
        self.workgroup = workgroup
        self.database = database
        self.output_location = output_location
        self.catalog = catalog
        self.first_poll_seconds = first_poll_seconds
        self.max_poll_seconds = max_poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep
        self.out_of_time = out_of_time

    def start(self, sql: str, params: Sequence[Param] = ()) -> str:
        request: dict[str, Any] = {
            "QueryString": sql,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        if params:
            request["ExecutionParameters"] = [athena_literal(p) for p in params]
        try:
            response = self.client.start_query_execution(**request)
        except Exception as error:
            raise QueryError(f"Athena refused the query: {error}", reason=str(error)) from error
        return str(response["QueryExecutionId"])

    def wait(self, query_id: str) -> dict[str, Any]:
        """Poll until the query ends (delays double up to max_poll_seconds); return its execution."""
        delay = self.first_poll_seconds
        waited = 0.0
        while True:
            execution: dict[str, Any] = self.client.get_query_execution(QueryExecutionId=query_id)[
                "QueryExecution"
            ]
            status = execution.get("Status", {})
            state = status.get("State", "")
            if state == "SUCCEEDED":
                return execution
            if state not in _RUNNING:
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get(
                    "ErrorMessage", ""
                )
                raise QueryError(
                    f"Athena query {query_id} {state.lower() or 'ended'}: {reason or 'no reason given'}",
                    reason=str(reason),
                    query_id=query_id,
                )
            if waited >= self.timeout_seconds:
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise QueryTimeoutError(
                    f"Athena query {query_id} still {state.lower()} after {waited:.0f} s; cancelled it",
                    reason="timeout",
                    query_id=query_id,
                )
            if self.out_of_time is not None and self.out_of_time():
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise QueryTimeoutError(
                    f"Athena query {query_id} still {state} when the time budget ran out; cancelled it",
                    reason="timeout",
                    query_id=query_id,
                )
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, self.max_poll_seconds)

    def results(self, query_id: str) -> pa.Table:
        paginator = self.client.get_paginator("get_query_results")
        columns: list[dict[str, Any]] = []
        values: list[list[object]] = []
        first = True
        for page in paginator.paginate(QueryExecutionId=query_id):
            result_set = page["ResultSet"]
            if first:
                columns = list(result_set.get("ResultSetMetadata", {}).get("ColumnInfo", []))
            rows = result_set.get("Rows", [])
            if first and rows and columns:
                header = [cell.get("VarCharValue") for cell in rows[0].get("Data", [])]
                if header == [c.get("Name") for c in columns]:
                    rows = rows[1:]  # a SELECT's first row repeats the column names
            first = False
            for row in rows:
                cells = row.get("Data", [])
                values.append(
                    [
                        _convert(cells[i].get("VarCharValue") if i < len(cells) else None, str(c.get("Type")))
                        for i, c in enumerate(columns)
                    ]
                )
        arrays = {
            str(c.get("Name")): pa.array([v[i] for v in values], _arrow_type(c))
            for i, c in enumerate(columns)
        }
        return pa.table(arrays)

    def execute(self, sql: str) -> str:
        """Run one statement that returns no rows (DDL) and wait for it; its query id."""
        query_id = self.start(sql)
        self.wait(query_id)
        return query_id

    def register_table(self, table: TableDef) -> None:
        """Nothing to do: Athena reads the Glue catalog, where a custom kind's table is created
        when it is defined (tally.kinds.glue)."""

    def query(self, sql: str, params: Sequence[Param] = ()) -> QueryResult:
        started = time.perf_counter()
        query_id = self.start(sql, params)
        execution = self.wait(query_id)
        table = self.results(query_id)
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
        return QueryResult(
            table,
            self.name,
            time.perf_counter() - started,
            bytes_scanned=int(scanned) if scanned is not None else None,
            query_id=query_id,
        )
