"""A route class for the routes whose body FastAPI parses into a model (people, grants, tokens,
kinds, registry entries, alert rules, allocations, tariffs): the body is read with the same cap as
every other body (tally.api.body.read_capped, 413 past it, before it is all in memory) and only
then handed to FastAPI's parsing. Each such route documents its 413.

Use it as an APIRouter's `route_class`; routes without a parsed body are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from tally.api.body import read_capped
from tally.api.contract import problems

#: Far above any such body (a person, a kind's definition, a registry entry, a tariff), far
#: below what would hurt a process that holds a few of them at once.
MAX_JSON_BODY_BYTES = 1 << 20


class CappedBodyRoute(APIRoute):
    max_body_bytes = MAX_JSON_BODY_BYTES

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is not None:
            self.responses = {**problems(413), **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        parse = super().get_route_handler()
        if self.body_field is None:
            return parse
        limit = self.max_body_bytes

        async def capped(request: Request) -> Response:
            # Starlette keeps a body it has read in `_body`; FastAPI's parsing reads it from there.
            request._body = await read_capped(request, limit)
            return await parse(request)

        return capped
