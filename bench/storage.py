"""Storage benchmark: bytes per job in the warehouse, as ingested and after compaction.

    .venv/bin/python bench/storage.py [--sizes 60000:6,200000:6] [--dir /tmp/tally-bench-storage]

Each size is JOBS:MONTHS of the demo's site history (several sites and clusters, VOs, projects,
users), posted through the real ingest service in the agent's batch size, then compacted with
`tally.compaction`. The baseline, measured in the same run over the same deduplicated rows, is the
layout Tally wrote before partitions spanned a month: one file per day, rows by end time, every
column dictionary-encoded. 60,000 jobs over six months is the demo warehouse of `make run`.
"""

from __future__ import annotations

import argparse
import io
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tally.compaction import Compactor
from tally.demo.loader import load_demo
from tally.services.container import Services
from tally.settings import Settings

#: The writer's options before encodings were chosen per column.
PREVIOUS_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
}


def jobs_bytes(root: Path) -> tuple[int, int]:
    files = list((root / "jobs").rglob("*.parquet"))
    return len(files), sum(f.stat().st_size for f in files)


def previous_layout_bytes(rows: pa.Table) -> tuple[int, int]:
    """The same rows as day files sorted by end time, dictionary on every column."""
    rows = rows.sort_by("end_time")
    days = pc.cast(rows.column("end_time"), pa.date32())
    total, files, offset = 0, 0, 0
    for run in pc.value_counts(days).to_pylist():
        out = io.BytesIO()
        pq.write_table(rows.slice(offset, run["counts"]), out, **PREVIOUS_OPTIONS)
        offset += run["counts"]
        total += out.tell()
        files += 1
    return files, total


def measure(home: Path, jobs: int, months: int) -> None:
    shutil.rmtree(home, ignore_errors=True)
    svc = Services(Settings(mode="local", home=home))
    started = time.perf_counter()
    load_demo(svc, jobs=jobs, months=months, now=datetime(2026, 11, 15, tzinfo=UTC))
    loaded = time.perf_counter() - started
    root = home / "warehouse"
    files_in, bytes_in = jobs_bytes(root)
    started = time.perf_counter()
    result = Compactor(svc.warehouse).run(date(2026, 12, 31))
    compacted = time.perf_counter() - started
    files_out, bytes_out = jobs_bytes(root)
    stored = pq.read_table(root / "jobs", partitioning=None)
    n = stored.num_rows
    old_files, old_bytes = previous_layout_bytes(stored)
    print(f"{jobs:,} jobs over {months} months (loaded in {loaded:.1f} s, compacted in {compacted:.1f} s):")
    print(f"  as ingested:         {files_in:5} files  {bytes_in / n:6.1f} bytes per job")
    print(f"  after compaction:    {files_out:5} files  {bytes_out / n:6.1f} bytes per job (target <= 40)")
    print(f"  previous layout:     {old_files:5} files  {old_bytes / n:6.1f} bytes per job (baseline)")
    print(
        f"  ratio to baseline:   {bytes_out / old_bytes:.2f}; {result.duplicates_removed} duplicates removed"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60000:6,200000:6", help="JOBS:MONTHS, comma-separated")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/tally-bench-storage"))
    args = parser.parse_args()
    for size in args.sizes.split(","):
        jobs, months = (int(x) for x in size.split(":"))
        measure(args.dir / f"{jobs}-{months}", jobs, months)


if __name__ == "__main__":
    main()
