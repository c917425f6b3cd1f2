"""The raw-log importer Lambda (functions/logs_importer/app.py) on EventBridge S3 events, against
moto's server: a big log landed under logs/<site>/<source>/<resource>/ gives the records the API
gives for the same file, once; a key outside the layout or an unknown site goes to the DLQ path."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import orjson
import pytest

from tally.logs.landing import FAILED_PREFIX, LogLandingError
from tally.services.container import Services
from tests.support.lambda_env import aws_lambda_env, object_created
from tests.support.lambdas import LambdaContext, load_function
from tests.support.paths import FIXTURES
from tests.support.warehouse import rows

SACCT = (FIXTURES / "batch" / "sacct_parsable2.txt").read_bytes()

pytestmark = pytest.mark.aws


@dataclass
class Env:
    module: ModuleType
    services: Services
    s3: Any
    landing: str

    def land(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        version = self.s3.put_object(Bucket=self.landing, Key=key, Body=body, Metadata=metadata or {})[
            "VersionId"
        ]
        return object_created(self.landing, key, version)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(event, LambdaContext("tally-logs-importer"))
        return result


@pytest.fixture
def env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    aws = aws_lambda_env(moto_endpoint, monkeypatch)
    settings, s3, landing = aws.settings, aws.s3, aws.landing
    module = load_function("logs_importer")
    services = Services(settings)
    services.add_site("NORTH-HPC")
    yield Env(module, services, s3, landing)


def test_a_landed_log_is_ingested_for_the_site_its_key_names_once(env: Env) -> None:
    header, *body = SACCT.decode().splitlines(keepends=True)
    fields = header.strip().replace("|", ",")
    event = env.land(
        "logs/NORTH-HPC/slurm/hex/2026-02.txt.gz",
        gzip.compress("".join(body).encode()),
        {"tally-fields": fields},
    )
    [summary] = env.invoke(event)["imported"]
    assert (summary["site"], summary["resource"], summary["records"], summary["accepted"]) == (
        "NORTH-HPC",
        "hex",
        3,
        3,
    )
    assert summary["unparsable"] == 1 and summary["replayed"] is False
    stored = rows(env.services.warehouse, "jobs")
    got = {(r["site"], r["resource"], r["local_job_id"], r["cores"]) for r in stored}
    assert got == {
        ("NORTH-HPC", "hex", "7001", 4),
        ("NORTH-HPC", "hex", "7002", 2),
        ("NORTH-HPC", "hex", "7004", 16),
    }
    quarantined = orjson.loads(env.services.warehouse.get_bytes(summary["quarantine_key"]).splitlines()[0])
    assert quarantined["record"] == "this line is not sacct output"
    keys = sorted(env.services.warehouse.list_keys(""))
    assert env.invoke(event)["imported"][0]["replayed"] is True  # S3 delivers at least once
    assert sorted(env.services.warehouse.list_keys("")) == keys


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("logs/NORTH-HPC/slurm/accounting.txt", "not a log key"),
        ("logs/NORTH-HPC/moab/hex/accounting.txt", "unknown log source 'moab'"),
        ("logs/NOWHERE/slurm/hex/accounting.txt", "no site named 'NOWHERE'"),
        ("logs/NORTH-HPC/pbs/hex/accounting.txt", "nothing in 7 non-blank lines was recognised"),
    ],
)
def test_a_log_that_cannot_be_imported_is_recorded_and_raises(env: Env, key: str, says: str) -> None:
    with pytest.raises(LogLandingError, match=says):
        env.invoke(env.land(key, SACCT))
    [failure] = env.services.warehouse.list_keys(FAILED_PREFIX)
    assert says in orjson.loads(env.services.warehouse.get_bytes(failure))["reason"]
    assert rows(env.services.warehouse, "jobs") == []


def test_other_objects_are_not_logs(env: Env) -> None:
    assert env.invoke(env.land("aws/cur/2026-01/report.csv", b"a,b\n")) == {"imported": []}
