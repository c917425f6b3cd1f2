"""A small JSON object body, read with a cap before any of it is parsed (413 past the cap), with
NaN and Infinity refused (they are not JSON), for the portal's write routes."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from tally.api.body import read_capped
from tally.api.problems import Problem, bad_request, unsupported


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def json_object(request: Request, limit: int, shape: str) -> dict[str, Any]:
    """The body as a JSON object; `shape` tells the caller what the body should look like."""
    media = (request.headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise unsupported(f"send application/json: {shape}")
    raw = await read_capped(request, limit)
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise bad_request(f"the body is not JSON ({str(error)[:120]}): send {shape}") from error
    if not isinstance(body, dict):
        raise Problem(422, "Invalid request body", f"the body is JSON but not an object: send {shape}")
    return body
