"""Raw-log importer: a log landing under `logs/<site>/<source>/<resource>/` is parsed and ingested
(tally.logs.landing). Needs TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE."""

from __future__ import annotations

from typing import Any

import boto3

from tally.logs.landing import LogLandingError, import_landed, landed_logs
from tally.observability import lambda_entry
from tally.services.container import Services
from tally.settings import Settings


def import_logs(event: Any, context: Any) -> dict[str, Any]:
    settings = Settings()
    svc = Services(settings)
    s3 = boto3.client("s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url)
    results, failures = [], []
    for log in landed_logs(event):
        try:
            results.append(import_landed(log, svc, s3))
        except LogLandingError as exc:
            failures.append(str(exc))
    if failures:
        raise LogLandingError("; ".join(failures))  # Lambda retries, then the dead-letter queue
    return {"imported": results}


handler = lambda_entry(import_logs, correlation_path=None)
