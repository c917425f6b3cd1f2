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


@dataclass(frozen=True, slots=True)
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
    # True for checks that fail on a null (required fields); value checks never do.
    on_null: bool = False
    # True when a glance at the column (its null count, least or greatest value) shows that no
    # row can fail, so the mask need not be built: the usual batch passes every check.
    clear: Callable[[Extremes], bool] | None = None


class Extremes:
    """A table's columns' null counts and least and greatest values, each computed on first use.

    Every answer errs towards "may fail": a value Python cannot hold (a timestamp past year 9999)
    or cannot compare leaves the check to its mask.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._seen: dict[str, tuple[Any, Any] | None] = {}

    def no_nulls(self, name: str) -> bool:
        return int(self.table.column(name).null_count) == 0

    def all_above(self, name: str, bound: Any, or_equal: bool) -> bool:
        found = self._min_max(name)
        if found is None:
            return False
        least = found[0]
        try:
            return least is None or (least >= bound if or_equal else least > bound)
        except TypeError:
            return False

    def all_at_most(self, name: str, bound: Any) -> bool:
        found = self._min_max(name)
        if found is None:
            return False
        greatest = found[1]
        try:
            return greatest is None or greatest <= bound
        except TypeError:
            return False

    def all_longer_than(self, name: str, chars: int) -> bool:
        """Every value has more than `chars` characters, judged by bytes: sound for 0 only (a
        value of at least one byte has at least one character)."""
        shortest = self._byte_lengths(name)[0]
        return chars == 0 and (shortest is None or shortest > 0)

    def none_longer_than(self, name: str, chars: int) -> bool:
        """No value has more than `chars` characters: true when none has more bytes than that."""
        longest = self._byte_lengths(name)[1]
        return longest is None or longest <= chars

    def _byte_lengths(self, name: str) -> tuple[int | None, int | None]:
        key = f"bytes of {name}"
        if key not in self._seen:
            found = pc.min_max(pc.binary_length(self.table.column(name)))
            self._seen[key] = (found["min"].as_py(), found["max"].as_py())
        return self._seen[key] or (None, None)

    def _min_max(self, name: str) -> tuple[Any, Any] | None:
        if name not in self._seen:
            try:
                found = pc.min_max(self.table.column(name))
                self._seen[name] = (found["min"].as_py(), found["max"].as_py())
            except (ValueError, OverflowError, pa.ArrowException):
                self._seen[name] = None
        return self._seen[name]


def _literal_text(values: tuple[Any, ...]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _bound(value: Any) -> Any:
    """A bound as pydantic prints it in messages (1e12 as 1000000000000)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _null_safe(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


Mask = Callable[[pa.Table], pa.Array]


def _is_null(name: str) -> Mask:
    def failing(t: pa.Table) -> pa.Array:
        return pc.is_null(t.column(name))

    return failing


def _not_in(name: str, allowed: tuple[Any, ...]) -> Mask:
    def failing(t: pa.Table) -> pa.Array:
        col = t.column(name)
        return pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col, value_set=pa.array(allowed))))

    return failing


def _no_nulls(name: str) -> Callable[[Extremes], bool]:
    return lambda e: e.no_nulls(name)


def _long_enough(name: str, chars: int) -> Callable[[Extremes], bool]:
    return lambda e: e.all_longer_than(name, chars - 1)


def _short_enough(name: str, chars: int) -> Callable[[Extremes], bool]:
    return lambda e: e.none_longer_than(name, chars)


def _cannot_compare(name: str, op: Callable[..., pa.Array], value: Any) -> Callable[[Extremes], bool] | None:
    """For `_compare(name, op, value)`: whether the column's extremes rule out every failure."""
    bound = value.as_py() if isinstance(value, pa.Scalar) else value
    if op is pc.less:
        return lambda e: e.all_above(name, bound, or_equal=True)
    if op is pc.less_equal:
        return lambda e: e.all_above(name, bound, or_equal=False)
    if op is pc.greater:
        return lambda e: e.all_at_most(name, bound)
    return None


def _compare(name: str, op: Callable[..., pa.Array], value: Any, measure_length: bool = False) -> Mask:
    """Rows where `op(column, value)` holds; nulls never fail (required-ness is checked apart)."""

    def failing(t: pa.Table) -> pa.Array:
        col = t.column(name)
        return _null_safe(op(pc.utf8_length(col) if measure_length else col, value))

    return failing


def _field_checks(name: str, annotation: Any, metadata: list[Any], required: bool) -> Iterator[Check]:
    base, nullable = base_type(annotation)
    if required or not nullable:
        yield Check(name, "Field required", _is_null(name), on_null=True, clear=_no_nulls(name))
    if typing.get_origin(base) is Literal:
        allowed = typing.get_args(base)
        yield Check(name, f"Input should be {_literal_text(allowed)}", _not_in(name, allowed))
    for meta in metadata:
        if isinstance(meta, at.MinLen) and meta.min_length > 0:
            n = meta.min_length
            unit = "character" if n == 1 else "characters"
            yield Check(
                name,
                f"String should have at least {n} {unit}",
                _compare(name, pc.less, n, measure_length=True),
                clear=_long_enough(name, n),
            )
        elif isinstance(meta, at.MaxLen):
            n = meta.max_length
            yield Check(
                name,
                f"String should have at most {n} characters",
                _compare(name, pc.greater, n, measure_length=True),
                clear=_short_enough(name, n),
            )
        elif isinstance(meta, at.Ge):
            yield Check(
                name,
                f"Input should be greater than or equal to {_bound(meta.ge)}",
                _compare(name, pc.less, meta.ge),
                clear=_cannot_compare(name, pc.less, meta.ge),
            )
        elif isinstance(meta, at.Gt):
            yield Check(
                name,
                f"Input should be greater than {_bound(meta.gt)}",
                _compare(name, pc.less_equal, meta.gt),
                clear=_cannot_compare(name, pc.less_equal, meta.gt),
            )
        elif isinstance(meta, at.Le):
            yield Check(
                name,
                f"Input should be less than or equal to {_bound(meta.le)}",
                _compare(name, pc.greater, meta.le),
                clear=_cannot_compare(name, pc.greater, meta.le),
            )


def _before(earlier: str, later: str) -> Mask:
    def failing(t: pa.Table) -> pa.Array:
        return _null_safe(pc.less(t.column(later), t.column(earlier)))

    return failing


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
        checks.append(Check(None, f"Value error, {rule.message}", _before(rule.earlier, rule.later)))
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
                _compare(name, pc.greater, latest),
                clear=_cannot_compare(name, pc.greater, latest),
            )
        )
        out.append(
            Check(
                name,
                "Input should not be before 1980-01-01",
                _compare(name, pc.less, earliest),
                clear=_cannot_compare(name, pc.less, earliest),
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


def failing_rows(
    table: pa.Table, checks: list[Check] | tuple[Check, ...], indices: list[int]
) -> list[FieldError]:
    """Errors of every row breaking any check; `indices` maps table rows to batch positions."""
    errors: list[FieldError] = []
    empty = {name for name in table.column_names if table.column(name).null_count == table.num_rows}
    extremes = Extremes(table)
    for check in checks:
        if check.field in empty and not check.on_null:
            continue  # a value check cannot fail on a column that holds no value at all
        if check.clear is not None and check.clear(extremes):
            continue
        mask = check.failing(table)
        if not pc.any(mask).as_py():
            continue
        for row in pc.indices_nonzero(mask).to_pylist():
            errors.append(FieldError(indices[row], check.field, check.message))
    return errors
