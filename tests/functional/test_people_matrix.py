"""The authorisation matrix for people: every route x every role x (own scope, another scope), over
real HTTP with personal access tokens.

Routes come from `app.routes` (test_fencing_matrix.app_routes); a route without an entry in ROUTES
fails. Each cell asserts the status, problem+json for refusals, and for answers the rows: the test
computes what each grant allows from the records and people it made itself, not from Tally's fence.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.demo.bills import generate_bills
from tally.people.model import Person, PersonPrincipal
from tally.registry.entries import VoMapping
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import job
from tests.support.routes import app_routes
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"
ROLES = ("user", "project_manager", "vo_manager", "site_manager", "finance", "admin")
#: Each role's own scope (user: the person themselves) and the scope of the same dimension it lacks.
OWN_SCOPE = {"project_manager": "p1", "vo_manager": "atlas", "site_manager": A}
OTHER_SCOPE = {"project_manager": "p2", "vo_manager": "cms", "site_manager": B}
DIMENSION = {"project_manager": "project", "vo_manager": "vo", "site_manager": "site"}
AWS_BILL, AZURE_BILL = generate_bills(datetime(2026, 6, 15, tzinfo=UTC))
AZURE_ACCOUNT = "8611537"
PERIOD = {"from": "2026-03-01", "to": "2026-04-01", "metrics": "jobs"}
PERIOD_RANGE = {"from": "2026-03-01", "to": "2026-04-01"}
DN = "/DC=org/DC=example/CN=Carol"
#: (site, local_user, global_user, vo, project) of each job; n is its position + 1.
JOBS = [
    (A, "alice", None, "atlas", "p1"),
    (A, "bob", None, "cms", "p2"),
    (A, "carol", DN, "atlas", "p2"),
    (B, "alice", None, "atlas", "p1"),  # another alice: B's login, not A's
    (B, "dave", None, "cms", "p3"),
    (B, "carol", DN, "cms", "p3"),  # Carol's DN at B too: the same person
]

#: A one-record APEL sync message of a site, and a custom kind's definition.
APEL_SYNC = (
    "APEL-sync-message: v0.1\nSite: {site}\nSubmitHost: ce.example.org\n"
    "NumberOfJobs: 1\nMonth: 3\nYear: 2026\n%%\n"
)
KIND = {
    "fields": [{"name": "rack", "type": "string", "required": True}, {"name": "at", "type": "timestamp"}],
    "identity": ["rack", "at"],
    "event_time": "at",
}


@dataclass
class World:
    url: str
    svc: Services
    people: dict[str, Person]  # role -> the person holding it
    tokens: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[role]}"}, timeout=60
        )

    def n(self) -> int:
        return next(self.counter)

    def fresh_person(self, site: str | None = None) -> Person:
        p = self.svc.people.add_person(f"P{self.n()}", f"fresh{self.n()}@example.org", "test")
        if site:
            self.svc.people.link_identity(p.person_id, "local", site, f"fresh{self.n()}", "test")
        return p

    def vo(self, site: str) -> dict[str, str]:
        return {"site": site, "match_field": "project", "match_value": f"m{self.n()}", "vo": "atlas"}

    def fresh_entry(self, site: str) -> str:
        return self.svc.registry.add("vo_mapping", VoMapping.model_validate(self.vo(site))).entry_id


Call = Callable[[httpx.Client, World, str], httpx.Response]
Rows = Callable[[httpx.Response, World, str], bool]


@dataclass(frozen=True)
class Case:
    """Per role: (own status, other status); the calls get the role to pick its own scope."""

    own: Call
    other: Call
    status: dict[str, tuple[int, int]]
    own_rows: Rows = lambda _r, _w, _role: True
    other_rows: Rows = lambda _r, _w, _role: True


def every(own: int, other: int) -> dict[str, tuple[int, int]]:
    return dict.fromkeys(ROLES, (own, other))


def only(roles: dict[str, tuple[int, int]], rest: tuple[int, int] = (403, 403)) -> dict[str, tuple[int, int]]:
    return {role: roles.get(role, rest) for role in ROLES}


# -- what each grant allows, computed from JOBS and the links made in `world` -----------------------


def user_label(w: World, site: str, local: str, dn: str | None) -> str:
    if dn == DN:
        return w.people["user_dn"].person_id
    if (site, local) == (A, "alice"):
        return w.people["user"].person_id
    return dn or f"{local}@{site}"


def _reaches(w: World, role: str, site: str, label: str, vo: str, project: str) -> bool:
    return {
        "user": label == w.people["user"].person_id,
        "project_manager": project == "p1",
        "vo_manager": vo == "atlas",
        "site_manager": site == A,
        "finance": True,
        "admin": True,
    }[role]


def allowed_jobs(w: World, role: str) -> list[tuple[str, str, str, str]]:
    out = []
    for site, local, dn, vo, project in JOBS:
        label = user_label(w, site, local, dn)
        if _reaches(w, role, site, label, vo, project):
            out.append((site, vo, project, label))
    return out


def allowed_records(w: World, role: str, site: str | None = None) -> set[tuple[str, str]]:
    """(site, local_job_id) of the jobs a role lists: job n has local_job_id 1000 + n."""
    return {
        (s, str(1000 + n))
        for n, (s, local, dn, vo, project) in enumerate(JOBS, start=1)
        if _reaches(w, role, s, user_label(w, s, local, dn), vo, project) and site in (None, s)
    }


def listed(r: httpx.Response) -> set[tuple[str, str]]:
    return {(i["site"], i["local_job_id"]) for i in r.json()["items"]}


def record_id(w: World, n: int) -> str:
    """The record_id of job n, as an admin's listing gives it."""
    site = JOBS[n - 1][0]
    with w.client("admin") as http:
        items = http.get("/v1/records/jobs", params={**PERIOD_RANGE, "site": site}).json()["items"]
    return str(next(i["record_id"] for i in items if i["local_job_id"] == str(1000 + n)))


def records_call(other: bool) -> Call:
    def call(h: httpx.Client, w: World, role: str) -> httpx.Response:
        params: dict[str, str] = dict(PERIOD_RANGE)
        if other:
            if role == "user":
                params["user"] = w.people["admin"].person_id
            elif role in DIMENSION:
                params[DIMENSION[role]] = OTHER_SCOPE[role]
            else:
                params["site"] = B
        return h.get("/v1/records/jobs", params=params)

    return call


def report_rows(w: World, role: str, site: str | None = None) -> list[dict[str, object]]:
    counted = Counter(
        (s, vo, p) if role == "finance" else (s, vo, p, u)
        for s, vo, p, u in allowed_jobs(w, role)
        if site is None or s == site
    )
    names = ("site", "vo", "project") if role == "finance" else ("site", "vo", "project", "user")
    return sorted(({**dict(zip(names, k, strict=True)), "jobs": n} for k, n in counted.items()), key=str)


def report_call(other: bool) -> Call:
    def call(h: httpx.Client, w: World, role: str) -> httpx.Response:
        group = "site,vo,project" if role == "finance" else "site,vo,project,user"
        params: dict[str, str] = {**PERIOD, "group_by": group}
        if other:
            if role == "user":
                params["user"] = w.people["admin"].person_id
            elif role == "finance":
                params["group_by"] = "site,user"
            elif role == "admin":
                params["site"] = B
            else:
                params[DIMENSION[role]] = OTHER_SCOPE[role]
        return h.get("/v1/reports/jobs", params=params)

    return call


def sorted_rows(r: httpx.Response) -> list[dict[str, object]]:
    return sorted(r.json()["rows"], key=str)


def entries_of(r: httpx.Response) -> set[str]:
    return {e["site"] for e in r.json()}


def registry_sites(w: World, role: str) -> set[str]:
    return {A, B} if role == "admin" else {A}


def reach_people(w: World, role: str) -> set[str]:
    """Who a manager sees: admins everyone; a site manager those linked at A (a login there or a
    site_manager grant on it) and those linked nowhere."""
    everyone = w.svc.people.store.list_people()
    if role == "admin":
        return {p.person_id for p in everyone}
    out = set()
    for p in everyone:
        ids = w.svc.people.store.list_identities(p.person_id)
        grants = [g for g in w.svc.people.store.list_grants(p.person_id) if g.role != "user"]
        at_a = any(i.kind == "local" and i.namespace == A for i in ids) or any(
            g.role == "site_manager" and g.scope == A for g in grants
        )
        if at_a or (not ids and not grants):
            out.add(p.person_id)
    return out


def grant_of(w: World, person: Person, role: str, scope: str) -> str:
    return w.svc.people.add_grant(person.person_id, role, scope, "test").grant_id


def token_of_other(w: World, role: str) -> str:
    other = "admin" if role != "admin" else "user"
    principal = w.svc.people.token_principal(w.tokens[other])
    assert principal is not None
    return w.svc.people.create_token(principal, "other", 1)[0].token_id


def own_view(w: World, role: str) -> str:
    name = f"gone{w.n()}"
    w.svc.saved_views.put(w.people[role].person_id, name, "To delete", {})
    return name


def own_token(w: World, role: str) -> str:
    principal = w.svc.people.token_principal(w.tokens[role])
    assert principal is not None
    return w.svc.people.create_token(principal, "mine", 1)[0].token_id


def csv_bill(body: bytes, name: str) -> Call:
    def call(h: httpx.Client, _w: World, _role: str) -> httpx.Response:
        return h.post(
            "/v1/billing", content=body, headers={"Content-Type": "text/csv"}, params={"filename": name}
        )

    return call


MANAGERS = {"admin": (200, 200), "site_manager": (200, 200)}

ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/v1/health"): Case(
        lambda h, _w, _r: h.get("/v1/health"), lambda h, _w, _r: h.get("/v1/health"), every(200, 200)
    ),
    ("GET", "/v1/openapi.json"): Case(
        lambda h, _w, _r: h.get("/v1/openapi.json"),
        lambda h, _w, _r: h.get("/v1/openapi.json"),
        every(200, 200),
    ),
    ("GET", "/v1/docs"): Case(
        lambda h, _w, _r: h.get("/v1/docs"), lambda h, _w, _r: h.get("/v1/docs"), every(200, 200)
    ),
    # Agents' routes: site keys only.
    ("POST", "/v1/records/{kind}"): Case(
        lambda h, w, _r: h.post("/v1/records/jobs", json=[job(500 + w.n(), site=A)]),
        lambda h, w, _r: h.post("/v1/records/jobs", json=[job(500 + w.n(), site=B)]),
        every(403, 403),
    ),
    ("POST", "/v1/apel"): Case(
        lambda h, _w, _r: h.post("/v1/apel", content=APEL_SYNC.format(site=A)),
        lambda h, _w, _r: h.post("/v1/apel", content=APEL_SYNC.format(site=B)),
        every(403, 403),
    ),
    ("POST", "/v1/logs/{source}"): Case(
        lambda h, _w, _r: h.post("/v1/logs/slurm", params={"resource": "cluster1"}, content=b"1|x\n"),
        lambda h, _w, _r: h.post(
            "/v1/logs/slurm", params={"resource": "cluster1", "site": B}, content=b"1|x\n"
        ),
        every(403, 403),
    ),
    # Custom kinds: defined and posted to by site keys (people's grants do not reach them yet).
    ("PUT", "/v1/kinds/{name}"): Case(
        lambda h, w, _r: h.put(f"/v1/kinds/k{w.n()}", json=KIND),
        lambda h, w, _r: h.put(f"/v1/kinds/k{w.n()}", json={**KIND, "description": "another"}),
        every(403, 403),
    ),
    ("GET", "/v1/kinds"): Case(
        lambda h, _w, _r: h.get("/v1/kinds"), lambda h, _w, _r: h.get("/v1/kinds"), every(403, 403)
    ),
    ("GET", "/v1/kinds/{name}"): Case(
        lambda h, _w, _r: h.get("/v1/kinds/readings"),
        lambda h, _w, _r: h.get("/v1/kinds/other"),
        every(403, 403),
    ),
    ("POST", "/v1/records/custom/{name}"): Case(
        lambda h, _w, _r: h.post("/v1/records/custom/readings", json=[{"site": A}]),
        lambda h, _w, _r: h.post("/v1/records/custom/readings", json=[{"site": B}]),
        every(403, 403),
    ),
    ("GET", "/v1/sync-state"): Case(
        lambda h, _w, _r: h.get("/v1/sync-state", params={"resource": "cluster1"}),
        lambda h, _w, _r: h.get("/v1/sync-state", params={"resource": "cluster1", "site": B}),
        every(403, 403),
    ),
    ("GET", "/v1/reports/{kind}"): Case(
        report_call(False),
        report_call(True),
        only({r: (200, 403) for r in ROLES} | {"admin": (200, 200)}),
        own_rows=lambda r, w, role: sorted_rows(r) == report_rows(w, role),
        other_rows=lambda r, w, role: role == "admin" and sorted_rows(r) == report_rows(w, role, site=B),
    ),
    # Record listings: the rows a grant reaches; finance reads usage in aggregate only.
    ("GET", "/v1/records/{kind}"): Case(
        records_call(False),
        records_call(True),
        only({r: (200, 403) for r in ROLES} | {"finance": (403, 403), "admin": (200, 200)}),
        own_rows=lambda r, w, role: listed(r) == allowed_records(w, role) != set(),
        other_rows=lambda r, w, role: role == "admin" and listed(r) == allowed_records(w, role, site=B),
    ),
    # Job 1 (A, alice, atlas, p1) is within every scoped grant; job 5 (B, dave, cms, p3) within none.
    ("GET", "/v1/records/{kind}/{record_id}"): Case(
        lambda h, w, _r: h.get(f"/v1/records/jobs/{record_id(w, 1)}"),
        lambda h, w, _r: h.get(f"/v1/records/jobs/{record_id(w, 5)}"),
        only({r: (200, 404) for r in ROLES} | {"finance": (403, 403), "admin": (200, 200)}),
        own_rows=lambda r, _w, _role: (r.json()["site"], r.json()["local_job_id"]) == (A, "1001"),
        other_rows=lambda r, _w, _role: (r.json()["site"], r.json()["local_job_id"]) == (B, "1005"),
    ),
    ("POST", "/v1/billing"): Case(
        csv_bill(AWS_BILL.content, AWS_BILL.filename),
        csv_bill(AZURE_BILL.content, AZURE_BILL.filename),  # SITE-B's account
        only({"finance": (200, 403), "admin": (200, 403)}),
    ),
    ("GET", "/v1/billing"): Case(
        lambda h, _w, _r: h.get("/v1/billing"),
        lambda h, _w, _r: h.get("/v1/billing", params={"billing_account_id": "nobody"}),
        only({"finance": (200, 404), "admin": (200, 404)}),
        own_rows=lambda r, w, _role: (
            {p["billing_account_id"] for p in r.json()}
            == {a.billing_account_id for a in w.svc.control.list_billing_accounts()}
        ),
    ),
    ("GET", "/v1/registry/{kind}"): Case(
        lambda h, _w, _r: h.get("/v1/registry/vo_mapping"),
        lambda h, _w, _r: h.get("/v1/registry/vo_mapping", params={"site": B}),
        only(MANAGERS),
        own_rows=lambda r, w, role: entries_of(r) == registry_sites(w, role),
        other_rows=lambda r, w, role: entries_of(r) == registry_sites(w, role),
    ),
    ("POST", "/v1/registry/{kind}"): Case(
        lambda h, w, _r: h.post("/v1/registry/vo_mapping", json=w.vo(A)),
        lambda h, w, _r: h.post("/v1/registry/vo_mapping", json=w.vo(B)),
        only({"admin": (201, 201), "site_manager": (201, 403)}),
    ),
    ("GET", "/v1/registry/{kind}/{entry_id}"): Case(
        lambda h, w, _r: h.get(f"/v1/registry/vo_mapping/{w.extra['entry'][A]}"),
        lambda h, w, _r: h.get(f"/v1/registry/vo_mapping/{w.extra['entry'][B]}"),
        only({"admin": (200, 200), "site_manager": (200, 404)}),
    ),
    ("PUT", "/v1/registry/{kind}/{entry_id}"): Case(
        lambda h, w, _r: h.put(f"/v1/registry/vo_mapping/{w.fresh_entry(A)}", json=w.vo(A)),
        lambda h, w, _r: h.put(f"/v1/registry/vo_mapping/{w.fresh_entry(B)}", json=w.vo(B)),
        only({"admin": (200, 200), "site_manager": (200, 404)}),
    ),
    ("DELETE", "/v1/registry/{kind}/{entry_id}"): Case(
        lambda h, w, _r: h.delete(f"/v1/registry/vo_mapping/{w.fresh_entry(A)}"),
        lambda h, w, _r: h.delete(f"/v1/registry/vo_mapping/{w.fresh_entry(B)}"),
        only({"admin": (204, 204), "site_manager": (204, 404)}),
    ),
    ("GET", "/v1/ingest/status"): Case(
        lambda h, _w, _r: h.get("/v1/ingest/status"),
        lambda h, _w, _r: h.get("/v1/ingest/status", params={"site": B}),
        only({"admin": (200, 200), "site_manager": (200, 403)}),
        own_rows=lambda r, _w, role: {c["site"] for c in r.json()} == ({A, B} if role == "admin" else {A}),
        other_rows=lambda r, _w, _role: {c["site"] for c in r.json()} == {B},
    ),
    # People management: admins everyone, site managers at their site.
    ("GET", "/v1/people"): Case(
        lambda h, _w, _r: h.get("/v1/people"),
        lambda h, _w, _r: h.get("/v1/people", params={"site": B}),
        only(MANAGERS),
        own_rows=lambda r, w, role: {p["person_id"] for p in r.json()} == reach_people(w, role),
        other_rows=lambda r, w, role: {p["person_id"] for p in r.json()} == reach_people(w, role),
    ),
    ("POST", "/v1/people"): Case(
        lambda h, w, _r: h.post("/v1/people", json={"name": "New", "email": f"new{w.n()}@example.org"}),
        lambda h, w, _r: h.post("/v1/people", json={"name": "Dup", "email": w.people["user"].email}),
        only({"admin": (201, 409), "site_manager": (201, 409)}),
    ),
    ("GET", "/v1/people/{person_id}"): Case(
        lambda h, w, _r: h.get(f"/v1/people/{w.people['user'].person_id}"),
        lambda h, w, _r: h.get(f"/v1/people/{w.extra['at_b'].person_id}"),
        only({"admin": (200, 200), "site_manager": (200, 404)}),
        own_rows=lambda r, w, _role: (
            r.json()["person_id"] == w.people["user"].person_id
            and [i["namespace"] for i in r.json()["identities"]] == [A]
        ),
    ),
    ("POST", "/v1/people/{person_id}/identities"): Case(
        lambda h, w, _r: h.post(
            f"/v1/people/{w.fresh_person().person_id}/identities",
            json={"kind": "local", "namespace": A, "value": f"u{w.n()}"},
        ),
        lambda h, w, _r: h.post(
            f"/v1/people/{w.fresh_person().person_id}/identities",
            json={"kind": "local", "namespace": B, "value": f"u{w.n()}"},
        ),
        only({"admin": (201, 201), "site_manager": (201, 403)}),
    ),
    ("POST", "/v1/people/{person_id}/identities/{identity_id}/end"): Case(
        lambda h, w, _r: _end(h, w, A),
        lambda h, w, _r: _end(h, w, B),
        only({"admin": (200, 200), "site_manager": (200, 404)}),
    ),
    ("POST", "/v1/people/{person_id}/grants"): Case(
        lambda h, w, _r: h.post(
            f"/v1/people/{w.fresh_person(A).person_id}/grants", json={"role": "site_manager", "scope": A}
        ),
        lambda h, w, _r: h.post(
            f"/v1/people/{w.fresh_person(A).person_id}/grants", json={"role": "site_manager", "scope": B}
        ),
        only({"admin": (201, 201), "site_manager": (201, 403)}),
    ),
    ("DELETE", "/v1/people/{person_id}/grants/{grant_id}"): Case(
        lambda h, w, _r: _ungrant(h, w, A),
        lambda h, w, _r: _ungrant(h, w, B),
        only({"admin": (204, 204), "site_manager": (204, 404)}),
    ),
    ("GET", "/v1/audit"): Case(
        lambda h, _w, _r: h.get("/v1/audit"),
        lambda h, w, _r: h.get("/v1/audit", params={"target": w.people["user"].person_id}),
        only({"admin": (200, 200)}),
        own_rows=lambda r, w, _role: len(r.json()) == min(1000, len(w.svc.people.store.list_audit())),
        other_rows=lambda r, w, _role: {e["target"] for e in r.json()} == {w.people["user"].person_id},
    ),
    # Every person: sign-in, who am I, tokens.
    ("POST", "/v1/auth/login"): Case(
        lambda h, w, role: h.post(
            "/v1/auth/login", json={"email": w.people[role].email, "password": PASSWORD}
        ),
        lambda h, w, role: h.post(
            "/v1/auth/login", json={"email": w.people[role].email, "password": "wrong" * 3}
        ),
        every(200, 401),
        own_rows=lambda r, w, role: r.json()["person_id"] == w.people[role].person_id,
    ),
    ("POST", "/v1/auth/logout"): Case(
        lambda h, _w, _r: h.post("/v1/auth/logout"),
        lambda h, _w, _r: h.post("/v1/auth/logout"),
        every(403, 403),  # a token is not a session: tokens are revoked, sessions signed out
    ),
    ("GET", "/v1/me"): Case(
        lambda h, _w, _r: h.get("/v1/me"),
        lambda h, _w, _r: h.get("/v1/me"),
        every(200, 200),
        own_rows=lambda r, w, role: r.json()["person"]["person_id"] == w.people[role].person_id,
        other_rows=lambda r, w, role: role in {g["role"] for g in r.json()["grants"]},
    ),
    # Saved views: every person their own; another's names are not theirs to reach (404).
    ("GET", "/v1/me/views"): Case(
        lambda h, _w, _r: h.get("/v1/me/views"),
        lambda h, _w, _r: h.get("/v1/me/views"),
        every(200, 200),
        own_rows=lambda r, _w, role: [v["name"] for v in r.json()] == [f"{role}-view"],
        other_rows=lambda r, _w, role: [v["name"] for v in r.json()] == [f"{role}-view"],
    ),
    ("PUT", "/v1/me/views/{name}"): Case(
        lambda h, w, _r: h.put(f"/v1/me/views/new{w.n()}", json={"title": "New", "state": {"k": "jobs"}}),
        lambda h, w, _r: h.put(f"/v1/me/views/new{w.n()}", json={"title": "New", "state": ["jobs"]}),
        every(201, 422),
        own_rows=lambda r, _w, _role: r.json()["state"] == {"k": "jobs"},
    ),
    ("DELETE", "/v1/me/views/{name}"): Case(
        lambda h, w, role: h.delete(f"/v1/me/views/{own_view(w, role)}"),
        lambda h, _w, role: h.delete(f"/v1/me/views/{'admin' if role != 'admin' else 'user'}-view"),
        every(204, 404),
    ),
    ("GET", "/v1/tokens"): Case(
        lambda h, _w, _r: h.get("/v1/tokens"),
        lambda h, _w, _r: h.get("/v1/tokens"),
        every(200, 200),
        own_rows=lambda r, w, role: (
            {t["token_id"] for t in r.json()}
            == {t.token_id for t in w.svc.people.store.list_tokens(w.people[role].person_id)}
        ),
    ),
    ("POST", "/v1/tokens"): Case(
        lambda h, _w, _r: h.post("/v1/tokens", json={"name": "script", "days": 30}),
        lambda h, w, role: h.post(
            "/v1/tokens",
            json={
                "name": "stolen",
                "days": 30,
                "grant_ids": [w.extra["grants"]["admin" if role != "admin" else "user"]],
            },
        ),
        every(201, 422),
        own_rows=lambda r, w, role: (
            r.json()["token"].startswith("tlp_")
            and set(r.json()["grant_ids"])
            == {g.grant_id for g in w.svc.people.store.list_grants(w.people[role].person_id)}
        ),
    ),
    ("DELETE", "/v1/tokens/{token_id}"): Case(
        lambda h, w, role: h.delete(f"/v1/tokens/{own_token(w, role)}"),
        lambda h, w, role: h.delete(f"/v1/tokens/{token_of_other(w, role)}"),
        every(204, 404),
    ),
}
PASSWORD = "a long enough password"


def _end(h: httpx.Client, w: World, site: str) -> httpx.Response:
    p = w.fresh_person()
    identity = w.svc.people.link_identity(p.person_id, "local", site, f"e{w.n()}", "test")
    return h.post(
        f"/v1/people/{p.person_id}/identities/{identity.identity_id}/end", json={"at": "2026-06-01T00:00:00Z"}
    )


def _ungrant(h: httpx.Client, w: World, site: str) -> httpx.Response:
    p = w.fresh_person(site)
    grant = grant_of(w, p, "site_manager", site)
    return h.delete(f"/v1/people/{p.person_id}/grants/{grant}")


def test_every_route_has_an_entry_in_the_people_matrix() -> None:
    routes = app_routes()
    assert routes - ROUTES.keys() == set(), "add these routes to ROUTES: say which roles may call them"
    assert ROUTES.keys() - routes == set(), "these ROUTES entries name no route of the app"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    for site in (A, B):
        svc.add_site(site)
    keys = {s: svc.create_key(s).plain for s in (A, B)}
    billing_b = svc.create_key(B, scopes=("billing:write",)).plain
    people: dict[str, Person] = {}
    tokens: dict[str, str] = {}
    grants: dict[str, str] = {}
    for role in ROLES:
        person = svc.people.add_person(role.title(), f"{role}@example.org", "test", password=PASSWORD)
        people[role] = person
        grants[role] = svc.people.add_grant(person.person_id, role, OWN_SCOPE.get(role), "test").grant_id
    # The user's login at A (not B's alice), Carol's DN wherever she ran, one person at B only.
    svc.people.link_identity(people["user"].person_id, "local", A, "alice", "test")
    people["user_dn"] = svc.people.add_person("Carol", "carol@example.org", "test")
    svc.people.link_identity(people["user_dn"].person_id, "x509", "", DN, "test")
    at_b = svc.people.add_person("Bea", "bea@example.org", "test")
    svc.people.link_identity(at_b.person_id, "local", B, "bea", "test")
    for role in ROLES:
        tokens[role] = svc.people.create_token(_principal(svc, people[role]), "matrix", 1)[1]
        svc.saved_views.put(people[role].person_id, f"{role}-view", role, {"kind": "jobs"})
    with running_app(app) as url:
        w = World(url, svc, people, tokens, {"at_b": at_b, "grants": grants, "entry": {}})
        for n, (site, local, dn, vo, project) in enumerate(JOBS, start=1):
            record = job(n, site=site, local_user=local, vo=vo, project=project)
            if dn:
                record["global_user"] = dn
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                assert http.post("/v1/records/jobs", json=[record]).json()["accepted"] == 1
        for site in (A, B):
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                w.extra["entry"][site] = http.post("/v1/registry/vo_mapping", json=w.vo(site)).json()[
                    "entry_id"
                ]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {billing_b}"}) as http:
            assert csv_bill(AZURE_BILL.content, AZURE_BILL.filename)(http, w, "").status_code == 200
        yield w


def _principal(svc: Services, person: Person) -> PersonPrincipal:
    return svc.people.principal_of(person)


def test_people_matrix(world: World) -> None:
    wrong: list[str] = []
    cells = 0
    for (method, path), case in sorted(ROUTES.items()):
        for role in ROLES:
            for side in ("own", "other"):
                call = case.own if side == "own" else case.other
                expected = case.status[role][0 if side == "own" else 1]
                with world.client(role) as http:
                    answer = call(http, world, role)
                cells += 1
                label = f"{method} {path} role={role} {side}"
                if answer.status_code != expected:
                    wrong.append(f"{label}: {answer.status_code} (expected {expected}) {answer.text[:200]}")
                    continue
                if expected >= 400 and answer.headers["content-type"] != "application/problem+json":
                    wrong.append(f"{label}: {answer.headers['content-type']} is not problem+json")
                check = case.own_rows if side == "own" else case.other_rows
                if answer.status_code < 300 and not check(answer, world, role):
                    wrong.append(f"{label}: rows not those the grant allows: {answer.text[:300]}")
    assert wrong == []
    assert cells == len(ROUTES) * len(ROLES) * 2
