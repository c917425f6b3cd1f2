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


@cache
def stored_schema(kind: RecordKind) -> pa.Schema:
    """Columns of a warehouse row: the input columns plus what the server adds."""
    return (
        input_schema(kind)
        .append(pa.field("ingested_at", TIMESTAMP))
        .append(pa.field("batch_id", pa.string()))
    )
