"""Lambda entry point of the alerts evaluator (EventBridge Scheduler, every 15 minutes).

Evaluates every enabled rule as of the scheduled time (`{"scheduled_time": ...}`; else now) and
delivers what fired or resolved to TALLY_ALERTS_TOPIC_ARN; then delivers the report subscriptions
due (tally.subscriptions). Configuration: tally.alerts.settings, tally.subscriptions.settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tally.observability import lambda_entry
from tally.services.container import Services
from tally.services.scheduled import run_scheduled

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def evaluate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduled = str(event.get("scheduled_time") or "")
    at = datetime.fromisoformat(scheduled.replace("Z", "+00:00")) if scheduled else None
    return run_scheduled(services, at)


handler = lambda_entry(evaluate, correlation_path=None)
