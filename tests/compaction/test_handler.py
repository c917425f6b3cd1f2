"""The compaction Lambda handler on moto's S3 server, configured only through its environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tally.adapters.warehouse import FsWarehouse
from tally.services.container import Services
from tally.settings import Settings
from tests.compaction.batches import expected_latest, fill, parquet_keys
from tests.support.deployments import aws_settings
from tests.support.lambdas import LambdaContext, load_function
from tests.support.warehouse import rows

pytestmark = [pytest.mark.functional, pytest.mark.aws]


@pytest.fixture
def s3_settings(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = aws_settings(moto_endpoint)
    assert settings.warehouse_uri and settings.s3_endpoint_url
    monkeypatch.setenv("TALLY_MODE", "aws")
    monkeypatch.setenv("TALLY_WAREHOUSE_URI", settings.warehouse_uri)
    monkeypatch.setenv("TALLY_S3_ENDPOINT_URL", settings.s3_endpoint_url)
    monkeypatch.setenv("TALLY_COMPACTION_RESERVE_SECONDS", "120")
    return settings


def test_handler_compacts_the_configured_warehouse(s3_settings: Settings) -> None:
    svc = Services(s3_settings)
    fill(svc, "storage")
    wh: FsWarehouse = svc.warehouse
    want = expected_latest("storage", rows(wh, "storage"))
    app = load_function("compaction")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()

    summary = app.handler({"today": tomorrow}, LambdaContext("tally-compaction"))

    assert summary["complete"] is True
    assert summary["partitions"] == len({k.split("/")[1] for k in parquet_keys(wh, "storage")})
    assert summary["duplicates_removed"] > 0
    got = {
        tuple(r[f] for f in ("site", "storage_system", "storage_share", "path", "owner", "end_time")): r
        for r in rows(wh, "storage")
    }
    assert got == want


def test_handler_stops_before_the_time_budget_runs_out(s3_settings: Settings) -> None:
    svc = Services(s3_settings)
    fill(svc, "jobs", batches=3)
    keys = parquet_keys(svc.warehouse, "jobs")
    app = load_function("compaction")

    summary = app.handler({}, LambdaContext("tally-compaction", 60_000))  # less than the 120 s reserve

    assert summary == {"partitions": 0, "files_removed": 0, "duplicates_removed": 0, "complete": False}
    assert parquet_keys(svc.warehouse, "jobs") == keys
