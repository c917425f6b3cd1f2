"""The body decoder under arbitrary input: it answers with lines or a 4xx problem, never anything
else, and only ever marks as Arrow-safe lines that cannot crash Arrow's reader; the ingest judges
every batch exactly as it did when orjson had to parse each line before Arrow could see it."""

from __future__ import annotations

import gzip
import tempfile
import tracemalloc
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally.api.body import check_utf8, decompress, media_type, split_lines
from tally.api.problem_handlers import problem_for
from tally.api.problems import Problem
from tally.domain.errors import RequestRefused
from tally.domain.record_lines import RecordLines
from tally.domain.records import KINDS, MODELS, RecordKind
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.settings import Settings
from tests.support.records import FACTORIES

MEDIA = st.sampled_from(["application/json", "application/x-ndjson"])
LIMIT = 200
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=30,
)


def _decode(body: bytes, media: str, encoding: str | None) -> RecordLines | Problem:
    try:
        media_type(media)
        plain = decompress(body, encoding, 1 << 20)
        check_utf8(plain)
        return split_lines(media, plain, LIMIT)
    except Problem as problem:
        return problem


def _check(outcome: RecordLines | Problem) -> None:
    if isinstance(outcome, Problem):
        assert 400 <= outcome.status < 500, outcome
        return
    lines = outcome.ndjson.split(b"\n")
    assert len(lines) == outcome.count <= LIMIT
    assert all(line.strip() for line in lines)
    if outcome.arrow_safe:  # the promise the Arrow fast path relies on: no line starts with null
        assert all(line.startswith(b"{") for line in lines) or all(
            isinstance(orjson.loads(line), dict) for line in lines
        )


def _encode(values: list[object], media: str) -> bytes:
    if media == "application/json":
        return orjson.dumps(values)
    return b"\n".join(orjson.dumps(v) for v in values)


# Seeded and without an example database: the same examples on every machine, nothing left behind.
# Hundreds of generated bodies per test: seconds of CPU, so outside `make check` (make test runs it).
pytestmark = pytest.mark.slow
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(st.binary(max_size=2000), MEDIA, st.sampled_from([None, "gzip"]))
def test_arbitrary_bytes(body: bytes, media: str, encoding: str | None) -> None:
    _check(_decode(body, media, encoding))


@FUZZ
@given(st.lists(JSON_VALUES, max_size=20), MEDIA, st.booleans())
def test_arbitrary_json_values(values: list[object], media: str, gz: bool) -> None:
    body = _encode(values, media)
    outcome = _decode(gzip.compress(body) if gz else body, media, "gzip" if gz else None)
    _check(outcome)
    if media == "application/json" and isinstance(outcome, RecordLines):
        # The array form re-encodes each element exactly as a whole-body parse would.
        assert outcome.ndjson == b"\n".join(orjson.dumps(v) for v in values)
        assert outcome.arrow_safe == all(isinstance(v, dict) for v in values)


@FUZZ
@given(JSON_VALUES, st.integers(min_value=1, max_value=5000))
def test_repeated_values_are_counted_before_they_are_parsed(value: object, copies: int) -> None:
    element = orjson.dumps(value)
    body = b"[" + b",".join([element] * copies) + b"]"
    tracemalloc.start()
    try:
        outcome = _decode(body, "application/json", None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _check(outcome)
    if copies > LIMIT:
        assert isinstance(outcome, Problem) and outcome.status == 413
    # Memory follows the body, not the number of values in it.
    assert peak < 8 * len(body) + (1 << 20)


_FIELDS = sorted({name for model in MODELS.values() for name in model.model_fields})
_RECORD_VALUES = (
    JSON_VALUES
    | st.sampled_from(["SITE-A", "cluster1", "slurm", "2026-03-01T10:00:00Z", "0001-01-01T00:00:00+01:00"])
    | st.sampled_from(["9999-12-31T23:59:59-01:00", "2026-03-01T10:00:00+14:00", "", "NaN", "1e400"])
)
_RECORDS = st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=4), _RECORD_VALUES, max_size=12)
_STORE = tempfile.TemporaryDirectory(prefix="tally-fuzz-")
_SERVICES = Services(Settings(mode="local", home=Path(_STORE.name)))


@FUZZ
@given(st.sampled_from(KINDS), st.lists(_RECORDS | JSON_VALUES, min_size=1, max_size=8), MEDIA)
def test_arbitrary_records_get_an_answer_never_an_error(
    kind: RecordKind, values: list[object], media: str
) -> None:
    based = [
        ({**FACTORIES[kind](i), **v} if isinstance(v, dict) and i % 2 else v) for i, v in enumerate(values)
    ]
    outcome = _decode(_encode(based, media), media, None)
    _check(outcome)
    if isinstance(outcome, Problem):
        return
    try:
        result = _SERVICES.ingest.ingest(kind, outcome, Principal("SITE-A", "fuzz"))
    except RequestRefused as refused:
        assert 400 <= problem_for(refused).status < 500, refused
        return
    assert result.accepted + result.rejected + result.duplicates == outcome.count
