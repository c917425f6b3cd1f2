"""The billing fence: an account belongs to the first site that stores it; no other site's key may
restate or read it. Real HTTP, both control stores; the bills are the demo's FOCUS exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pyarrow.compute as pc

from tally.billing import import_billing
from tally.demo.bills import DemoBill, generate_bills
from tally.domain.control import OPERATOR_OWNER, BillingAccount
from tally.services.billing import BillingOwnershipError
from tally.services.container import Services
from tally.settings import Settings
from tests.support.deployments import Deployment
from tests.support.warehouse import rows

PROBLEM = "application/problem+json"
AWS_BILL, AZURE_BILL = generate_bills(datetime(2026, 6, 15, tzinfo=UTC))
AWS_ACCOUNT, PERIOD = "123456789012", "2026-05"


def _restated(bill: DemoBill, factor: int) -> bytes:
    """The same bill with every BilledCost multiplied (a different file, so a new delivery)."""
    header, *body = list(csv.reader(io.StringIO(bill.content.decode())))
    column = header.index("BilledCost")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for cells in body:
        cells[column] = str(Decimal(cells[column]) * factor)
        writer.writerow(cells)
    return out.getvalue().encode()


def _post(d: Deployment, key: str, body: bytes, name: str) -> httpx.Response:
    with d.client(key) as http:
        return http.post(
            "/v1/billing", content=body, headers={"Content-Type": "text/csv"}, params={"filename": name}
        )


def _billing_keys(d: Deployment) -> tuple[str, str]:
    a = d.services.create_key("SITE-A", scopes=("billing:write",)).plain
    b = d.services.create_key("SITE-B", scopes=("billing:write",)).plain
    return a, b


def test_another_sites_key_cannot_replace_an_account(deployment: Deployment) -> None:
    key_a, key_b = _billing_keys(deployment)
    first = _post(deployment, key_a, AWS_BILL.content, AWS_BILL.filename)
    assert first.status_code == 200, first.text
    expected_rows = import_billing(AWS_BILL.content, AWS_BILL.filename).accepted_rows
    stored = rows(deployment.services.warehouse, "billing")
    assert len(stored) == expected_rows == 116
    keys_before = sorted(deployment.services.warehouse.list_keys("billing/"))

    foreign = _post(deployment, key_b, _restated(AWS_BILL, 2), "restated.csv")
    assert foreign.status_code == 403 and foreign.headers["content-type"] == PROBLEM
    assert AWS_ACCOUNT in foreign.json()["detail"]
    assert sorted(deployment.services.warehouse.list_keys("billing/")) == keys_before
    assert rows(deployment.services.warehouse, "billing") == stored  # A's rows, untouched
    assert deployment.services.warehouse.list_keys("quarantine/") == []

    # The owner may restate it.
    own = _post(deployment, key_a, _restated(AWS_BILL, 2), "restated.csv")
    assert own.status_code == 200 and [p["action"] for p in own.json()["partitions"]] == ["replaced"]
    owner = deployment.services.control.get_billing_account("aws", AWS_ACCOUNT)
    assert owner is not None and owner.owner == "SITE-A"


def test_a_file_holding_one_foreign_account_is_refused_whole(deployment: Deployment) -> None:
    key_a, key_b = _billing_keys(deployment)
    assert _post(deployment, key_a, AZURE_BILL.content, AZURE_BILL.filename).status_code == 200
    # B's file: an account of its own (new) and A's Azure account.
    mixed = AWS_BILL.content + b"\n".join(AZURE_BILL.content.splitlines()[1:]) + b"\n"
    assert AWS_BILL.content.splitlines()[0] == AZURE_BILL.content.splitlines()[0]  # one FOCUS header
    answer = _post(deployment, key_b, mixed, "mixed.csv")
    assert answer.status_code == 403
    assert deployment.services.control.get_billing_account("aws", AWS_ACCOUNT) is None  # B claimed nothing
    providers = set(pc.unique(import_billing(mixed, "mixed.csv").table["provider"]).to_pylist())
    assert providers == {"aws", "azure"}
    assert {r["provider"] for r in rows(deployment.services.warehouse, "billing")} == {"azure"}


def test_a_site_lists_only_its_own_accounts(deployment: Deployment) -> None:
    key_a, key_b = _billing_keys(deployment)
    assert _post(deployment, key_a, AWS_BILL.content, AWS_BILL.filename).status_code == 200
    assert _post(deployment, key_b, AZURE_BILL.content, AZURE_BILL.filename).status_code == 200
    reader_a = deployment.services.create_key("SITE-A", scopes=("billing:read",)).plain
    with deployment.client(reader_a) as http:
        listed = http.get("/v1/billing")
        own = http.get("/v1/billing", params={"billing_account_id": AWS_ACCOUNT, "billing_period": PERIOD})
        foreign = http.get("/v1/billing", params={"billing_account_id": "8611537"})
        unknown = http.get("/v1/billing", params={"billing_account_id": "nobody"})
        refused_post = http.post(
            "/v1/billing", content=AWS_BILL.content, headers={"Content-Type": "text/csv"}
        )
    assert listed.status_code == 200
    [partition] = listed.json()
    assert (partition["provider"], partition["billing_account_id"], partition["billing_period"]) == (
        "aws",
        AWS_ACCOUNT,
        PERIOD,
    )
    assert partition["rows"] == 116 and partition["source_files"] == [AWS_BILL.filename]
    assert own.json() == [partition]
    assert foreign.status_code == 403 and foreign.headers["content-type"] == PROBLEM
    assert unknown.status_code == 404
    assert refused_post.status_code == 403  # billing:read does not post
    reader_b = deployment.services.create_key("SITE-B", scopes=("billing:read",)).plain
    with deployment.client(reader_b) as http:
        assert [p["provider"] for p in http.get("/v1/billing").json()] == ["azure"]


def test_operator_imports_own_their_accounts_and_may_act_for_a_site(deployment: Deployment) -> None:
    billing = deployment.services.billing
    key_a, _ = _billing_keys(deployment)
    operator = billing.import_files([(AZURE_BILL.content, AZURE_BILL.filename)], origin="cli")
    assert [p.action for p in operator.partitions] == ["stored"]
    owner = deployment.services.control.get_billing_account("azure", "8611537")
    assert owner is not None and owner.owner == OPERATOR_OWNER
    assert _post(deployment, key_a, AZURE_BILL.content, "again.csv").status_code == 403

    assert _post(deployment, key_a, AWS_BILL.content, AWS_BILL.filename).status_code == 200
    try:
        billing.import_files([(_restated(AWS_BILL, 3), "operator.csv")], origin="cli")
    except BillingOwnershipError as exc:
        assert exc.owner == OPERATOR_OWNER and [a.owner for a in exc.foreign] == ["SITE-A"]
    else:
        raise AssertionError("an operator import restated a site's account")
    on_behalf = billing.import_files([(_restated(AWS_BILL, 3), "operator.csv")], origin="cli", site="SITE-A")
    assert [p.action for p in on_behalf.partitions] == ["replaced"]


def test_the_first_claim_of_a_billing_account_wins(settings: Settings) -> None:
    control = Services(settings).control
    now = datetime(2026, 3, 1, tzinfo=UTC)
    first = control.claim_billing_account(BillingAccount("aws", "1111", "SITE-A", now))
    again = control.claim_billing_account(BillingAccount("aws", "1111", "SITE-B", now + timedelta(days=1)))
    other = control.claim_billing_account(BillingAccount("azure", "1111", "SITE-B", now))
    assert first == again == BillingAccount("aws", "1111", "SITE-A", now)
    assert other.owner == "SITE-B"  # account ids are per provider
    assert [a.owner for a in control.list_billing_accounts("SITE-B")] == ["SITE-B"]
    assert control.get_billing_account("gcp", "1111") is None
