"""Arrow schemas derived from the pydantic record models (the models are the source of truth)."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, Literal

import pyarrow as pa

from tally.domain.records import MODELS, RecordKind, UsageRecord

TIMESTAMP = pa.timestamp("us", tz="UTC")


def base_type(annotation: Any) -> tuple[Any, bool]:
    """Strip Optional/Annotated; return the bare type and whether None is allowed."""
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            annotation = args[0]
        else:
            return annotation, nullable


def arrow_type(annotation: Any) -> pa.DataType:
    base, _ = base_type(annotation)
    if typing.get_origin(base) is Literal:
        return pa.string()
    mapping: dict[Any, pa.DataType] = {
        str: pa.string(),
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        datetime: TIMESTAMP,
    }
    if base not in mapping:
        raise TypeError(f"no Arrow type for {base!r}")
    return mapping[base]


@cache
def input_schema(kind: RecordKind) -> pa.Schema:
    """Columns a client sends, in model order."""
    model: type[UsageRecord] = MODELS[kind]
    return pa.schema(
        [pa.field(name, arrow_type(info.annotation)) for name, info in model.model_fields.items()]
    )


def cluster_order(kind: RecordKind) -> list[str]:
    """How rows are sorted inside a stored file: the identity without its unique strings, the
    partition time last. Rows of one resource (or VM) sit together in time order, so the delta
    encodings below store small steps; the order is total up to the dropped unique strings."""
    model = MODELS[kind]
    keys = [f for f in model.identity if f not in model.unique_strings and f != model.partition_time]
    return [*keys, model.partition_time]


#: Every kind's unique strings, by column name (write_parquet sees a schema, not a kind).
_UNIQUE_STRINGS = frozenset(name for model in MODELS.values() for name in model.unique_strings)


def parquet_encodings(schema: pa.Schema) -> dict[str, Any]:
    """`pq.write_table` options choosing each column's encoding from its type.

    Measured on the demo warehouse's jobs (bench/query.py prints it): integers and timestamps as
    DELTA_BINARY_PACKED (sorted times and counters step by little); strings, floats and decimals
    dictionary-encoded (sites, users, states, benchmarks repeat); unique strings such as job ids as
    DELTA_LENGTH_BYTE_ARRAY. Athena (Trino) and DuckDB read all three.
    """
    dictionary: list[str] = []
    encodings: dict[str, str] = {}
    for field in schema:
        kind = field.type
        if pa.types.is_integer(kind) or pa.types.is_timestamp(kind) or pa.types.is_date32(kind):
            encodings[field.name] = "DELTA_BINARY_PACKED"
        elif field.name in _UNIQUE_STRINGS and pa.types.is_string(kind):
            encodings[field.name] = "DELTA_LENGTH_BYTE_ARRAY"
        elif not pa.types.is_boolean(kind):
            dictionary.append(field.name)
    return {"use_dictionary": dictionary, "column_encoding": encodings}


@cache
def stored_schema(kind: RecordKind) -> pa.Schema:
    """Columns of a warehouse row: the input columns plus what the server adds."""
    return (
        input_schema(kind)
        .append(pa.field("ingested_at", TIMESTAMP))
        .append(pa.field("batch_id", pa.string()))
    )
