"""One settings model: the TALLY_* names users and template.yaml set land in their sections, and
the container builds each service once from them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tally.compaction.compactor import CompactionPolicy, MiB
from tally.reconcile import ReconcileConfig
from tally.services.container import Services
from tally.settings import Settings


def test_the_names_template_and_docs_use_fill_the_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TALLY_ATHENA_WORKGROUP": "wg",
        "TALLY_ATHENA_DATABASE": "usage",
        "TALLY_ATHENA_OUTPUT_LOCATION": "s3://results/athena/",
        "TALLY_ATHENA_ENDPOINT_URL": "http://127.0.0.1:5000",
        "TALLY_QUERY_TIMEOUT_SECONDS": "25",
        "TALLY_COMPACTION_TARGET_MIB": "64",
        "TALLY_COMPACTION_SMALL_MIB": "32",
        "TALLY_COMPACTION_MAX_INPUT_MIB": "96",
        "TALLY_COMPACTION_MIN_AGE_DAYS": "3",
        "TALLY_COMPACTION_RESERVE_SECONDS": "45",
        "TALLY_RECONCILE_SETTLE_HOURS": "24",
        "TALLY_RECONCILE_SAMPLING_SECONDS": "300",
        "TALLY_RECONCILE_MIN_TOLERANCE_HOURS": "0.25",
        "TALLY_RECONCILE_RELATIVE_TOLERANCE": "0.05",
        "TALLY_RECONCILE_RATE_TOLERANCE": "0.03",
        "TALLY_RECONCILE_IDLE_CPU_FRACTION": "0.1",
        "TALLY_RECONCILE_RESTATEMENT_DAYS": "7",
        "TALLY_RECONCILE_CHUNK_SAMPLES": "5000",
        "TALLY_FINANCE_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:finance",
        "TALLY_SNS_ENDPOINT_URL": "http://127.0.0.1:5001",
        "TALLY_MAX_BODY_BYTES": "1000",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.athena.workgroup, settings.athena.database) == ("wg", "usage")
    assert settings.athena.output_location == "s3://results/athena/"
    assert settings.athena.endpoint_url == "http://127.0.0.1:5000"
    assert settings.query.timeout_seconds == 25.0
    assert settings.compaction.policy() == CompactionPolicy(64 * MiB, 32 * MiB, 96 * MiB, 3)
    assert settings.compaction.reserve_seconds == 45
    assert settings.reconcile.reconcile_config() == ReconcileConfig(
        sampling_interval_seconds=300,
        min_tolerance_hours=0.25,
        relative_tolerance=0.05,
        rate_tolerance=0.03,
        idle_cpu_fraction=0.1,
        settle_hours=24.0,
    )
    assert (settings.reconcile.restatement_days, settings.reconcile.samples_per_chunk()) == (7, 5000)
    assert settings.finance_topic_arn == "arn:aws:sns:eu-west-1:123456789012:finance"
    assert settings.sns_endpoint_url == "http://127.0.0.1:5001"
    assert settings.max_body_bytes == 1000


def test_unset_sections_keep_the_verifiers_and_compactors_own_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("TALLY_RECONCILE_SETTLE_HOURS", "TALLY_COMPACTION_TARGET_MIB", "TALLY_FINANCE_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
    svc = Services(Settings(mode="local", home=tmp_path))
    assert svc.reconcile.config == ReconcileConfig()
    assert svc.reconcile.notifier is None
    assert svc.compaction.policy == CompactionPolicy()
    assert svc.settings.compaction.reserve_seconds == 120


def test_request_threads_share_one_engine(tmp_path: Path) -> None:
    svc = Services(Settings(mode="local", home=tmp_path))
    seen: list[object] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        seen.append(svc.engine)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len({id(e) for e in seen}) == 1
    assert svc.engine.query("SELECT 1 AS one").table.to_pylist() == [{"one": 1}]
