"""`python -m tally.compaction`: compact the configured warehouse (local folder or S3) once."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime

from tally.compaction.compactor import DEFAULT_TABLES
from tally.services.container import Services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tally.compaction", description=__doc__)
    parser.add_argument("--table", action="append", choices=sorted(DEFAULT_TABLES), help="repeatable")
    parser.add_argument("--today", type=date.fromisoformat, help="YYYY-MM-DD (default: today, UTC)")
    args = parser.parse_args(argv)
    compactor = Services.from_env().compaction
    if args.table:  # this one-shot process compacts only the tables named
        compactor.tables = {t: DEFAULT_TABLES[t] for t in args.table}
    result = compactor.run(args.today or datetime.now(UTC).date())
    for part in result.partitions:
        print(
            json.dumps(
                {
                    "table": part.table,
                    "dt": part.dt,
                    "files_in": len(part.inputs),
                    "files_out": len(part.outputs),
                    "rows_in": part.rows_in,
                    "rows_out": part.rows_out,
                    "bytes_in": part.bytes_in,
                    "bytes_out": part.bytes_out,
                }
            )
        )
    print(f"compacted {len(result.partitions)} partitions, removed {result.duplicates_removed} duplicates")
    rows_in = sum(p.rows_in for p in result.partitions)
    rows_out = sum(p.rows_out for p in result.partitions)
    if rows_in and rows_out:
        print(
            f"stored {result.bytes_in:,} bytes before, {result.bytes_out:,} after: "
            f"{result.bytes_in / rows_in:.1f} -> {result.bytes_out / rows_out:.1f} bytes per row"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
