"""The alerts API over real HTTP: rules round-trip, hostile input gets a clear 4xx (problem+json,
the field named), listing filters; and the `tally alerts` commands on the same home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tally.api.app import create_app
from tally.people.authz import Fence
from tally.people.model import Person
from tally.services.container import Services
from tests.alerts import world
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.servers import running_app


@dataclass
class Api:
    url: str
    svc: Services
    tokens: dict[str, str]

    def client(self, who: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60
        )


def serve(home: Path, planted: bool) -> Iterator[Api]:
    app = create_app(local_settings(home))
    svc: Services = app.state.services
    if planted:
        world.plant(svc)
    else:
        for site in (world.CLOUD, world.HPC):
            svc.add_site(site)
    tokens = {}
    for who, role, scope in (("admin", "admin", None), ("hpc", "site_manager", world.HPC)):
        person: Person = svc.people.add_person(who, f"{who}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        tokens[who] = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    with running_app(app) as url:
        yield Api(url, svc, tokens)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from serve(tmp_path, planted=True)


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Api]:
    """No records: for the requests refused before anything is read."""
    yield from serve(tmp_path, planted=False)


def problem(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = answer.json()
    return body


def test_rules_round_trip_and_defaults_are_stored(bare: Api) -> None:
    with bare.client("hpc") as http:
        made = http.post(
            "/v1/alerts/rules",
            json={"kind": "heavy_load", "scope": {"site": world.HPC}, "params": {"load_percent": 95}},
        )
        assert made.status_code == 201, made.text
        rule = made.json()
        assert rule["params"] == {"window_hours": 24.0, "load_percent": 95.0}
        assert rule["scope"] == {"site": world.HPC, "resource": None, "project": None}
        assert http.get(f"/v1/alerts/rules/{rule['rule_id']}").json() == rule
        changed = http.put(
            f"/v1/alerts/rules/{rule['rule_id']}",
            json={"kind": "heavy_load", "scope": {"site": world.HPC}, "params": {}, "enabled": False},
        ).json()
        assert (changed["enabled"], changed["params"]["load_percent"], changed["created_at"]) == (
            False, 90.0, rule["created_at"]
        )  # fmt: skip
        # A site manager may not write a rule for every site, nor move one to another site.
        assert "name the rule's site" in str(
            problem(http.post("/v1/alerts/rules", json={"kind": "heavy_load"}), 403)["detail"]
        )
        moved = {"kind": "heavy_load", "scope": {"site": world.CLOUD}}
        problem(http.put(f"/v1/alerts/rules/{rule['rule_id']}", json=moved), 403)
        assert http.delete(f"/v1/alerts/rules/{rule['rule_id']}").status_code == 204
        problem(http.get(f"/v1/alerts/rules/{rule['rule_id']}"), 404)


HOSTILE = [
    ({"kind": "mine_bitcoin"}, "kind", "unknown alert kind"),
    ({"kind": "idle_vm", "params": {"hours": -1}}, "params.hours", "greater than 0"),
    ({"kind": "idle_vm", "params": {"hours": 1e12}}, "params.hours", "less than or equal"),
    ({"kind": "idle_vm", "params": {"below_percent": "lots"}}, "params.below_percent", "valid number"),
    ({"kind": "idle_vm", "params": {"hours": True}}, "params.hours", ""),
    ({"kind": "idle_vm", "params": {"drop": "table"}}, "params.drop", "Extra inputs"),
    ({"kind": "idle_vm", "extra": 1}, "body.extra", "Extra inputs"),
    ({"kind": "idle_vm", "scope": {"resource": "os1"}}, "scope.site", "required"),
    ({"kind": "idle_vm", "scope": {"site": "x' OR 1=1 --"}}, "body.scope.site", "pattern"),
    ({"kind": "idle_vm", "scope": {"site": "NOWHERE"}}, None, "no site named"),
    ({"kind": "silent_agent", "scope": {"project": "p"}}, "scope.project", "not supported"),
    ({"kind": "silent_agent", "params": {"hours": 10, "lookback_hours": 5}}, "params", "longer than hours"),
    ({"kind": "x" * 10_000}, "body.kind", "at most 64"),
]


@pytest.mark.parametrize(("body", "field", "says"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_rules_get_a_422_naming_the_field(
    bare: Api, body: dict[str, object], field: str | None, says: str
) -> None:
    with bare.client() as http:
        answer = problem(http.post("/v1/alerts/rules", json=body), 422)
    text = json.dumps(answer)
    assert says in text
    if field is not None:
        assert field in {e["field"] for e in answer["errors"]}  # type: ignore[attr-defined]
    assert bare.svc.alerts.list_rules(Fence(everything=True)) == []


def test_malformed_bodies_ids_and_filters_are_refused_cleanly(bare: Api) -> None:
    with bare.client() as http:
        problem(
            http.post("/v1/alerts/rules", content=b"{not json", headers={"Content-Type": "application/json"}),
            422,
        )
        problem(http.post("/v1/alerts/rules", json=[1, 2]), 422)
        problem(http.get("/v1/alerts/rules/../../etc/passwd"), 404)
        problem(http.get("/v1/alerts/rules/r-zzzz"), 404)
        problem(http.post("/v1/alerts/a-%00%00/acknowledge"), 404)
        problem(http.get("/v1/alerts", params={"state": "burning"}), 422)
        problem(http.get("/v1/alerts", params={"site": "a b"}), 422)
        problem(http.get("/v1/alerts", params={"kind": "k" * 65}), 422)
    with httpx.Client(base_url=bare.url) as anonymous:
        problem(anonymous.get("/v1/alerts"), 401)


def test_listing_filters_and_acknowledging_over_http(api: Api) -> None:
    world.add_rules(api.svc)
    api.svc.alerts.run(world.NOW)
    with api.client() as http:
        every = http.get("/v1/alerts").json()
        assert sorted(a["kind"] for a in every) == sorted(world.EXPECTED)
        idle = http.get("/v1/alerts", params={"kind": "idle_vm", "state": "open"}).json()
        assert [(a["subject"], a["amount"], a["currency"]) for a in idle] == [
            (world.EXPECTED["idle_vm"][2], "3.46", "USD")
        ]
        assert http.get("/v1/alerts", params={"state": "resolved"}).json() == []
        at_hpc = {a["kind"] for a in http.get("/v1/alerts", params={"site": world.HPC}).json()}
        assert at_hpc == {"heavy_user", "heavy_load"}
        acked = http.post(f"/v1/alerts/{idle[0]['alert_id']}/acknowledge").json()
        assert acked["acknowledged_by"].startswith("person:") and acked["state"] == "open"
        again = http.post(f"/v1/alerts/{idle[0]['alert_id']}/acknowledge").json()
        assert again["acknowledged_at"] == acked["acknowledged_at"]
    with api.client("hpc") as http:
        assert {a["site"] for a in http.get("/v1/alerts").json()} == {world.HPC}
        problem(http.post(f"/v1/alerts/{idle[0]['alert_id']}/acknowledge"), 404)


def test_the_cli_manages_rules_and_runs_the_evaluation(tmp_path: Path) -> None:
    svc = Services(local_settings(tmp_path))
    world.plant(svc)
    added = tally(tmp_path, "alerts", "rules", "add", "--kind", "silent_agent", "--params", '{"hours": 6}')
    assert added.returncode == 0, added.stderr
    rule = json.loads(added.stdout)
    assert rule["params"] == {"hours": 6.0, "lookback_hours": 720.0}
    bad = tally(tmp_path, "alerts", "rules", "add", "--kind", "idle_vm", "--params", '{"hours": 0}')
    assert bad.returncode == 1 and "params.hours" in bad.stderr
    assert [r["rule_id"] for r in json.loads(tally(tmp_path, "alerts", "rules", "list").stdout)] == [
        rule["rule_id"]
    ]
    ran = tally(tmp_path, "alerts", "run", "--at", "2026-03-10T12:00:00Z")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["fired"] == 1
    listed = json.loads(tally(tmp_path, "alerts", "list", "--state", "open").stdout)
    assert [(a["kind"], a["site"], a["resource"]) for a in listed] == [("silent_agent", world.QUIET, "edge")]
    again = json.loads(tally(tmp_path, "alerts", "run", "--at", "2026-03-10T12:30:00Z").stdout)
    assert (again["fired"], again["refreshed"]) == (0, 1)
    assert tally(tmp_path, "alerts", "ack", listed[0]["alert_id"]).returncode == 0
    assert tally(tmp_path, "alerts", "rules", "remove", rule["rule_id"]).returncode == 0
    assert (
        json.loads(tally(tmp_path, "alerts", "run", "--at", "2026-03-10T13:00:00Z").stdout)["resolved"] == 1
    )
    assert tally(tmp_path, "alerts", "run", "--at", "yesterday").returncode == 1


def test_the_listing_pages_by_cursor_over_http(api: Api) -> None:
    world.add_rules(api.svc)
    api.svc.alerts.run(world.NOW)
    with api.client() as http:
        every = http.get("/v1/alerts").json()
        assert len(every) == len(world.EXPECTED)
        assert "Next-Cursor" not in http.get("/v1/alerts").headers
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": "4"} | ({"cursor": cursor} if cursor else {})
            answer = http.get("/v1/alerts", params=params)
            assert answer.status_code == 200, answer.text
            assert len(answer.json()) <= 4
            seen += [a["alert_id"] for a in answer.json()]
            pages += 1
            cursor = answer.headers.get("Next-Cursor")
            if cursor is None:
                break
        # 6 alerts in pages of 4: two pages, the same alerts in the same order as one listing.
        assert pages == 2 and seen == [a["alert_id"] for a in every]
        first_two = http.get("/v1/alerts", params={"limit": "2"})
        rest = http.get("/v1/alerts", params={"cursor": first_two.headers["Next-Cursor"]}).json()
        assert [a["alert_id"] for a in rest] == seen[2:]
        for bad in ({"limit": "0"}, {"limit": "1001"}, {"cursor": "bm90IGEgY3Vyc29y"}, {"cursor": "a/b"}):
            problem(http.get("/v1/alerts", params=bad), 422)


def test_resolved_alerts_are_removed_after_their_retention(tmp_path: Path) -> None:
    from datetime import timedelta

    from tally.alerts.settings import AlertsSettings

    svc = Services(local_settings(tmp_path, alerts=AlertsSettings(resolved_retention_days=30)))
    world.plant(svc)
    world.add_rules(svc)
    svc.alerts.run(world.NOW)
    for rule in svc.alerts.list_rules(world.EVERYTHING):
        svc.alerts.delete_rule(rule.rule_id, world.EVERYTHING)
    resolved_at = world.NOW + timedelta(hours=1)
    assert len(svc.alerts.run(resolved_at).resolved) == len(world.EXPECTED)
    # Kept through the retention ...
    assert svc.alerts.run(resolved_at + timedelta(days=29)).purged == 0
    assert len(svc.alerts.list_alerts(world.EVERYTHING)) == len(world.EXPECTED)
    # ... and removed by the first evaluation after it.
    assert svc.alerts.run(resolved_at + timedelta(days=30, seconds=1)).purged == len(world.EXPECTED)
    assert svc.alerts.list_alerts(world.EVERYTHING) == []
