"""Custom kinds defined and evolved by people through their grants (real HTTP with personal access
tokens, and the `tally kinds define --token` process): a site manager for their own site, an admin
for any; every other grant refused. The outcomes are worked out from the grants made here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.functional.kind_specs import ENERGY
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"
#: ENERGY with one more field that is not required: an allowed evolution.
EVOLVED = {**ENERGY, "fields": [*ENERGY["fields"], {"name": "phase", "type": "string"}]}
#: ENERGY with a field's type changed: refused.
RETYPED = {
    **ENERGY,
    "fields": [{**f, "type": "string"} if f["name"] == "peak_watts" else f for f in ENERGY["fields"]],
}


@dataclass
class People:
    url: str
    home: Path
    svc: Services
    tokens: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60
        )


@pytest.fixture
def people(tmp_path: Path) -> Iterator[People]:
    home = tmp_path / "home"
    app = create_app(local_settings(home))
    svc: Services = app.state.services
    for site in (A, B):
        svc.add_site(site)
    tokens: dict[str, str] = {}
    # (name, role, scope): a manager of A, one of both sites, an admin, a VO manager and a user.
    grants_of: dict[str, list[tuple[str, str | None]]] = {
        "manager_a": [("site_manager", A)],
        "manager_ab": [("site_manager", A), ("site_manager", B)],
        "admin": [("admin", None)],
        "vo_manager": [("vo_manager", "atlas")],
        "user": [("user", None)],
    }
    for name, grants in grants_of.items():
        person = svc.people.add_person(name, f"{name}@example.org", "test")
        for role, scope in grants:
            svc.people.add_grant(person.person_id, role, scope, "test")
        principal = svc.people.principal_of(person)
        tokens[name] = svc.people.create_token(principal, "kinds", 1)[1]
    with running_app(app) as url:
        yield People(url, home, svc, tokens)


def test_a_site_manager_defines_and_evolves_their_sites_kind(people: People) -> None:
    with people.client("manager_a") as http:
        created = http.put("/v1/kinds/rack_energy", json=ENERGY)  # their only site: no ?site= needed
        assert created.status_code == 201, created.text
        assert (created.json()["owner_site"], created.json()["version"]) == (A, 1)
        evolved = http.put("/v1/kinds/rack_energy", json=EVOLVED)
        assert evolved.status_code == 200, evolved.text
        assert evolved.json()["version"] == 2
        assert [f["name"] for f in evolved.json()["spec"]["fields"]][-1] == "phase"
        retyped = http.put(
            "/v1/kinds/rack_energy",
            json={**RETYPED, "fields": [*RETYPED["fields"], {"name": "phase", "type": "string"}]},
        )
        assert retyped.status_code == 409 and "peak_watts" in retyped.json()["detail"]
        elsewhere = http.put("/v1/kinds/other_energy", params={"site": B}, json=ENERGY)
        assert elsewhere.status_code == 403
        assert elsewhere.headers["content-type"] == "application/problem+json"
        listed = http.get("/v1/kinds")
        assert [(k["name"], k["owner_site"]) for k in listed.json()] == [("rack_energy", A)]
    # A manager of two sites names the one they define for; a kind of A cannot move to B.
    with people.client("manager_ab") as http:
        unnamed = http.put("/v1/kinds/b_energy", json=ENERGY)
        assert unnamed.status_code == 422 and "?site=" in unnamed.json()["detail"]
        named = http.put("/v1/kinds/b_energy", params={"site": B}, json=ENERGY)
        assert named.status_code == 201 and named.json()["owner_site"] == B
        moved = http.put("/v1/kinds/rack_energy", params={"site": B}, json=EVOLVED)
        assert moved.status_code == 403
    # Only the defining site's manager (or an admin) changes a kind: A's manager cannot touch B's.
    with people.client("manager_a") as http:
        assert http.put("/v1/kinds/b_energy", json=EVOLVED).status_code == 403
    assert people.svc.kinds.get("b_energy").version == 1  # type: ignore[union-attr]


def test_an_admin_defines_for_any_site_and_other_grants_are_refused(people: People) -> None:
    with people.client("admin") as http:
        unnamed = http.put("/v1/kinds/rack_energy", json=ENERGY)
        assert unnamed.status_code == 422
        unknown = http.put("/v1/kinds/rack_energy", params={"site": "NOWHERE"}, json=ENERGY)
        assert unknown.status_code == 422 and "NOWHERE" in unknown.json()["detail"]
        created = http.put("/v1/kinds/rack_energy", params={"site": B}, json=ENERGY)
        assert created.status_code == 201 and created.json()["owner_site"] == B
        evolved = http.put("/v1/kinds/rack_energy", json=EVOLVED)  # acts for the kind's own site
        assert (evolved.status_code, evolved.json()["owner_site"], evolved.json()["version"]) == (200, B, 2)
    for who in ("vo_manager", "user"):
        with people.client(who) as http:
            for answer in (
                http.put("/v1/kinds/mine", params={"site": A}, json=ENERGY),
                http.put("/v1/kinds/rack_energy", json=EVOLVED),
                http.get("/v1/kinds"),
            ):
                assert answer.status_code == 403, (who, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
    assert [k.name for k in people.svc.kinds.definitions()] == ["rack_energy"]


def test_kinds_define_as_a_person_from_the_cli(people: People, tmp_path: Path) -> None:
    spec = tmp_path / "energy.json"
    spec.write_text(json.dumps(ENERGY))
    define = ("kinds", "define", "rack_energy", "--file", str(spec))
    mine = tally(people.home, *define, "--token", people.tokens["manager_a"])
    assert mine.returncode == 0, mine.stderr
    assert "kind rack_energy: defined" in mine.stdout
    assert people.svc.kinds.get("rack_energy").owner_site == A  # type: ignore[union-attr]
    spec.write_text(json.dumps(EVOLVED))
    refused = tally(people.home, *define, "--token", people.tokens["user"])
    assert refused.returncode == 1 and "registry:write" in refused.stderr
    foreign = tally(
        people.home,
        "kinds",
        "define",
        "b_kind",
        "--file",
        str(spec),
        "--site",
        B,
        "--token",
        people.tokens["manager_a"],
    )
    assert foreign.returncode == 1 and "SITE-B" in foreign.stderr
    evolved = tally(people.home, *define, "--token", people.tokens["admin"])
    assert evolved.returncode == 0 and "now version 2" in evolved.stdout
    bad = tally(people.home, *define, "--token", "tly_pat_not-a-token")
    assert bad.returncode == 1
