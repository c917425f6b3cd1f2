"""A site manager manages the grants of their own site's people (issue 13, item 2), over real HTTP
with their personal access token: what they may grant and take away, at whom, and that the audit
log names them as the actor."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tally.api.app import create_app
from tally.people.model import Person
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"


@dataclass
class World:
    svc: Services
    manager: Person  # site_manager of A
    at_a: Person  # a login at A
    at_b: Person  # a login at B only
    http: httpx.Client  # the manager's token


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    people = svc.people
    manager = people.add_person("Mona", "mona@example.org", "test")
    people.add_grant(manager.person_id, "site_manager", A, "test")
    at_a = people.add_person("Ann", "ann@example.org", "test")
    people.link_identity(at_a.person_id, "local", A, "ann", "test")
    at_b = people.add_person("Ben", "ben@example.org", "test")
    people.link_identity(at_b.person_id, "local", B, "ben", "test")
    _, token = people.create_token(people.principal_of(manager, via="token"), "manage", 1)
    with (
        running_app(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
    ):
        yield World(svc, manager, at_a, at_b, http)


def grants_of(w: World, person: Person) -> set[tuple[str, str]]:
    return {(g.role, g.scope) for g in w.svc.people.store.list_grants(person.person_id)}


def test_a_site_manager_grants_their_sites_roles_to_their_sites_people(world: World) -> None:
    w, ann = world, world.at_a
    made = w.http.post(f"/v1/people/{ann.person_id}/grants", json={"role": "site_manager", "scope": A})
    user = w.http.post(f"/v1/people/{ann.person_id}/grants", json={"role": "user"})
    assert (made.status_code, user.status_code) == (201, 201), (made.text, user.text)
    assert grants_of(w, ann) == {("site_manager", A), ("user", ann.person_id)}
    # The audit log says who did it.
    events = [
        e for e in w.svc.people.store.list_audit() if e.action == "grant.add" and e.target == ann.person_id
    ]
    assert [e.actor for e in events] == [f"person:{w.manager.person_id}"] * 2
    # Taking one away again.
    gone = w.http.delete(f"/v1/people/{ann.person_id}/grants/{made.json()['grant_id']}")
    assert gone.status_code == 204 and grants_of(w, ann) == {("user", ann.person_id)}


@pytest.mark.parametrize(
    "body",
    [
        {"role": "site_manager", "scope": B},
        {"role": "vo_manager", "scope": "atlas"},
        {"role": "project_manager", "scope": "p1"},
        {"role": "finance"},
        {"role": "admin"},
    ],
)
def test_a_site_manager_grants_nothing_beyond_their_site(world: World, body: dict[str, str]) -> None:
    w = world
    answer = w.http.post(f"/v1/people/{w.at_a.person_id}/grants", json=body)
    assert answer.status_code == 403 and answer.headers["content-type"] == "application/problem+json"
    assert grants_of(w, w.at_a) == set()


def test_a_site_manager_does_not_reach_another_sites_people_or_grants(world: World) -> None:
    w, ben = world, world.at_b
    answer = w.http.post(f"/v1/people/{ben.person_id}/grants", json={"role": "site_manager", "scope": A})
    assert answer.status_code == 404 and grants_of(w, ben) == set()
    # Ben's site-manager grant at B is B's business: not listed, not removable from A.
    theirs = w.svc.people.add_grant(ben.person_id, "site_manager", B, "test")
    assert ben.person_id not in {p["person_id"] for p in w.http.get("/v1/people").json()}
    removed = w.http.delete(f"/v1/people/{ben.person_id}/grants/{theirs.grant_id}")
    assert removed.status_code == 404 and ("site_manager", B) in grants_of(w, ben)
