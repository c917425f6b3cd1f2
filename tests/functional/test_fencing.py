"""Keys fence each site (and optionally resources) to its own records."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.deployments import Deployment
from tests.support.records import NDJSON, job, ndjson, storage
from tests.support.warehouse import rows


def _nothing_written(d: Deployment) -> bool:
    return d.services.warehouse.list_keys("") == []


def test_a_record_for_another_site_refuses_the_whole_batch(deployment: Deployment) -> None:
    with deployment.client() as http:
        answer = http.post("/v1/records/jobs", json=[job(1), job(2, site="SITE-B"), job(3)])
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "SITE-B" in answer.json()["detail"]
    assert _nothing_written(deployment)


def test_a_foreign_site_inside_an_otherwise_invalid_record_still_refuses(deployment: Deployment) -> None:
    with deployment.client() as http:
        answer = http.post("/v1/records/jobs", json=[job(1), job(2, site="SITE-B", cores="x")])
    assert answer.status_code == 403
    assert _nothing_written(deployment)


def test_resource_restricted_key(deployment: Deployment) -> None:
    key = deployment.services.create_key("SITE-A", ("cluster1",)).plain
    with deployment.client(key) as http:
        ok = http.post("/v1/records/jobs", json=[job(1, resource="cluster1")])
        refused = http.post(
            "/v1/records/jobs", json=[job(2, resource="cluster1"), job(3, resource="cluster2")]
        )
        # Storage records name their resource in storage_system.
        refused_storage = http.post("/v1/records/storage", json=[storage(1)])
        read_other = http.get("/v1/sync-state", params={"resource": "cluster2", "kind": "jobs"})
        read_own = http.get("/v1/sync-state", params={"resource": "cluster1", "kind": "jobs"})
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    assert refused.status_code == 403 and "cluster2" in refused.json()["detail"]
    assert refused_storage.status_code == 403
    assert read_other.status_code == 403
    assert read_own.json()["record_count"] == 1
    assert len(rows(deployment.services.warehouse, "jobs")) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer tly_0000000000000000_" + "A" * 43,
    ],
    ids=["missing", "empty", "no-token", "basic", "malformed", "unknown-id"],
)
def test_missing_or_unknown_keys_get_401(deployment: Deployment, authorization: str | None) -> None:
    headers = dict(NDJSON)
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = httpx.post(f"{deployment.url}/v1/records/jobs", content=ndjson([job(1)]), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert _nothing_written(deployment)


def test_wrong_secret_for_a_real_key_id_is_401(deployment: Deployment) -> None:
    key_id = deployment.key.split("_")[1]
    forged = f"tly_{key_id}_{'B' * 43}"
    with deployment.client(forged) as http:
        assert http.post("/v1/records/jobs", json=[job(1)]).status_code == 401


def test_a_revoked_key_stops_working_at_once(deployment: Deployment) -> None:
    new = deployment.services.create_key("SITE-A")
    with deployment.client(new.plain) as http:
        assert http.post("/v1/records/jobs", json=[job(1)]).status_code == 200
        assert deployment.services.control.revoke_key(new.record.key_id, datetime.now(UTC))
        answer = http.post("/v1/records/jobs", json=[job(2)])
        assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
        assert http.get("/v1/sync-state", params={"resource": "cluster1"}).status_code == 401


def test_keys_are_stored_hashed(deployment: Deployment) -> None:
    new = deployment.services.create_key("SITE-A")
    stored = deployment.services.control.get_key(new.record.key_id)
    assert stored is not None
    secret = new.plain.split("_", 2)[2]
    assert secret not in stored.secret_hash and new.plain not in repr(stored)
    # HMAC-SHA256 under the key's own salt, over "<key id>:<secret>" (see tally.domain.control).
    scheme, salt, digest = stored.secret_hash.split("$")
    expected = hmac.new(bytes.fromhex(salt), f"{new.record.key_id}:{secret}".encode(), hashlib.sha256)
    assert (scheme, len(salt)) == ("s1", 32) and digest == expected.hexdigest()


def test_a_site_reads_only_its_own_sync_state(deployment: Deployment) -> None:
    other = deployment.services.create_key("SITE-B").plain
    with deployment.client() as http:
        http.post("/v1/records/jobs", json=[job(1)])
    with deployment.client(other) as http:
        state = http.get("/v1/sync-state", params={"resource": "cluster1", "kind": "jobs"}).json()
    assert state == {
        "site": "SITE-B",
        "kind": "jobs",
        "resource": "cluster1",
        "latest_event_time": None,
        "record_count": 0,
    }
