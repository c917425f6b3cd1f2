"""Lambda entry point of the sites' ingest routes (tally.api.ingest_app.ROUTES): what agents and
site hosts post with a site key, behind the same API Gateway as the whole API, which serves every
other route. The app is built at import time, so warm invocations reuse clients and caches; it
imports only the ingest routes, so a cold start costs a fraction of the whole API's.
Configuration and logging are the API function's (see functions/ingest_api/app.py).
"""

from __future__ import annotations

from mangum import Mangum

from tally.api.ingest_app import create_ingest_app
from tally.observability import lambda_entry

# Mangum would otherwise run the ASGI lifespan on every invocation.
handler = lambda_entry(Mangum(create_ingest_app(), lifespan="off"))
