"""Lambda entry point of the raw-log importer: a log landing under `logs/<site>/<source>/<resource>/`
is parsed with the agent's parsers and ingested as the site's batches (tally.logs.landing).
Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE and, only for tests,
TALLY_S3_ENDPOINT_URL and TALLY_DYNAMODB_ENDPOINT_URL.
"""

from __future__ import annotations

from typing import Any

from tally.logs.landing import LogLandingError, import_landed, landed_logs
from tally.observability import lambda_entry
from tally.services.container import Services

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def import_logs(event: Any, context: Any) -> dict[str, Any]:
    results, failures = [], []
    for log in landed_logs(event):
        try:
            results.append(import_landed(log, services, services.landing.client))
        except LogLandingError as exc:
            failures.append(str(exc))
    if failures:
        raise LogLandingError("; ".join(failures))  # Lambda retries, then the dead-letter queue
    return {"imported": results}


handler = lambda_entry(import_logs, correlation_path=None)
