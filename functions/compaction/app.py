"""Lambda entry point of the daily compaction (EventBridge Scheduler).

Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI and the TALLY_COMPACTION_* section (sizes in
MiB; TALLY_COMPACTION_RESERVE_SECONDS of the Lambda budget are kept free, see
tally.compaction.scheduled). The same code runs locally with `python -m tally.compaction`.
"""

from __future__ import annotations

from typing import Any

from tally.compaction.scheduled import run_scheduled
from tally.observability import lambda_entry
from tally.services.container import Services

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def compact(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reserve = services.settings.compaction.reserve_seconds
    return run_scheduled(services.compaction, event, context.get_remaining_time_in_millis, reserve)


handler = lambda_entry(compact, correlation_path=None)
