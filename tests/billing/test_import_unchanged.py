"""The import's fast paths accept and quarantine exactly what the row-by-row normalisation did.

`fixtures/import_golden.json` was written by `python -m tests.billing.import_corpus` with the
import as it was before timestamps were cast directly and rule checks were vectorised: every
accepted row (all columns) and every reject (rules and raw values) must still be the same.
"""

from __future__ import annotations

import orjson
import pytest

from tests.billing.import_corpus import GOLDEN, SHARED, corpus, digest, shared_corpus

EXPECTED: dict[str, dict[str, object]] = orjson.loads(GOLDEN.read_bytes())
OWN = dict(corpus())


@pytest.mark.parametrize("name", sorted(OWN), ids=sorted(OWN))
def test_own_corpus_imports_as_before(name: str) -> None:
    assert digest(name, OWN[name]) == EXPECTED[name]


@pytest.mark.requires_shared  # so the pass without the samples (TALLY_SHARED_DATA missing) sees it skip
def test_shared_samples_import_as_before() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared sample data not found at {SHARED}")
    files = dict(shared_corpus())
    assert set(files) == {k for k in EXPECTED if k.startswith("shared/")}
    for name, data in files.items():
        assert digest(name, data) == EXPECTED[name], name


def test_the_corpus_covers_accepted_and_rejected_rows() -> None:
    for name in ("focus-times.csv", "focus-day-first.csv", "cur-shapes.csv"):
        entry = EXPECTED[name]
        assert isinstance(entry["accepted"], int) and entry["accepted"] > 0
        assert isinstance(entry["rejected"], list) and entry["rejected"]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin", "+05:30"])
def test_parquet_timestamps_are_written_as_strftime_wrote_them(unit: str, tz: str | None) -> None:
    """The fast text of Parquet timestamps is what Arrow's strftime gave (which the reader used)."""
    from datetime import UTC, datetime

    import pyarrow as pa
    import pyarrow.compute as pc

    from tally.billing.readers import _stringify

    values = [datetime(2025, 3, 1, 0, 0, 0, 999000, tzinfo=UTC), None]
    values += [datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)]
    if unit != "ns":
        values += [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)]
    aware = pa.array(values, pa.timestamp("us", tz="UTC")).cast(pa.timestamp(unit, tz="UTC"), safe=False)
    arr = aware.cast(pa.timestamp(unit, tz=tz)) if tz else aware.cast(pa.timestamp(unit))
    if tz is None:
        expected = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")
    else:
        expected = pc.strftime(pc.cast(arr, pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    assert _stringify(arr).to_pylist() == expected.to_pylist()
