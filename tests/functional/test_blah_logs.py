"""BLAH/CREAM logs through POST /v1/logs/blah (real HTTP): stored as grid_identities with the site
and resource of the post, once (a repost writes nothing), unreadable lines quarantined; and joined
to jobs posted without a global user or VO by the view jobs_identified, whichever arrived first.

Expected identities and joined jobs are written out by hand from the fixture lines
(tests/fixtures/batch/blah_grid_jobs.log) and the jobs posted here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.cli import tally
from tests.support.deployments import Deployment, local_settings
from tests.support.paths import FIXTURES
from tests.support.records import job
from tests.support.servers import running_app
from tests.support.warehouse import quarantined, rows

LOG = FIXTURES / "batch" / "blah_grid_jobs.log"
A = "SITE-A"
CE = "ce1.example.org:8443/cream-slurm-long"
ANN, BEN, DEE = (f"/DC=org/DC=example/CN={n} Grid" for n in ("Ann", "Ben", "Dee"))
#: The identities the fixture's lines give, by hand: line 2 repeats line 1's job (a secondary
#: FQAN, skipped), line 1's first userFQAN is the primary one; lines 7 (no userDN) and 8 (no time)
#: are unreadable.
IDENTITIES = {
    ("1001.batch1", "2026-02-28T21:01:00Z"): (
        ANN,
        "/atlas/uk/Role=production/Capability=NULL",
        "atlas",
        "/atlas/uk",
        "Role=production",
        "CREAM000000001",
        "atlasprd001",
    ),
    ("1002", "2026-02-10T08:00:00Z"): (
        "/DC=org/DC=example/CN=Early Grid",
        "/lhcb",
        "lhcb",
        "/lhcb",
        None,
        "CREAM000000000",
        "lhcb002",
    ),
    ("1002", "2026-02-28T21:02:00Z"): (
        BEN,
        "/cms/Role=NULL/Capability=NULL",
        "cms",
        "/cms",
        None,
        "CREAM000000002",
        "cms001",
    ),
    ("1003", "2025-12-01T00:00:00Z"): (
        "/DC=org/DC=example/CN=Old Grid",
        "/lhcb",
        "lhcb",
        "/lhcb",
        None,
        "CREAM000000003",
        "lhcb001",
    ),
    ("1004", "2026-02-28T21:04:00Z"): (DEE, "/dteam", "dteam", "/dteam", None, "CREAM000000004", "dteam001"),
}

#: Jobs (tests.support.records.job n: local_job_id 1000+n, end 2026-03-01 00:0n) and what they are
#: once joined: (resource, local_job_id) -> (global_user, vo, vo_group, vo_role, infrastructure).
JOBS: list[dict[str, Any]] = [
    job(1),  # 1001 matches 1001.batch1 (3 hours before its end)
    job(2),  # 1002: two lines; the one submitted last before the end (Ben) wins over Early's
    job(3),  # 1003: its line is 90 days older than the end, outside the 28 days: no identity
    job(4, global_user="/CN=Own Record", vo="ops"),  # says who it is itself: kept
    job(5),  # 1005: its line was unreadable
    job(1, resource="cluster2"),  # another cluster's 1001: BLAH lines were posted for cluster1
    job(6, vo="atlas"),  # 1006: no line
]
JOINED = {
    ("cluster1", "1001"): (ANN, "atlas", "/atlas/uk", "Role=production", "grid"),
    ("cluster1", "1002"): (BEN, "cms", "/cms", None, "grid"),
    ("cluster1", "1003"): (None, None, None, None, "hpc"),
    ("cluster1", "1004"): ("/CN=Own Record", "ops", None, None, "hpc"),
    ("cluster1", "1005"): (None, None, None, None, "hpc"),
    ("cluster2", "1001"): (None, None, None, None, "hpc"),
    ("cluster1", "1006"): (None, "atlas", None, None, "hpc"),
}


def post_log(http: httpx.Client, body: bytes, resource: str = "cluster1") -> httpx.Response:
    return http.post(
        "/v1/logs/blah", content=body, params={"resource": resource}, headers={"Content-Type": "text/plain"}
    )


def as_text(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def stored_identities(svc: Services) -> dict[tuple[object, object], tuple[object, ...]]:
    found = {}
    for r in rows(svc.warehouse, "grid_identities"):
        assert (r["site"], r["resource"], r["ce"]) == (A, "cluster1", CE)
        found[(r["lrms_id"], as_text(r["submit_time"]))] = tuple(
            r[k] for k in ("global_user", "fqan", "vo", "vo_group", "vo_role", "grid_job_id", "local_user")
        )
    return found


def joined(svc: Services) -> dict[tuple[object, object], tuple[object, ...]]:
    table = svc.engine.query(
        "SELECT resource, local_job_id, global_user, vo, vo_group, vo_role, infrastructure "
        "FROM jobs_normalised WHERE site = ?",
        (A,),
    ).table
    return {(r["resource"], r["local_job_id"]): tuple(list(r.values())[2:]) for r in table.to_pylist()}


def test_a_blah_log_is_stored_once_with_its_unreadable_lines_quarantined(deployment: Deployment) -> None:
    svc = deployment.services
    with deployment.client() as http:
        answer = post_log(http, LOG.read_bytes())
        assert answer.status_code == 200, answer.text
        first = answer.json()
        assert (first["kind"], first["lines"], first["records"], first["skipped"], first["unparsable"]) == (
            "grid_identities",
            8,
            5,
            1,
            2,
        )
        assert (first["accepted"], first["rejected"], first["replayed"]) == (5, 0, False)
        assert [p["line"] for p in first["problems"]] == [7, 8]
        assert stored_identities(svc) == IDENTITIES
        lines = sorted(str(q["line"]) for q in quarantined(svc.warehouse, "logs/blah"))
        assert lines == ["7", "8"]
        keys = sorted(svc.warehouse.list_keys(""))
        again = post_log(http, LOG.read_bytes()).json()
        assert again["replayed"] is True and again["accepted"] == 5
        assert sorted(svc.warehouse.list_keys("")) == keys
        # Fenced as every record: a key restricted to cluster1 cannot post another cluster's log.
        narrow = svc.create_key(A, resources=("cluster1",)).plain
    with deployment.client(narrow) as http:
        refused = post_log(http, LOG.read_bytes(), resource="cluster9")
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        garbage = post_log(http, b"this is not a BLAH line\n")
        assert garbage.status_code == 422


@pytest.mark.parametrize("order", ["jobs first", "blah first"])
def test_jobs_get_their_grid_identity_whichever_arrives_first(tmp_path: Path, order: str) -> None:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    svc.add_site(A)
    key = svc.create_key(A).plain
    with (
        running_app(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http,
    ):

        def jobs() -> None:
            answer = http.post("/v1/records/jobs", json=JOBS)
            assert answer.status_code == 200 and answer.json()["accepted"] == len(JOBS), answer.text

        def blah() -> None:
            assert post_log(http, LOG.read_bytes()).json()["accepted"] == 5

        for step in (jobs, blah) if order == "jobs first" else (blah, jobs):
            step()
        assert joined(svc) == JOINED
        # The stored jobs are as posted: the identity is the view's, not written into them.
        assert {r["global_user"] for r in rows(svc.warehouse, "jobs")} == {None, "/CN=Own Record"}
        # Reports read the joined view: core-hours by VO, worked out from JOBS (4 cores x 2 hours).
        report = http.get(
            "/v1/reports/jobs",
            params={"from": "2026-02-01", "to": "2026-04-01", "group_by": "vo", "metrics": "core_hours"},
        )
        assert report.status_code == 200, report.text
        by_vo = {r["vo"]: r["core_hours"] for r in report.json()["rows"]}
        assert by_vo == {"atlas": 16.0, "cms": 8.0, "ops": 8.0, None: 24.0}


def test_the_shared_cream_sample_gives_apel_s_identity(deployment: Deployment, shared_data: Path) -> None:
    spec = json.loads((shared_data / "batch" / "apel_blah_cream.expected.json").read_text())
    first = spec["cases"][0]["expected"]
    with deployment.client() as http:
        answer = post_log(http, (shared_data / "batch" / "apel_blah_cream.log").read_bytes())
        assert answer.status_code == 200, answer.text
        # Both lines are the same job (lrmsID and timestamp): the first line's FQAN is kept.
        assert (answer.json()["records"], answer.json()["skipped"], answer.json()["accepted"]) == (1, 1, 1)
    (row,) = rows(deployment.services.warehouse, "grid_identities")
    assert (as_text(row["submit_time"]), row["global_user"], row["fqan"]) == (
        first["TimeStamp"],
        first["GlobalUserName"],
        first["FQAN"],
    )
    assert (row["vo"], row["vo_group"], row["vo_role"]) == (first["VO"], first["VOGroup"], first["VORole"])
    assert (row["ce"], row["grid_job_id"], row["lrms_id"]) == (
        first["CE"],
        first["GlobalJobId"],
        first["LrmsId"],
    )


def test_tally_logs_import_takes_a_blah_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", A).returncode == 0
    args = ("logs", "import", "blah", str(LOG), "--site", A, "--resource", "cluster1", "--json")
    first = tally(home, *args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert (result["kind"], result["records"], result["accepted"], result["unparsable"]) == (
        "grid_identities",
        5,
        5,
        2,
    )
    again = json.loads(tally(home, *args).stdout)
    assert again["replayed"] is True
    assert stored_identities(Services(local_settings(home))) == IDENTITIES
