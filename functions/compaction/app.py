"""Lambda entry point of the daily compaction (EventBridge Scheduler).

Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI and the TALLY_COMPACTION_* sizes. The run stops
starting new merges when TALLY_COMPACTION_RESERVE_SECONDS of the Lambda budget remain; the next
run continues where it stopped. The same code runs locally with `python -m tally.compaction`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tally.adapters.warehouse import open_warehouse
from tally.compaction.compactor import Compactor
from tally.compaction.settings import CompactionSettings
from tally.observability import lambda_entry, logger
from tally.settings import Settings


def compact(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = CompactionSettings()
    compactor = Compactor(open_warehouse(Settings()), settings.policy())
    reserve_ms = settings.reserve_seconds * 1000

    def out_of_time() -> bool:
        return bool(context.get_remaining_time_in_millis() < reserve_ms)

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


handler = lambda_entry(compact, correlation_path=None)
