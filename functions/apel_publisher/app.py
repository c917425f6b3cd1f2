"""Lambda entry point of the scheduled APEL publisher (EventBridge Scheduler): the current and the
previous month of each site as APEL summaries, syncs, cloud summaries and StAR, to ARGO AMS when
TALLY_APEL_AMS is set, else as SSM queue files under TALLY_APEL_OUTGOING_URI (tally.interop.apel).
Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE, TALLY_ATHENA_* and the
TALLY_APEL_* section (TALLY_APEL_PUBLISH_SITES: the sites; every site when empty).
"""

from __future__ import annotations

from typing import Any

from tally.observability import lambda_entry
from tally.services.container import Services

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def publish(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return services.apel_publisher.run_scheduled(event)


handler = lambda_entry(publish, correlation_path=None)
