"""Lambda entry point of the people's routes' request authoriser (API Gateway HTTP API, payload
format 2.0, simple responses): tally.auth.request_authoriser admits a request that carries a
person's token, provider token or session cookie, with the person's id in the context.
Configuration: TALLY_MODE=aws, TALLY_WAREHOUSE_URI, TALLY_CONTROL_TABLE (people, sessions and
tokens) and TALLY_OIDC (the provider whose access tokens it verifies), as the API function's.
"""

from __future__ import annotations

from typing import Any

from tally.auth.request_authoriser import authorise
from tally.observability import lambda_entry
from tally.services.container import Services

services = Services.from_env()  # once per sandbox: warm invocations reuse its clients and keys


def authorise_request(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorise(event, services)


handler = lambda_entry(authorise_request)  # correlation id: API Gateway's request id
