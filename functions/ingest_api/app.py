"""Lambda entry point of the HTTP API: the FastAPI app behind API Gateway, through Mangum.

Configuration comes from the environment (TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE).
The app is built at import time, so warm invocations reuse clients and caches. Every log line
carries the Lambda context and API Gateway's request id as correlation id, and each invocation is
traced (see tally.observability).
"""

from __future__ import annotations

from mangum import Mangum

from tally.api.app import create_app
from tally.observability import lambda_entry

# Mangum would otherwise run the ASGI lifespan on every invocation.
handler = lambda_entry(Mangum(create_app(), lifespan="off"))
