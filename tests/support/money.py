"""A running server with two sites' usage of one project, and one person per money role, each
calling with a personal access token: finance (the default caller), a site manager of SITE-A, the
project's manager, and Bob, a user linked to the login bob at SITE-A."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import accelerator, job, vm
from tests.support.servers import running_app

PROJECT = "lattice-qcd"


@dataclass
class Money:
    url: str
    services: Services
    tokens: dict[str, str]  # finance, site_manager, project_manager, user (Bob), agent (a site key)
    bob: str  # Bob's person id

    @property
    def finance(self) -> str:
        return self.tokens["finance"]

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.finance}"}, timeout=60
        )


def _job(
    n: int, site: str, resource: str, end: str, wall: int, cores: int, **over: object
) -> dict[str, object]:
    fields: dict[str, object] = {
        "end_time": end,
        "start_time": None,
        "submit_time": None,
        "wall_seconds": wall,
        "cpu_seconds": wall * cores,
        "cores": cores,
        "project": PROJECT,
        "benchmark_type": "HEPscore23",
        "benchmark_per_core": 10.0 if site == "SITE-A" else 20.0,
    }
    return job(n, site=site, resource=resource, **{**fields, **over})


#: The usage behind every invoice test; the expected figures are worked out beside each record.
JOBS_A = [
    _job(1, "SITE-A", "cluster1", "2026-03-10T10:00:00Z", 7200, 4),  # 2 h x 4 x 10 = 80 core-h
    _job(2, "SITE-A", "cluster1", "2026-03-10T11:00:00Z", 3600, 8, local_user="bob"),  # 80
    _job(3, "SITE-A", "cluster1", "2026-03-20T10:00:00Z", 10800, 2),  # 3 h x 2 x 10 = 60, 2nd tariff
    _job(4, "SITE-A", "cluster1", "2026-03-21T10:00:00Z", 3600, 4, project="other"),  # not invoiced
    _job(5, "SITE-A", "cluster1", "2026-04-02T10:00:00Z", 3600, 4),  # April: not invoiced
]
JOBS_B = [_job(6, "SITE-B", "cluster2", "2026-03-05T10:00:00Z", 1800, 16)]  # 0.5 x 16 x 20 = 160
GPUS_A = [
    accelerator(1, site="SITE-A", project=PROJECT, model="A100", allocated_seconds=7200),  # 2 GPU-h
]
VMS_A = [vm(n, site="SITE-A", project=PROJECT) for n in range(4)]  # 4 x 15 min x 4 vCPUs = 4 vCPU-h


@pytest.fixture
def money(tmp_path: Path) -> Iterator[Money]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    for site in ("SITE-A", "SITE-B"):
        svc.add_site(site)
    agents = {site: svc.create_key(site).plain for site in ("SITE-A", "SITE-B")}
    tokens = {"agent": agents["SITE-A"]}
    people: dict[str, str] = {}
    for role, scope in (
        ("finance", None),
        ("site_manager", "SITE-A"),
        ("project_manager", PROJECT),
        ("user", None),
    ):
        person = svc.people.add_person(role, f"{role}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        tokens[role] = svc.people.create_token(svc.people.principal_of(person), "money", 1)[1]
        people[role] = person.person_id
    svc.people.link_identity(people["user"], "local", "SITE-A", "bob", "test")
    with running_app(app) as url:
        world = Money(url, svc, tokens, people["user"])
        for site, kind, records in (
            ("SITE-A", "jobs", JOBS_A),
            ("SITE-B", "jobs", JOBS_B),
            ("SITE-A", "accelerators", GPUS_A),
            ("SITE-A", "vms", VMS_A),
        ):
            with world.client(agents[site]) as http:
                answer = http.post(f"/v1/records/{kind}", json=records)
                assert answer.status_code == 200 and answer.json()["accepted"] == len(records), answer.text
        yield world


def tariff(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "site": "SITE-A",
        "resource": "cluster1",
        "unit": "core_hour",
        "benchmark": "HEPscore23",
        "rate": "0.01",
        "currency": "EUR",
        "valid_from": "2026-03-01T00:00:00Z",
        "valid_to": "2026-03-16T00:00:00Z",
    }
    body.update(over)
    return body


#: The price list: a core-hour tariff change at SITE-A on 16 March, SITE-B in CHF, GPUs and VMs in EUR.
TARIFFS = {
    "a-core-1": tariff(),
    "a-core-2": tariff(rate="0.015", valid_from="2026-03-16T00:00:00Z", valid_to=None),
    "b-core": tariff(site="SITE-B", resource="cluster2", rate="0.02", currency="CHF", valid_to=None),
    "a-gpu": tariff(unit="gpu_hour", benchmark=None, gpu_model="A100", rate="2.50", valid_to=None),
    "a-vm": tariff(resource="cloud1", unit="vm_vcpu_hour", benchmark=None, rate="0.03", valid_to=None),
}


def put_tariffs(world: Money) -> None:
    with world.client() as http:
        for tariff_id, body in TARIFFS.items():
            answer = http.put(f"/v1/tariffs/{tariff_id}", json=body)
            assert answer.status_code == 201, answer.text
