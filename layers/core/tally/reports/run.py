"""Run a report on a QueryEngine and return typed columns."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tally.query.engine import QueryEngine
from tally.reports.builder import build_query
from tally.reports.catalog import TIME_DIMENSIONS, ValueType
from tally.reports.spec import ReportSpec

ARROW_TYPES: dict[ValueType, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class ReportResult:
    spec: ReportSpec
    columns: list[tuple[str, ValueType]]
    table: pa.Table
    engine: str
    bytes_scanned: int | None


def column_types(spec: ReportSpec) -> list[tuple[str, ValueType]]:
    kind = spec.catalog
    out: list[tuple[str, ValueType]] = []
    for name in spec.group_by:
        if name in TIME_DIMENSIONS:
            out.append((name, "date"))
        elif name in kind.boolean_dimensions:
            out.append((name, "boolean"))
        else:
            out.append((name, "string"))
    out += [(m, kind.metrics[m].type) for m in spec.metrics]
    return out


def run_report(engine: QueryEngine, spec: ReportSpec) -> ReportResult:
    built = build_query(spec)
    result = engine.query(built.sql, built.params)
    columns = column_types(spec)
    arrays = [result.table.column(name).cast(ARROW_TYPES[kind]) for name, kind in columns]
    table = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])
    return ReportResult(spec, columns, table, result.engine, result.bytes_scanned)
