"""POST /v1/logs/{source} over real HTTP: a raw log gives exactly the records the agent's own parse
gives, stored once; reposting writes nothing; unreadable lines are quarantined with their reasons.

The expected records come from the agent's parser run here on the same file (the agent path the
server must reproduce), read back from the Parquet files the server wrote, not from its answer.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tally.services.container import Services
from tally_agent.context import ParseContext
from tally_agent.registry import BATCH
from tests.support.deployments import Deployment
from tests.support.paths import FIXTURES
from tests.support.warehouse import rows

OWN_FIXTURES = [
    ("slurm", "sacct_parsable2.txt", None),
    ("pbs", "pbs_torque.log", None),
    ("uge", "uge_accounting", None),
    ("lsf", "lsf_lsb.acct", None),
    ("htcondor", "htcondor_history.txt", None),
]
APEL_SLURM_FIELDS = (
    "JobID,JobName,User,Group,Start,End,Elapsed,CPUTimeRAW,"
    "Partition,NCPUS,NNodes,NodeList,MaxRSS,MaxVMSize,State"
)
SHARED_LOGS = [
    ("slurm", "apel_slurm.log", APEL_SLURM_FIELDS),
    ("pbs", "apel_pbs_torque.log", None),
    ("htcondor", "apel_htcondor.log", None),
    ("sge", "apel_sge.log", None),
    ("lsf", "apel_lsf.log", None),
    ("pbs", "shredder__pbs__input__accounting-logs.log", None),
    ("sge", "shredder__sge__input__accounting-logs.log", None),
    ("uge", "shredder__uge__input__accounting-logs.log", None),
    ("lsf", "shredder__lsf__input__accounting-logs.log", None),
    ("lsf", "shredder__lsf__input__utf8-multibyte-chars.log", None),
]
IDENTITY = ("site", "resource", "local_job_id", "end_time")


def agent_records(source: str, path: Path, site: str, fields: str | None) -> list[dict[str, Any]]:
    """What `tally-agent import SOURCE FILE` parses, as the agent reads a file."""
    ctx = ParseContext(site=site, resource="cluster1", options={"fields": fields} if fields else {})
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        records = list(BATCH[source].parse(handle, ctx))
    # The ingest keeps the last record of an identity within a batch, as it does for the agent's posts.
    last = {tuple(r.get(k) for k in IDENTITY): r for r in records}
    return list(last.values())


def as_sent(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def stored(svc: Services, site: str) -> dict[tuple[object, ...], dict[str, object]]:
    out = {}
    for row in rows(svc.warehouse, "jobs"):
        if row["site"] == site:
            sent = {k: as_sent(v) for k, v in row.items()}
            out[tuple(sent[k] for k in IDENTITY)] = sent
    return out


def all_keys(svc: Services) -> list[str]:
    return sorted(svc.warehouse.list_keys(""))


def post(http: httpx.Client, source: str, body: bytes, **params: str) -> httpx.Response:
    return http.post(
        f"/v1/logs/{source}",
        content=body,
        params={"resource": "cluster1", **params},
        headers={"Content-Type": "text/plain"},
    )


def check_log(deployment: Deployment, source: str, path: Path, fields: str | None) -> None:
    svc = deployment.services
    want = agent_records(source, path, deployment.site, fields)
    assert want, f"{path.name} gives no records: the test would prove nothing"
    params = {"fields": fields} if fields else {}
    before = stored(svc, deployment.site)
    with deployment.client() as http:
        answer = post(http, source, path.read_bytes(), **params)
        assert answer.status_code == 200, answer.text
        first = answer.json()
        got = stored(svc, deployment.site)
        new = {k: v for k, v in got.items() if k not in before}
        assert len(new) == len(want) == first["accepted"] and first["rejected"] == 0
        for record in want:
            row = new[tuple(record[k] for k in IDENTITY)]
            assert {k: row[k] for k in record} == record, record["local_job_id"]
        keys = all_keys(svc)
        again = post(http, source, path.read_bytes(), **params).json()
        assert again["replayed"] is True and again["accepted"] == first["accepted"]
        assert all_keys(svc) == keys


@pytest.mark.parametrize(("source", "name", "fields"), OWN_FIXTURES)
def test_own_fixture_gives_the_agents_records(
    deployment: Deployment, source: str, name: str, fields: str | None
) -> None:
    check_log(deployment, source, FIXTURES / "batch" / name, fields)


@pytest.mark.parametrize(("source", "name", "fields"), SHARED_LOGS)
def test_shared_log_gives_the_agents_records(
    deployment: Deployment, shared_data: Path, source: str, name: str, fields: str | None
) -> None:
    check_log(deployment, source, shared_data / "batch" / name, fields)


def test_unreadable_lines_are_listed_and_quarantined_once(deployment: Deployment) -> None:
    svc = deployment.services
    body = (FIXTURES / "batch" / "sacct_parsable2.txt").read_bytes()
    with deployment.client() as http:
        # A compressed file copied as is (`curl --data-binary @accounting.gz`) is read by its gzip
        # magic; the first post then stores it, and the same bytes with the header are a replay.
        plain = post(http, "slurm", gzip.compress(body, mtime=0)).json()
        assert (plain["records"], plain["accepted"], plain["replayed"]) == (3, 3, False)
        answer = http.post(
            "/v1/logs/slurm",
            content=gzip.compress(body, mtime=0),
            params={"resource": "cluster1"},
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["log_id"] == plain["log_id"] and result["replayed"] is True
        # Line 6 is prose: 1 `|` field where the header names 16. 7003 is RUNNING: skipped.
        assert result["problems"] == [{"line": 6, "message": "1 fields, expected 16"}]
        assert (result["records"], result["accepted"], result["unparsable"]) == (3, 3, 1)
        quarantine = [k for k in svc.warehouse.list_keys("quarantine/logs/slurm") if k.endswith(".ndjson")]
        assert quarantine == [result["quarantine_key"]]
        (entry,) = [orjson.loads(x) for x in svc.warehouse.get_bytes(quarantine[0]).splitlines()]
        assert (entry["line"], entry["record"], entry["site"]) == (
            6,
            "this line is not sacct output",
            "SITE-A",
        )
        keys = all_keys(svc)
        again = http.post(
            "/v1/logs/slurm",
            content=body,
            params={"resource": "cluster1"},
            headers={"Content-Type": "text/plain"},
        ).json()
        assert again["replayed"] is True and all_keys(svc) == keys


SACCT = (FIXTURES / "batch" / "sacct_parsable2.txt").read_bytes()


@pytest.mark.parametrize(
    ("path", "params", "headers", "body", "status", "says"),
    [
        ("/v1/logs/moab", {"resource": "c"}, {}, SACCT, 404, "unknown log source 'moab'"),
        ("/v1/logs/slurm", {"resource": "c"}, {"Content-Type": "application/json"}, SACCT, 415, "text/plain"),
        (
            "/v1/logs/slurm",
            {"resource": "c"},
            {"Content-Type": "text/plain; charset=latin-1"},
            SACCT,
            415,
            "UTF-8",
        ),
        ("/v1/logs/slurm", {}, {}, SACCT, 422, "name the log's resource"),
        (
            "/v1/logs/slurm",
            {"resource": "c", "fields": "JobID;DROP TABLE jobs"},
            {},
            SACCT,
            422,
            "sacct --format",
        ),
        ("/v1/logs/pbs", {"resource": "c", "fields": "JobID,State"}, {}, SACCT, 422, "layout is fixed"),
        ("/v1/logs/slurm", {"resource": "c", "timezone": "../../etc/passwd"}, {}, SACCT, 422, "time zone"),
        ("/v1/logs/slurm", {"resource": "c", "timezone": "Mars/Olympus"}, {}, SACCT, 422, "unknown timezone"),
        ("/v1/logs/pbs", {"resource": "c"}, {}, b"hello\nworld\n", 422, "nothing in 2 non-blank lines"),
        ("/v1/logs/slurm", {"resource": "c"}, {"Content-Encoding": "gzip"}, b"\x1f\x8bnot gzip", 400, "gzip"),
        ("/v1/logs/slurm", {"resource": "c"}, {"Content-Encoding": "br"}, SACCT, 415, "gzip"),
        ("/v1/logs/slurm", {"resource": "c"}, {}, b"x" * 4_600_000, 413, "limit"),
        (
            "/v1/logs/slurm",
            {"resource": "c"},
            {"Content-Encoding": "gzip"},
            gzip.compress(b"\n" * (65 << 20)),
            413,
            "decompresses",
        ),
    ],
)
def test_hostile_requests_get_a_clear_problem_and_write_nothing(
    deployment: Deployment,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    status: int,
    says: str,
) -> None:
    svc = deployment.services
    keys = all_keys(svc)
    with deployment.client() as http:
        answer = http.post(
            path, content=body, params=params, headers={"Content-Type": "text/plain", **headers}
        )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says in answer.json()["detail"]
    assert all_keys(svc) == keys


def test_resource_fence_and_site_come_from_the_key(deployment: Deployment) -> None:
    svc = deployment.services
    narrow = svc.create_key("SITE-A", resources=("cluster1",)).plain
    with deployment.client(narrow) as http:
        refused = post(http, "slurm", SACCT, resource="cluster2")
        assert refused.status_code == 403 and "cluster2" in refused.json()["detail"]
        # A key restricted to one resource may leave it out.
        answer = http.post("/v1/logs/slurm", content=SACCT, headers={"Content-Type": "text/plain"})
        assert answer.status_code == 200 and answer.json()["resource"] == "cluster1"
    with httpx.Client(base_url=deployment.url) as anonymous:
        assert post(anonymous, "slurm", SACCT).status_code == 401
    reports_only = svc.create_key("SITE-A", scopes=("reports:read",)).plain
    with deployment.client(reports_only) as http:
        assert post(http, "slurm", SACCT).status_code == 403
    # The records are the key's site's: SITE-B holds nothing.
    assert {r["site"] for r in rows(svc.warehouse, "jobs")} == {"SITE-A"}


def test_fields_tell_a_headerless_dump_its_layout(deployment: Deployment) -> None:
    header, *body = SACCT.decode().splitlines(keepends=True)
    headerless = "".join(body).encode()
    with deployment.client() as http:
        # Without its layout the dump is read in the agent's default one: no line has its width,
        # so nothing is recognised (422, nothing stored) and the answer says to pass the fields.
        wrong = post(http, "slurm", headerless)
        assert wrong.status_code == 422 and "pass --fields" in wrong.json()["detail"]
        assert rows(deployment.services.warehouse, "jobs") == []
        right = post(http, "slurm", headerless, fields=header.strip().replace("|", ","))
        assert right.status_code == 200 and right.json()["accepted"] == 3
    # 7001: 2 h on 4 cores, TotalCPU 7:30:00; 7002 30 min on 2; 7004 1 h on 16.
    got = {
        r["local_job_id"]: (r["wall_seconds"], r["cpu_seconds"], r["cores"])
        for r in rows(deployment.services.warehouse, "jobs")
    }
    assert got == {"7001": (7200, 27000, 4), "7002": (1800, 2700, 2), "7004": (3600, 57600, 16)}
