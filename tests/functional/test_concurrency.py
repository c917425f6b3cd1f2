"""Many clients posting overlapping batches at once: rows, dedupe and sync state stay exact."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from tests.support.deployments import Deployment
from tests.support.records import GZIP_NDJSON, gzipped, job
from tests.support.warehouse import rows


def test_overlapping_concurrent_posts(deployment: Deployment) -> None:
    rng = random.Random(7)
    universe = [job(n, cpu_seconds=n) for n in range(600)]
    # Windows that overlap each other, some posted twice (a retried batch), in random order.
    batches = [universe[start : start + 150] for start in range(0, 500, 50)]
    batches += [batches[2], batches[5], batches[5]]
    rng.shuffle(batches)

    def post(batch: list[dict[str, object]]) -> dict[str, object]:
        with httpx.Client(base_url=deployment.url, timeout=120) as http:
            answer = http.post(
                "/v1/records/jobs",
                content=gzipped(batch),
                headers={**GZIP_NDJSON, "Authorization": f"Bearer {deployment.key}"},
            )
            assert answer.status_code == 200, answer.text
            result: dict[str, object] = answer.json()
            return result

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, batches))

    distinct_batches = {tuple(str(r["local_job_id"]) for r in b) for b in batches}
    assert len({a["batch_id"] for a in answers}) == len(distinct_batches)
    assert all(a["accepted"] == 150 for a in answers)

    stored = rows(deployment.services.warehouse, "jobs")
    identities = {(r["site"], r["resource"], r["local_job_id"], r["end_time"]) for r in stored}
    posted = {str(r["local_job_id"]) for b in batches for r in b}
    assert len(identities) == len(posted) == 600
    # Each distinct batch is written once (a concurrent retry overwrites the same objects).
    assert len(stored) == 150 * len(distinct_batches)

    with httpx.Client(base_url=deployment.url, headers={"Authorization": f"Bearer {deployment.key}"}) as http:
        state = http.get("/v1/sync-state", params={"resource": "cluster1", "kind": "jobs"}).json()
    latest = max(datetime.strptime(str(r["end_time"]), "%Y-%m-%dT%H:%M:%SZ") for b in batches for r in b)
    assert state["latest_event_time"] == latest.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Distinct records, however many overlapping batches carried them.
    assert state["record_count"] == len(posted) == 600


def test_the_same_batch_posted_eight_times_at_once(deployment: Deployment) -> None:
    batch = [job(n) for n in range(200)]
    body = gzipped(batch)

    def post(_: int) -> dict[str, object]:
        with httpx.Client(base_url=deployment.url, timeout=120) as http:
            answer = http.post(
                "/v1/records/jobs",
                content=body,
                headers={**GZIP_NDJSON, "Authorization": f"Bearer {deployment.key}"},
            )
            assert answer.status_code == 200, answer.text
            result: dict[str, object] = answer.json()
            return result

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    assert len({a["batch_id"] for a in answers}) == 1
    assert all(a["accepted"] == 200 for a in answers)
    stored = rows(deployment.services.warehouse, "jobs")
    assert len(stored) == 200
    assert not [k for k in deployment.services.warehouse.list_keys("") if not k.endswith(".parquet")]
    with httpx.Client(base_url=deployment.url, headers={"Authorization": f"Bearer {deployment.key}"}) as http:
        state = http.get("/v1/sync-state", params={"resource": "cluster1", "kind": "jobs"}).json()
    assert state["record_count"] == 200
