"""Key scopes and key hashing, over real HTTP, against both control stores (SQLite, DynamoDB on moto)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import pytest

from tally.domain.control import ApiKey
from tests.support.deployments import Deployment
from tests.support.records import job
from tests.support.warehouse import rows

PROBLEM = "application/problem+json"
REPORT = {"from": "2026-03-01", "to": "2026-04-01", "group_by": "site", "metrics": "jobs"}
VO_ENTRY = {"match_field": "project", "match_value": "p1", "vo": "atlas"}


def _stored_before_scopes(d: Deployment, resources: tuple[str, ...]) -> str:
    """A key as the control store held it before scopes and salting: no scopes, bare SHA-256."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    legacy = ApiKey(key_id, d.site, hashlib.sha256(secret.encode()).hexdigest(), datetime.now(UTC), resources)
    d.services.control.add_key(legacy)
    return f"tly_{key_id}_{secret}"


def test_a_billing_key_posts_bills_and_nothing_else(deployment: Deployment) -> None:
    key = deployment.services.create_key(deployment.site, scopes=("billing:write",)).plain
    with deployment.client(key) as http:
        record = http.post("/v1/records/jobs", json=[job(1, resource="billing")])
        report = http.get("/v1/reports/jobs", params=REPORT)
        registry_add = http.post("/v1/registry/vo_mapping", json=VO_ENTRY)
        registry_list = http.get("/v1/registry/vo_mapping")
        sync = http.get("/v1/sync-state", params={"resource": "billing"})
        bills = http.get("/v1/billing")
    for answer in (record, report, registry_add, registry_list, sync, bills):
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert "billing:write" in answer.json()["detail"]
    assert "records:write" in record.json()["detail"] and "reports:read" in report.json()["detail"]
    # Reads nothing, not even the bills it posts (issue 13): listing needs billing:read.
    assert "billing:read" in bills.json()["detail"]
    assert rows(deployment.services.warehouse, "jobs") == []
    assert deployment.services.registry.list_entries("vo_mapping") == []


def test_the_legacy_resource_billing_form_makes_a_bills_only_key(deployment: Deployment) -> None:
    new = deployment.services.create_key(deployment.site, ("billing",))
    assert (new.record.scopes, new.record.resources) == (("billing:write",), ())
    with deployment.client(new.plain) as http:
        assert http.post("/v1/records/jobs", json=[job(1, resource="billing")]).status_code == 403
    assert rows(deployment.services.warehouse, "jobs") == []


def test_default_scopes_keep_an_agent_key_working(deployment: Deployment) -> None:
    with deployment.client() as http:
        posted = http.post("/v1/records/jobs", json=[job(1)])
        sync = http.get("/v1/sync-state", params={"resource": "cluster1"})
        added = http.post("/v1/registry/vo_mapping", json=VO_ENTRY)
        listed = http.get("/v1/registry/vo_mapping")
        bills = http.post("/v1/billing", content=b"x", headers={"Content-Type": "text/csv"})
        bill_list = http.get("/v1/billing")
    assert posted.json()["accepted"] == 1 and sync.json()["record_count"] == 1
    assert added.status_code == 201 and [e["vo"] for e in listed.json()] == ["atlas"]
    assert bills.status_code == 403 and bill_list.status_code == 403


def test_a_reports_only_key_reads_but_cannot_write(deployment: Deployment) -> None:
    with deployment.client() as http:
        http.post("/v1/records/jobs", json=[job(1), job(2)])
    key = deployment.services.create_key(deployment.site, scopes=("reports:read",)).plain
    with deployment.client(key) as http:
        posted = http.post("/v1/records/jobs", json=[job(3)])
        registry = http.get("/v1/registry/resources")
        # Reports run on DuckDB locally; moto runs no Athena query, so only local mode reads one.
        report = (
            http.get("/v1/reports/jobs", params=REPORT)
            if deployment.services.settings.mode == "local"
            else None
        )
    if report is not None:
        assert report.status_code == 200, report.text
        assert report.json()["rows"] == [{"site": "SITE-A", "jobs": 2}]
    assert posted.status_code == 403 and registry.status_code == 403
    assert len(rows(deployment.services.warehouse, "jobs")) == 2


def test_keys_stored_before_scopes_read_with_the_defaults_or_as_billing_keys(deployment: Deployment) -> None:
    agent = _stored_before_scopes(deployment, ())
    billing = _stored_before_scopes(deployment, ("billing",))
    with deployment.client(agent) as http:
        assert http.post("/v1/records/jobs", json=[job(1)]).json()["accepted"] == 1
        assert http.get("/v1/registry/vo_mapping").status_code == 200
    with deployment.client(billing) as http:
        assert http.post("/v1/records/jobs", json=[job(2, resource="billing")]).status_code == 403
        assert http.get("/v1/registry/vo_mapping").status_code == 403
        assert http.get("/v1/billing").status_code == 403  # a bills-only key reads nothing
    assert len(rows(deployment.services.warehouse, "jobs")) == 1


def test_a_legacy_hash_verifies_and_is_rewritten_salted_on_first_use(deployment: Deployment) -> None:
    plain = _stored_before_scopes(deployment, ())
    key_id, secret = plain.split("_", 2)[1:]
    before = deployment.services.control.get_key(key_id)
    assert before is not None and before.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    forged = f"tly_{key_id}_{'C' * 43}"
    with deployment.client(forged) as http:
        assert http.get("/v1/sync-state", params={"resource": "cluster1"}).status_code == 401
    unchanged = deployment.services.control.get_key(key_id)
    assert (
        unchanged is not None and unchanged.secret_hash == before.secret_hash
    )  # a wrong secret upgrades nothing
    with deployment.client(plain) as http:
        assert http.get("/v1/sync-state", params={"resource": "cluster1"}).status_code == 200
    after = deployment.services.control.get_key(key_id)
    assert after is not None and after.secret_hash.startswith("s1$") and secret not in after.secret_hash
    with deployment.client(plain) as http:  # still works in the new form; the forgery still does not
        assert http.get("/v1/sync-state", params={"resource": "cluster1"}).status_code == 200
    with deployment.client(forged) as http:
        assert http.get("/v1/sync-state", params={"resource": "cluster1"}).status_code == 401


def test_a_hash_copied_onto_another_key_id_does_not_verify(deployment: Deployment) -> None:
    first = deployment.services.create_key(deployment.site)
    second = deployment.services.create_key(deployment.site)
    assert first.record.secret_hash.split("$")[1] != second.record.secret_hash.split("$")[1]  # own salts
    secret = first.plain.split("_", 2)[2]
    # The same secret presented under the second key's id fails: the hash binds the key id.
    with deployment.client(f"tly_{second.record.key_id}_{secret}") as http:
        assert http.get("/v1/sync-state", params={"resource": "cluster1"}).status_code == 401


@pytest.mark.parametrize("scopes", [("records:read",), ()], ids=["unknown", "none"])
def test_keys_need_known_scopes(deployment: Deployment, scopes: tuple[str, ...]) -> None:
    from tally.domain.control import ControlError

    with pytest.raises(ControlError):
        deployment.services.create_key(deployment.site, scopes=scopes)
