"""The cheap guard in front of Arrow's JSON reader (every line starts with `{`) judges every batch
exactly as parsing each line with orjson first did: the same accepted, rejected and errors."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally.domain.errors import RequestRefused
from tally.domain.record_lines import MAX_RECORD_BYTES, RecordLines, all_objects, checked_lines
from tally.domain.records import KINDS, RecordKind
from tally.domain.schema import input_schema
from tally.services.container import Services
from tally.services.ingest import IngestResult, Principal
from tally.settings import Settings
from tests.support.records import FACTORIES

WHO = Principal("SITE-A", "guard")


def _services(home: str) -> Services:
    services = Services(Settings(mode="local", home=Path(home)))
    services.add_site("SITE-A")
    return services


@pytest.fixture(scope="module")
def stores() -> Iterator[tuple[Services, Services]]:
    with tempfile.TemporaryDirectory() as new, tempfile.TemporaryDirectory() as old:
        yield _services(new), _services(old)


Verdict = tuple[int, int, int, list[dict[str, object]]] | str


def _outcome(svc: Services, kind: RecordKind, lines: RecordLines) -> Verdict:
    try:
        result: IngestResult = svc.ingest.ingest(kind, lines, WHO)
    except RequestRefused as refused:
        return f"{type(refused).__name__}: {refused}"
    return (result.accepted, result.rejected, result.duplicates, result.errors)


def _both(stores: tuple[Services, Services], kind: RecordKind, ndjson: bytes) -> tuple[Verdict, Verdict]:
    """The verdict with the guard, and with every line parsed by orjson before Arrow may read it."""
    guarded = checked_lines(ndjson.strip())
    former = replace(guarded, arrow_safe=all_objects(guarded.ndjson.split(b"\n")) if guarded.count else False)
    new, old = stores
    return _outcome(new, kind, guarded), _outcome(old, kind, former)


def _float_fields(kind: RecordKind) -> list[str]:
    return [f.name for f in input_schema(kind) if str(f.type) == "double"]


NON_FINITE = [(k, f, v) for k in KINDS for f in _float_fields(k) for v in ("NaN", "Infinity", "-Infinity")]


@pytest.mark.parametrize(
    ("kind", "field", "value"), NON_FINITE, ids=[f"{k}.{f}{v}" for k, f, v in NON_FINITE]
)
def test_non_finite_floats_that_arrow_reads_are_still_rejected(
    stores: tuple[Services, Services], kind: RecordKind, field: str, value: str
) -> None:
    good = orjson.dumps(FACTORIES[kind](1))
    bad = orjson.dumps(FACTORIES[kind](2, **{field: 1.5}))
    bad = bad.replace(f'"{field}":1.5'.encode(), f'"{field}":{value}'.encode())
    guarded, former = _both(stores, kind, good + b"\n" + bad)
    assert guarded == former and not isinstance(guarded, str)
    accepted, rejected, _, errors = guarded
    assert (accepted, rejected) == (1, 1)
    assert errors == [{"index": 1, "field": field, "message": "Input should be a finite number"}]


@pytest.mark.parametrize(
    "tail",
    [b" null", b"null", b" {}", b"{}", b' {"site":"SITE-A"}', b" 1", b" []", b'"x"'],
    ids=repr,
)
def test_a_line_holding_more_than_one_value_is_judged_as_before(
    stores: tuple[Services, Services], tail: bytes
) -> None:
    good = orjson.dumps(FACTORIES["jobs"](1))
    two = orjson.dumps(FACTORIES["jobs"](2)) + tail
    guarded, former = _both(stores, "jobs", good + b"\n" + two)
    assert guarded == former and not isinstance(guarded, str)
    accepted, rejected, _, errors = guarded
    assert (accepted, rejected) == (1, 1) and errors[0]["index"] == 1
    assert str(errors[0]["message"]).startswith("record is not valid JSON")


def test_a_null_line_never_reaches_arrow() -> None:
    for body in (b'{"a":1}\nnull', b'{"a":1}\n null', b"null\n{}", b'{"a":1}\n\n  null'):
        assert not checked_lines(body).arrow_safe, body


def test_lines_that_are_not_utf8_never_reach_arrow() -> None:
    assert not checked_lines(b'{"site":"caf\xe9"}').arrow_safe
    assert checked_lines('{"site":"café"}'.encode()).arrow_safe


# Byte-level mutations of valid lines: the broken JSON a client really sends (cut, doubled, stray).
_ALPHABET = b'{}[]",:0123456789.eE+-nulltrueNaNInfinity \t\\/u\x00\x7f\xc3\xa9ab'
_MUTATION = st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.sampled_from(list(_ALPHABET)))


def _mutate(line: bytes, mutations: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(line)
    for op, at, byte in mutations:
        pos = 1 + at % max(1, len(out) - 1)
        if op == 0:
            out[pos : pos + 1] = bytes([byte])
        elif op == 1:
            out.insert(pos, byte)
        elif len(out) > 1:
            del out[pos]
    return bytes(out)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(KINDS),
    st.lists(st.lists(_MUTATION, max_size=3), min_size=1, max_size=6),
)
def test_mutated_batches_are_judged_as_before(
    stores: tuple[Services, Services], kind: RecordKind, mutations: list[list[tuple[int, int, int]]]
) -> None:
    lines = [_mutate(orjson.dumps(FACTORIES[kind](i)), m) for i, m in enumerate(mutations)]
    body = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    guarded, former = _both(stores, kind, body)
    assert guarded == former, body


@pytest.mark.parametrize("extra", [-1, 0, 1, 600_000])
def test_a_line_over_the_record_limit_is_found_wherever_it_sits(extra: int) -> None:
    short = orjson.dumps(FACTORIES["jobs"](1))
    long = b'{"job_name":"' + b"x" * (MAX_RECORD_BYTES - 15 + extra) + b'"}'
    for body in (long, short + b"\n" + long, long + b"\n" + short, short * 2 + b"\n" + long + b"\n" + short):
        lines = checked_lines(body)
        assert lines.arrow_safe == (len(long) <= MAX_RECORD_BYTES), (extra, len(body))
