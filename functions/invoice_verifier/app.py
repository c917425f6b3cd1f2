"""Lambda entry point of the daily invoice verifier (EventBridge Scheduler).

What the event asks for: tally.services.reconcile_schedule. Configuration: TALLY_MODE=aws,
TALLY_WAREHOUSE_URI, TALLY_FINANCE_TOPIC_ARN and the TALLY_RECONCILE_* section
(tally.services.reconcile_settings).
"""

from __future__ import annotations

from typing import Any

from tally.observability import lambda_entry
from tally.services.container import Services
from tally.services.reconcile_schedule import run_scheduled

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def verify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_scheduled(services.reconcile, event, services.settings.reconcile.restatement_days)


handler = lambda_entry(verify, correlation_path=None)
