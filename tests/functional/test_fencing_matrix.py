"""The fencing matrix: every route of the app x every key scope x own and foreign site, over real HTTP.

The routes are enumerated from `app.routes`; a route without an entry in ROUTES fails the test, so a
new route cannot ship without saying who may call it. For each cell the status is asserted, and the
rows a route returns (or stores) are checked to be the caller's site's only. Local mode (SQLite,
DuckDB): the reports route runs its SQL, which moto cannot; the DynamoDB store's scopes and owners
are covered in test_key_scopes.py and test_billing_fence.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tally.api.app import create_app
from tally.demo.bills import generate_bills
from tally.domain.control import SCOPES
from tally.listing.service import parse_request
from tally.people.authz import Fence
from tally.registry.entries import VoMapping
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.paths import FIXTURES
from tests.support.records import job
from tests.support.routes import app_routes
from tests.support.servers import running_app
from tests.support.warehouse import rows

OWN, FOREIGN = "SITE-A", "SITE-B"
AWS_BILL, AZURE_BILL = generate_bills(datetime(2026, 6, 15, tzinfo=UTC))
OWN_ACCOUNT, FOREIGN_ACCOUNT = "123456789012", "8611537"
REPORT = {"from": "2026-03-01", "to": "2026-04-01", "group_by": "site", "metrics": "jobs"}
RANGE = {"from": "2026-03-01", "to": "2026-04-01"}
#: Keys of site A holding one scope each, the agent defaults, and no key at all.
KEYS = (*SCOPES, "default", "anonymous")


@dataclass
class World:
    """The running server and what each site has stored before the matrix runs."""

    url: str
    services: Services
    keys: dict[str, str | None]
    entry: dict[str, str]  # site -> one vo_mapping entry id
    counter: Iterator[int] = field(default_factory=itertools.count)

    def client(self, who: str) -> httpx.Client:
        key = self.keys[who]
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def vo(self, site: str) -> dict[str, str]:
        return {
            "site": site,
            "match_field": "project",
            "match_value": f"m{next(self.counter)}",
            "vo": "atlas",
        }

    def fresh_entry(self, site: str) -> str:
        return self.services.registry.add("vo_mapping", VoMapping.model_validate(self.vo(site))).entry_id


Call = Callable[[httpx.Client, World], httpx.Response]
Check = Callable[[httpx.Response, World], bool]


@dataclass(frozen=True)
class Case:
    """Who may call a route (any of `scopes`; None: public) and what own and foreign calls answer."""

    scopes: frozenset[str] | None
    own: Call
    foreign: Call
    own_status: int
    foreign_status: int
    own_rows: Check = lambda _r, _w: True
    foreign_rows: Check = lambda _r, _w: True


def _record_id(w: World, site: str) -> str:
    """The record_id of job 1 of `site`, as the listing service gives it to a caller seeing all."""
    wanted = parse_request("jobs", [*RANGE.items(), ("site", site)])
    items = w.services.record_listing.page(wanted, Fence(everything=True)).items
    return str(next(i["record_id"] for i in items if i["local_job_id"] == "1001"))


def _only_own_sites(answer: httpx.Response, _w: World) -> bool:
    return all(e["site"] == OWN for e in answer.json())


def _accounts(answer: httpx.Response) -> set[str]:
    return {p["billing_account_id"] for p in answer.json()}


def _sync_message(site: str, n: int) -> str:
    """An APEL sync message of one record for `site` (a new month each call, so nothing replays)."""
    return (
        f"APEL-sync-message: v0.1\nSite: {site}\nSubmitHost: ce{n}\nNumberOfJobs: {n}\n"
        "Month: 3\nYear: 2026\n%%\n"
    )


def _csv(body: bytes, name: str) -> Call:
    def call(http: httpx.Client, _w: World) -> httpx.Response:
        return http.post(
            "/v1/billing", content=body, headers={"Content-Type": "text/csv"}, params={"filename": name}
        )

    return call


def _log(http: httpx.Client, params: dict[str, str]) -> httpx.Response:
    body = (FIXTURES / "batch" / "sacct_parsable2.txt").read_bytes()
    return http.post("/v1/logs/slurm", content=body, params=params, headers={"Content-Type": "text/plain"})


KIND = {
    "fields": [
        {"name": "meter", "type": "string", "required": True},
        {"name": "at", "type": "timestamp", "required": True},
    ],
    "identity": ["meter", "at"],
    "event_time": "at",
}
KIND_SPEC = {
    **KIND,
    "description": None,
    "partition": "month",
    "fields": [
        {"name": "meter", "type": "string", "unit": None, "description": None, "required": True},
        {"name": "at", "type": "timestamp", "unit": None, "description": None, "required": True},
    ],
}


def _reading(site: str, n: int) -> dict[str, str]:
    return {"site": site, "resource": "cluster1", "meter": f"m{n}", "at": "2026-03-01T00:00:00Z"}


RECORDS = frozenset({"records:write"})
REPORTS = frozenset({"reports:read"})
REGISTRY_READ = frozenset({"registry:read", "registry:write"})
REGISTRY_WRITE = frozenset({"registry:write"})
BILLING_WRITE = frozenset({"billing:write"})
BILLING_READ = frozenset({"billing:read"})  # a billing:write key posts bills and reads nothing
INGEST = frozenset({"records:write", "reports:read"})
#: Routes for people (tally.api.people): no key scope reaches them (tests/functional/test_people_matrix.py
#: holds their roles x scopes matrix).
PEOPLE_ONLY: frozenset[str] = frozenset()
PUBLIC: frozenset[str] | None = None
PASSWORD = "a long enough password"
NOBODY = "p-000000000000"
NO_ALLOCATION = "al-000000000000"
ALLOCATION = {"project": "p", "unit": "gpu_hours", "amount": 1, "start": "2026-03-01", "end": "2026-04-01"}
FAIRSHARE = {"at": "2026-04-01T00:00:00Z", "since": "2026-02-01", "group_by": "site", "unit": "core_hours"}


def _people_only(method: str, path: str, body: dict[str, object] | None = None) -> Case:
    def call(h: httpx.Client, _w: World) -> httpx.Response:
        return h.request(method, path, json=body)

    return Case(PEOPLE_ONLY, call, call, 403, 403)


ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/v1/health"): Case(
        PUBLIC, lambda h, _w: h.get("/v1/health"), lambda h, _w: h.get("/v1/health"), 200, 200
    ),
    ("GET", "/v1/openapi.json"): Case(
        PUBLIC, lambda h, _w: h.get("/v1/openapi.json"), lambda h, _w: h.get("/v1/openapi.json"), 200, 200
    ),
    ("GET", "/v1/docs"): Case(
        PUBLIC, lambda h, _w: h.get("/v1/docs"), lambda h, _w: h.get("/v1/docs"), 200, 200
    ),
    ("POST", "/v1/records/{kind}"): Case(
        RECORDS,
        lambda h, w: h.post("/v1/records/jobs", json=[job(100 + next(w.counter), site=OWN)]),
        lambda h, w: h.post("/v1/records/jobs", json=[job(100 + next(w.counter), site=FOREIGN)]),
        200,
        403,
        own_rows=lambda r, _w: r.json()["accepted"] == 1 and r.json()["site"] == OWN,
    ),
    ("POST", "/v1/apel"): Case(
        RECORDS,
        lambda h, w: h.post("/v1/apel", content=_sync_message(OWN, next(w.counter))),
        lambda h, w: h.post("/v1/apel", content=_sync_message(FOREIGN, next(w.counter))),
        200,
        403,
        own_rows=lambda r, _w: (
            r.json()["accepted"] == 1 and r.json()["site"] == OWN and r.json()["kind"] == "syncs"
        ),
    ),
    ("POST", "/v1/logs/{source}"): Case(
        RECORDS,
        lambda h, _w: _log(h, {"resource": "cluster1"}),
        lambda h, _w: _log(h, {"resource": "cluster1", "site": FOREIGN}),
        200,
        200,  # a raw log's records are always the key's site's: naming another changes nothing
        own_rows=lambda r, _w: r.json()["site"] == OWN and r.json()["records"] == 3,
        foreign_rows=lambda r, _w: r.json()["site"] == OWN,
    ),
    ("PUT", "/v1/kinds/{name}"): Case(
        REGISTRY_WRITE,
        lambda h, w: h.put(f"/v1/kinds/k{next(w.counter)}", json=KIND),
        lambda h, _w: h.put("/v1/kinds/theirs", json={**KIND, "description": "taken over"}),
        201,
        403,  # only the defining site may change a kind
        own_rows=lambda r, _w: r.json()["owner_site"] == OWN,
    ),
    ("GET", "/v1/kinds"): Case(
        REGISTRY_READ,
        lambda h, _w: h.get("/v1/kinds"),
        lambda h, _w: h.get("/v1/kinds", params={"site": FOREIGN}),
        200,
        200,  # definitions are shared by every site (their records are fenced)
        own_rows=lambda r, _w: {"ours", "theirs"} <= {k["name"] for k in r.json()},
        foreign_rows=lambda r, _w: {"ours", "theirs"} <= {k["name"] for k in r.json()},
    ),
    ("GET", "/v1/kinds/{name}"): Case(
        REGISTRY_READ,
        lambda h, _w: h.get("/v1/kinds/ours"),
        lambda h, _w: h.get("/v1/kinds/theirs"),
        200,
        200,
        own_rows=lambda r, _w: r.json()["owner_site"] == OWN,
        foreign_rows=lambda r, _w: r.json()["owner_site"] == FOREIGN and r.json()["spec"] == KIND_SPEC,
    ),
    ("POST", "/v1/records/custom/{name}"): Case(
        RECORDS,
        lambda h, w: h.post("/v1/records/custom/theirs", json=[_reading(OWN, next(w.counter))]),
        lambda h, w: h.post("/v1/records/custom/theirs", json=[_reading(FOREIGN, next(w.counter))]),
        200,
        403,
        own_rows=lambda r, _w: r.json()["accepted"] == 1 and r.json()["site"] == OWN,
    ),
    ("GET", "/v1/sync-state"): Case(
        RECORDS,
        lambda h, _w: h.get("/v1/sync-state", params={"resource": "cluster1"}),
        lambda h, _w: h.get("/v1/sync-state", params={"resource": "cluster1", "site": FOREIGN}),
        200,
        200,  # there is no way to name another site: the answer is still the caller's
        own_rows=lambda r, _w: r.json()["site"] == OWN,
        foreign_rows=lambda r, _w: r.json()["site"] == OWN,
    ),
    ("GET", "/v1/reports/{kind}"): Case(
        REPORTS,
        lambda h, _w: h.get("/v1/reports/jobs", params={**REPORT, "site": OWN}),
        lambda h, _w: h.get("/v1/reports/jobs", params={**REPORT, "site": FOREIGN}),
        200,
        403,
        own_rows=lambda r, _w: r.json()["rows"] == [{"site": OWN, "jobs": 2}],
    ),
    ("GET", "/v1/records/{kind}"): Case(
        REPORTS,
        lambda h, _w: h.get("/v1/records/jobs", params={**RANGE, "site": OWN}),
        lambda h, _w: h.get("/v1/records/jobs", params={**RANGE, "site": FOREIGN}),
        200,
        403,
        own_rows=lambda r, _w: (
            {(i["site"], i["local_job_id"]) for i in r.json()["items"]} == {(OWN, "1001"), (OWN, "1002")}
        ),
    ),
    ("GET", "/v1/records/{kind:listed_kind}/{record_id}"): Case(
        REPORTS,
        lambda h, w: h.get(f"/v1/records/jobs/{_record_id(w, OWN)}"),
        lambda h, w: h.get(f"/v1/records/jobs/{_record_id(w, FOREIGN)}"),
        200,
        404,  # another site's record is not found: an id tells nothing of it
        own_rows=lambda r, _w: (r.json()["site"], r.json()["local_job_id"]) == (OWN, "1001"),
    ),
    ("POST", "/v1/billing"): Case(
        BILLING_WRITE,
        _csv(AWS_BILL.content, AWS_BILL.filename),
        _csv(AZURE_BILL.content, AZURE_BILL.filename),
        200,
        403,
    ),
    ("GET", "/v1/billing"): Case(
        BILLING_READ,
        lambda h, _w: h.get("/v1/billing"),
        lambda h, _w: h.get("/v1/billing", params={"billing_account_id": FOREIGN_ACCOUNT}),
        200,
        403,
        own_rows=lambda r, _w: _accounts(r) == {OWN_ACCOUNT},
    ),
    ("GET", "/v1/registry/{kind}"): Case(
        REGISTRY_READ,
        lambda h, _w: h.get("/v1/registry/vo_mapping"),
        lambda h, _w: h.get("/v1/registry/vo_mapping", params={"site": FOREIGN}),
        200,
        200,  # listing names no site: the caller's entries only
        own_rows=lambda r, w: _only_own_sites(r, w) and w.entry[OWN] in {e["entry_id"] for e in r.json()},
        foreign_rows=_only_own_sites,
    ),
    ("POST", "/v1/registry/{kind}"): Case(
        REGISTRY_WRITE,
        lambda h, w: h.post("/v1/registry/vo_mapping", json=w.vo(OWN)),
        lambda h, w: h.post("/v1/registry/vo_mapping", json=w.vo(FOREIGN)),
        201,
        403,
        own_rows=lambda r, _w: r.json()["site"] == OWN,
    ),
    ("GET", "/v1/registry/{kind}/{entry_id}"): Case(
        REGISTRY_READ,
        lambda h, w: h.get(f"/v1/registry/vo_mapping/{w.entry[OWN]}"),
        lambda h, w: h.get(f"/v1/registry/vo_mapping/{w.entry[FOREIGN]}"),
        200,
        404,
        own_rows=lambda r, w: r.json()["entry_id"] == w.entry[OWN] and r.json()["site"] == OWN,
    ),
    ("PUT", "/v1/registry/{kind}/{entry_id}"): Case(
        REGISTRY_WRITE,
        lambda h, w: h.put(f"/v1/registry/vo_mapping/{w.fresh_entry(OWN)}", json=w.vo(OWN)),
        lambda h, w: h.put(f"/v1/registry/vo_mapping/{w.entry[FOREIGN]}", json=w.vo(OWN)),
        200,
        404,
        own_rows=lambda r, _w: r.json()["site"] == OWN,
    ),
    ("DELETE", "/v1/registry/{kind}/{entry_id}"): Case(
        REGISTRY_WRITE,
        lambda h, w: h.delete(f"/v1/registry/vo_mapping/{w.fresh_entry(OWN)}"),
        lambda h, w: h.delete(f"/v1/registry/vo_mapping/{w.entry[FOREIGN]}"),
        204,
        404,
    ),
    ("GET", "/v1/ingest/status"): Case(
        INGEST,
        lambda h, _w: h.get("/v1/ingest/status"),
        lambda h, _w: h.get("/v1/ingest/status", params={"site": FOREIGN}),
        200,
        403,
        own_rows=lambda r, _w: {c["site"] for c in r.json()} == {OWN},
    ),
    ("GET", "/v1/ingest/health"): Case(
        INGEST,
        lambda h, _w: h.get("/v1/ingest/health"),
        lambda h, _w: h.get("/v1/ingest/health", params={"site": FOREIGN}),
        200,
        403,
        own_rows=lambda r, _w: {x["site"] for x in r.json()["resources"]} == {OWN},
    ),
    ("GET", "/v1/reconciliation"): Case(
        BILLING_READ,
        lambda h, _w: h.get("/v1/reconciliation"),
        lambda h, _w: h.get("/v1/reconciliation", params={"site": FOREIGN}),
        200,
        403,
        own_rows=lambda r, _w: r.json() == {"rows": [], "truncated": False},
    ),
    ("POST", "/v1/auth/login"): Case(
        PUBLIC,
        lambda h, _w: h.post("/v1/auth/login", json={"email": "ada@example.org", "password": PASSWORD}),
        lambda h, w: h.post(
            "/v1/auth/login", json={"email": f"x{next(w.counter)}@example.org", "password": "x"}
        ),
        200,
        401,
    ),
    ("GET", "/v1/people"): _people_only("GET", "/v1/people"),
    ("POST", "/v1/people"): _people_only("POST", "/v1/people", {"name": "N", "email": "n@example.org"}),
    ("GET", "/v1/people/{person_id}"): _people_only("GET", f"/v1/people/{NOBODY}"),
    ("POST", "/v1/people/{person_id}/identities"): _people_only(
        "POST", f"/v1/people/{NOBODY}/identities", {"kind": "local", "namespace": OWN, "value": "u"}
    ),
    ("POST", "/v1/people/{person_id}/identities/{identity_id}/end"): _people_only(
        "POST", f"/v1/people/{NOBODY}/identities/i-0/end", {"at": "2026-01-01T00:00:00Z"}
    ),
    ("POST", "/v1/people/{person_id}/grants"): _people_only(
        "POST", f"/v1/people/{NOBODY}/grants", {"role": "site_manager", "scope": OWN}
    ),
    ("DELETE", "/v1/people/{person_id}/grants/{grant_id}"): _people_only(
        "DELETE", f"/v1/people/{NOBODY}/grants/g-0"
    ),
    ("GET", "/v1/audit"): _people_only("GET", "/v1/audit"),
    ("POST", "/v1/auth/logout"): _people_only("POST", "/v1/auth/logout"),
    ("GET", "/v1/me"): _people_only("GET", "/v1/me"),
    ("GET", "/v1/me/views"): _people_only("GET", "/v1/me/views"),
    ("PUT", "/v1/me/views/{name}"): _people_only("PUT", "/v1/me/views/v", {"title": "t", "state": {}}),
    ("DELETE", "/v1/me/views/{name}"): _people_only("DELETE", "/v1/me/views/v"),
    ("GET", "/v1/me/subscriptions"): _people_only("GET", "/v1/me/subscriptions"),
    ("POST", "/v1/me/subscriptions"): _people_only(
        "POST",
        "/v1/me/subscriptions",
        {"view": "v", "cadence": "weekly", "format": "csv", "channel": "email"},
    ),
    ("GET", "/v1/me/subscriptions/{subscription_id}"): _people_only(
        "GET", "/v1/me/subscriptions/s-0123456789ab"
    ),
    ("DELETE", "/v1/me/subscriptions/{subscription_id}"): _people_only(
        "DELETE", "/v1/me/subscriptions/s-0123456789ab"
    ),
    ("GET", "/v1/sites/{site}/keys"): _people_only("GET", f"/v1/sites/{OWN}/keys"),
    ("POST", "/v1/sites/{site}/keys"): _people_only("POST", f"/v1/sites/{OWN}/keys", {}),
    ("DELETE", "/v1/sites/{site}/keys/{key_id}"): _people_only(
        "DELETE", f"/v1/sites/{OWN}/keys/0123456789abcdef"
    ),
    ("GET", "/v1/tokens"): _people_only("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"): _people_only("POST", "/v1/tokens", {"name": "t", "days": 1}),
    ("DELETE", "/v1/tokens/{token_id}"): _people_only("DELETE", "/v1/tokens/0123456789abcdef"),
    # Single sign-on: public; this world has no provider (tests/auth/test_sso_api.py has one).
    ("GET", "/v1/auth/config"): Case(
        PUBLIC,
        lambda h, _w: h.get("/v1/auth/config"),
        lambda h, _w: h.get("/v1/auth/config"),
        200,
        200,
        own_rows=lambda r, _w: r.json()["methods"] == ["password"] and r.json()["oidc"] is None,
    ),
    ("GET", "/v1/auth/oidc/login"): Case(
        PUBLIC,
        lambda h, _w: h.get("/v1/auth/oidc/login"),
        lambda h, _w: h.get("/v1/auth/oidc/login", params={"return_to": "/portal"}),
        404,
        404,
    ),
    ("GET", "/v1/auth/oidc/callback"): Case(
        PUBLIC,
        lambda h, _w: h.get("/v1/auth/oidc/callback", params={"code": "c", "state": "s"}),
        lambda h, _w: h.get("/v1/auth/oidc/callback", params={"error": "access_denied"}),
        404,
        404,
    ),
    ("POST", "/v1/auth/oidc/logout"): _people_only("POST", "/v1/auth/oidc/logout"),
    # Allocations are for people (test_people_matrix.py); fair share and forecasts read usage.
    ("GET", "/v1/allocations"): _people_only("GET", "/v1/allocations"),
    ("POST", "/v1/allocations"): _people_only("POST", "/v1/allocations", ALLOCATION),
    ("GET", "/v1/allocations/{allocation_id}"): _people_only("GET", f"/v1/allocations/{NO_ALLOCATION}"),
    ("PUT", "/v1/allocations/{allocation_id}"): _people_only(
        "PUT", f"/v1/allocations/{NO_ALLOCATION}", ALLOCATION
    ),
    ("DELETE", "/v1/allocations/{allocation_id}"): _people_only("DELETE", f"/v1/allocations/{NO_ALLOCATION}"),
    ("GET", "/v1/allocations/{allocation_id}/status"): _people_only(
        "GET", f"/v1/allocations/{NO_ALLOCATION}/status"
    ),
    ("GET", "/v1/fairshare"): Case(
        REPORTS,
        lambda h, _w: h.get("/v1/fairshare", params={**FAIRSHARE, "site": OWN}),
        lambda h, _w: h.get("/v1/fairshare", params={**FAIRSHARE, "site": FOREIGN}),
        200,
        403,
        # The two jobs of site A: 2 h x 4 cores each.
        own_rows=lambda r, _w: [(x["site"], x["usage_hours"]) for x in r.json()["rows"]] == [(OWN, 16.0)],
    ),
    ("GET", "/v1/forecasts/usage"): Case(
        REPORTS,
        lambda h, _w: h.get("/v1/forecasts/usage"),
        lambda h, _w: h.get("/v1/forecasts/usage", params={"site": FOREIGN}),
        200,
        200,  # no way to name another site: the caller's resources only
        own_rows=lambda r, _w: all(x["site"] == OWN for x in r.json()),
        foreign_rows=lambda r, _w: all(x["site"] == OWN for x in r.json()),
    ),
    ("GET", "/v1/alerts"): _people_only("GET", "/v1/alerts"),
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): _people_only(
        "POST", "/v1/alerts/a-000000000000/acknowledge"
    ),
    ("GET", "/v1/alerts/rules"): _people_only("GET", "/v1/alerts/rules"),
    ("POST", "/v1/alerts/rules"): _people_only(
        "POST", "/v1/alerts/rules", {"kind": "silent_agent", "scope": {"site": OWN}}
    ),
    ("GET", "/v1/alerts/rules/{rule_id}"): _people_only("GET", "/v1/alerts/rules/r-000000000000"),
    ("PUT", "/v1/alerts/rules/{rule_id}"): _people_only(
        "PUT", "/v1/alerts/rules/r-000000000000", {"kind": "silent_agent", "scope": {"site": OWN}}
    ),
    ("DELETE", "/v1/alerts/rules/{rule_id}"): _people_only("DELETE", "/v1/alerts/rules/r-000000000000"),
    # Money: for people only (finance and admins manage it; tests/money and the people matrix).
    ("GET", "/v1/tariffs"): _people_only("GET", "/v1/tariffs"),
    ("GET", "/v1/tariffs/{tariff_id}"): _people_only("GET", "/v1/tariffs/t1"),
    ("PUT", "/v1/tariffs/{tariff_id}"): _people_only(
        "PUT",
        "/v1/tariffs/t1",
        {
            "site": OWN,
            "resource": "cluster1",
            "unit": "vm_vcpu_hour",
            "rate": "0.5",
            "currency": "EUR",
            "valid_from": "2026-01-01T00:00:00Z",
        },
    ),
    ("DELETE", "/v1/tariffs/{tariff_id}"): _people_only("DELETE", "/v1/tariffs/t1"),
    ("GET", "/v1/invoices"): _people_only("GET", "/v1/invoices"),
    ("POST", "/v1/invoices"): _people_only("POST", "/v1/invoices", {"project": "p", "period": "2026-03"}),
    ("GET", "/v1/invoices/{number}"): _people_only("GET", "/v1/invoices/INV-000001"),
    ("GET", "/v1/invoices/{number}.{format}"): _people_only("GET", "/v1/invoices/INV-000001.csv"),
    ("POST", "/v1/invoices/{number}/credit"): _people_only("POST", "/v1/invoices/INV-000001/credit"),
    ("GET", "/v1/cost-attribution"): _people_only("GET", "/v1/cost-attribution"),
    ("PUT", "/v1/cost-attribution"): _people_only("PUT", "/v1/cost-attribution", {"tag_keys": ["project"]}),
}


def test_every_route_has_an_entry_in_the_matrix() -> None:
    routes = app_routes()
    assert routes - ROUTES.keys() == set(), "add these routes to ROUTES: say who may call them"
    assert ROUTES.keys() - routes == set(), "these ROUTES entries name no route of the app"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    for site in (OWN, FOREIGN):
        svc.add_site(site)
    keys: dict[str, str | None] = {scope: svc.create_key(OWN, scopes=(scope,)).plain for scope in SCOPES}
    keys["default"] = svc.create_key(OWN).plain
    keys["anonymous"] = None
    svc.people.add_person("Ada", "ada@example.org", "test", password=PASSWORD)
    foreign_key = svc.create_key(FOREIGN, scopes=("records:write", "registry:write", "billing:write")).plain
    with running_app(app) as url:
        world = World(url, svc, keys, {})
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {foreign_key}"}) as other:
            assert other.post("/v1/records/jobs", json=[job(1, site=FOREIGN)]).status_code == 200
            assert _csv(AZURE_BILL.content, AZURE_BILL.filename)(other, world).status_code == 200
            world.entry[FOREIGN] = other.post("/v1/registry/vo_mapping", json=world.vo(FOREIGN)).json()[
                "entry_id"
            ]
            assert other.put("/v1/kinds/theirs", json=KIND).status_code == 201
        with world.client("default") as own:
            assert own.post("/v1/records/jobs", json=[job(1), job(2)]).json()["accepted"] == 2
            world.entry[OWN] = own.post("/v1/registry/vo_mapping", json=world.vo(OWN)).json()["entry_id"]
            assert own.put("/v1/kinds/ours", json=KIND).status_code == 201
        with world.client("billing:write") as own:
            assert _csv(AWS_BILL.content, AWS_BILL.filename)(own, world).status_code == 200
        yield world


def _granted(key: str, scopes: frozenset[str]) -> bool:
    held = {"default": {"records:write", "reports:read", "registry:write"}, "anonymous": set()}.get(
        key, {key}
    )
    return bool(held & scopes)


def test_fencing_matrix(world: World) -> None:
    foreign_before = {
        "jobs": [r for r in rows(world.services.warehouse, "jobs") if r["site"] == FOREIGN],
        "registry": [e for e in world.services.registry.list_entries("vo_mapping", FOREIGN)],
        "billing": world.services.billing.manifests_of({("azure", FOREIGN_ACCOUNT)}),
    }
    wrong: list[str] = []
    cells = 0
    for (method, path), case in sorted(ROUTES.items()):
        for key in KEYS:
            for side in ("own", "foreign"):
                call = case.own if side == "own" else case.foreign
                if case.scopes is None:
                    expected = case.own_status if side == "own" else case.foreign_status
                elif key == "anonymous":
                    expected = 401
                elif not _granted(key, case.scopes):
                    expected = 403
                else:
                    expected = case.own_status if side == "own" else case.foreign_status
                with world.client(key) as http:
                    answer = call(http, world)
                cells += 1
                label = f"{method} {path} key={key} {side}"
                if answer.status_code != expected:
                    wrong.append(f"{label}: {answer.status_code} (expected {expected}) {answer.text[:160]}")
                    continue
                if expected >= 400 and answer.headers["content-type"] != "application/problem+json":
                    wrong.append(f"{label}: {answer.headers['content-type']} is not problem+json")
                check = case.own_rows if side == "own" else case.foreign_rows
                if answer.status_code < 300 and not check(answer, world):
                    wrong.append(f"{label}: rows not the caller's own: {answer.text[:200]}")
    assert wrong == []
    assert cells == len(ROUTES) * len(KEYS) * 2
    # Nothing of site B changed, whatever site A's keys tried.
    assert [r for r in rows(world.services.warehouse, "jobs") if r["site"] == FOREIGN] == foreign_before[
        "jobs"
    ]
    assert world.services.registry.list_entries("vo_mapping", FOREIGN) == foreign_before["registry"]
    theirs = world.services.kinds.get("theirs")
    assert theirs is not None and (theirs.owner_site, theirs.version) == (FOREIGN, 1)
    assert {r["site"] for r in rows(world.services.warehouse, "custom_theirs")} == {OWN}
    assert world.services.billing.manifests_of({("azure", FOREIGN_ACCOUNT)}) == foreign_before["billing"]
    own_account = world.services.control.get_billing_account("aws", OWN_ACCOUNT)
    assert own_account is not None and own_account.owner == OWN
