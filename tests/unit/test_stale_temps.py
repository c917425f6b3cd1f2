"""Temporary files of interrupted writes: gone after the next start and after compaction, while a
young one (a writer still at work) is left alone."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

from tally.adapters.warehouse import STALE_TEMP_SECONDS, open_warehouse
from tally.compaction.compactor import Compactor
from tally.settings import Settings


def _temp(root: Path, name: str, age_seconds: float) -> Path:
    path = root / "jobs" / "dt=2026-03-01" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a parquet file")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_the_next_start_removes_only_stale_temporary_files(tmp_path: Path) -> None:
    settings = Settings(mode="local", home=tmp_path)
    root = settings.local_warehouse
    stale = _temp(root, "b1.parquet.0a.tmp", STALE_TEMP_SECONDS + 60)
    young = _temp(root, "b2.parquet.0b.tmp", 5)
    kept = _temp(root, "b3.parquet", STALE_TEMP_SECONDS + 60)
    open_warehouse(settings)
    assert (stale.exists(), young.exists(), kept.exists()) == (False, True, True)


def test_compaction_removes_stale_temporary_files(tmp_path: Path) -> None:
    settings = Settings(mode="local", home=tmp_path)
    warehouse = open_warehouse(settings)
    stale = _temp(settings.local_warehouse, "b1.parquet.0a.tmp", STALE_TEMP_SECONDS + 60)
    young = _temp(settings.local_warehouse, "b2.parquet.0b.tmp", 5)
    result = Compactor(warehouse).run(date(2026, 4, 1))
    assert result.temps_removed == ["jobs/dt=2026-03-01/b1.parquet.0a.tmp"]
    assert (stale.exists(), young.exists()) == (False, True)
