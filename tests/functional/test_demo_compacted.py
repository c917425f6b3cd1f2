"""The demo loader compacts what it posted: one file per settled partition, every record kept,
progress reported to the end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from tally.demo.loader import demo_records, load_demo
from tally.domain.records import MODELS
from tally.services.container import Services
from tests.support.deployments import local_settings

NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)


def test_the_demo_is_compacted_and_nothing_is_lost(tmp_path: Path) -> None:
    svc = Services(local_settings(tmp_path / "home"))
    seen: list[tuple[int, int]] = []
    load_demo(svc, jobs=2000, months=2, now=NOW, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] and all(d <= t for d, t in seen)
    expected = demo_records(NOW, 2000, 2)
    root = svc.settings.local_warehouse
    for kind, records in expected.items():
        folders = [p for p in (root / kind).iterdir() if p.name.startswith("dt=")]
        for folder in folders:
            files = list(folder.glob("*.parquet"))
            if folder.name != f"dt={NOW.date().isoformat()}":  # today's partition is still growing
                assert len(files) == 1, folder
        stored = sum(pq.read_metadata(f).num_rows for f in (root / kind).rglob("*.parquet"))
        identity = MODELS[kind].identity
        assert stored == len({tuple(str(r.get(k)) for k in identity) for r in records}), kind
