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
