"""Lambda entry point of the daily invoice verifier (EventBridge Scheduler).

The schedule's event gives the time of the run (`time` of an EventBridge scheduled event, or
`scheduled_time` from a Scheduler input template using <aws.scheduler.scheduled-time>); each
billing period with days closed by then is judged (`ReconcileService.run_due`). A manual run may
name one `period` (YYYY-MM). Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI,
TALLY_FINANCE_TOPIC_ARN and the TALLY_RECONCILE_* settings of tally.services.reconcile.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tally.adapters.warehouse import open_warehouse
from tally.observability import lambda_entry, logger
from tally.services.reconcile import ReconcileService, ReconcileSettings
from tally.settings import Settings

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _event_time(event: Any) -> datetime:
    if isinstance(event, dict):
        for name in ("scheduled_time", "time"):
            value = event.get(name)
            if isinstance(value, str) and value:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def verify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings()
    service = ReconcileService.from_env(open_warehouse(settings), settings)
    now = _event_time(event)
    period = event.get("period") if isinstance(event, dict) else None
    if period is not None:
        if not isinstance(period, str) or not _PERIOD.match(period):
            raise ValueError(f"period must be YYYY-MM, got {period!r}")
        runs = [service.run(period, now)]
    else:
        runs = service.run_due(now, ReconcileSettings().reconcile_restatement_days)
    results = [run.as_dict() for run in runs]
    for result in results:
        logger.info("invoice verification finished", extra=result)
    return {"time": now.isoformat(), "runs": results}


handler = lambda_entry(verify, correlation_path=None)
