"""The daily compaction run (the Lambda on EventBridge Scheduler): one pass within a time budget.

The run stops starting new merges when `reserve_seconds` of the budget remain; the next run
continues where it stopped. An event may name the day to compact as of (`today`, YYYY-MM-DD).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tally.compaction.compactor import Compactor
from tally.observability import logger


def run_scheduled(
    compactor: Compactor, event: Any, remaining_ms: Callable[[], int], reserve_seconds: int
) -> dict[str, Any]:
    reserve_ms = reserve_seconds * 1000

    def out_of_time() -> bool:
        return bool(remaining_ms() < reserve_ms)

    today = datetime.now(UTC).date()
    if isinstance(event, dict) and isinstance(event.get("today"), str):
        today = datetime.fromisoformat(event["today"]).date()  # a manual run for a given day
    result = compactor.run(today, out_of_time)
    for part in result.partitions:
        logger.info(
            "partition compacted",
            extra={
                "table": part.table,
                "dt": part.day.isoformat(),
                "files_in": len(part.inputs),
                "files_out": len(part.outputs),
                "rows_in": part.rows_in,
                "rows_out": part.rows_out,
            },
        )
    summary = {
        "partitions": len(result.partitions),
        "files_removed": result.files_removed,
        "duplicates_removed": result.duplicates_removed,
        "complete": result.complete,
    }
    logger.info("compaction finished", extra=summary)
    return summary
