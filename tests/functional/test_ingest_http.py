"""POST /v1/records/{kind} and GET /v1/sync-state over real HTTP, in local and AWS (moto) mode."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import orjson
import pytest

from tests.support.deployments import Deployment
from tests.support.records import FACTORIES, GZIP_NDJSON, NDJSON, gzipped, job, ndjson, vm
from tests.support.warehouse import quarantined, rows

EVENT_FIELD = {
    "jobs": "end_time",
    "vms": "interval_end",
    "storage": "end_time",
    "accelerators": "interval_end",
    "summaries": "month_start",
    "syncs": "month_start",
    "grid_identities": "submit_time",
}
PARTITION_FIELD = {
    "jobs": "end_time",
    "vms": "interval_start",
    "storage": "end_time",
    "accelerators": "interval_start",
    "summaries": "month_start",
    "syncs": "month_start",
    "grid_identities": "submit_time",
}
RESOURCE_FIELD = {
    "jobs": "resource",
    "vms": "resource",
    "storage": "storage_system",
    "accelerators": "resource",
    "summaries": "resource",
    "syncs": "resource",
    "grid_identities": "resource",
}


def _utc(text: object) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.mark.parametrize("kind", list(FACTORIES))
def test_every_kind_is_stored_partitioned_and_advances_sync_state(deployment: Deployment, kind: str) -> None:
    records = [FACTORIES[kind](n) for n in range(1, 31)]
    with deployment.client() as http:
        answer = http.post(f"/v1/records/{kind}", content=gzipped(records), headers=GZIP_NDJSON)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["accepted"], body["duplicates"], body["rejected"], body["errors"]) == (30, 0, 0, [])
        assert body["replayed"] is False and len(body["batch_id"]) == 32

        resource = str(records[0][RESOURCE_FIELD[kind]])
        state = http.get("/v1/sync-state", params={"resource": resource, "kind": kind}).json()
    latest = max(_utc(r[EVENT_FIELD[kind]]) for r in records)
    assert _utc(state["latest_event_time"]) == latest
    assert state["record_count"] == 30

    wh = deployment.services.warehouse
    keys = wh.list_keys(kind)
    # dt is the day (VM samples, BLAH lines) or the month (every other kind) of the partition time.
    width = 10 if kind in ("vms", "grid_identities") else 7
    expected_days = sorted({str(r[PARTITION_FIELD[kind]])[:width] for r in records})
    assert keys == [f"{kind}/dt={day}/{body['batch_id']}.parquet" for day in expected_days]
    for key in keys:
        in_file = wh.read_parquet(key).column(PARTITION_FIELD[kind]).to_pylist()
        assert {t.date().isoformat()[:width] for t in in_file} == {key.split("/")[1].removeprefix("dt=")}
    stored = rows(wh, kind)
    assert len(stored) == 30
    first = next(r for r in stored if r[PARTITION_FIELD[kind]] == _utc(records[0][PARTITION_FIELD[kind]]))
    for name, value in records[0].items():
        got = first[name]
        assert (got == _utc(value)) if isinstance(got, datetime) else (got == value), name
    assert all(r["batch_id"] == body["batch_id"] and r["ingested_at"] is not None for r in stored)


def test_json_array_and_ndjson_bodies_store_the_same_rows(deployment: Deployment) -> None:
    records = [job(n) for n in range(5)]
    with deployment.client() as http:
        as_json = http.post("/v1/records/jobs", json=records).json()
        as_ndjson = http.post("/v1/records/jobs", content=ndjson(records), headers=NDJSON).json()
    assert as_json["accepted"] == as_ndjson["accepted"] == 5
    # Same records, same canonical NDJSON: the second post is recognised as the same batch.
    assert as_ndjson["batch_id"] == as_json["batch_id"] and as_ndjson["replayed"] is True
    assert len(rows(deployment.services.warehouse, "jobs")) == 5


def test_posting_the_same_batch_again_writes_nothing_new(deployment: Deployment) -> None:
    records = [job(n) for n in range(100)]
    wh = deployment.services.warehouse
    with deployment.client() as http:
        first = http.post("/v1/records/jobs", content=gzipped(records), headers=GZIP_NDJSON).json()
        keys_after_first = wh.list_keys("jobs")
        stored_first = rows(wh, "jobs")
        again = http.post("/v1/records/jobs", content=gzipped(records), headers=GZIP_NDJSON).json()
        state = http.get("/v1/sync-state", params={"resource": "cluster1"}).json()
    assert again["batch_id"] == first["batch_id"]
    assert again["replayed"] is True and again["accepted"] == first["accepted"] == 100
    assert wh.list_keys("jobs") == keys_after_first
    assert rows(wh, "jobs") == stored_first
    assert state["record_count"] == 100


def test_same_identity_twice_in_a_batch_keeps_the_last(deployment: Deployment) -> None:
    records = [job(1, cpu_seconds=10), job(2), job(1, cpu_seconds=20), job(3)]
    with deployment.client() as http:
        body = http.post("/v1/records/jobs", json=records).json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 0)
    stored = {r["local_job_id"]: r for r in rows(deployment.services.warehouse, "jobs")}
    assert sorted(str(k) for k in stored) == ["1001", "1002", "1003"]
    assert stored["1001"]["cpu_seconds"] == 20


REFUSED = [
    pytest.param(b"this is not json\nneither is this", NDJSON, 400, "not valid JSON", id="not-json-ndjson"),
    pytest.param(b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON", id="not-json"),
    pytest.param(
        # A complete gzip header, then bytes that are no deflate stream.
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64,
        GZIP_NDJSON,
        400,
        "not valid gzip",
        id="broken-gzip",
    ),
    pytest.param(gzip.compress(ndjson([job(1)]))[:-12], GZIP_NDJSON, 400, "truncated", id="truncated-gzip"),
    pytest.param(ndjson([job(1)]), {"Content-Type": "text/csv"}, 415, "Content-Type", id="wrong-type"),
    pytest.param(ndjson([job(1)]), {}, 415, "Content-Type", id="no-type"),
    pytest.param(
        ndjson([job(1)]),
        {"Content-Type": "application/x-ndjson", "Content-Encoding": "br"},
        415,
        "Content-Encoding",
        id="wrong-encoding",
    ),
    pytest.param(b'{"site": "SITE-A", "x": "\xff\xfe"}', NDJSON, 400, "not UTF-8", id="not-utf8"),
    pytest.param(b"[]", {"Content-Type": "application/json"}, 422, "empty", id="empty-array"),
    pytest.param(b"\n \n", NDJSON, 422, "empty", id="empty-ndjson"),
    pytest.param(orjson.dumps(job(1)), {"Content-Type": "application/json"}, 422, "JSON array", id="object"),
    pytest.param(b"x" * 5_000_000, NDJSON, 413, "limit", id="oversized"),
    pytest.param(
        gzip.compress(b" " * (65 * 1024 * 1024), 9), GZIP_NDJSON, 413, "decompresses", id="decompression-bomb"
    ),
]


@pytest.mark.parametrize(("body", "headers", "status", "phrase"), REFUSED)
def test_unusable_requests_get_problem_json_and_write_nothing(
    deployment: Deployment, body: bytes, headers: dict[str, str], status: int, phrase: str
) -> None:
    with deployment.client() as http:
        answer = http.post("/v1/records/jobs", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status and problem["title"] and problem["type"].startswith("https://")
    assert phrase in problem["detail"]
    wh = deployment.services.warehouse
    assert wh.list_keys("jobs") == [] and wh.list_keys("quarantine") == []


def test_unknown_kind_is_404(deployment: Deployment) -> None:
    with deployment.client() as http:
        answer = http.post("/v1/records/widgets", content=ndjson([job(1)]), headers=NDJSON)
    assert answer.status_code == 404 and "unknown record kind 'widgets'" in answer.json()["detail"]


# (record, index-independent expected errors as (field, message fragment))
BAD_RECORDS = [
    (job(1, cores=None), [("cores", "Field required")]),
    (
        {k: v for k, v in job(1).items() if k != "end_time"},
        [("end_time", "Field required")],
    ),
    (job(1, cores="four"), [("cores", "valid integer")]),
    (job(1, wall_seconds=-5), [("wall_seconds", "greater than or equal to 0")]),
    (job(1, cpu_seconds=-1), [("cpu_seconds", "greater than or equal to 0")]),
    (job(1, cores=0), [("cores", "greater than or equal to 1")]),
    (job(1, nodes=0), [("nodes", "greater than or equal to 1")]),
    (job(1, start_time="2026-03-02T00:00:00Z"), [(None, "end_time is before start_time")]),
    (job(1, end_time="2099-01-01T00:00:00Z"), [("end_time", "in the future")]),
    (
        job(1, end_time="1970-01-01T00:00:00Z", start_time=None, submit_time=None),
        [("end_time", "before 1980")],
    ),
    (job(1, local_user="x" * 10_000), [("local_user", "at most 256 characters")]),
    (job(1, batch_system="cron"), [("batch_system", "Input should be")]),
    (job(1, colour="blue"), [("colour", "Extra inputs are not permitted")]),
    (vm(1), [("provider", "Extra inputs"), ("cores", "Field required")]),
    ([1, 2, 3], [(None, "must be a JSON object")]),
]


@pytest.mark.parametrize(("bad", "expected"), BAD_RECORDS, ids=[str(i) for i in range(len(BAD_RECORDS))])
def test_bad_records_are_rejected_one_by_one_and_quarantined(
    deployment: Deployment, bad: object, expected: list[tuple[str | None, str]]
) -> None:
    good = [job(10), job(11)]
    with deployment.client() as http:
        body = http.post("/v1/records/jobs", content=ndjson([good[0], bad, good[1]]), headers=NDJSON).json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 1, 0)
    errors = body["errors"]
    assert {e["index"] for e in errors} == {1}
    for field, fragment in expected:
        assert any(e["field"] == field and fragment in e["message"] for e in errors), (
            field,
            fragment,
            errors,
        )

    wh = deployment.services.warehouse
    assert sorted(str(r["local_job_id"]) for r in rows(wh, "jobs")) == ["1010", "1011"]
    kept = quarantined(wh, "jobs")
    assert len(kept) == 1 and kept[0]["index"] == 1 and kept[0]["batch_id"] == body["batch_id"]
    assert orjson.loads(str(kept[0]["record"])) == bad
    assert kept[0]["errors"] == [{"field": e["field"], "message": e["message"]} for e in errors]


def test_an_unparsable_line_among_good_ones_is_quarantined_verbatim(deployment: Deployment) -> None:
    body = ndjson([job(1)]) + b'{"site": "SITE-A", "broken\n' + ndjson([job(2)])
    with deployment.client() as http:
        answer = http.post("/v1/records/jobs", content=body, headers=NDJSON).json()
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["errors"][0]["index"] == 1 and "not valid JSON" in answer["errors"][0]["message"]
    assert quarantined(deployment.services.warehouse, "jobs")[0]["record"] == '{"site": "SITE-A", "broken'


def test_unicode_names_round_trip(deployment: Deployment) -> None:
    names = {"local_user": "józef.müller", "project": "气候模型", "job_name": "análise 🚀 run|1"}
    with deployment.client() as http:
        body = http.post("/v1/records/jobs", json=[job(1, **names)]).json()
    assert body["accepted"] == 1
    (stored,) = rows(deployment.services.warehouse, "jobs")
    assert {k: stored[k] for k in names} == names


def test_slow_path_and_fast_path_judge_alike(deployment: Deployment) -> None:
    """A batch with one mistyped record goes record by record; its other verdicts must not change."""
    batch = [job(1, cores=0), job(2, end_time="2099-01-01T00:00:00Z"), job(3)]
    with deployment.client() as http:
        fast = http.post("/v1/records/jobs", json=batch).json()
        slow = http.post("/v1/records/jobs", json=[*batch, job(4, cores="x")]).json()
    assert fast["errors"] == [e for e in slow["errors"] if e["index"] != 3]
    assert (fast["accepted"], slow["accepted"]) == (1, 1)


def test_blank_lines_and_crlf_line_ends_are_accepted(deployment: Deployment) -> None:
    body = b"\n\n" + ndjson([job(1)]).replace(b"\n", b"\r\n") + b"   \n\n" + ndjson([job(2), job(3)]) + b"\n"
    with deployment.client() as http:
        result = http.post("/v1/records/jobs", content=body, headers=NDJSON).json()
    assert (result["accepted"], result["rejected"], result["errors"]) == (3, 0, [])
    assert sorted(str(r["local_job_id"]) for r in rows(deployment.services.warehouse, "jobs")) == [
        "1001",
        "1002",
        "1003",
    ]
