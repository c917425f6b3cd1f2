"""Run a report on a QueryEngine and return typed columns."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import pyarrow as pa

from tally.query.engine import QueryEngine
from tally.reports.builder import build_query
from tally.reports.catalog import EXACT_PLACES, TIME_DIMENSIONS, ValueType
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


EXACT_TYPE = pa.decimal128(38, EXACT_PLACES)
_QUANTUM = Decimal(1).scaleb(-EXACT_PLACES)


def _exact(column: pa.ChunkedArray, divisor: int) -> pa.Array:
    """An exact sum divided by `divisor`, rounded half-even to EXACT_PLACES: the same digits in
    every format and on every run (a sum of doubles depends on the order rows are added in)."""
    values: list[Decimal | None] = []
    for value in column.to_pylist():
        if value is None:
            values.append(None)
        else:
            exact = value if isinstance(value, Decimal) else Decimal(str(value))
            values.append((exact / divisor).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN))
    return pa.array(values, type=EXACT_TYPE)


def run_report(engine: QueryEngine, spec: ReportSpec) -> ReportResult:
    built = build_query(spec)
    result = engine.query(built.sql, built.params)
    columns = column_types(spec)
    metrics = spec.catalog.metrics
    arrays = []
    for name, kind in columns:
        column = result.table.column(name)
        divisor = metrics[name].divisor if name in spec.metrics else None
        arrays.append(_exact(column, divisor) if divisor else column.cast(ARROW_TYPES[kind]))
    table = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])
    return ReportResult(spec, columns, table, result.engine, result.bytes_scanned)
