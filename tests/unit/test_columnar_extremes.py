"""Skipping a check because a column's extremes rule out every failure never hides an error: on
tables whose values sit on, just inside and just outside every bound, the errors found with the
skip equal those found by building every check's mask."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import annotated_types as at
import pyarrow as pa
import pytest

from tally.domain.columnar import Check, Extremes, failing_rows, model_checks, time_window_checks
from tally.domain.records import KINDS, MODELS
from tally.domain.schema import input_schema

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TOLERANCE = 300


def _bounds(kind: str, name: str) -> list[Any]:
    """The numbers a field's constraints name (each is tried exactly, and one either side)."""
    out: list[Any] = []
    for meta in MODELS[kind].model_fields[name].metadata:  # type: ignore[index]
        for attribute in ("ge", "gt", "le"):
            if isinstance(meta, (at.Ge, at.Gt, at.Le)) and hasattr(meta, attribute):
                out.append(getattr(meta, attribute))
    return out


def _pool(kind: str, field: pa.Field) -> list[Any]:
    if pa.types.is_timestamp(field.type):
        edges = [datetime(1980, 1, 1, tzinfo=UTC), NOW + timedelta(seconds=TOLERANCE)]
        return [None, NOW - timedelta(days=3)] + [
            e + timedelta(microseconds=d) for e in edges for d in (-1, 0, 1)
        ]
    if pa.types.is_integer(field.type):
        near = [int(b) + d for b in _bounds(kind, field.name) for d in (-1, 0, 1)]
        return [None, 0, 1, 7] + [v for v in near if -(2**63) <= v < 2**63]
    if pa.types.is_floating(field.type):
        return [None, 0.0, 2.5] + [float(b) + d for b in _bounds(kind, field.name) for d in (-0.5, 0, 0.5)]
    if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
        # Lengths on either side of every bound the field's checks name, in one- and two-byte
        # characters ("é" is two bytes: a byte count alone must not pass a value that is too long).
        lengths = {0, 1, 2}
        for check in model_checks(kind):
            words = check.message.split()
            if check.field == field.name and check.message.startswith("String should have"):
                n = int(words[5])
                lengths |= {n - 1, n, n + 1}
        sized = [c * k for k in sorted(x for x in lengths if x >= 0) for c in ("x", "é")]
        return [None, "ok", "a", *sized]
    return []


def _table(kind: str, rows: int, rng: random.Random) -> pa.Table:
    """A table of `kind` whose number, time and string columns draw from their pools."""
    schema = input_schema(kind)
    columns = []
    for field in schema:
        pool = _pool(kind, field)
        if pool:
            # Most columns most of the time hold only safe values, so the shortcut is taken often.
            safe = [v for v in pool[1:3] if v is not None] or pool
            values = [rng.choice(pool if rng.random() < 0.3 else safe) for _ in range(rows)]
        else:
            values = [None] * rows
        columns.append(pa.array(values, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _without_shortcut(checks: list[Check]) -> list[Check]:
    return [dataclasses.replace(check, clear=None) for check in checks]


@pytest.mark.parametrize("kind", KINDS)
def test_the_shortcut_finds_the_same_errors_as_every_mask(kind: str) -> None:
    rng = random.Random(f"extremes-{kind}")
    checks = list(model_checks(kind)) + time_window_checks(kind, NOW, TOLERANCE)  # type: ignore[arg-type]
    assert any(c.clear is not None for c in checks)
    taken = declined = 0
    for _ in range(60):
        table = _table(kind, rng.choice([1, 2, 5, 40]), rng)
        indices = list(range(table.num_rows))
        fast = failing_rows(table, checks, indices)
        assert fast == failing_rows(table, _without_shortcut(checks), indices)
        extremes = Extremes(table)
        for check in checks:
            if check.clear is not None:
                taken, declined = (taken + 1, declined) if check.clear(extremes) else (taken, declined + 1)
    # Both ways were exercised: checks skipped, and checks whose column might fail left to masks.
    assert taken and declined


def test_a_value_on_an_inclusive_bound_passes_and_one_past_it_fails() -> None:
    checks = list(model_checks("jobs"))
    (cores,) = [c for c in checks if c.field == "cores" and "greater than" in c.message]
    column = MODELS["jobs"].model_fields["cores"]
    ge = int(next(m.ge for m in column.metadata if isinstance(m, at.Ge)))  # type: ignore[call-overload]
    schema = pa.schema([pa.field("cores", pa.int64())])
    on_bound = pa.table({"cores": pa.array([ge, ge + 5], pa.int64())}, schema=schema)
    past = pa.table({"cores": pa.array([ge + 5, ge - 1], pa.int64())}, schema=schema)
    assert cores.clear is not None and cores.clear(Extremes(on_bound))
    assert failing_rows(on_bound, [cores], [0, 1]) == []
    errors = failing_rows(past, [cores], [10, 11])
    assert [(e.index, e.field) for e in errors] == [(11, "cores")]


def test_timestamps_python_cannot_hold_leave_the_check_to_its_mask() -> None:
    (future,) = [
        c
        for c in time_window_checks("jobs", NOW, TOLERANCE)
        if c.field == "end_time" and "future" in c.message
    ]
    # Year 10000 (a -01:00 offset on the last second of 9999) is past Python's datetime.
    beyond = pa.array([253402304399 * 1_000_000], pa.timestamp("us", tz="UTC"))
    table = pa.table({"end_time": beyond})
    errors = failing_rows(table, [future], [0])
    assert [(e.index, e.field) for e in errors] == [(0, "end_time")]
