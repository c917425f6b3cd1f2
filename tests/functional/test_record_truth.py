"""What a client is told matches what Tally did: non-string fences, odd time offsets, non-finite
numbers, booleans for numbers, charsets, concurrent replays and distinct record counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from tally.api.body import split_lines
from tally.domain.control import BatchOutcome
from tally.domain.ports import ControlStore
from tally.domain.records import MODELS
from tally.services.ingest import IngestService, Principal
from tests.support.deployments import Deployment
from tests.support.records import FACTORIES, NDJSON, job, ndjson
from tests.support.warehouse import rows

JSON = {"Content-Type": "application/json"}
# Every float field of every kind (read from the contract, so a new one is covered too).
FLOAT_FIELDS = [
    (kind, name)
    for kind, model in MODELS.items()
    for name, info in model.model_fields.items()
    if info.annotation in (float, float | None)
]


def _post(deployment: Deployment, body: bytes, headers: dict[str, str], key: str | None = None) -> Any:
    with deployment.client(key) as http:
        return http.post("/v1/records/jobs", content=body, headers=headers)


@pytest.mark.parametrize("value", [["SITE-A"], {"a": 1}, 7, None, True], ids=repr)
@pytest.mark.parametrize("field_name", ["site", "resource"])
def test_a_site_or_resource_that_is_no_string_is_a_record_error(
    deployment: Deployment, field_name: str, value: object
) -> None:
    key = deployment.services.create_key("SITE-A", ("cluster1",)).plain
    bad = {**job(2), field_name: value}
    answer = _post(deployment, ndjson([job(1), bad]), NDJSON, key)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert {(e["index"], e["field"]) for e in result["errors"]} == {(1, field_name)}


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("0001-01-01T00:00:00+01:00", ("out of range", "before 1980")),
        ("9999-12-31T23:59:59-01:00", ("out of range", "in the future")),
    ],
)
@pytest.mark.parametrize("path", ["fast", "slow"])
def test_out_of_range_time_offsets_are_record_errors(
    deployment: Deployment, when: str, reason: tuple[str, str], path: str
) -> None:
    records: list[object] = [job(1), job(2, end_time=when, start_time=None, submit_time=None)]
    if path == "slow":
        records.append(job(3, cores="four"))  # Arrow refuses the batch: every record goes to pydantic
    result = _post(deployment, ndjson(records), NDJSON).json()
    assert result["accepted"] == 1 and result["rejected"] == len(records) - 1
    messages = [e["message"] for e in result["errors"] if e["index"] == 1]
    assert [e["field"] for e in result["errors"] if e["index"] == 1] == ["end_time"]
    assert any(fragment in messages[0] for fragment in reason), messages


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
@pytest.mark.parametrize(("kind", "field_name"), FLOAT_FIELDS)
def test_non_finite_numbers_are_refused_alike_in_both_body_forms(
    deployment: Deployment, kind: str, field_name: str, number: bytes
) -> None:
    make = FACTORIES[kind]
    bad = orjson.dumps(make(2, **{field_name: 1.5})).replace(b"1.5", number)
    good = [orjson.dumps(make(1)), orjson.dumps(make(3))]
    bodies = {
        "ndjson": (b"\n".join([good[0], bad, good[1]]), NDJSON),
        "array": (b"[" + b",\n  ".join([good[0], bad, good[1]]) + b"]", JSON),
    }
    verdicts = {}
    with deployment.client() as http:
        for form, (body, headers) in bodies.items():
            answer = http.post(f"/v1/records/{kind}", content=body, headers=headers)
            assert answer.status_code == 200, (form, answer.text)
            result = answer.json()
            verdicts[form] = (result["accepted"], result["rejected"], result["errors"])
    assert verdicts["ndjson"] == verdicts["array"]
    assert verdicts["ndjson"][2] == [
        {"index": 1, "field": field_name, "message": "Input should be a finite number"}
    ]
    assert all(r.get(field_name) != float("inf") for r in rows(deployment.services.warehouse, kind))


@pytest.mark.parametrize("with_slow_path", [False, True])
def test_a_boolean_is_not_a_number(deployment: Deployment, with_slow_path: bool) -> None:
    records: list[object] = [job(1), job(2, wall_seconds=True), job(3, benchmark_per_core=False)]
    if with_slow_path:
        records.append(job(4, colour="blue"))
    result = _post(deployment, ndjson(records), NDJSON).json()
    assert result["accepted"] == 1
    errors = {(e["index"], e["field"]): e["message"] for e in result["errors"]}
    assert errors[(1, "wall_seconds")] == "Input should be a valid integer"
    assert errors[(2, "benchmark_per_core")] == "Input should be a valid number"
    assert [r["local_job_id"] for r in rows(deployment.services.warehouse, "jobs")] == ["1001"]


@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", "utf-16"])
def test_a_charset_other_than_utf8_is_refused(deployment: Deployment, charset: str) -> None:
    body = orjson.dumps([job(1, local_user="josé")]).decode().encode("latin-1")
    answer = _post(deployment, body, {"Content-Type": f"application/json; charset={charset}"})
    assert answer.status_code == 415 and "charset" in answer.json()["detail"]
    assert deployment.services.warehouse.list_keys("jobs/") == []


@pytest.mark.parametrize("charset", ["utf-8", '"UTF-8"', "utf8"])
def test_utf8_charsets_are_accepted(deployment: Deployment, charset: str) -> None:
    answer = _post(
        deployment, orjson.dumps([job(1)]), {"Content-Type": f"application/json; charset={charset}"}
    )
    assert answer.status_code == 200 and answer.json()["accepted"] == 1


@dataclass
class _RacingControl:
    """A control store whose first batch look-up misses, as when a concurrent post of the same
    batch claims it between this post's look-up and its claim."""

    inner: ControlStore
    missed: list[str] = field(default_factory=list)

    def get_batch(self, batch_id: str) -> BatchOutcome | None:
        if not self.missed:
            self.missed.append(batch_id)
            return None
        return self.inner.get_batch(batch_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_loser_of_a_concurrent_post_says_it_was_replayed(deployment: Deployment) -> None:
    svc = deployment.services
    body = ndjson([job(n) for n in range(100)])
    who = Principal("SITE-A", "k")
    first = svc.ingest.ingest("jobs", split_lines("application/x-ndjson", body), who)
    racing = IngestService(svc.warehouse, _RacingControl(svc.control), 100_000, 300)
    second = racing.ingest("jobs", split_lines("application/x-ndjson", body), who)
    assert (first.replayed, first.accepted) == (False, 100)
    assert (second.replayed, second.accepted, second.batch_id) == (True, 100, first.batch_id)
    assert svc.control.get_sync("SITE-A", "jobs", "cluster1").record_count == 100


def test_sync_state_counts_distinct_records_not_posts(deployment: Deployment) -> None:
    def count() -> int:
        with deployment.client() as http:
            state = http.get("/v1/sync-state", params={"resource": "cluster1", "kind": "jobs"}).json()
        return int(state["record_count"])

    assert _post(deployment, ndjson([job(n) for n in range(1, 4)]), NDJSON).json()["accepted"] == 3
    assert count() == 3
    # A later batch resends two of them (one changed: same identity, new values) and adds one.
    again = [job(2), job(3, cpu_seconds=1), job(4)]
    assert _post(deployment, ndjson(again), NDJSON).json()["accepted"] == 3
    assert count() == 4
    # And a batch of nothing but records seen before adds nothing.
    assert _post(deployment, ndjson([job(1), job(4, cores=8)]), NDJSON).json()["accepted"] == 2
    assert count() == 4
