"""Columnar validation of record batches, derived from the pydantic models.

The ingest fast path reads a whole batch into Arrow and checks every constraint of the model at
once with `pyarrow.compute`; per-record pydantic validation only runs when the batch does not even
load as Arrow (wrong types, unknown fields, broken JSON), to explain each record's errors. Messages
use pydantic's wording, so a client sees the same text whichever path judged its record.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

import annotated_types as at
import pyarrow as pa
import pyarrow.compute as pc
from pydantic_core import PydanticUndefined

from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import base_type

# Event times before this are unset sentinels (epoch 0) or corrupt, never real usage.
EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FieldError:
    index: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Check:
    """One constraint over a table: `failing` returns a boolean mask (true = row breaks it)."""

    field: str | None
    message: str
    failing: Callable[[pa.Table], pa.Array]


def _literal_text(values: tuple[Any, ...]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _null_safe(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


def _field_checks(name: str, annotation: Any, metadata: list[Any], required: bool) -> Iterator[Check]:
    base, nullable = base_type(annotation)
    col: Callable[[pa.Table], pa.ChunkedArray] = lambda t: t.column(name)  # noqa: E731
    if required or not nullable:
        yield Check(name, "Field required", lambda t: pc.is_null(col(t)))
    if typing.get_origin(base) is Literal:
        allowed = typing.get_args(base)
        yield Check(
            name,
            f"Input should be {_literal_text(allowed)}",
            lambda t: pc.and_(pc.is_valid(col(t)), pc.invert(pc.is_in(col(t), value_set=pa.array(allowed)))),
        )
    for meta in metadata:
        if isinstance(meta, at.MinLen) and meta.min_length > 0:
            n = meta.min_length
            unit = "character" if n == 1 else "characters"
            yield Check(
                name,
                f"String should have at least {n} {unit}",
                lambda t, n=n: _null_safe(pc.less(pc.utf8_length(col(t)), n)),
            )
        elif isinstance(meta, at.MaxLen):
            n = meta.max_length
            yield Check(
                name,
                f"String should have at most {n} characters",
                lambda t, n=n: _null_safe(pc.greater(pc.utf8_length(col(t)), n)),
            )
        elif isinstance(meta, at.Ge):
            v = meta.ge
            yield Check(
                name,
                f"Input should be greater than or equal to {v}",
                lambda t, v=v: _null_safe(pc.less(col(t), v)),
            )
        elif isinstance(meta, at.Gt):
            v = meta.gt
            yield Check(
                name, f"Input should be greater than {v}", lambda t, v=v: _null_safe(pc.less_equal(col(t), v))
            )
        elif isinstance(meta, at.Le):
            v = meta.le
            yield Check(
                name,
                f"Input should be less than or equal to {v}",
                lambda t, v=v: _null_safe(pc.greater(col(t), v)),
            )


def _union_metadata(annotation: Any) -> list[Any]:
    """Constraints nested inside Optional[Annotated[...]] (pydantic keeps only top-level ones)."""
    found: list[Any] = []
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in typing.get_args(arg)[1:]:
                found.extend(getattr(meta, "metadata", [meta]))
    return found


@cache
def model_checks(kind: RecordKind) -> tuple[Check, ...]:
    """Every static constraint of a kind's model, as columnar checks."""
    model = MODELS[kind]
    checks: list[Check] = []
    for name, info in model.model_fields.items():
        metadata = list(info.metadata) + _union_metadata(info.annotation)
        has_default = info.default is not PydanticUndefined and info.default is not None
        # A field with a non-null default reads an absent or null value as the default
        # (see `fill_defaults`), so only truly required fields get the not-null check.
        checks.extend(_field_checks(name, info.annotation, metadata, info.is_required() and not has_default))
    for rule in model.time_order:
        checks.append(
            Check(
                None,
                f"Value error, {rule.message}",
                lambda t, r=rule: _null_safe(pc.less(t.column(r.later), t.column(r.earlier))),
            )
        )
    return tuple(checks)


def time_window_checks(kind: RecordKind, now: datetime, tolerance_seconds: int) -> list[Check]:
    """Checks that depend on the clock: no event time too far in the future or before 1980."""
    latest = pa.scalar(now + timedelta(seconds=tolerance_seconds), pa.timestamp("us", tz="UTC"))
    earliest = pa.scalar(EARLIEST, pa.timestamp("us", tz="UTC"))
    out = []
    for name in MODELS[kind].time_fields():
        out.append(
            Check(
                name,
                f"Input should not be more than {tolerance_seconds} seconds in the future",
                lambda t, n=name: _null_safe(pc.greater(t.column(n), latest)),
            )
        )
        out.append(
            Check(
                name,
                "Input should not be before 1980-01-01",
                lambda t, n=name: _null_safe(pc.less(t.column(n), earliest)),
            )
        )
    return out


def fill_defaults(kind: RecordKind, table: pa.Table) -> pa.Table:
    """Replace nulls with the model's default in columns that have a non-null default."""
    model = MODELS[kind]
    for name, info in model.model_fields.items():
        if info.default is PydanticUndefined or info.default is None:
            continue
        i = table.schema.get_field_index(name)
        column = table.column(i)
        if column.null_count:
            filled = pc.fill_null(column, pa.scalar(info.default, column.type))
            table = table.set_column(i, name, filled)
    return table


def failing_rows(table: pa.Table, checks: list[Check] | tuple[Check, ...], indices: list[int]) -> list[FieldError]:
    """Errors of every row breaking any check; `indices` maps table rows to batch positions."""
    errors: list[FieldError] = []
    for check in checks:
        mask = check.failing(table)
        if not pc.any(mask).as_py():
            continue
        for row in pc.indices_nonzero(mask).to_pylist():
            errors.append(FieldError(indices[row], check.field, check.message))
    return errors
