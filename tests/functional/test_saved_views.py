"""Saved views per person over real HTTP, on the SQLite and the DynamoDB (moto) control stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.saved_views.model import MAX_VIEWS
from tally.services.container import Services
from tally.settings import Settings
from tests.support.servers import running_app

PASSWORD = "a long enough password"
STATE = {
    "kind": "jobs",
    "range": {"from": "2026-05-01", "to": "2026-11-01"},
    "rows": ["site", "vo"],
    "columns": ["month"],
    "metrics": ["core_hours", "normalised_core_hours"],
    "filters": {"vo": ["atlas", "cms"]},
    "chart": {"type": "stacked-bars", "top": 10, "label": "Übersicht ✓"},
    "nothing": None,
    "ratio": 0.25,
}


@dataclass
class Views:
    url: str
    svc: Services
    tokens: dict[str, str]
    key: str

    def client(self, who: str) -> httpx.Client:
        secret = self.key if who == "key" else self.tokens[who]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)


@pytest.fixture
def views(settings: Settings) -> Iterator[Views]:
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    tokens = {}
    for name in ("ann", "ben"):
        person = svc.people.add_person(name.title(), f"{name}@example.org", "test", password=PASSWORD)
        svc.people.add_grant(person.person_id, "user", None, "test")
        tokens[name] = svc.people.create_token(svc.people.principal_of(person), "views", 1)[1]
    with running_app(app) as url:
        yield Views(url, svc, tokens, svc.create_key("SITE-A").plain)


def test_save_replace_list_and_delete_my_views(views: Views) -> None:
    with views.client("ann") as http:
        first = http.put("/v1/me/views/atlas-by-site", json={"title": "ATLAS by site", "state": STATE})
        assert first.status_code == 201, first.text
        again = http.put("/v1/me/views/atlas-by-site", json={"title": "ATLAS, by site", "state": {"v": 2}})
        assert again.status_code == 200
        assert again.json()["created_at"] == first.json()["created_at"]
        assert again.json()["updated_at"] >= first.json()["updated_at"]
        assert http.put("/v1/me/views/b.2_x", json={"title": "Second", "state": STATE}).status_code == 201
        listed = http.get("/v1/me/views").json()
    assert [(v["name"], v["title"], v["state"]) for v in listed] == [
        ("atlas-by-site", "ATLAS, by site", {"v": 2}),
        ("b.2_x", "Second", STATE),
    ]
    with views.client("ben") as http:  # another person: none of Ann's, and cannot reach them
        assert http.get("/v1/me/views").json() == []
        assert http.delete("/v1/me/views/b.2_x").status_code == 404
        assert http.put("/v1/me/views/b.2_x", json={"title": "Ben's", "state": {}}).status_code == 201
    with views.client("ann") as http:
        assert http.delete("/v1/me/views/b.2_x").status_code == 204
        missing = http.delete("/v1/me/views/b.2_x")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        assert [v["name"] for v in http.get("/v1/me/views").json()] == ["atlas-by-site"]
    with views.client("ben") as http:
        assert [(v["name"], v["title"]) for v in http.get("/v1/me/views").json()] == [("b.2_x", "Ben's")]


def test_site_keys_have_no_views(views: Views) -> None:
    with views.client("key") as http:
        for answer in (
            http.get("/v1/me/views"),
            http.put("/v1/me/views/x", json={"title": "t", "state": {}}),
            http.delete("/v1/me/views/x"),
        ):
            assert answer.status_code == 403
            assert answer.headers["content-type"] == "application/problem+json"


def test_a_browser_session_needs_its_csrf_token_to_save(views: Views) -> None:
    with httpx.Client(base_url=views.url, timeout=60) as http:
        login = http.post("/v1/auth/login", json={"email": "ann@example.org", "password": PASSWORD})
        cookie = login.cookies.get("tally_session")
        assert cookie
        http.cookies.set("tally_session", cookie)
        body = {"title": "t", "state": {}}
        assert http.put("/v1/me/views/mine", json=body).status_code == 403
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        assert http.put("/v1/me/views/mine", json=body, headers=csrf).status_code == 201
        assert [v["name"] for v in http.get("/v1/me/views").json()] == ["mine"]


def _raw(http: httpx.Client, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return http.put("/v1/me/views/v1", content=body, headers={"Content-Type": content_type})


def test_hostile_bodies_and_names_get_4xx_and_store_nothing(views: Views) -> None:
    deep: dict[str, Any] = {"a": {}}
    node = deep["a"]
    for _ in range(40):
        node["a"] = {}
        node = node["a"]
    cases: list[tuple[bytes, int]] = [
        (b"not json", 400),
        (b'{"title": "t", "state": {"x": NaN}}', 400),
        (b'{"title": "t", "state": {"x": Infinity}}', 400),
        (b"[" * 20_000 + b"]" * 20_000, 413),
        (b"[" * 5_000 + b"]" * 5_000, 400),
        (b"null", 422),
        (b'["title", "state"]', 422),
        (b'{"title": "t"}', 422),
        (b'{"title": "t", "state": null}', 422),
        (b'{"title": "t", "state": []}', 422),
        (b'{"title": "t", "state": "text"}', 422),
        (b'{"title": ["t"], "state": {}}', 422),
        (b'{"title": null, "state": {}}', 422),
        (b'{"title": "", "state": {}}', 422),
        (json.dumps({"title": "t" * 201, "state": {}}).encode(), 422),
        (b'{"title": "t", "state": {}, "owner": "someone else"}', 422),
        (json.dumps({"title": "t", "state": deep}).encode(), 422),
        (json.dumps({"title": "t", "state": {"blob": "x" * 17_000}}).encode(), 413),
        (json.dumps({"title": "t", "state": {"blob": "x" * 40_000}}).encode(), 413),
    ]
    with views.client("ann") as http:
        for body, status in cases:
            answer = _raw(http, body)
            assert answer.status_code == status, (body[:60], answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert _raw(http, b'{"title": "t", "state": {}}', "text/plain").status_code == 415
        for name in (".hidden", "-x", "a" * 65, "with space", "ä"):
            assert http.put(f"/v1/me/views/{name}", json={"title": "t", "state": {}}).status_code == 422
        assert http.get("/v1/me/views").json() == []


def test_a_person_keeps_a_bounded_number_of_views(views: Views) -> None:
    person_id = views.svc.people.token_principal(views.tokens["ann"])
    assert person_id is not None
    for n in range(MAX_VIEWS):
        views.svc.saved_views.put(person_id.person.person_id, f"v{n}", "t", {"n": n})
    with views.client("ann") as http:
        assert http.put("/v1/me/views/one-more", json={"title": "t", "state": {}}).status_code == 409
        assert http.put("/v1/me/views/v7", json={"title": "replaced", "state": {}}).status_code == 200
        assert len(http.get("/v1/me/views").json()) == MAX_VIEWS
