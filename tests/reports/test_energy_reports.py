"""Carbon intensity in the registry and the energy, emissions, efficiency and network metrics of
the reports API, over real HTTP (uvicorn on loopback, SQLite control store, DuckDB over a folder
warehouse). Records and intensities go in through the API; the figures are worked out by hand in
tests/support/energy_world.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.reports.builder import build_query
from tally.reports.spec import make_spec
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.energy_world import INTENSITIES, JOBS, VMS
from tests.support.servers import running_app

JANUARY = {"from": "2026-01-01", "to": "2026-02-01"}
PASSWORD = "a long enough password"


@dataclass
class World:
    url: str
    svc: Services
    keys: dict[str, str]
    admin: str

    def client(self, who: str) -> httpx.Client:
        token = self.admin if who == "admin" else self.keys[who]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = create_app(local_settings(tmp_path_factory.mktemp("energy") / "home"))
    svc: Services = app.state.services
    keys = {}
    for site in ("north", "south", "west"):
        svc.add_site(site)
        keys[site] = svc.create_key(site).plain
    person = svc.people.add_person("admin", "admin@example.org", "test", password=PASSWORD)
    svc.people.add_grant(person.person_id, "admin", None, "test")
    admin = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    with running_app(app) as url:
        world = World(url, svc, keys, admin)
        for site in keys:
            with world.client(site) as http:
                for kind, records in (("jobs", JOBS), ("vms", VMS)):
                    batch = [r for r in records if r["site"] == site]
                    if batch:
                        answer = http.post(f"/v1/records/{kind}", json=batch)
                        assert answer.json()["accepted"] == len(batch), answer.text
                for entry in (e for e in INTENSITIES if e["site"] == site):
                    answer = http.post("/v1/registry/carbon_intensity", json=entry)
                    assert answer.status_code == 201, answer.text
        yield world


def report(world: World, who: str, kind: str = "jobs", **params: str) -> list[dict[str, Any]]:
    with world.client(who) as http:
        answer = http.get(f"/v1/reports/{kind}", params={**JANUARY, **params})
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["rows"]
    return rows


def num(value: Any) -> Any:
    """A metric's value as a float (exact sums may come as decimal text), None kept."""
    return None if value is None else float(value)


def test_intensities_are_fenced_checked_and_audited(world: World) -> None:
    with world.client("north") as http:
        listed = http.get("/v1/registry/carbon_intensity").json()
        assert sorted((e["site"], e["grams_co2e_per_kwh"]) for e in listed) == [
            ("north", 50.0),
            ("north", 200.0),
        ]
        # Another interval overlapping the open one: a conflict, not a second value for one time.
        overlap = {"grams_co2e_per_kwh": 10.0, "valid_from": "2026-03-01T00:00:00Z"}
        assert http.post("/v1/registry/carbon_intensity", json=overlap).status_code == 409
        for bad in (
            {"grams_co2e_per_kwh": -1, "valid_from": "2026-03-01T00:00:00Z"},
            {"grams_co2e_per_kwh": "NaN", "valid_from": "2026-03-01T00:00:00Z"},
            {"grams_co2e_per_kwh": None, "valid_from": "2026-03-01T00:00:00Z"},
            {"grams_co2e_per_kwh": 10, "valid_from": 1767225600},
            {
                "grams_co2e_per_kwh": 10,
                "valid_from": "2026-03-01T00:00:00Z",
                "valid_to": "2026-02-01T00:00:00Z",
            },
            {"grams_co2e_per_kwh": 10, "valid_from": "2026-03-01T00:00:00Z", "colour": "green"},
        ):
            answer = http.post("/v1/registry/carbon_intensity", json=bad)
            assert answer.status_code == 422, (bad, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
        foreign = {"site": "south", "grams_co2e_per_kwh": 1.0, "valid_from": "2030-01-01T00:00:00Z"}
        assert http.post("/v1/registry/carbon_intensity", json=foreign).status_code == 403
    added = [
        e
        for e in world.svc.people.store.list_audit()
        if e.action == "registry.add" and e.detail.get("kind") == "carbon_intensity"
    ]
    assert sorted((e.actor.split(":")[0], e.detail["site"]) for e in added) == [
        ("key", "north"),
        ("key", "north"),
        ("key", "south"),
    ]


def test_a_site_key_sees_its_projects_energy_emissions_and_efficiency(world: World) -> None:
    metrics = (
        "jobs,energy_kwh,co2e_kg,jobs_without_energy,jobs_without_intensity,cpu_efficiency,memory_efficiency"
    )
    got = {r["project"]: r for r in report(world, "north", group_by="project", metrics=metrics)}
    assert set(got) == {"p1", "p2", "p3"}
    p1, p2, p3 = got["p1"], got["p2"], got["p3"]
    # p1: 2 kWh at 200 g + 1 kWh at 50 g (the intensity changed mid-month).
    assert (num(p1["energy_kwh"]), num(p1["co2e_kg"])) == (pytest.approx(3.0), pytest.approx(0.45))
    assert (p1["jobs_without_energy"], p1["jobs_without_intensity"]) == (0, 0)
    assert p1["cpu_efficiency"] == pytest.approx(14400 / 21600)
    assert p1["memory_efficiency"] == pytest.approx(6 / 12)
    # p2: 10 kWh at 50 g (its job ends at the change); its other job measured no energy.
    assert (num(p2["energy_kwh"]), num(p2["co2e_kg"]), p2["jobs_without_energy"]) == (
        pytest.approx(10.0),
        pytest.approx(0.5),
        1,
    )
    assert p2["cpu_efficiency"] == pytest.approx(29700 / 30600)
    assert p2["memory_efficiency"] == pytest.approx(12 / 16)
    # p3: no job measured energy: NULL, not 0.
    assert (p3["energy_kwh"], p3["co2e_kg"], p3["jobs_without_energy"]) == (None, None, 1)


def test_an_admin_sees_every_site_and_person(world: World) -> None:
    by_site = {
        r["site"]: r
        for r in report(world, "admin", group_by="site", metrics="energy_kwh,co2e_kg,jobs_without_intensity")
    }
    assert {s: (num(r["energy_kwh"]), num(r["co2e_kg"])) for s, r in by_site.items()} == {
        "north": (pytest.approx(13.0), pytest.approx(0.95)),
        "south": (pytest.approx(5.0), pytest.approx(2.0)),  # 5 kWh at 400 g
        "west": (pytest.approx(1.0), None),  # west has no intensity
    }
    assert by_site["west"]["jobs_without_intensity"] == 1
    by_user = {
        r["user"]: num(r["co2e_kg"]) for r in report(world, "admin", group_by="user", metrics="co2e_kg")
    }
    assert by_user == {
        "alice@north": pytest.approx(0.45),
        "bob@north": pytest.approx(0.5),
        "carol@south": pytest.approx(2.0),
        "dave@west": None,
    }


def test_network_bytes_per_account(world: World) -> None:
    got = {
        r["account"]: (r["network_rx_bytes"], r["network_tx_bytes"])
        for r in report(
            world, "north", kind="vms", group_by="account", metrics="network_rx_bytes,network_tx_bytes"
        )
    }
    assert got == {"acc-1": (305, 37), "acc-2": (None, None)}


def test_emissions_with_the_application_base(world: World) -> None:
    # Grouped by the commercial flag, the report reads the application base, which joins the
    # intensities too: the same figures (no job here is commercial).
    got = {
        (r["site"], r["commercial"]): num(r["co2e_kg"])
        for r in report(world, "admin", group_by="site,commercial", metrics="co2e_kg")
    }
    assert got == {
        ("north", False): pytest.approx(0.95),
        ("south", False): pytest.approx(2.0),
        ("west", False): None,
    }


def test_only_emissions_read_the_intensity_join() -> None:
    def sql(metrics: list[str], group_by: list[str]) -> str:
        return build_query(make_spec("jobs", group_by, metrics, "2026-01-01", "2026-02-01")).sql

    assert "registry_carbon_intensity" not in sql(["jobs", "energy_kwh", "memory_efficiency"], ["site"])
    assert "registry_carbon_intensity" in sql(["co2e_kg"], ["site"])
    assert "registry_carbon_intensity" in sql(["jobs_without_intensity"], ["site"])
    assert "registry_carbon_intensity" in sql(["co2e_kg"], ["application"])
