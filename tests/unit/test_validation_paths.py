"""The columnar fast path and the per-record pydantic path must judge every constraint alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import annotated_types as at
import orjson
import pytest

from tally.api.problem_handlers import problem_for
from tally.domain.columnar import model_checks
from tally.domain.errors import RequestRefused
from tally.domain.record_lines import RecordLines
from tally.domain.records import KINDS, MODELS
from tally.services.container import Services
from tally.services.ingest import Principal
from tests.support.deployments import local_settings
from tests.support.records import FACTORIES

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _violations(kind: str) -> Iterator[tuple[str, object]]:
    """(field, a value breaking one of its constraints) for every constrained field of a kind."""
    for name, info in MODELS[kind].model_fields.items():  # type: ignore[index]
        for meta in list(info.metadata):
            if isinstance(meta, at.Ge):
                yield name, meta.ge - 1  # type: ignore[operator]
            elif isinstance(meta, at.Gt):
                yield name, meta.gt
            elif isinstance(meta, at.Le):
                yield name, meta.le + 1  # type: ignore[operator]
            elif isinstance(meta, at.MaxLen):
                yield name, "x" * (meta.max_length + 1)
            elif isinstance(meta, at.MinLen) and meta.min_length > 0:
                yield name, ""


# `site` is left out: a record naming another site (even "") refuses the whole batch (fencing).
CASES = [(kind, name, value) for kind in KINDS for name, value in _violations(kind) if name != "site"]


def _lines(records: list[dict[str, Any]]) -> RecordLines:
    return RecordLines(b"\n".join(orjson.dumps(r) for r in records), len(records))


@pytest.fixture
def svc(tmp_path: Path) -> Services:
    services = Services(local_settings(tmp_path / "home"))
    services.add_site("SITE-A")
    return services


@pytest.mark.parametrize(("kind", "field", "value"), CASES, ids=[f"{k}.{f}" for k, f, _ in CASES])
def test_fast_and_slow_paths_agree(svc: Services, kind: str, field: str, value: object) -> None:
    make = FACTORIES[kind]
    who = Principal("SITE-A", "k", ())
    bad = make(1, **{field: value})
    fast = svc.ingest.ingest(kind, _lines([make(2), bad]), who, now=NOW)  # type: ignore[arg-type]
    # One extra record of the wrong type forces the whole batch down the per-record path.
    slow = svc.ingest.ingest(
        kind,  # type: ignore[arg-type]
        _lines([make(2), bad, make(3, site=12345)]),
        who,
        now=NOW,
    )
    assert fast.rejected == 1 and fast.errors and all(e["index"] == 1 for e in fast.errors)
    assert [e for e in slow.errors if e["index"] != 2] == fast.errors
    assert any(e["field"] == field for e in fast.errors)


def test_every_model_constraint_has_a_columnar_check() -> None:
    for kind in KINDS:
        checked = {c.field for c in model_checks(kind)}
        constrained = {n for n, i in MODELS[kind].model_fields.items() if i.metadata}
        assert constrained <= checked, (kind, constrained - checked)


def test_batch_over_the_record_limit_is_refused_whole(tmp_path: Path) -> None:
    svc = Services(local_settings(tmp_path / "home", max_records_per_batch=3))
    svc.add_site("SITE-A")
    who = Principal("SITE-A", "k", ())
    with pytest.raises(RequestRefused) as refused:
        svc.ingest.ingest("jobs", _lines([FACTORIES["jobs"](n) for n in range(4)]), who, now=NOW)
    assert problem_for(refused.value).status == 413
    assert svc.warehouse.list_keys("") == []
