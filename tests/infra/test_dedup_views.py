"""The dedup views of athena_queries/views are the ones infra/dedup_views.py derives from the models."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tally.domain.records import KINDS
from tally.query.sql_files import get_file, view_body
from tests.infra.sam import REPO, load_infra


def test_the_committed_dedup_views_are_the_generated_ones() -> None:
    run = subprocess.run(
        [sys.executable, "infra/dedup_views.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_check_names_a_drifted_view_and_a_rewrite_restores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = load_infra("dedup_views")
    for kind in KINDS:
        shutil.copy(REPO / "athena_queries/views" / f"{kind}_dedup.sql", tmp_path)
    monkeypatch.setattr(generator, "VIEWS", tmp_path)
    assert generator.main(["--check"]) == 0
    # A view that forgot one identity column (as a hand edit could) is drift.
    stale = tmp_path / "vms_dedup.sql"
    stale.write_text(stale.read_text().replace("instance_id, interval_start\n", "interval_start\n"))
    assert generator.main(["--check"]) == 1
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0
    assert "PARTITION BY dt, provider, account, instance_id, interval_start\n" in stale.read_text()


@pytest.mark.parametrize(
    ("kind", "partition_by"),
    [
        ("jobs", "substr(dt, 1, 7), site, resource, local_job_id, end_time"),
        ("vms", "dt, provider, account, instance_id, interval_start"),
        ("storage", "substr(dt, 1, 7), site, storage_system, storage_share, path, owner, end_time"),
        ("accelerators", "substr(dt, 1, 7), site, resource, associated_id, model, interval_start"),
    ],
)
def test_each_view_ranks_copies_within_its_partition_by_the_identity(kind: str, partition_by: str) -> None:
    item = get_file("views", f"{kind}_dedup")
    assert f"PARTITION BY {partition_by}\n" in item.text
    view_body(item)  # parses as the CREATE OR REPLACE VIEW its name says
