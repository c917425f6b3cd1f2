"""GET /v1/records/{kind}: keyset pages, filters, sort and fences over real HTTP; every expected
row is computed here from the records the test posted, not by Tally."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.functional.portal_world import REGISTRY_HS06, A, B, World, portal_world

RANGE = {"from": "2026-02-28", "to": "2026-03-02"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with portal_world(tmp_path_factory.mktemp("portal") / "home") as w:
        yield w


def pages(http: httpx.Client, params: dict[str, Any], kind: str = "jobs") -> list[dict[str, Any]]:
    """Every item of a listing, page by page; fails on a repeated row or an endless chain."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        answer = http.get(f"/v1/records/{kind}", params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) <= int(params.get("limit", 100))
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            ids = [i["record_id"] for i in items]
            assert len(ids) == len(set(ids)), "a row came twice"
            return items
    raise AssertionError("the cursor chain did not end")


def ids(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(i["site"]), str(i["local_job_id"])) for i in items]


def identity(r: dict[str, object]) -> tuple[str, str, str, str]:
    return (str(r["site"]), str(r["resource"]), str(r["local_job_id"]), str(r["end_time"]))


def test_default_order_is_newest_first_and_pages_split_no_ties(world: World) -> None:
    with world.client("admin") as http:
        got = pages(http, {**RANGE, "limit": 7})
    expected = sorted(world.jobs, key=lambda r: (str(r["end_time"]), *identity(r)), reverse=True)
    assert ids(got) == [(str(r["site"]), str(r["local_job_id"])) for r in expected]
    assert len(got) == 30


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_a_field_with_ties_pages_every_row_once(world: World, direction: str) -> None:
    with world.client("admin") as http:
        got = pages(http, {**RANGE, "limit": 4, "sort": f"cores:{direction}"})
    expected = sorted(
        world.jobs, key=lambda r: (int(str(r["cores"])), *identity(r)), reverse=direction == "desc"
    )
    assert ids(got) == [(str(r["site"]), str(r["local_job_id"])) for r in expected]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_null_sort_values_come_last_either_way(world: World, direction: str) -> None:
    with world.client("admin") as http:
        got = pages(http, {**RANGE, "limit": 6, "sort": f"queue:{direction}"})
    present = [r for r in world.jobs if r.get("queue") is not None]
    missing = [r for r in world.jobs if r.get("queue") is None]
    descending = direction == "desc"
    expected = sorted(present, key=lambda r: (str(r["queue"]), *identity(r)), reverse=descending)
    expected += sorted(missing, key=identity, reverse=descending)
    assert ids(got) == [(str(r["site"]), str(r["local_job_id"])) for r in expected]
    assert [i["queue"] for i in got[-len(missing) :]] == [None] * len(missing) == [None] * 6


def test_filters_use_report_dimension_names(world: World) -> None:
    with world.client("admin") as http:
        got = pages(http, {**RANGE, "vo": "atlas", "project": ["p1", "p3"], "limit": 5})
        by_user = pages(http, {**RANGE, "user": f"bob@{A}"})
    expected = {
        (r["site"], r["local_job_id"])
        for r in world.jobs
        if r["vo"] == "atlas" and r["project"] in ("p1", "p3")
    }
    assert set(ids(got)) == expected and len(got) == len(expected) > 0
    bobs = {(r["site"], r["local_job_id"]) for r in world.jobs if r["local_user"] == "bob" and r["site"] == A}
    assert set(ids(by_user)) == bobs and len(bobs) > 0


def test_time_range_is_end_inclusive_start_exclusive_end(world: World) -> None:
    window = {"from": "2026-03-01T00:02:00Z", "to": "2026-03-01T00:04:00Z"}
    with world.client("admin") as http:
        got = pages(http, window)
    expected = {
        (r["site"], r["local_job_id"])
        for r in world.jobs
        if "2026-03-01T00:02:00Z" <= str(r["end_time"]) < "2026-03-01T00:04:00Z"
    }
    assert set(ids(got)) == expected and len(expected) == 8


def _reach(world: World, who: str) -> set[tuple[object, object]]:
    keep: Callable[[dict[str, object]], bool] = {
        "user": lambda r: r["site"] == A and r["local_user"] == "alice",
        "project_manager": lambda r: r["project"] == "p1",
        "vo_manager": lambda r: r["vo"] == "atlas",
        "site_manager": lambda r: r["site"] == A,
        "admin": lambda r: True,
        "key-A": lambda r: r["site"] == A,
    }[who]
    return {(r["site"], r["local_job_id"]) for r in world.jobs if keep(r)}


@pytest.mark.parametrize("who", ["user", "project_manager", "vo_manager", "site_manager", "admin", "key-A"])
def test_each_caller_lists_exactly_the_rows_its_grants_reach(world: World, who: str) -> None:
    with world.client(who) as http:
        got = pages(http, {**RANGE, "limit": 9})
    assert set(ids(got)) == _reach(world, who)
    assert len(got) == len(_reach(world, who)) > 0


def test_finance_reads_no_record_rows(world: World) -> None:
    with world.client("finance") as http:
        answer = http.get("/v1/records/jobs", params=RANGE)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "aggregate" in answer.json()["detail"]


def test_naming_a_site_outside_the_grant_is_refused(world: World) -> None:
    with world.client("site_manager") as http:
        assert http.get("/v1/records/jobs", params={**RANGE, "site": B}).status_code == 403
    with world.client("key-A") as http:
        assert http.get("/v1/records/jobs", params={**RANGE, "site": B}).status_code == 403
    with world.client("user") as http:  # a user's fence is on the person: B's rows are not theirs
        assert pages(http, {**RANGE, "site": B}) == []


def _job_id(world: World, site: str, local_job_id: str) -> str:
    with world.client("admin") as http:
        got = pages(http, {**RANGE, "site": site, "limit": 1000})
    return str(next(i["record_id"] for i in got if i["local_job_id"] == local_job_id))


def test_job_detail_has_times_resources_state_nodes_and_normalisation(world: World) -> None:
    with world.client("site_manager") as http:
        from_registry = http.get(f"/v1/records/jobs/{_job_id(world, A, '1004')}").json()
        from_record = http.get(f"/v1/records/jobs/{_job_id(world, A, '1007')}").json()
    assert from_registry["end_time"] == "2026-03-01T00:01:00Z"
    assert from_registry["start_time"] == "2026-02-28T22:00:00Z"
    assert from_registry["submit_time"] == "2026-02-28T21:00:00Z"
    assert (from_registry["cores"], from_registry["state"], from_registry["exit_code"]) == (2, "COMPLETED", 0)
    assert from_registry["memory_requested_bytes"] == 4_000_000_004
    assert from_registry["memory_max_bytes"] == 1_000_000_004
    assert from_registry["node_list"] == "node[04-05]"
    assert from_registry["cpu_efficiency"] == pytest.approx(24_000 / (7200 * 2))
    assert from_registry["normalisation_used"] == {
        "benchmark": "HS06",
        "per_core": REGISTRY_HS06,
        "source": "registry",
        "normalised_core_hours": pytest.approx(7200 * 2 * REGISTRY_HS06 / 3600),
    }
    assert from_record["normalisation_used"] == {
        "benchmark": "HEPscore23",
        "per_core": 20.0,
        "source": "record",
        "normalised_core_hours": pytest.approx(7200 * 2 * 20.0 / 3600),
    }
    with world.client("admin") as http:
        at_b = http.get(f"/v1/records/jobs/{_job_id(world, B, '1003')}").json()
    assert at_b["normalisation_used"]["benchmark"] is None and at_b["node_list"] == "node[03-04]"


def test_a_record_outside_the_fence_is_not_found(world: World) -> None:
    theirs = _job_id(world, B, "1003")
    for who in ("site_manager", "key-A", "user"):
        with world.client(who) as http:
            answer = http.get(f"/v1/records/jobs/{theirs}")
        assert answer.status_code == 404, (who, answer.text)
    with world.client("finance") as http:
        assert http.get(f"/v1/records/jobs/{theirs}").status_code == 403


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_hostile_listing_requests_get_4xx_problems(world: World) -> None:
    with world.client("admin") as http:
        first = http.get("/v1/records/jobs", params={**RANGE, "limit": 2, "sort": "cores"}).json()
        other_query = first["next_cursor"]
        payload = json.loads(base64.urlsafe_b64decode(other_query + "=="))
        forged = _b64(json.dumps({"q": payload["q"], "v": [{"a": 1}, 1, 2, 3, 4]}))
        cases: list[tuple[dict[str, Any], int]] = [
            ({**RANGE, "cursor": "not a cursor!"}, 422),
            ({**RANGE, "cursor": _b64("null")}, 422),
            ({**RANGE, "cursor": _b64('{"q": "x", "v": [NaN]}')}, 422),
            ({**RANGE, "sort": "cores", "cursor": forged}, 422),
            (
                {**RANGE, "sort": "cores", "cursor": _b64(json.dumps({"q": payload["q"], "v": [None] * 5}))},
                422,
            ),
            ({**RANGE, "cursor": other_query}, 422),  # made by another sort
            ({**RANGE, "cursor": "A" * 9000}, 422),
            ({**RANGE, "limit": 0}, 422),
            ({**RANGE, "limit": 1001}, 422),
            ({**RANGE, "limit": 10**30}, 422),
            ({**RANGE, "limit": "NaN"}, 422),
            ({**RANGE, "sort": "password"}, 422),
            ({**RANGE, "sort": "cores:sideways"}, 422),
            ({**RANGE, "sort": ["cores", "state"]}, 422),
            ({"from": ["2026-02-28", "2026-01-01"], "to": RANGE["to"]}, 422),
            ({"to": RANGE["to"]}, 422),
            ({"from": "2026-03-02", "to": "2026-02-28"}, 422),
            ({"from": "null", "to": RANGE["to"]}, 422),
            ({**RANGE, "colour": "red"}, 422),
            ({**RANGE, "vo": [f"v{n}" for n in range(101)]}, 422),
            ({**RANGE, "vo": "x" * 1025}, 422),
            ({**RANGE, "commercial": "maybe"}, 422),
        ]
        for params, status in cases:
            answer = http.get("/v1/records/jobs", params=params)
            assert answer.status_code == status, (params, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert http.get("/v1/records/summaries", params=RANGE).status_code == 404
        for bad in (
            "x",
            _b64("null"),
            _b64("[null, null, null, null]"),
            _b64('["a", "b", "c", 5]'),
            _b64("[NaN]"),
        ):
            answer = http.get(f"/v1/records/jobs/{bad}")
            assert answer.status_code == 404, (bad, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert http.get(f"/v1/records/jobs/{'A' * 9000}").status_code == 422


def test_other_kinds_list_their_records(world: World) -> None:
    from tests.support.records import storage, vm

    with world.client("key-A") as http:
        assert http.post("/v1/records/vms", json=[vm(n) for n in range(5)]).json()["accepted"] == 5
        assert http.post("/v1/records/storage", json=[storage(n) for n in range(3)]).json()["accepted"] == 3
        vms = pages(http, {**RANGE, "limit": 2}, kind="vms")
        shares = pages(http, {**RANGE, "sort": "end_time:asc"}, kind="storage")
        accelerators = pages(http, RANGE, kind="accelerators")
        detail = http.get(f"/v1/records/vms/{vms[0]['record_id']}").json()
    # vm(n) starts at 00:15 x n; newest first by default.
    assert [v["interval_start"] for v in vms] == [
        f"2026-03-01T{(15 * n) // 60:02d}:{(15 * n) % 60:02d}:00Z" for n in range(4, -1, -1)
    ]
    assert [s["end_time"] for s in shares] == [f"2026-03-01T{n:02d}:00:00Z" for n in range(3)]
    assert accelerators == []
    assert detail["instance_id"] == "i-0abc" and detail["vcpus"] == 4
    with world.client("user") as http:  # a user's grant names a person; VM rows name none
        assert http.get("/v1/records/vms", params=RANGE).status_code == 403
