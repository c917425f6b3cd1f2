"""Lambda entry point of the billing importer: a file lands in the billing landing bucket -> `billing`.

The events it takes and the download: tally.adapters.s3_landing; the import, its idempotence and
what happens to a file that fails: tally.services.billing_landing. Configuration: TALLY_MODE=aws,
TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE (account owners) and, only for tests,
TALLY_S3_ENDPOINT_URL and TALLY_DYNAMODB_ENDPOINT_URL. Run it with reserved concurrency 1:
restatements of one partition are not coordinated across invocations (see tally.services.billing).
"""

from __future__ import annotations

from typing import Any

from tally.adapters.s3_landing import landed_objects
from tally.observability import lambda_entry
from tally.services.billing_landing import BillingImportFailedError
from tally.services.container import Services

__all__ = ["BillingImportFailedError", "handler", "services"]

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients


def import_landed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(services.landed_bills.import_all(landed_objects(event)))


handler = lambda_entry(import_landed, correlation_path=None)
