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

from tally.alerts.model import Alert, RuleInput
from tally.api.app import create_app
from tally.api.foresight_models import AllocationBody
from tally.demo.bills import generate_bills
from tally.foresight.settings import ForesightSettings
from tally.kinds.spec import KindSpec
from tally.money.invoices import Invoice
from tally.money.tariffs import Tariff
from tally.people.authz import Fence
from tally.people.model import Person, PersonPrincipal
from tally.registry.entries import VoMapping
from tally.services.container import Services
from tally.subscriptions.model import Subscription
from tests.support.deployments import local_settings
from tests.support.records import job, vm
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
    "fields": [
        {"name": "rack", "type": "string", "required": True},
        {"name": "at", "type": "timestamp", "required": True},
    ],
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


REPORT_VIEW = {"version": 1, "page": "explore", "search": "kind=jobs&rows=site&metrics=jobs"}


def other_role(role: str) -> str:
    return "admin" if role != "admin" else "user"


def subscription_body(role: str) -> dict[str, str]:
    """A subscription of the role's own saved view (an explorer report)."""
    return {"view": f"{role}-view", "cadence": "weekly", "format": "pdf", "channel": "email"}


def own_subscription(w: World, role: str) -> str:
    """A fresh subscription of the role's person, stored as the service stores one (the calls
    make many for the same person and view, which the API would refuse as duplicates)."""
    sub = Subscription(
        f"s-{w.n():012x}",
        w.people[role].person_id,
        f"{role}-view",
        "monthly",
        "csv",
        "email",
        None,
        datetime.now(UTC),
    )
    w.svc.subscriptions.store.put(sub)
    return sub.subscription_id


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
#: Alerts planted in `world`: (site, project) each; who sees one is computed from these alone.
ALERTS = {
    "a-00000000000a": (A, "p1"),
    "a-00000000000b": (A, "p2"),
    "a-00000000000c": (B, "p1"),
    "a-00000000000d": (B, "p3"),
}
ALERT_READERS = {
    "admin": (200, 200),
    "finance": (200, 200),
    "site_manager": (200, 200),
    "project_manager": (200, 200),
}


def alerts_seen(role: str, site: str | None = None) -> set[str]:
    def reach(s: str, p: str) -> bool:
        return (
            role in ("admin", "finance")
            or (role == "site_manager" and s == A)
            or (role == "project_manager" and p == "p1")
        )

    return {i for i, (s, p) in ALERTS.items() if reach(s, p) and (site is None or s == site)}


def alert_rule(site: str) -> dict[str, Any]:
    return {"kind": "silent_agent", "name": "quiet", "scope": {"site": site}, "params": {"hours": 6}}


def fresh_rule(w: World, site: str) -> str:
    return w.svc.alerts.add_rule(
        RuleInput.model_validate(alert_rule(site)), Fence(everything=True), "t"
    ).rule_id


def plant_alerts(w: World) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    for alert_id, (site, project) in ALERTS.items():
        w.svc.alerts.store.put_alert(
            Alert(
                alert_id,
                "r-000000000000",
                "idle_vm",
                f"k{alert_id}",
                "i-1",
                "idle",
                site,
                "cloud1",
                project,
                {},
                None,
                "open",
                at,
                at,
            )
        )
    w.extra["rule"] = {site: fresh_rule(w, site) for site in (A, B)}


# -- allocations: who sees and manages which, from the allocations stored and JOBS ---------------
FAIRSHARE = {"at": "2026-04-01T00:00:00Z", "since": "2026-02-01", "unit": "core_hours"}
READERS = ("user", "project_manager", "site_manager", "finance", "admin")  # not vo_manager
SEE = {r: (200, 200) if r in ("finance", "admin") else (200, 404) for r in READERS}
MANAGE = {"finance": (0, 0), "admin": (0, 0), "site_manager": (0, -1)}


def manage_status(ok: int, refused_other: int) -> dict[str, tuple[int, int]]:
    return only({r: (ok, ok if o == 0 else refused_other) for r, (_, o) in MANAGE.items()})


def allocation_body(site: str, project: str = "p1") -> dict[str, object]:
    return {
        "project": project,
        "resources": [{"site": site}],
        "unit": "hepscore23_core_hours",
        "amount": 10,
        "start": "2026-03-01",
        "end": "2026-04-01",
    }


def fresh_allocation(w: World, site: str) -> str:
    body = AllocationBody.model_validate(allocation_body(site)).model()
    return w.svc.foresight.create(body, Fence(everything=True), "test").allocation_id


def sees(w: World, role: str, project: str, sites: set[str]) -> bool:
    """Whether a role's grant shows an allocation: the rules of tally.foresight.service, with the
    user's projects taken from JOBS (the projects of the jobs linked to them)."""
    members = {
        p for site, local, dn, _vo, p in JOBS if user_label(w, site, local, dn) == w.people["user"].person_id
    }
    return {
        "user": project in members,
        "project_manager": project == "p1",
        "site_manager": bool(sites) and sites <= {A},
        "finance": True,
        "admin": True,
    }[role]


def visible_allocations(w: World, role: str) -> set[str]:
    return {
        a.allocation_id
        for a in w.svc.foresight.store.list()
        if sees(w, role, a.project, {r.site for r in a.resources})
    }


def fairshare_rows(w: World, role: str, site: str | None = None) -> list[tuple[object, ...]]:
    """(project[, user], usage hours): each job of JOBS is 2 h x 4 cores."""
    counted = Counter(
        (p,) if role == "finance" else (p, u) for s, _vo, p, u in allowed_jobs(w, role) if site in (None, s)
    )
    return sorted((*k, 8.0 * n) for k, n in counted.items())


def fairshare_call(other: bool) -> Call:
    def call(h: httpx.Client, w: World, role: str) -> httpx.Response:
        params: dict[str, str] = {**FAIRSHARE, "group_by": "project" if role == "finance" else "project,user"}
        if other:
            if role == "user":
                params["user"] = w.people["admin"].person_id
            elif role == "finance":
                params["group_by"] = "user"
            elif role == "admin":
                params["site"] = B
            else:
                params[DIMENSION[role]] = OTHER_SCOPE[role]
        return h.get("/v1/fairshare", params=params)

    return call


def fairshare_got(r: httpx.Response, role: str) -> list[tuple[object, ...]]:
    names = ("project",) if role == "finance" else ("project", "user")
    return sorted((*(x[n] for n in names), x["usage_hours"]) for x in r.json()["rows"])


MONEY = {"finance": (200, 200), "admin": (200, 200)}


# -- money: the tariffs at A and B, the invoices of p1 and p2 and the user's own, made in `world` ----


def tariff_body(w: World, site: str) -> dict[str, str]:
    """A VM vCPU-hour tariff at `site` in a year of its own (no two overlap)."""
    year = 2100 + w.n()
    return {
        "site": site,
        "resource": "cloud1",
        "unit": "vm_vcpu_hour",
        "rate": "0.5",
        "currency": "EUR",
        "valid_from": f"{year}-01-01T00:00:00Z",
        "valid_to": f"{year + 1}-01-01T00:00:00Z",
    }


def fresh_tariff(w: World, site: str) -> str:
    tariff_id = f"t{w.n()}"
    w.svc.money.tariffs.put(Tariff.model_validate({**tariff_body(w, site), "tariff_id": tariff_id}))
    return tariff_id


def tariff_sites(w: World, role: str) -> set[str]:
    return {A, B} if role in ("finance", "admin") else {A}


def invoices_of(w: World, role: str) -> set[str]:
    """What each grant reads, from every stored document: all (finance, admin), project p1's
    (its project manager), the per-person invoices of the user."""
    user = w.people["user"].person_id
    return {
        i.number
        for i in w.svc.money.invoices.documents()
        if role in ("finance", "admin")
        or (role == "project_manager" and i.project == "p1")
        or (role == "user" and i.person_id == user)
    }


def own_invoice(w: World, role: str) -> str:
    return str(w.extra["invoice"]["mine" if role == "user" else "p1"])


def other_invoice(w: World, role: str) -> str:
    return str(w.extra["invoice"]["p1" if role == "user" else "p2"])


def stored_invoice(w: World, project: str, person_id: str | None = None) -> str:
    """A document written straight to the invoice store (no pricing): what the fences see."""

    def make(number: str) -> list[Invoice]:
        issued = datetime(2026, 4, 2, tzinfo=UTC)
        return [
            Invoice.model_validate(
                {
                    "number": number,
                    "issuer": "Tally",
                    "project": project,
                    "person_id": person_id,
                    "period": "2026-03",
                    "period_start": "2026-03-01",
                    "period_end": "2026-04-01",
                    "issue_date": issued.date(),
                    "issued_at": issued,
                    "lines": [],
                    "totals": {},
                }
            )
        ]

    return w.svc.money.invoices.issue(make)[0].number


def invoice_numbers(r: httpx.Response) -> set[str]:
    return {i["number"] for i in r.json()}


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
    # Custom kinds: a site manager defines them for their site, an admin for any; records are
    # posted by site keys only. Definitions are shared (their records are fenced).
    ("PUT", "/v1/kinds/{name}"): Case(
        lambda h, w, _r: h.put(f"/v1/kinds/k{w.n()}", params={"site": A}, json=KIND),
        lambda h, w, _r: h.put(f"/v1/kinds/k{w.n()}", params={"site": B}, json=KIND),
        only({"admin": (201, 201), "site_manager": (201, 403)}),
        own_rows=lambda r, _w, _r: r.json()["owner_site"] == A and r.json()["version"] == 1,
        other_rows=lambda r, _w, _r: r.json()["owner_site"] == B and r.json()["version"] == 1,
    ),
    ("GET", "/v1/kinds"): Case(
        lambda h, _w, _r: h.get("/v1/kinds"),
        lambda h, _w, _r: h.get("/v1/kinds"),
        only({"admin": (200, 200), "site_manager": (200, 200)}),
        own_rows=lambda r, _w, _r: {"readings", "other"} <= {k["name"] for k in r.json()},
        other_rows=lambda r, _w, _r: {"readings", "other"} <= {k["name"] for k in r.json()},
    ),
    ("GET", "/v1/kinds/{name}"): Case(
        lambda h, _w, _r: h.get("/v1/kinds/readings"),
        lambda h, _w, _r: h.get("/v1/kinds/other"),
        only({"admin": (200, 200), "site_manager": (200, 200)}),
        own_rows=lambda r, _w, _r: r.json()["owner_site"] == A,
        other_rows=lambda r, _w, _r: r.json()["owner_site"] == B,
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
    ("GET", "/v1/records/{kind:listed_kind}/{record_id}"): Case(
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
    ("GET", "/v1/ingest/health"): Case(
        lambda h, _w, _r: h.get("/v1/ingest/health"),
        lambda h, _w, _r: h.get("/v1/ingest/health", params={"site": B}),
        only({"admin": (200, 200), "site_manager": (200, 403)}),
        own_rows=lambda r, _w, role: (
            {x["site"] for x in r.json()["resources"]} == ({A, B} if role == "admin" else {A})
        ),
        other_rows=lambda r, _w, _role: {x["site"] for x in r.json()["resources"]} == {B},
    ),
    # The verifier's findings (none stored in this world: rows are asserted in test_findings.py).
    ("GET", "/v1/reconciliation"): Case(
        lambda h, _w, _r: h.get("/v1/reconciliation"),
        lambda h, _w, _r: h.get("/v1/reconciliation", params={"site": B}),
        only({"admin": (200, 200), "finance": (200, 200), "site_manager": (200, 403)}),
        own_rows=lambda r, _w, _role: r.json() == {"rows": [], "truncated": False},
        other_rows=lambda r, _w, _role: r.json() == {"rows": [], "truncated": False},
    ),
    # A site's API keys: admins any site's, site managers their site's.
    ("GET", "/v1/sites/{site}/keys"): Case(
        lambda h, _w, _r: h.get(f"/v1/sites/{A}/keys"),
        lambda h, _w, _r: h.get(f"/v1/sites/{B}/keys"),
        only({"admin": (200, 200), "site_manager": (200, 403)}),
        own_rows=lambda r, w, _role: (
            {k["key_id"] for k in r.json()} == {k.key_id for k in w.svc.control.list_keys(A)}
            and {k["site"] for k in r.json()} == {A}
        ),
        other_rows=lambda r, _w, _role: {k["site"] for k in r.json()} == {B},
    ),
    ("POST", "/v1/sites/{site}/keys"): Case(
        lambda h, _w, _r: h.post(f"/v1/sites/{A}/keys", json={"scopes": ["reports:read"]}),
        lambda h, _w, _r: h.post(f"/v1/sites/{B}/keys", json={"scopes": ["reports:read"]}),
        only({"admin": (201, 201), "site_manager": (201, 403)}),
        own_rows=lambda r, _w, _role: r.json()["site"] == A and r.json()["key"].startswith("tly_"),
        other_rows=lambda r, _w, _role: r.json()["site"] == B,
    ),
    ("DELETE", "/v1/sites/{site}/keys/{key_id}"): Case(
        lambda h, w, _r: h.delete(f"/v1/sites/{A}/keys/{w.svc.create_key(A).record.key_id}"),
        lambda h, w, _r: h.delete(f"/v1/sites/{B}/keys/{w.svc.create_key(B).record.key_id}"),
        only({"admin": (204, 204), "site_manager": (204, 403)}),
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
    # Subscriptions: a person subscribes their own saved views; another's view or subscription
    # is not theirs to reach (404).
    ("GET", "/v1/me/subscriptions"): Case(
        lambda h, _w, _r: h.get("/v1/me/subscriptions"),
        lambda h, _w, _r: h.get("/v1/me/subscriptions"),
        every(200, 200),
        own_rows=lambda r, w, role: (
            [s["id"] for s in r.json()]
            == [s.subscription_id for s in w.svc.subscriptions.list_subscriptions(w.people[role].person_id)]
        ),
    ),
    ("POST", "/v1/me/subscriptions"): Case(
        lambda h, _w, role: h.post("/v1/me/subscriptions", json=subscription_body(role)),
        lambda h, _w, role: h.post("/v1/me/subscriptions", json=subscription_body(other_role(role))),
        every(201, 404),
        own_rows=lambda r, _w, _role: r.json()["cadence"] == "weekly" and r.json()["id"].startswith("s-"),
    ),
    ("GET", "/v1/me/subscriptions/{subscription_id}"): Case(
        lambda h, w, role: h.get(f"/v1/me/subscriptions/{own_subscription(w, role)}"),
        lambda h, w, role: h.get(f"/v1/me/subscriptions/{own_subscription(w, other_role(role))}"),
        every(200, 404),
        own_rows=lambda r, _w, _role: r.json()["deliveries"] == [],
    ),
    ("DELETE", "/v1/me/subscriptions/{subscription_id}"): Case(
        lambda h, w, role: h.delete(f"/v1/me/subscriptions/{own_subscription(w, role)}"),
        lambda h, w, role: h.delete(f"/v1/me/subscriptions/{own_subscription(w, other_role(role))}"),
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
    # Single sign-on: public sign-in steps, the same for everyone; this world has no provider
    # (tests/auth/test_sso_api.py signs in through one). Ending the session needs a session.
    ("GET", "/v1/auth/config"): Case(
        lambda h, _w, _r: h.get("/v1/auth/config"),
        lambda h, _w, _r: h.get("/v1/auth/config"),
        every(200, 200),
        own_rows=lambda r, _w, _role: (
            r.json() == {"methods": ["password"], "oidc": None, "session_hours": 8.0}
        ),
    ),
    ("GET", "/v1/auth/oidc/login"): Case(
        lambda h, _w, _r: h.get("/v1/auth/oidc/login"),
        lambda h, _w, _r: h.get("/v1/auth/oidc/login", params={"return_to": "https://elsewhere.example/"}),
        every(404, 404),
    ),
    ("GET", "/v1/auth/oidc/callback"): Case(
        lambda h, _w, _r: h.get("/v1/auth/oidc/callback", params={"code": "c", "state": "s"}),
        lambda h, _w, _r: h.get("/v1/auth/oidc/callback", params={"state": "s", "error": "access_denied"}),
        every(404, 404),
    ),
    ("POST", "/v1/auth/oidc/logout"): Case(
        lambda h, _w, _r: h.post("/v1/auth/oidc/logout"),
        lambda h, _w, _r: h.post("/v1/auth/oidc/logout"),
        every(403, 403),  # a token is not a session, as for /v1/auth/logout
    ),
    # Allocations: read through allocations:read, managed by admins, finance and site managers.
    ("GET", "/v1/allocations"): Case(
        lambda h, _w, _r: h.get("/v1/allocations"),
        lambda h, _w, _r: h.get("/v1/allocations", params={"project": "p2"}),  # no such filter: the same
        only({r: (200, 200) for r in READERS}),
        own_rows=lambda r, w, role: {a["allocation_id"] for a in r.json()} == visible_allocations(w, role),
        other_rows=lambda r, w, role: {a["allocation_id"] for a in r.json()} == visible_allocations(w, role),
    ),
    ("GET", "/v1/allocations/{allocation_id}"): Case(
        lambda h, w, _r: h.get(f"/v1/allocations/{w.extra['alloc']['p1_A']}"),
        lambda h, w, _r: h.get(f"/v1/allocations/{w.extra['alloc']['p2_B']}"),
        only(SEE),
        own_rows=lambda r, w, _role: r.json()["allocation_id"] == w.extra["alloc"]["p1_A"],
        other_rows=lambda r, w, _role: r.json()["project"] == "p2",
    ),
    ("GET", "/v1/allocations/{allocation_id}/status"): Case(
        lambda h, w, _r: h.get(f"/v1/allocations/{w.extra['alloc']['p1_A']}/status"),
        lambda h, w, _r: h.get(f"/v1/allocations/{w.extra['alloc']['p2_B']}/status"),
        only(SEE),
        # p1's job at A: 2 h x 4 cores, no benchmark: no HEPscore23 core-hours.
        own_rows=lambda r, _w, _role: r.json()["used"] == 0 and r.json()["allocation"]["project"] == "p1",
    ),
    ("POST", "/v1/allocations"): Case(
        lambda h, _w, _r: h.post("/v1/allocations", json=allocation_body(A)),
        lambda h, _w, _r: h.post("/v1/allocations", json=allocation_body(B)),
        manage_status(201, 403),
        own_rows=lambda r, _w, _role: r.json()["resources"] == [{"site": A, "resource": None}],
    ),
    ("PUT", "/v1/allocations/{allocation_id}"): Case(
        lambda h, w, _r: h.put(f"/v1/allocations/{fresh_allocation(w, A)}", json=allocation_body(A, "p7")),
        lambda h, w, _r: h.put(f"/v1/allocations/{fresh_allocation(w, B)}", json=allocation_body(B, "p7")),
        manage_status(200, 404),
        own_rows=lambda r, _w, _role: r.json()["project"] == "p7",
    ),
    ("DELETE", "/v1/allocations/{allocation_id}"): Case(
        lambda h, w, _r: h.delete(f"/v1/allocations/{fresh_allocation(w, A)}"),
        lambda h, w, _r: h.delete(f"/v1/allocations/{fresh_allocation(w, B)}"),
        manage_status(204, 404),
    ),
    # Fair share and usage forecasts: usage, fenced as the reports are.
    ("GET", "/v1/fairshare"): Case(
        fairshare_call(False),
        fairshare_call(True),
        only({r: (200, 403) for r in ROLES} | {"admin": (200, 200)}),
        own_rows=lambda r, w, role: fairshare_got(r, role) == fairshare_rows(w, role),
        other_rows=lambda r, w, role: (
            role == "admin" and fairshare_got(r, role) == fairshare_rows(w, role, B)
        ),
    ),
    ("GET", "/v1/forecasts/usage"): Case(
        lambda h, _w, _r: h.get("/v1/forecasts/usage"),
        lambda h, _w, _r: h.get("/v1/forecasts/usage", params={"unit": "gpu_hours"}),
        every(200, 200),
        # The jobs are months old: no resource has use in the history window.
        own_rows=lambda r, _w, _role: r.json() == [],
        other_rows=lambda r, _w, _role: r.json() == [],
    ),
    # Alerts: read by the grants covering their site or project; rules managed by admins and site managers.
    ("GET", "/v1/alerts"): Case(
        lambda h, _w, _r: h.get("/v1/alerts"),
        lambda h, _w, _r: h.get("/v1/alerts", params={"site": B}),
        only(ALERT_READERS),
        own_rows=lambda r, _w, role: {a["alert_id"] for a in r.json()} == alerts_seen(role),
        other_rows=lambda r, _w, role: {a["alert_id"] for a in r.json()} == alerts_seen(role, B),
    ),
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): Case(
        lambda h, _w, _r: h.post("/v1/alerts/a-00000000000a/acknowledge"),
        lambda h, _w, _r: h.post("/v1/alerts/a-00000000000d/acknowledge"),
        only(
            {
                "admin": (200, 200),
                "finance": (200, 200),
                "site_manager": (200, 404),
                "project_manager": (200, 404),
            }
        ),
        own_rows=lambda r, _w, _role: r.json()["acknowledged_at"] is not None,
    ),
    ("GET", "/v1/alerts/rules"): Case(
        lambda h, _w, _r: h.get("/v1/alerts/rules"),
        lambda h, _w, _r: h.get("/v1/alerts/rules"),
        only(MANAGERS),
        own_rows=lambda r, w, role: {x["scope"]["site"] for x in r.json()} == registry_sites(w, role),
        other_rows=lambda r, w, role: {x["scope"]["site"] for x in r.json()} == registry_sites(w, role),
    ),
    ("POST", "/v1/alerts/rules"): Case(
        lambda h, _w, _r: h.post("/v1/alerts/rules", json=alert_rule(A)),
        lambda h, _w, _r: h.post("/v1/alerts/rules", json=alert_rule(B)),
        only({"admin": (201, 201), "site_manager": (201, 403)}),
        own_rows=lambda r, _w, _role: r.json()["params"] == {"hours": 6.0, "lookback_hours": 720.0},
    ),
    ("GET", "/v1/alerts/rules/{rule_id}"): Case(
        lambda h, w, _r: h.get(f"/v1/alerts/rules/{w.extra['rule'][A]}"),
        lambda h, w, _r: h.get(f"/v1/alerts/rules/{w.extra['rule'][B]}"),
        only({"admin": (200, 200), "site_manager": (200, 404)}),
    ),
    ("PUT", "/v1/alerts/rules/{rule_id}"): Case(
        lambda h, w, _r: h.put(f"/v1/alerts/rules/{fresh_rule(w, A)}", json=alert_rule(A)),
        lambda h, w, _r: h.put(f"/v1/alerts/rules/{fresh_rule(w, B)}", json=alert_rule(B)),
        only({"admin": (200, 200), "site_manager": (200, 404)}),
    ),
    ("DELETE", "/v1/alerts/rules/{rule_id}"): Case(
        lambda h, w, _r: h.delete(f"/v1/alerts/rules/{fresh_rule(w, A)}"),
        lambda h, w, _r: h.delete(f"/v1/alerts/rules/{fresh_rule(w, B)}"),
        only({"admin": (204, 204), "site_manager": (204, 404)}),
    ),
    # Money: finance and admins manage it; site managers read their site's tariffs; project
    # managers their project's invoices; users their own per-person invoices.
    ("GET", "/v1/tariffs"): Case(
        lambda h, _w, _r: h.get("/v1/tariffs"),
        lambda h, _w, _r: h.get("/v1/tariffs"),
        only(MONEY | {"site_manager": (200, 200)}),
        own_rows=lambda r, w, role: {t["site"] for t in r.json()} == tariff_sites(w, role),
        other_rows=lambda r, w, role: {t["site"] for t in r.json()} == tariff_sites(w, role),
    ),
    ("GET", "/v1/tariffs/{tariff_id}"): Case(
        lambda h, w, _r: h.get(f"/v1/tariffs/{w.extra['tariff'][A]}"),
        lambda h, w, _r: h.get(f"/v1/tariffs/{w.extra['tariff'][B]}"),
        only(MONEY | {"site_manager": (200, 404)}),
        own_rows=lambda r, w, _role: r.json()["tariff_id"] == w.extra["tariff"][A],
        other_rows=lambda r, w, _role: r.json()["site"] == B,
    ),
    ("PUT", "/v1/tariffs/{tariff_id}"): Case(
        lambda h, w, _r: h.put(f"/v1/tariffs/t{w.n()}", json=tariff_body(w, A)),
        lambda h, w, _r: h.put(f"/v1/tariffs/t{w.n()}", json=tariff_body(w, "SITE-NOWHERE")),
        only({"finance": (201, 422), "admin": (201, 422)}),
        own_rows=lambda r, w, _role: w.svc.money.tariffs.get(r.json()["tariff_id"]).site == A,
    ),
    ("DELETE", "/v1/tariffs/{tariff_id}"): Case(
        lambda h, w, _r: h.delete(f"/v1/tariffs/{fresh_tariff(w, A)}"),
        lambda h, w, _r: h.delete(f"/v1/tariffs/t-gone-{w.n()}"),
        only({"finance": (204, 404), "admin": (204, 404)}),
    ),
    ("GET", "/v1/invoices"): Case(
        lambda h, _w, _r: h.get("/v1/invoices"),
        lambda h, _w, _r: h.get("/v1/invoices"),
        only(MONEY | {"project_manager": (200, 200), "user": (200, 200)}),
        own_rows=lambda r, w, role: invoice_numbers(r) == invoices_of(w, role),
        other_rows=lambda r, w, role: invoice_numbers(r) == invoices_of(w, role),
    ),
    ("POST", "/v1/invoices"): Case(
        lambda h, _w, _r: h.post("/v1/invoices", json={"project": "p1", "period": "2026-03"}),
        lambda h, _w, _r: h.post("/v1/invoices", json={"project": "p9", "period": "2026-03"}),
        only({"finance": (201, 422), "admin": (201, 422)}),
        # p1's VM at A: 4 vCPUs x 15 min = 1 vCPU-hour at 0.5 EUR.
        own_rows=lambda r, _w, _role: (
            r.json()["totals"] == {"EUR": "0.50"} and {line["site"] for line in r.json()["lines"]} == {A}
        ),
    ),
    ("GET", "/v1/invoices/{number}"): Case(
        lambda h, w, role: h.get(f"/v1/invoices/{own_invoice(w, role)}"),
        lambda h, w, role: h.get(f"/v1/invoices/{other_invoice(w, role)}"),
        only(MONEY | {"project_manager": (200, 404), "user": (200, 404)}),
        own_rows=lambda r, w, role: r.json()["number"] == own_invoice(w, role),
        other_rows=lambda r, w, role: r.json()["number"] == other_invoice(w, role),
    ),
    ("GET", "/v1/invoices/{number}.{format}"): Case(
        lambda h, w, role: h.get(f"/v1/invoices/{own_invoice(w, role)}.csv"),
        lambda h, w, role: h.get(f"/v1/invoices/{other_invoice(w, role)}.xlsx"),
        only(MONEY | {"project_manager": (200, 404), "user": (200, 404)}),
        own_rows=lambda r, w, role: f'"{own_invoice(w, role)}.csv"' in r.headers["content-disposition"],
    ),
    ("GET", "/v1/cost-attribution"): Case(
        lambda h, _w, _r: h.get("/v1/cost-attribution"),
        lambda h, _w, _r: h.get("/v1/cost-attribution"),
        only(MONEY),
        own_rows=lambda r, w, _role: r.json()["tag_keys"] == w.svc.money.cost_rules.get().tag_keys,
    ),
    ("PUT", "/v1/cost-attribution"): Case(
        lambda h, _w, _r: h.put("/v1/cost-attribution", json={"tag_keys": ["project", "team"]}),
        lambda h, _w, _r: h.put("/v1/cost-attribution", json={"tag_keys": ["team", "TEAM"]}),
        only({"finance": (200, 422), "admin": (200, 422)}),
        own_rows=lambda r, _w, _role: r.json()["tag_keys"] == ["project", "team"],
    ),
    ("POST", "/v1/invoices/{number}/credit"): Case(
        lambda h, w, _r: h.post(
            f"/v1/invoices/{w.svc.money.issue(w.svc.engine, 'p1', '2026-03').number}/credit"
        ),
        lambda h, w, _r: h.post(f"/v1/invoices/INV-{900000 + w.n()}/credit"),
        only({"finance": (201, 404), "admin": (201, 404)}),
        own_rows=lambda r, _w, _role: r.json()["credit_note"]["totals"] == {"EUR": "-0.50"},
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
    # Users belong to the projects of their jobs of the last ten years (the jobs are of March 2026).
    app = create_app(local_settings(tmp_path / "home", foresight=ForesightSettings(membership_days=3660)))
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
        svc.saved_views.put(people[role].person_id, f"{role}-view", role, REPORT_VIEW)
    with running_app(app) as url:
        w = World(url, svc, people, tokens, {"at_b": at_b, "grants": grants, "entry": {}, "alloc": {}})
        for name, project, sites in (("p1_A", "p1", [A]), ("p2_B", "p2", [B]), ("p3_all", "p3", [])):
            body = AllocationBody.model_validate(
                {**allocation_body(A, project), "resources": [{"site": x} for x in sites]}
            )
            w.extra["alloc"][name] = svc.foresight.create(
                body.model(), Fence(everything=True), "test"
            ).allocation_id
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
        plant_alerts(w)
        svc.kinds.define("readings", KindSpec.model_validate(KIND), A)
        svc.kinds.define("other", KindSpec.model_validate(KIND), B)
        # Money: one VM of p1 at A (1 vCPU-hour in March), a vCPU tariff at each site, and the
        # invoices of p1 and p2 and one per-person invoice of the user (in p2, so p1's manager
        # does not read it).
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[A]}"}) as http:
            one = vm(1, site=A, project="p1", vcpus=4)
            assert http.post("/v1/records/vms", json=[one]).json()["accepted"] == 1
        w.extra["tariff"] = {}
        for site in (A, B):
            tariff = {
                **tariff_body(w, site),
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_to": "2027-01-01T00:00:00Z",
            }
            svc.money.tariffs.put(Tariff.model_validate({**tariff, "tariff_id": f"vcpu-{site}"}))
            w.extra["tariff"][site] = f"vcpu-{site}"
        w.extra["invoice"] = {
            "p1": svc.money.issue(svc.engine, "p1", "2026-03").number,
            "p2": stored_invoice(w, "p2"),
            "mine": stored_invoice(w, "p2", people["user"].person_id),
        }
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
