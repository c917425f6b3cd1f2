"""A running server with two sites, their jobs, and one person per role, for the portal's routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tally.api.app import create_app
from tally.people.model import Person
from tally.registry.entries import ResourceBenchmark
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import job
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"
PASSWORD = "a long enough password"
GRANTS = {
    "user": None,
    "project_manager": "p1",
    "vo_manager": "atlas",
    "site_manager": A,
    "finance": None,
    "admin": None,
}
START = datetime(2026, 3, 1, tzinfo=UTC)
#: The registry's HS06 per core of A's cluster1 (jobs there with no benchmark of their own use it).
REGISTRY_HS06 = 11.5


def jobs_of_the_world() -> list[dict[str, object]]:
    """30 jobs: ties on end_time and cores, NULL queues, two sites, three logins, VOs, projects."""
    out = []
    for n in range(30):
        site = A if n % 3 else B
        record = job(
            n,
            site=site,
            local_user=("alice", "bob", "carol")[(n // 3) % 3],
            vo=("atlas", "cms")[n % 2],
            project=("p1", "p2", "p3")[(n // 2) % 3],
            cores=(1, 2, 4)[n % 3],
            end_time=(START + timedelta(minutes=n // 4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            start_time=(START - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            submit_time=(START - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            memory_requested_bytes=4_000_000_000 + n,
            memory_max_bytes=1_000_000_000 + n,
            exit_code=n % 2,
            node_list=f"node[{n:02d}-{n + 1:02d}]",
        )
        if n % 5 == 0:
            record["queue"] = None
        if n == 7:
            record["benchmark_type"], record["benchmark_per_core"] = "HEPscore23", 20.0
        out.append(record)
    return out


@dataclass
class World:
    url: str
    svc: Services
    people: dict[str, Person]
    tokens: dict[str, str]
    keys: dict[str, str]
    jobs: list[dict[str, object]]

    def client(self, role: str) -> httpx.Client:
        secret = self.tokens.get(role) or self.keys[role]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)


@contextmanager
def portal_world(home: Path) -> Iterator[World]:
    app = create_app(local_settings(home))
    svc: Services = app.state.services
    for site in (A, B):
        svc.add_site(site)
    keys = {s: svc.create_key(s).plain for s in (A, B)}
    people: dict[str, Person] = {}
    tokens: dict[str, str] = {}
    for role, scope in GRANTS.items():
        person = svc.people.add_person(role.title(), f"{role}@example.org", "test", password=PASSWORD)
        svc.people.add_grant(person.person_id, role, scope, "test")
        people[role] = person
    # The user is alice at A (not at B: B's alice is somebody else).
    svc.people.link_identity(people["user"].person_id, "local", A, "alice", "test")
    for role, person in people.items():
        tokens[role] = svc.people.create_token(svc.people.principal_of(person), "portal", 1)[1]
    svc.registry.add(
        "resources",
        ResourceBenchmark(
            site=A,
            resource="cluster1",
            benchmark_type="HS06",
            benchmark_per_core=REGISTRY_HS06,
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        ),
    )
    records = jobs_of_the_world()
    with running_app(app) as url:
        for site in (A, B):
            mine = [r for r in records if r["site"] == site]
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                assert http.post("/v1/records/jobs", json=mine).json()["accepted"] == len(mine)
        yield World(url, svc, people, tokens, {"key-A": keys[A], "key-B": keys[B]}, records)
