"""The invoice verifier's scheduled run: which periods an EventBridge Scheduler event asks for.

The schedule's event gives the time of the run (`time` of an EventBridge scheduled event, or
`scheduled_time` from a Scheduler input template using <aws.scheduler.scheduled-time>); each
billing period with days closed by then is judged (`ReconcileService.run_due`). A manual run may
name one `period` (YYYY-MM).
"""

from __future__ import annotations

import re
from typing import Any

from tally.domain.schedule_event import event_time
from tally.observability import logger
from tally.services.reconcile import ReconcileService

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def run_scheduled(service: ReconcileService, event: Any, restatement_days: int) -> dict[str, Any]:
    """Judge what the event asks for; the answer lists each run's summary."""
    now = event_time(event)
    period = event.get("period") if isinstance(event, dict) else None
    if period is not None:
        if not isinstance(period, str) or not _PERIOD.match(period):
            raise ValueError(f"period must be YYYY-MM, got {period!r}")
        runs = [service.run(period, now)]
    else:
        runs = service.run_due(now, restatement_days)
    results = [run.as_dict() for run in runs]
    for result in results:
        logger.info("invoice verification finished", extra=result)
    return {"time": now.isoformat(), "runs": results}
