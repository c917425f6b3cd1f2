"""/v1/me/subscriptions over real HTTP (uvicorn on loopback), on the SQLite and the DynamoDB
(moto) control stores: a person's own subscriptions, the limits, and hostile bodies answered with
problem+json, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tally.settings import Settings
from tally.subscriptions.settings import SubscriptionsSettings
from tests.subscriptions.world import VIEW_STATE
from tests.support.servers import running_app

HOOKS = "https://hooks.example.org/"
GOOD = {"view": "mine", "cadence": "monthly", "format": "pdf", "channel": "email"}
LIMIT = 3


@dataclass
class Api:
    url: str
    svc: Services
    tokens: dict[str, str]
    ids: dict[str, str]  # name -> person id

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60
        )


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    settings = settings.model_copy(
        update={"subscriptions": SubscriptionsSettings(webhook_prefixes=(HOOKS,), max_per_person=LIMIT)}
    )
    app = create_app(settings)
    svc: Services = app.state.services
    tokens, ids = {}, {}
    for name in ("ann", "ben"):
        person = svc.people.add_person(name.title(), f"{name}@example.org", "test")
        svc.people.add_grant(person.person_id, "user", None, "test")
        svc.saved_views.put(person.person_id, "mine", "My report", VIEW_STATE)
        tokens[name] = svc.people.create_token(svc.people.principal_of(person), "subs", 1)[1]
        ids[name] = person.person_id
    svc.saved_views.put(ids["ann"], "portal-note", "Not a report", {"note": "hello"})
    with running_app(app) as url:
        yield Api(url, svc, tokens, ids)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_create_list_read_and_delete_my_subscriptions(api: Api) -> None:
    with api.client("ann") as http:
        made = http.post("/v1/me/subscriptions", json=GOOD)
        assert made.status_code == 201, made.text
        sub = made.json()
        assert {k: sub[k] for k in GOOD} == GOOD and sub["id"].startswith("s-") and "url" not in sub
        hook = http.post(
            "/v1/me/subscriptions",
            json={
                "view": "mine",
                "cadence": "weekly",
                "format": "csv",
                "channel": "webhook",
                "url": HOOKS + "x",
            },
        )
        assert hook.status_code == 201 and hook.json()["url"] == HOOKS + "x"
        assert [s["id"] for s in http.get("/v1/me/subscriptions").json()] == [sub["id"], hook.json()["id"]]
        one = http.get(f"/v1/me/subscriptions/{sub['id']}")
        assert one.status_code == 200 and one.json()["deliveries"] == []
        assert problem(http.post("/v1/me/subscriptions", json=GOOD), 409)["detail"] == (
            "you already have this subscription"
        )
    with api.client("ben") as http:  # another person: none of Ann's, and cannot reach them
        assert http.get("/v1/me/subscriptions").json() == []
        problem(http.get(f"/v1/me/subscriptions/{sub['id']}"), 404)
        problem(http.delete(f"/v1/me/subscriptions/{sub['id']}"), 404)
    with api.client("ann") as http:
        assert http.delete(f"/v1/me/subscriptions/{sub['id']}").status_code == 204
        problem(http.get(f"/v1/me/subscriptions/{sub['id']}"), 404)
        assert [s["id"] for s in http.get("/v1/me/subscriptions").json()] == [hook.json()["id"]]


def test_a_person_keeps_at_most_the_limit(api: Api) -> None:
    with api.client("ann") as http:
        for cadence, fmt in (("weekly", "csv"), ("weekly", "pdf"), ("monthly", "xlsx")):
            body = {**GOOD, "cadence": cadence, "format": fmt}
            assert http.post("/v1/me/subscriptions", json=body).status_code == 201
        assert "at most 3" in problem(http.post("/v1/me/subscriptions", json=GOOD), 409)["detail"]
    with api.client("ben") as http:  # the limit is per person
        assert http.post("/v1/me/subscriptions", json=GOOD).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({**GOOD, "view": "nobody-has-this"}, 404, "no saved view"),
        ({**GOOD, "view": "../../etc"}, 422, "view name"),
        ({**GOOD, "view": 7}, 422, "string"),
        ({**GOOD, "view": None}, 422, "string"),
        ({**GOOD, "view": "portal-note"}, 422, "not an explorer report"),
        ({**GOOD, "cadence": "daily"}, 422, "cadence"),
        ({**GOOD, "cadence": ["weekly"]}, 422, "cadence"),
        ({**GOOD, "format": "docx"}, 422, "format"),
        ({**GOOD, "format": None}, 422, "format"),
        ({**GOOD, "channel": "sms"}, 422, "channel"),
        ({**GOOD, "channel": "email", "url": HOOKS}, 422, "webhook delivery only"),
        ({**GOOD, "channel": "webhook"}, 422, "url"),
        ({**GOOD, "channel": "webhook", "url": "http://169.254.169.254/latest"}, 422, "must start with"),
        ({**GOOD, "channel": "webhook", "url": HOOKS + " x"}, 422, "without spaces"),
        ({**GOOD, "channel": "webhook", "url": 12}, 422, "url"),
        ({**GOOD, "extra": 1}, 422, "unknown field"),
        ({k: v for k, v in GOOD.items() if k != "format"}, 422, "missing field"),
    ],
)
def test_hostile_bodies_are_refused(api: Api, body: dict[str, Any], status: int, says: str) -> None:
    with api.client("ann") as http:
        assert says in problem(http.post("/v1/me/subscriptions", json=body), status)["detail"]
        assert http.get("/v1/me/subscriptions").json() == []


def test_another_persons_view_name_is_not_found(api: Api) -> None:
    api.svc.saved_views.put(api.ids["ben"], "bens-only", "Ben's", VIEW_STATE)
    with api.client("ann") as http:
        problem(http.post("/v1/me/subscriptions", json={**GOOD, "view": "bens-only"}), 404)


def test_malformed_oversized_and_mistyped_requests(api: Api) -> None:
    with api.client("ann") as http:
        post = http.post
        json_header = {"Content-Type": "application/json"}
        problem(post("/v1/me/subscriptions", content=b'{"view": "mine", ', headers=json_header), 400)
        problem(post("/v1/me/subscriptions", content=b'{"view": NaN}', headers=json_header), 400)
        problem(post("/v1/me/subscriptions", content=json.dumps(GOOD).encode()), 415)
        problem(post("/v1/me/subscriptions", content=b"[1, 2]", headers=json_header), 422)
        huge = {**GOOD, "channel": "webhook", "url": HOOKS + "a" * 10_000}
        problem(post("/v1/me/subscriptions", json=huge), 413)
        long_url = {**GOOD, "channel": "webhook", "url": HOOKS + "a" * 2_500}
        problem(post("/v1/me/subscriptions", json=long_url), 422)
        for bad in ("x", "s-XYZ", "s-0123456789abc", "s-" + "0" * 200):
            problem(http.get(f"/v1/me/subscriptions/{bad}"), 422)
        problem(http.get("/v1/me/subscriptions/s-0123456789ab"), 404)
        assert http.get("/v1/me/subscriptions").json() == []
