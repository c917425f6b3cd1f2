"""Registry writes under concurrency and with bad times: real servers, both stores (SQLite, moto)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tally.settings import Settings
from tests.support.deployments import Deployment
from tests.support.servers import running_app

ENTRIES_PER_SITE = 15


def test_two_sites_posting_at_once_through_two_servers_lose_nothing(settings: Settings) -> None:
    # Two servers over one warehouse and control store: two Lambdas, or two `tally serve` workers.
    first, second = create_app(settings), create_app(settings)
    svc: Services = first.state.services
    for site in ("SITE-A", "SITE-B"):
        svc.add_site(site)
    keys = {site: svc.create_key(site).plain for site in ("SITE-A", "SITE-B")}
    readers = 10  # lists read while the file is being replaced must never fail
    barrier = threading.Barrier(2 * ENTRIES_PER_SITE + readers)

    with running_app(first) as url_a, running_app(second) as url_b:
        urls = {"SITE-A": url_a, "SITE-B": url_b}

        def post(site: str, n: int) -> int:
            entry = {"match_field": "project", "match_value": f"{site}-p{n}", "vo": f"vo{n}"}
            with httpx.Client(base_url=urls[site], headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                barrier.wait(timeout=30)
                if n < 0:
                    return http.get("/v1/registry/vo_mapping", timeout=60).status_code
                return http.post("/v1/registry/vo_mapping", json=entry, timeout=60).status_code

        jobs = [(site, n) for n in range(ENTRIES_PER_SITE) for site in ("SITE-A", "SITE-B")]
        reads = [("SITE-A" if n % 2 else "SITE-B", -1 - n) for n in range(readers)]
        with ThreadPoolExecutor(len(jobs) + readers) as pool:
            answers = list(pool.map(lambda job: post(*job), jobs + reads))
        statuses, read_statuses = answers[: len(jobs)], answers[len(jobs) :]
        listed = {}
        for site in ("SITE-A", "SITE-B"):
            with httpx.Client(base_url=urls[site], headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                listed[site] = http.get("/v1/registry/vo_mapping").json()

    assert statuses == [201] * len(jobs) and read_statuses == [200] * readers
    for site in ("SITE-A", "SITE-B"):
        assert sorted((e["site"], e["match_value"], e["vo"]) for e in listed[site]) == sorted(
            (site, f"{site}-p{n}", f"vo{n}") for n in range(ENTRIES_PER_SITE)
        )
    assert len(Services(settings).registry.list_entries("vo_mapping")) == 2 * ENTRIES_PER_SITE


def test_edits_by_one_site_leave_another_sites_entries_as_they_were(deployment: Deployment) -> None:
    other = deployment.services.create_key("SITE-B").plain
    with deployment.client(other) as http:
        theirs = http.post(
            "/v1/registry/vo_mapping", json={"match_field": "project", "match_value": "x", "vo": "cms"}
        )
    with deployment.client() as http:
        mine = http.post(
            "/v1/registry/vo_mapping", json={"match_field": "project", "match_value": "x", "vo": "atlas"}
        )
        entry_id = mine.json()["entry_id"]
        http.put(
            f"/v1/registry/vo_mapping/{entry_id}",
            json={"match_field": "project", "match_value": "x", "vo": "lhcb"},
        )
        foreign_delete = http.delete(f"/v1/registry/vo_mapping/{theirs.json()['entry_id']}")
        http.delete(f"/v1/registry/vo_mapping/{entry_id}")
    assert foreign_delete.status_code == 404
    assert [e.model_dump(mode="json") for e in deployment.services.registry.list_entries("vo_mapping")] == [
        theirs.json()
    ]


@pytest.mark.parametrize(
    "field",
    ["valid_from", "valid_to"],
)
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_without_a_utc_instant_are_422(deployment: Deployment, field: str, moment: str) -> None:
    entry = {
        "resource": "hex",
        "benchmark_type": "HEPscore23",
        "benchmark_per_core": 12.5,
        "valid_from": "2026-01-01T00:00:00Z",
        field: moment,
    }
    if field == "valid_to":
        entry["valid_from"] = "0001-01-02T00:00:00Z"
    with deployment.client() as http:
        answer = http.post("/v1/registry/resources", json=entry)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert "outside the years 1 to 9999" in answer.json()["errors"][0]["message"]
    assert deployment.services.registry.list_entries("resources") == []


def test_a_lease_excludes_others_until_released_or_expired(settings: Settings) -> None:
    control = Services(settings).control
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert control.acquire_lock("registry/resources", "first", now, 30)
    assert control.acquire_lock("registry/resources", "first", now, 30)  # the holder may renew
    assert not control.acquire_lock("registry/resources", "second", now + timedelta(seconds=29), 30)
    assert control.acquire_lock("registry/applications", "second", now, 30)  # another name is free
    # A holder that crashed: its lease runs out and the next edit proceeds.
    assert control.acquire_lock("registry/resources", "second", now + timedelta(seconds=31), 30)
    control.release_lock("registry/resources", "first")  # no longer the holder: changes nothing
    assert not control.acquire_lock("registry/resources", "third", now + timedelta(seconds=32), 30)
    control.release_lock("registry/resources", "second")
    assert control.acquire_lock("registry/resources", "third", now + timedelta(seconds=32), 30)
