"""Lambda entry point of the HTTP API: the FastAPI app behind API Gateway, through Mangum.

Configuration comes from the environment (TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE).
The app is built at import time, so warm invocations reuse clients and caches.
"""

from __future__ import annotations

from mangum import Mangum

from tally.api.app import create_app

# Mangum would otherwise run the ASGI lifespan on every invocation.
handler = Mangum(create_app(), lifespan="off")
