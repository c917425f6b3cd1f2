"""POST /v1/apel over real HTTP: every format through the route, the site fence, replays, and
hostile input answered with a 4xx or a counted error, never a 500."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.apel.helpers import SITE, fixture
from tests.support.deployments import Deployment, local_settings
from tests.support.servers import running_app
from tests.support.warehouse import rows

FILES = {
    "job_v01.txt": ("jobs", 2),
    "job_v02.txt": ("jobs", 1),
    "job_v03.txt": ("jobs", 1),
    "job_v04.txt": ("jobs", 3),
    "summary_v02.txt": ("summaries", 2),
    "normalised_summary_v03.txt": ("summaries", 1),
    "normalised_summary_v04.txt": ("summaries", 2),
    "sync_v01.txt": ("syncs", 2),
    "cloud_v04.txt": ("vms", 2),
    "cloud_summary_v04.txt": ("summaries", 2),
    "star.xml": ("storage", 2),
    "accelerator_v01.json": ("accelerators", 1),
}


def _as(site: str, name: str) -> bytes:
    return fixture(name).replace(SITE.encode(), site.encode())


def test_every_format_through_the_route(deployment: Deployment) -> None:
    with deployment.client() as http:
        for name, (kind, count) in FILES.items():
            answer = http.post("/v1/apel", content=_as("SITE-A", name))
            assert answer.status_code == 200, (name, answer.text)
            body = answer.json()
            assert (body["kind"], body["accepted"], body["rejected"], body["site"]) == (
                kind,
                count,
                0,
                "SITE-A",
            )
        again = http.post("/v1/apel", content=_as("SITE-A", "job_v04.txt")).json()
    assert again["replayed"] is True
    wh = deployment.services.warehouse
    assert len(rows(wh, "jobs")) == 7 and len(rows(wh, "summaries")) == 7 and len(rows(wh, "syncs")) == 2


def test_gzip_and_another_sites_records(deployment: Deployment) -> None:
    with deployment.client() as http:
        zipped = http.post(
            "/v1/apel",
            content=gzip.compress(_as("SITE-A", "sync_v01.txt")),
            headers={"Content-Encoding": "gzip"},
        )
        foreign = http.post("/v1/apel", content=_as("SITE-B", "job_v04.txt"))
        nobody = http.post("/v1/apel", content=_as("SITE-A", "job_v04.txt"), headers={"Authorization": ""})
    assert zipped.status_code == 200 and zipped.json()["accepted"] == 2
    assert foreign.status_code == 403 and "SITE-B" in foreign.json()["detail"]
    assert nobody.status_code == 401
    assert rows(deployment.services.warehouse, "jobs") == []


SYNC = "APEL-sync-message: v0.1\nSite: SITE-A\nNumberOfJobs: 1\nMonth: 3\nYear: 2026\n%%\n"
JOB = (
    "Site: SITE-A\nSubmitHost: ce1\nLocalJobId: {n}\nWallDuration: 10\nCpuDuration: 5\n"
    "StartTime: 1772323200\nEndTime: 1772323210\nGlobalUserName: /C=UK/O=Example/CN={pad}\n%%\n"
)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"", {}, 422),
        (b"\n\n  \n", {}, 422),
        (b"APEL-sync-message: v0.1\n", {}, 422),
        (b"APEL-sync-message: v9.9\nSite: SITE-A\n%%\n", {}, 422),
        (b"Hello: world\nSite: SITE-A\n%%\n", {}, 422),
        (b"no header line at all", {}, 422),
        (b"APEL-sync-message: v0.1\nSite: Z\xfcrich\n%%\n", {}, 400),  # Latin-1, not UTF-8
        (bytes(range(256)) * 8, {}, 400),
        (gzip.compress(SYNC.encode())[:-9], {"Content-Encoding": "gzip"}, 400),
        (SYNC.encode(), {"Content-Encoding": "br"}, 415),
        (b"<not-xml", {}, 422),
        (b"{not json", {}, 422),
        (b'{"Type": "APEL-accelerator-message", "UsageRecords": []}', {}, 422),
        (b'{"Type": "something-else"}', {}, 422),
        (b"MIME-Version: 1.0\nContent-Type: application/pkcs7-mime\n\nnot a signature", {}, 403),
    ],
    ids=[
        "empty",
        "blank",
        "header-only",
        "unknown-version",
        "unknown-type",
        "no-header",
        "latin-1",
        "binary",
        "truncated-gzip",
        "brotli",
        "broken-xml",
        "broken-json",
        "no-usage-records",
        "other-json",
        "broken-smime",
    ],
)
def test_hostile_bodies_get_a_4xx(
    deployment: Deployment, body: bytes, headers: dict[str, str], status: int
) -> None:
    with deployment.client() as http:
        answer = http.post("/v1/apel", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [k for k in deployment.services.warehouse.list_keys("") if k.endswith(".parquet")] == []


def test_truncated_and_duplicated_records_are_counted_errors(deployment: Deployment) -> None:
    whole = "APEL-individual-job-message: v0.4\n" + JOB.format(n=1, pad="a") + JOB.format(n=2, pad="b")
    cut = whole[: whole.rindex("WallDuration") + 6]  # the second record ends mid-key
    doubled = "APEL-individual-job-message: v0.4\n" + JOB.format(n=1, pad="a") * 2
    with deployment.client() as http:
        truncated = http.post("/v1/apel", content=cut).json()
        duplicated = http.post("/v1/apel", content=doubled).json()
    assert (truncated["accepted"], truncated["rejected"]) == (1, 1)
    assert truncated["errors"][0]["record"] == 1
    # The same record twice in one message: one is kept, the other counted as a duplicate.
    assert (duplicated["accepted"], duplicated["duplicates"], duplicated["rejected"]) == (1, 1, 0)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Deployment]:
    """Local mode only: 1,200 records a post are a load test for moto's DynamoDB, not for Tally."""
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    with running_app(app) as url:
        yield Deployment(url, svc, "SITE-A", svc.create_key("SITE-A").plain)


def test_messages_over_the_sender_limits_are_taken_in_and_counted(local: Deployment) -> None:
    deployment = local
    records = "".join(JOB.format(n=n, pad="x" * 900) for n in range(1200))
    body = ("APEL-individual-job-message: v0.4\n" + records).encode()
    assert len(body) > 1_000_000
    small = ("APEL-individual-job-message: v0.4\n" + JOB.format(n=5000, pad="y")).encode()
    with deployment.client() as http:
        big = http.post("/v1/apel", content=body).json()
        fine = http.post("/v1/apel", content=small).json()
    assert (big["records"], big["accepted"], big["over_sender_limits"]) == (1200, 1200, ["records", "bytes"])
    assert big["bytes"] == len(body)
    assert fine["over_sender_limits"] == []
