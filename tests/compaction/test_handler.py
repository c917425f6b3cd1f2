"""The compaction Lambda handler on moto's S3 server, configured only through its environment."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from tally.adapters.warehouse import FsWarehouse
from tally.services.container import Services
from tally.settings import Settings
from tests.compaction.test_compactor import expected_latest, fill, parquet_keys
from tests.support.deployments import aws_settings
from tests.support.warehouse import rows

REPO = Path(__file__).resolve().parents[2]


def load_function(name: str) -> ModuleType:
    """A function's app.py under a unique module name (every function's module is called `app`)."""
    spec = importlib.util.spec_from_file_location(f"fn_{name}", REPO / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeContext:
    remaining_ms: int
    function_name: str = "tally-compaction"
    memory_limit_in_mb: int = 6144
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:tally-compaction"
    aws_request_id: str = "0f0e0d0c-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


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

    summary = app.handler({"today": tomorrow}, FakeContext(remaining_ms=900_000))

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

    summary = app.handler({}, FakeContext(remaining_ms=60_000))  # less than the 120 s reserve

    assert summary == {"partitions": 0, "files_removed": 0, "duplicates_removed": 0, "complete": False}
    assert parquet_keys(svc.warehouse, "jobs") == keys
