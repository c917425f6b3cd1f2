"""Allocations, their status, usage forecasts and fair share over real HTTP (uvicorn on loopback,
SQLite control store, DuckDB over a folder warehouse), with figures computed here by hand."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import job
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"
PASSWORD = "a long enough password"
MARCH = {"start": "2026-03-01", "end": "2026-04-01"}


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def ran(n: int, site: str, end: datetime, wall: int, cores: int, **over: object) -> dict[str, object]:
    record = job(n, site=site)
    record.update(
        end_time=stamp(end),
        start_time=stamp(end - timedelta(seconds=wall)),
        submit_time=stamp(end - timedelta(seconds=wall + 60)),
        wall_seconds=wall,
        cpu_seconds=wall * cores,
        cores=cores,
    )
    record.update(over)
    return record


#: March jobs of project p1 and p2 (HEPscore23 per core given), and one of p1 at B.
MARCH_JOBS = [
    ran(
        1,
        A,
        datetime(2026, 3, 2, tzinfo=UTC),
        3600,
        4,
        project="p1",
        benchmark_type="HEPscore23",
        benchmark_per_core=12.5,
    ),
    ran(
        2,
        A,
        datetime(2026, 3, 20, tzinfo=UTC),
        7200,
        2,
        project="p1",
        benchmark_type="HEPscore23",
        benchmark_per_core=10.0,
        resource="gpu1",
        gpus=2,
    ),
    ran(
        3,
        A,
        datetime(2026, 3, 21, tzinfo=UTC),
        3600,
        8,
        project="p2",
        benchmark_type="HEPscore23",
        benchmark_per_core=10.0,
    ),
    ran(
        4,
        B,
        datetime(2026, 3, 22, tzinfo=UTC),
        3600,
        1,
        project="p1",
        benchmark_type="HEPscore23",
        benchmark_per_core=20.0,
    ),
    # HS06 only: counts in an HS06 allocation, not in a HEPscore23 one.
    ran(
        5,
        A,
        datetime(2026, 3, 23, tzinfo=UTC),
        3600,
        1,
        project="p1",
        benchmark_type="HS06",
        benchmark_per_core=8.0,
    ),
    # April: outside the period.
    ran(
        6,
        A,
        datetime(2026, 4, 1, 0, 30, tzinfo=UTC),
        3600,
        1,
        project="p1",
        benchmark_type="HEPscore23",
        benchmark_per_core=10.0,
    ),
]


@dataclass
class World:
    url: str
    svc: Services
    tokens: dict[str, str]
    keys: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        token = self.tokens.get(who) or self.keys[who]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = create_app(local_settings(tmp_path_factory.mktemp("foresight") / "home"))
    svc: Services = app.state.services
    keys = {}
    for site in (A, B):
        svc.add_site(site)
        keys[site] = svc.create_key(site).plain
    tokens = {}
    for role, scope in (("admin", None), ("finance", None), ("site_manager", A), ("project_manager", "p1")):
        person = svc.people.add_person(role, f"{role}@example.org", "test", password=PASSWORD)
        svc.people.add_grant(person.person_id, role, scope, "test")
        tokens[role] = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    with running_app(app) as url:
        for site in (A, B):
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                batch = [j for j in MARCH_JOBS if j["site"] == site]
                assert http.post("/v1/records/jobs", json=batch).json()["accepted"] == len(batch)
        yield World(url, svc, tokens, keys)


def create(world: World, who: str = "admin", **body: Any) -> httpx.Response:
    with world.client(who) as http:
        return http.post(
            "/v1/allocations",
            json={"project": "p1", "unit": "hepscore23_core_hours", "amount": 100, **MARCH, **body},
        )


def status(world: World, allocation_id: str, who: str = "admin") -> dict[str, Any]:
    with world.client(who) as http:
        answer = http.get(f"/v1/allocations/{allocation_id}/status")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_used_is_the_reports_figure_by_resource(world: World) -> None:
    made = create(world, resources=[{"site": A}], amount="100.5")
    assert made.status_code == 201, made.text
    got = status(world, made.json()["allocation_id"])
    # Jobs 1 and 2 (p1 at A, HEPscore23, March): 1 h x 4 x 12.5 + 2 h x 2 x 10.
    assert got["used"] == pytest.approx(50 + 40)
    assert got["remaining"] == pytest.approx(10.5)
    assert got["percent_used"] == pytest.approx(90 / 100.5 * 100)
    assert got["forecast"] is None and "over" in got["forecast_note"]  # March 2026 is past
    # Every day of March (the period is over), oldest first, adding up to the used figure.
    assert [d["day"] for d in got["daily_use"]] == [f"2026-03-{n:02d}" for n in range(1, 32)]
    assert sum(d["used"] for d in got["daily_use"]) == pytest.approx(90)
    with world.client("admin") as http:
        report = http.get(
            "/v1/reports/jobs",
            params={
                "from": "2026-03-01",
                "to": "2026-04-01",
                "project": "p1",
                "site": A,
                "metrics": "normalised_core_hours_hepscore23",
                "group_by": "project",
            },
        ).json()
    assert report["rows"][0]["normalised_core_hours_hepscore23"] == pytest.approx(got["used"])


def test_one_resource_all_resources_hs06_and_gpu_hours(world: World) -> None:
    one = create(world, resources=[{"site": A, "resource": "gpu1"}]).json()
    assert status(world, one["allocation_id"])["used"] == pytest.approx(40)
    everywhere = create(world).json()  # p1 on every resource: jobs 1, 2 and B's job 4
    assert status(world, everywhere["allocation_id"])["used"] == pytest.approx(50 + 40 + 20)
    hs06 = create(world, unit="hs06_core_hours").json()
    assert status(world, hs06["allocation_id"])["used"] == pytest.approx(8)  # job 5 only
    gpus = create(world, unit="gpu_hours", resources=[{"site": A}]).json()
    assert status(world, gpus["allocation_id"])["used"] == pytest.approx(2 * 2)  # job 2: 2 h x 2 GPUs


def test_forecast_of_a_current_period_from_recent_history(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Sixty days of one 10 core-hour job a day (HEPscore23 10 a core: 100 a day), at SITE-B.
    recent = [
        ran(
            1000 + i,
            B,
            today - timedelta(days=60 - i) + timedelta(hours=12),
            3600,
            10,
            project="p9",
            benchmark_type="HEPscore23",
            benchmark_per_core=10.0,
        )
        for i in range(60)
    ]
    with world.client(B) as http:
        assert http.post("/v1/records/jobs", json=recent).json()["accepted"] == 60
    start = today.date() - timedelta(days=10)
    end = today.date() + timedelta(days=20)
    made = create(world, project="p9", amount=2500, start=str(start), end=str(end), resources=[{"site": B}])
    got = status(world, made.json()["allocation_id"])
    assert got["used"] == pytest.approx(100 * 10)  # the ten complete days since the start
    assert got["burn_rate_recent"] == pytest.approx(100) and got["burn_rate_period"] == pytest.approx(100)
    forecast = got["forecast"]
    # A flat history: 100 a day for the 20 days left, so 3,000 at the end, past 2,500 on day 15.
    assert forecast["method"] == "constant"
    assert forecast["expected_total"] == pytest.approx(3000)
    assert forecast["runs_out_on"] == str(today.date() + timedelta(days=14))
    assert forecast["probability_exceeds"] == 1.0
    with world.client("admin") as http:
        month = (today.date().replace(day=1) + timedelta(days=32)).replace(day=1)
        planned = http.get("/v1/forecasts/usage", params={"unit": "hepscore23_core_hours"}).json()
    rows = {(r["site"], r["resource"]): r for r in planned}
    days_in_month = ((month + timedelta(days=32)).replace(day=1) - month).days
    assert rows[(B, "cluster1")]["month"] == str(month)
    assert rows[(B, "cluster1")]["expected"] == pytest.approx(100 * days_in_month)
    with world.client(A) as http:  # a key sees its own site's resources only: A has no recent use
        assert http.get("/v1/forecasts/usage").json() == []
    # Where statsmodels is missing, a fitted forecast is refused as such (a flat one needs no fit).
    bumpy = ran(
        1100,
        B,
        today - timedelta(days=3) + timedelta(hours=13),
        3600,
        3,
        project="p9",
        benchmark_type="HEPscore23",
        benchmark_per_core=10.0,
    )
    with world.client(B) as http:
        assert http.post("/v1/records/jobs", json=[bumpy]).json()["accepted"] == 1
    monkeypatch.setitem(sys.modules, "statsmodels.api", None)
    with world.client("admin") as http:
        missing = http.get("/v1/forecasts/usage", params={"unit": "gpu_hours"})
    assert missing.status_code == 200 and missing.json() == []  # no GPU use at all: nothing to fit
    with world.client("admin") as http:
        missing = http.get("/v1/forecasts/usage", params={"unit": "hepscore23_core_hours"})
    assert missing.status_code == 503 and "statsmodels" in missing.json()["detail"]


def slurm_decayed(usage_hours: float, end: datetime, wall: int, at: datetime, half_life: float) -> float:
    """Slurm's decay loop, minute by minute: accrue the minute's usage, decay everything held so
    far by 2^(-60 s / half-life) each minute until `at`. (The closed form is the limit of this.)"""
    step = 60
    factor = 2 ** (-step / half_life)
    held = 0.0
    minutes = int((at - (end - timedelta(seconds=wall))).total_seconds()) // step
    per_minute = usage_hours / (wall / step)
    for i in range(minutes):
        held *= factor
        if i < wall // step:
            held += per_minute * factor**0.5  # accrued mid-minute
    return held


def test_fairshare_decays_usage_by_the_half_life(world: World) -> None:
    at = datetime(2026, 3, 10, tzinfo=UTC)
    day = 86_400
    jobs = [
        # Two half-lives old and short: a quarter of 1 core-hour.
        ran(2001, A, at - timedelta(days=2), 60, 60, project="fs1", local_user="ann"),
        # A whole half-life of running, ending one half-life ago: 24 x 1/2 x (1 - 1/2) / ln 2.
        ran(2002, A, at - timedelta(days=1), day, 1, project="fs1", local_user="ben"),
        ran(2003, A, at - timedelta(hours=12), 7200, 2, project="fs2", local_user="ann"),
        ran(2004, A, at + timedelta(hours=1), 3600, 1, project="fs2", local_user="ann"),  # after `at`
        ran(2005, A, at - timedelta(days=40), 3600, 1, project="fs2", local_user="ann"),  # before `since`
    ]
    with world.client(A) as http:
        assert http.post("/v1/records/jobs", json=jobs).json()["accepted"] == 5
        answer = http.get(
            "/v1/fairshare",
            params={
                "at": stamp(at),
                "since": "2026-02-01",
                "half_life_days": 1,
                "unit": "core_hours",
                "project": ["fs1", "fs2"],
            },
        )
    assert answer.status_code == 200, answer.text
    rows = {(r["project"], r["user"]): r for r in answer.json()["rows"]}
    assert set(rows) == {("fs1", "ann@SITE-A"), ("fs1", "ben@SITE-A"), ("fs2", "ann@SITE-A")}
    assert rows[("fs1", "ann@SITE-A")]["usage_hours"] == pytest.approx(1.0)
    assert rows[("fs1", "ann@SITE-A")]["decayed_hours"] == pytest.approx(0.25, rel=1e-3)
    assert rows[("fs1", "ben@SITE-A")]["decayed_hours"] == pytest.approx(24 * 0.5 * 0.5 / math.log(2))
    want = slurm_decayed(4.0, at - timedelta(hours=12), 7200, at, day)
    assert rows[("fs2", "ann@SITE-A")]["decayed_hours"] == pytest.approx(want, rel=1e-3)
    total = sum(r["decayed_hours"] for r in rows.values())
    assert [r["share"] for r in answer.json()["rows"]] == pytest.approx(
        [r["decayed_hours"] / total for r in answer.json()["rows"]]
    )
    assert answer.json()["rows"][0]["project"] == "fs1" and answer.json()["rows"][0]["user"] == "ben@SITE-A"


def test_fairshare_is_fenced_to_the_callers_rows(world: World) -> None:
    params = {
        "since": "2026-03-01",
        "at": "2026-04-01T00:00:00Z",
        "group_by": "site,project",
        "unit": "core_hours",
    }
    with world.client(A) as http:
        own = http.get("/v1/fairshare", params=params).json()["rows"]
        foreign = http.get("/v1/fairshare", params={**params, "site": B})
    assert {r["site"] for r in own} == {A}
    assert foreign.status_code == 403
    with world.client("finance") as http:
        assert http.get("/v1/fairshare", params=params).status_code == 200
        by_user = http.get("/v1/fairshare", params={**params, "group_by": "project,user"})
    assert by_user.status_code == 403  # finance reads usage in aggregate


def test_site_keys_do_not_reach_allocations(world: World) -> None:
    with world.client(A) as http:
        answer = http.get("/v1/allocations")
    assert answer.status_code == 403 and "for people" in answer.json()["detail"]


def test_changes_are_audited_and_replace_keeps_the_id(world: World) -> None:
    made = create(world, resources=[{"site": A}]).json()
    with world.client("site_manager") as http:
        changed = http.put(
            f"/v1/allocations/{made['allocation_id']}",
            json={"project": "p1", "unit": "gpu_hours", "amount": 7, **MARCH, "resources": [{"site": A}]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["unit"] == "gpu_hours" and changed.json()["amount"] == 7
        moved = http.put(
            f"/v1/allocations/{made['allocation_id']}",
            json={"project": "p1", "unit": "gpu_hours", "amount": 7, **MARCH, "resources": [{"site": B}]},
        )
        assert moved.status_code == 403  # a site manager cannot move it to another site
        assert http.delete(f"/v1/allocations/{made['allocation_id']}").status_code == 204
        assert http.get(f"/v1/allocations/{made['allocation_id']}").status_code == 404
    actions = [e.action for e in world.svc.people.store.list_audit() if e.target == made["allocation_id"]]
    assert actions == ["allocation.create", "allocation.replace", "allocation.delete"]


HOSTILE_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"amount": "NaN"}, "amount"),
    ({"amount": "Infinity"}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": "1e-999999999"}, "amount"),
    ({"amount": "1e40"}, "amount"),
    ({"amount": True}, "amount"),
    ({"unit": "dollars"}, "unit"),
    ({"unit": "money"}, "names its currency"),
    ({"unit": "money", "currency": "XYZ"}, "ISO 4217"),
    ({"unit": "money", "currency": "EURO"}, "currency"),
    ({"currency": "EUR"}, "has no currency"),
    ({"start": "2026-04-01", "end": "2026-03-01"}, "after its start"),
    ({"start": "2026-02-30"}, "start"),
    ({"start": "2026-01-01", "end": "2099-01-01"}, "at most"),
    ({"project": ""}, "project"),
    ({"project": "a\x00b"}, "printable"),
    ({"project": "x" * 10_000}, "project"),
    ({"resources": [{"site": "A B"}]}, "site"),
    ({"resources": [{"site": A}] * 2}, "twice"),
    ({"resources": [{"site": f"S{i}"} for i in range(101)]}, "resources"),
    ({"resources": "SITE-A"}, "resources"),
    ({"note": "n" * 300}, "note"),
]


@pytest.mark.parametrize(("change", "named"), HOSTILE_BODIES)
def test_hostile_allocation_bodies_are_refused_with_422(
    world: World, change: dict[str, Any], named: str
) -> None:
    answer = create(world, **change)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert named in answer.text


@pytest.mark.parametrize(
    ("path", "params", "status_code"),
    [
        ("/v1/allocations/..%2F..%2Fetc", {}, 404),
        ("/v1/allocations/al-" + "f" * 5000, {}, 404),
        ("/v1/allocations/al-000000000000/status", {}, 404),
        ("/v1/fairshare", {"half_life_days": 0}, 422),
        ("/v1/fairshare", {"half_life_days": "nan"}, 422),
        ("/v1/fairshare", {"group_by": "site;drop table jobs"}, 422),
        ("/v1/fairshare", {"group_by": "site,site"}, 422),
        ("/v1/fairshare", {"unit": "dollars"}, 422),
        ("/v1/fairshare", {"at": "yesterday"}, 422),
        ("/v1/fairshare", {"at": "2026-03-01", "since": "2026-04-01"}, 422),
        ("/v1/fairshare", {"since": "0001-01-01", "at": "0001-01-02"}, 200),
        ("/v1/fairshare", {"project": [f"p{i}" for i in range(101)]}, 422),
        ("/v1/fairshare", {"project": "' OR 1=1 --"}, 200),
        ("/v1/forecasts/usage", {"month": "2020-01"}, 422),
        ("/v1/forecasts/usage", {"month": "2026-13"}, 422),
        ("/v1/forecasts/usage", {"month": "soon"}, 422),
        ("/v1/forecasts/usage", {"unit": "money"}, 422),
    ],
)
def test_hostile_queries_get_clear_answers(
    world: World, path: str, params: dict[str, Any], status_code: int
) -> None:
    with world.client("admin") as http:
        answer = http.get(path, params=params)
    assert answer.status_code == status_code, answer.text
    if status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
    elif path == "/v1/fairshare":
        assert answer.json()["rows"] == []


def test_malformed_json_body_is_refused(world: World) -> None:
    with world.client("admin") as http:
        answer = http.post(
            "/v1/allocations", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert answer.status_code in (400, 422) and answer.headers["content-type"] == "application/problem+json"


def test_a_money_allocation_round_trips_over_http(world: World) -> None:
    answer = create(world, unit="money", currency="CHF", amount="2500.50")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["unit"], made["currency"], made["amount"]) == ("money", "CHF", 2500.5)
    # No tariff prices anything in CHF here: nothing used, all of it remaining.
    got = status(world, made["allocation_id"])
    assert (got["used"], got["remaining"], got["allocation"]["currency"]) == (0, 2500.5, "CHF")
