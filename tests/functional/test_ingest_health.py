"""GET /v1/ingest/health over real HTTP: per resource counts, quiet agents and quarantine reasons,
fenced to the caller's sites; the expected figures are those of the batches this test posted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.ingest_health.service import DAYS, IngestHealthService
from tally.ingest_health.settings import IngestHealthSettings
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import job, vm
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"


@dataclass
class Health:
    url: str
    svc: Services
    secrets: dict[str, str]

    def get(self, who: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.secrets[who]}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            return http.get("/v1/ingest/health", params=params)


@pytest.fixture(scope="module")
def health(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Health]:
    app = create_app(local_settings(Path(tmp_path_factory.mktemp("health")) / "home"))
    svc: Services = app.state.services
    for site in (A, B):
        svc.add_site(site)
    secrets = {"key-A": svc.create_key(A).plain, "key-B": svc.create_key(B).plain}
    for role, scope in (("site_manager", A), ("admin", None), ("vo_manager", "atlas")):
        person = svc.people.add_person(role, f"{role}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        secrets[role] = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    with running_app(app) as url:
        posts = {
            "key-A": [
                ("jobs", [job(n, site=A) for n in range(5)] + [job(9, site=A, resource="cluster2")]),
                # Quarantined: two with cores not a number, one with cores 0 and a negative wall time.
                (
                    "jobs",
                    [
                        job(20, site=A, cores="x"),
                        job(21, site=A, cores="y"),
                        job(22, site=A, cores=0, wall_seconds=-1),
                    ],
                ),
            ],
            "key-B": [("vms", [vm(n, site=B) for n in range(3)]), ("jobs", [job(30, site=B, cores="z")])],
        }
        for who, batches in posts.items():
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secrets[who]}"}) as http:
                for kind, records in batches:
                    assert http.post(f"/v1/records/{kind}", json=records).status_code == 200
        yield Health(url, svc, secrets)


def _resources(body: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["site"], r["kind"], r["resource"]): r for r in body["resources"]}


def test_a_site_manager_sees_each_resource_of_their_site(health: Health) -> None:
    answer = health.get("site_manager")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    today = datetime.now(UTC).date()
    assert body["days"] == [(today - timedelta(days=DAYS - 1 - n)).isoformat() for n in range(DAYS)]
    resources = _resources(body)
    assert set(resources) == {(A, "jobs", "cluster1"), (A, "jobs", "cluster2")}
    assert resources[(A, "jobs", "cluster1")]["records_per_day"] == [0] * 13 + [5]
    assert resources[(A, "jobs", "cluster2")]["records_per_day"] == [0] * 13 + [1]
    # job(n) ends at 2026-03-01 + n minutes: cluster1's latest is job 4's.
    assert resources[(A, "jobs", "cluster1")]["latest_event_time"] == "2026-03-01T00:04:00Z"
    assert body["quiet"] == [] and body["quiet_hours"] == 24
    last = datetime.fromisoformat(str(resources[(A, "jobs", "cluster1")]["last_received_at"]))
    assert abs((datetime.now(UTC) - last).total_seconds()) < 600
    [quarantine] = body["quarantine"]
    assert (quarantine["site"], quarantine["kind"], quarantine["records"]) == (A, "jobs", 3)
    reasons = {(r["field"], r["count"]) for r in quarantine["reasons"]}
    assert reasons == {("cores", 2), ("cores", 1), ("wall_seconds", 1)}
    assert sum(r["count"] for r in quarantine["reasons"]) == 4


def test_an_admin_sees_every_site_and_may_pick_one(health: Health) -> None:
    everything = _resources(health.get("admin").json())
    assert set(everything) == {(A, "jobs", "cluster1"), (A, "jobs", "cluster2"), (B, "vms", "cloud1")}
    assert everything[(B, "vms", "cloud1")]["records_per_day"][-1] == 3
    only_b = health.get("admin", site=B).json()
    assert set(_resources(only_b)) == {(B, "vms", "cloud1")}
    assert [(q["site"], q["records"]) for q in only_b["quarantine"]] == [(B, 1)]


def test_keys_read_their_own_site_and_others_are_refused(health: Health) -> None:
    assert {r["site"] for r in health.get("key-B").json()["resources"]} == {B}
    for who, params in (("site_manager", {"site": B}), ("key-A", {"site": B}), ("vo_manager", {})):
        answer = health.get(who, **params)
        assert answer.status_code == 403, (who, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


def test_resources_that_sent_nothing_for_the_quiet_hours_are_quiet(health: Health) -> None:
    later = datetime.now(UTC) + timedelta(hours=30)
    service = IngestHealthService(
        health.svc.engine, IngestHealthSettings(quiet_hours=24), clock=lambda: later
    )
    report = service.health([A])
    assert {(r.resource, r.quiet) for r in report.resources} == {("cluster1", True), ("cluster2", True)}
    assert all(29.8 < r.hours_since_last < 30.2 for r in report.resources)
    assert [r.quiet for r in service.health([A], quiet_hours=48).resources] == [False, False]
    # 30 hours on, the day of arrival may have left the last 14 days' window: never more than sent.
    assert sum(report.resources[0].records_per_day) in (0, 5)


def test_hostile_parameters_get_422(health: Health) -> None:
    for params in ({"quiet_hours": 0}, {"quiet_hours": "NaN"}, {"quiet_hours": 10**12}, {"site": [A] * 101}):
        answer = health.get("admin", **params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
