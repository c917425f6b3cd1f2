"""GET /v1/reconciliation over real HTTP, on verifier runs stored as the verifier stores them: every
caller reads exactly the findings on the accounts its grants reach, computed here from the rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from tally.adapters.warehouse import partition_key
from tally.api.app import create_app
from tally.domain.control import BillingAccount
from tally.reconcile import RECONCILIATION_SCHEMA
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import vm
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"
JUDGED = datetime(2026, 4, 2, 6, tzinfo=UTC)
#: (kind, provider, account, resource, day, verdict, cost): A's VMs run in aws 111; B owns azure sub-b.
ROWS = [
    ("instance_day", "aws", "111", "i-1", date(2026, 3, 1), "ok", "9.6"),
    ("instance_day", "aws", "111", "i-1", date(2026, 3, 2), "billed_over_measured", "19.2"),
    ("invoice", "aws", "111", "inv-1", date(2026, 3, 1), "invoice_mismatch", "0.000000000000000001"),
    ("instance_day", "azure", "sub-b", "vm-9", date(2026, 3, 2), "not_ours", "3.3"),
    ("instance_day", "gcp", "999", "g-1", date(2026, 3, 3), "billed_not_measured", "1.5"),
]


def _row(
    kind: str, provider: str, account: str, resource: str, day: date, verdict: str, cost: str
) -> dict[str, Any]:
    return {
        "run_id": "run-1",
        "kind": kind,
        "provider": provider,
        "account": account,
        "resource_id": resource,
        "instance_id": resource,
        "day": day,
        "billing_period": "2026-03",
        "billed_hours": 24.0,
        "measured_hours": None,
        "cpu_hours": None,
        "vcpus": None,
        "cost": Decimal(cost),
        "effective_cost": Decimal(cost),
        "flagged_cost": None,
        "currency": "USD",
        "verdict": verdict,
        "detail": None,
        "judged_at": JUDGED,
    }


@dataclass
class World:
    url: str
    secrets: dict[str, str]

    def get(self, who: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.secrets[who]}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            return http.get("/v1/reconciliation", params=params)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = create_app(local_settings(Path(tmp_path_factory.mktemp("findings")) / "home"))
    svc: Services = app.state.services
    for site in (A, B):
        svc.add_site(site)
    svc.control.claim_billing_account(BillingAccount("azure", "sub-b", B, JUDGED))
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in ROWS:
        by_day.setdefault(row[4], []).append(_row(*row))
    for day, rows in by_day.items():
        key = partition_key("reconciliation", day, "run-1.parquet")
        svc.warehouse.write_parquet(key, pa.Table.from_pylist(rows, schema=RECONCILIATION_SCHEMA))
    secrets = {
        "key-A": svc.create_key(A).plain,
        "billing-B": svc.create_key(B, scopes=("billing:read",)).plain,
        "reports-B": svc.create_key(B, scopes=("reports:read",)).plain,
    }
    for role, scope in (
        ("site_manager", A),
        ("finance", None),
        ("admin", None),
        ("vo_manager", "atlas"),
        ("user", None),
    ):
        person = svc.people.add_person(role, f"{role}@example.org", "test")
        svc.people.add_grant(person.person_id, role, scope, "test")
        secrets[role] = svc.people.create_token(svc.people.principal_of(person), "t", 1)[1]
    with running_app(app) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secrets['key-A']}"}) as http:
            assert http.post("/v1/records/vms", json=[vm(1, site=A, account="111")]).json()["accepted"] == 1
        yield World(url, secrets)


def _seen(answer: httpx.Response) -> list[tuple[str, str, str]]:
    assert answer.status_code == 200, answer.text
    return sorted((r["provider"], str(r["day"]), r["verdict"]) for r in answer.json()["rows"])


def expected(accounts: set[tuple[str, str]] | None, include_ok: bool = False) -> list[tuple[str, str, str]]:
    return sorted(
        (p, d.isoformat(), v)
        for _k, p, a, _r, d, v, _c in ROWS
        if (accounts is None or (p, a) in accounts) and (include_ok or v != "ok")
    )


def test_finance_and_admins_read_every_finding(world: World) -> None:
    assert _seen(world.get("finance")) == expected(None) and len(expected(None)) == 4
    assert _seen(world.get("admin", include_ok="true")) == expected(None, include_ok=True)
    assert _seen(world.get("finance", kind="invoice")) == [("aws", "2026-03-01", "invoice_mismatch")]
    assert _seen(world.get("finance", verdict=["not_ours", "ok"])) == [
        ("aws", "2026-03-01", "ok"),
        ("azure", "2026-03-02", "not_ours"),
    ]
    assert _seen(world.get("finance", period="2026-04")) == []


def test_money_is_exact(world: World) -> None:
    rows = world.get("finance", kind="invoice").json()["rows"]
    assert [Decimal(r["cost"]) for r in rows] == [Decimal("0.000000000000000001")]


def test_sites_read_the_findings_on_their_own_accounts(world: World) -> None:
    assert _seen(world.get("site_manager")) == expected({("aws", "111")})
    assert _seen(world.get("billing-B")) == expected({("azure", "sub-b")})
    assert _seen(world.get("admin", site=B)) == expected({("azure", "sub-b")})
    assert _seen(world.get("admin", site=A)) == expected({("aws", "111")})


def test_others_are_refused(world: World) -> None:
    for who, params in (
        ("site_manager", {"site": B}),
        ("billing-B", {"site": A}),
        ("vo_manager", {}),
        ("user", {}),
        ("key-A", {}),
        ("reports-B", {}),
    ):
        answer = world.get(who, **params)
        assert answer.status_code == 403, (who, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


def test_hostile_parameters_get_422(world: World) -> None:
    for params in (
        {"period": "2026-13"},
        {"period": ["2026-03", "x"]},
        {"limit": 0},
        {"limit": 5001},
        {"limit": "NaN"},
        {"kind": "everything"},
        {"include_ok": "perhaps"},
        {"verdict": [f"v{n}" for n in range(51)]},
        {"verdict": "v" * 65},
        {"site": "s" * 257},
    ):
        answer = world.get("finance", **params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_limit_says_when_rows_were_left_out(world: World) -> None:
    body = world.get("finance", limit=3).json()
    assert len(body["rows"]) == 3 and body["truncated"] is True
    assert world.get("finance", limit=4).json()["truncated"] is False
