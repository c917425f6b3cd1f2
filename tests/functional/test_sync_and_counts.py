"""Sync state only moves forward; per-site, per-day ingest counters add up."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.deployments import Deployment
from tests.support.records import job, vm


def test_sync_state_never_moves_back(deployment: Deployment) -> None:
    newer = [job(n) for n in range(100, 110)]
    older = [job(n) for n in range(0, 10)]
    with deployment.client() as http:
        http.post("/v1/records/jobs", json=newer)
        after_newer = http.get("/v1/sync-state", params={"resource": "cluster1"}).json()
        http.post("/v1/records/jobs", json=older)
        after_older = http.get("/v1/sync-state", params={"resource": "cluster1"}).json()
    assert after_newer["latest_event_time"] == max(str(r["end_time"]) for r in newer)
    assert after_older["latest_event_time"] == after_newer["latest_event_time"]
    assert (after_newer["record_count"], after_older["record_count"]) == (10, 20)


def test_sync_state_is_per_resource_and_kind(deployment: Deployment) -> None:
    with deployment.client() as http:
        http.post("/v1/records/jobs", json=[job(1, resource="a"), job(2, resource="a"), job(3, resource="b")])
        http.post("/v1/records/vms", json=[vm(1, resource="a")])
        a = http.get("/v1/sync-state", params={"resource": "a", "kind": "jobs"}).json()
        b = http.get("/v1/sync-state", params={"resource": "b", "kind": "jobs"}).json()
        vms = http.get("/v1/sync-state", params={"resource": "a", "kind": "vms"}).json()
        unknown = http.get("/v1/sync-state", params={"resource": "a", "kind": "widgets"})
        missing = http.get("/v1/sync-state", params={"kind": "jobs"})
    assert (a["record_count"], b["record_count"], vms["record_count"]) == (2, 1, 1)
    assert a["latest_event_time"] == str(job(2)["end_time"])
    assert vms["latest_event_time"] == str(vm(1)["interval_end"])
    assert unknown.status_code == 404 and missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"


def test_ingest_counts_per_site_and_day(deployment: Deployment) -> None:
    with deployment.client() as http:
        http.post("/v1/records/jobs", json=[job(1), job(2), job(2), job(3, cores=0)])
        http.post("/v1/records/jobs", json=[job(4)])
        http.post("/v1/records/jobs", json=[job(4)])  # replayed: not counted again
        http.post("/v1/records/vms", json=[vm(1)])
    today = datetime.now(UTC).date()
    counts = {c.kind: c for c in deployment.services.control.get_counts("SITE-A", since=today)}
    assert (counts["jobs"].accepted, counts["jobs"].duplicates, counts["jobs"].rejected) == (3, 1, 1)
    assert (counts["vms"].accepted, counts["vms"].day) == (1, today)
    assert deployment.services.control.get_counts("SITE-B") == []


def test_control_store_lists_sites_and_keys(deployment: Deployment) -> None:
    control = deployment.services.control
    assert [s.name for s in control.list_sites()] == ["SITE-A", "SITE-B"]
    extra = deployment.services.create_key("SITE-B", ("r1",))
    keys = control.list_keys()
    assert {k.site for k in keys} == {"SITE-A", "SITE-B"}
    assert [k.key_id for k in control.list_keys("SITE-B")] == [extra.record.key_id]
    assert control.list_keys("SITE-B")[0].resources == ("r1",)
