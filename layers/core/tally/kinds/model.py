"""A custom kind's record contract, built at run time from its definition: a pydantic model for
validation and the Arrow schema it is stored with."""

from __future__ import annotations

import math
from typing import Annotated, Any

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, create_model

from tally.domain.records import LONG, Name, UtcTime
from tally.domain.schema import TIMESTAMP
from tally.kinds.spec import FieldType, KindSpec

INT64_MAX = 2**63 - 1


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("Input should be a finite number")
    return value


_PYTHON: dict[FieldType, Any] = {
    "string": Annotated[str, Field(max_length=LONG)],
    "integer": Annotated[StrictInt, Field(ge=-INT64_MAX, le=INT64_MAX)],
    "number": Annotated[float, AfterValidator(_finite)],
    "boolean": StrictBool,
    "timestamp": UtcTime,
}
ARROW: dict[FieldType, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": TIMESTAMP,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def record_model(name: str, spec: KindSpec) -> type[BaseModel]:
    """The pydantic model one record of the kind must satisfy (unknown fields refused)."""
    fields: dict[str, Any] = {"site": (Name, ...), "resource": (Name, ...)}
    for field in spec.fields:
        python = _PYTHON[field.type]
        fields[field.name] = (python, ...) if field.required else (python | None, None)
    model: type[BaseModel] = create_model(f"Custom_{name}", __base__=_Strict, **fields)
    return model


def arrow_schema(spec: KindSpec) -> pa.Schema:
    return pa.schema([pa.field(n, ARROW[t]) for n, t in spec.columns().items()])
