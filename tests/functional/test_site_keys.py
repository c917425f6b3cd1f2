"""A site's API keys managed over real HTTP by its site managers and by admins, with the rules and
the audit of `tally keys`; the keys made here are then used, so 'works' and 'revoked' are real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.records import job
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"


@dataclass
class Keys:
    url: str
    svc: Services
    secrets: dict[str, str]
    existing: dict[str, str]  # site -> the id of a key made before the test

    def http(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.secrets[who]}"}, timeout=60
        )

    def post_job(self, key: str, site: str, n: int) -> int:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as h:
            return h.post("/v1/records/jobs", json=[job(n, site=site)]).status_code


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    for site in (A, B):
        svc.add_site(site)
    existing = {site: svc.create_key(site).record.key_id for site in (A, B)}
    secrets = {"key-A": svc.create_key(A, scopes=("registry:write",)).plain}
    for role, scope in (("site_manager", A), ("admin", None), ("vo_manager", "atlas"), ("finance", None)):
        person = svc.people.add_person(role, f"{role}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        secrets[role] = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    with running_app(app) as url:
        yield Keys(url, svc, secrets, existing)


def test_a_site_manager_creates_uses_lists_and_revokes_a_key_of_their_site(keys: Keys) -> None:
    before = {k.key_id for k in keys.svc.control.list_keys(A)}
    with keys.http("site_manager") as http:
        made = http.post(f"/v1/sites/{A}/keys", json={"resources": ["cluster1"], "scopes": ["records:write"]})
        assert made.status_code == 201, made.text
        new = made.json()
        assert (new["site"], new["resources"], new["scopes"]) == (A, ["cluster1"], ["records:write"])
        assert new["key"].startswith(f"tly_{new['key_id']}_")
        listed = http.get(f"/v1/sites/{A}/keys").json()
        assert {k["key_id"] for k in listed} == before | {new["key_id"]}
        assert all("key" not in k for k in listed)
        assert keys.post_job(new["key"], A, 1) == 200
        assert keys.post_job(new["key"], B, 2) == 403
        assert http.delete(f"/v1/sites/{A}/keys/{new['key_id']}").status_code == 204
        assert keys.post_job(new["key"], A, 3) == 401
        again = http.delete(f"/v1/sites/{A}/keys/{new['key_id']}")
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        revoked = next(k for k in http.get(f"/v1/sites/{A}/keys").json() if k["key_id"] == new["key_id"])
        assert revoked["revoked_at"] is not None
        # Default scopes, as `tally keys create` without --scope.
        agent = http.post(f"/v1/sites/{A}/keys", json={}).json()
        assert agent["scopes"] == ["records:write", "reports:read", "registry:write"]
    with keys.http("admin") as http:
        audit = http.get("/v1/audit").json()
    events = [
        (e["action"], e["target"], e["detail"].get("key_id")) for e in audit if e["action"].startswith("key.")
    ]
    assert events == [
        ("key.create", f"site:{A}", new["key_id"]),
        ("key.revoke", f"site:{A}", new["key_id"]),
        ("key.create", f"site:{A}", agent["key_id"]),
    ]
    assert new["key"].split("_")[2] not in json.dumps(audit)


def test_another_sites_keys_are_out_of_a_site_managers_reach(keys: Keys) -> None:
    theirs = keys.existing[B]
    with keys.http("site_manager") as http:
        for answer in (
            http.get(f"/v1/sites/{B}/keys"),
            http.post(f"/v1/sites/{B}/keys", json={}),
            http.delete(f"/v1/sites/{B}/keys/{theirs}"),
        ):
            assert answer.status_code == 403, answer.text
        # B's key named under A's path: not one of A's.
        assert http.delete(f"/v1/sites/{A}/keys/{theirs}").status_code == 404
    assert keys.svc.control.get_key(theirs).active  # type: ignore[union-attr]
    with keys.http("admin") as http:
        assert {k["site"] for k in http.get(f"/v1/sites/{B}/keys").json()} == {B}
        assert http.get("/v1/sites/NOWHERE/keys").status_code == 404
        assert http.post("/v1/sites/NOWHERE/keys", json={}).status_code == 404
        assert http.delete(f"/v1/sites/{B}/keys/{theirs}").status_code == 204
    for who in ("vo_manager", "finance", "key-A"):
        with keys.http(who) as http:
            answer = http.get(f"/v1/sites/{A}/keys")
            assert answer.status_code == 403 and answer.headers["content-type"] == "application/problem+json"


def test_hostile_key_requests_get_4xx_and_make_no_key(keys: Keys) -> None:
    before = len(keys.svc.control.list_keys(A))
    cases: list[tuple[bytes, int]] = [
        (b"not json", 400),
        (b'{"resources": [NaN]}', 400),
        (b"null", 422),
        (b'["records:write"]', 422),
        (b'{"scopes": "records:write"}', 422),
        (b'{"scopes": ["root"]}', 422),
        (b'{"scopes": [null]}', 422),
        (b'{"resources": null}', 422),
        (b'{"resources": [""]}', 422),
        (b'{"resources": [{"name": "x"}]}', 422),
        (b'{"scopes": []}', 422),
        (b'{"site": "SITE-B"}', 422),
        (json.dumps({"resources": [f"r{n}" for n in range(101)]}).encode(), 422),
        (json.dumps({"resources": ["r" * 100] * 700}).encode(), 413),
    ]
    with keys.http("site_manager") as http:
        for body, status in cases:
            answer = http.post(
                f"/v1/sites/{A}/keys", content=body, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == status, (body[:50], answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert (
            http.post(
                f"/v1/sites/{A}/keys", content=b"{}", headers={"Content-Type": "text/plain"}
            ).status_code
            == 415
        )
        assert http.delete(f"/v1/sites/{A}/keys/not-a-key-id").status_code == 422
        assert http.get(f"/v1/sites/{'x' * 300}/keys").status_code == 422
    assert len(keys.svc.control.list_keys(A)) == before


def test_the_cli_writes_the_same_audit_events(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", A).returncode == 0
    made = tally(home, "keys", "create", "--site", A, "--scope", "reports:read", "--json")
    assert made.returncode == 0, made.stderr
    key_id = json.loads(made.stdout)["id"]
    assert tally(home, "keys", "revoke", key_id).returncode == 0
    gone = tally(home, "keys", "revoke", "0123456789abcdef")
    assert gone.returncode != 0 and "no key with id" in gone.stderr
    svc = Services(local_settings(home))
    events: list[Any] = [
        (e.action, e.target, e.detail["key_id"], e.actor.startswith("cli:"))
        for e in svc.people.store.list_audit()
        if e.action.startswith("key.")
    ]
    assert events == [("key.create", f"site:{A}", key_id, True), ("key.revoke", f"site:{A}", key_id, True)]
