"""A bound on the time a client may take to send a request body: 408 when it is exceeded.

Counted is only the time the application spends waiting for the client's next body chunk (data
already received is handed over at once), so a slow application never cuts a fast client, while a
client that trickles a body, or stops half way, is answered 408 and its connection closed once it
has made the server wait `seconds` in total. Behind API Gateway the body arrives whole before the
app runs, so this never fires there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from tally.api.problems import Problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTimeout(Exception):  # noqa: N818 (an event, not a programming error)
    """Raised into the application when the client took too long to send the body."""


@dataclass
class _Request:
    waited: float = 0.0
    expired: bool = False
    body_done: bool = False
    started: bool = False


class BodyDeadlineMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        state = _Request()
        loop = asyncio.get_running_loop()

        async def timed_receive() -> Message:
            if state.expired:
                return {"type": "http.disconnect"}
            if state.body_done:  # later receives wait for a disconnect: not the client's body
                return await receive()
            began = loop.time()
            try:
                async with asyncio.timeout(max(0.0, self.seconds - state.waited)):
                    message = await receive()
            except TimeoutError:
                state.expired = True
                raise BodyTimeout(f"no complete body within {self.seconds:g} s") from None
            finally:
                state.waited += loop.time() - began
            if message["type"] != "http.request" or not message.get("more_body", False):
                state.body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            if state.expired:  # whatever the app answers to the timeout, the client gets the 408
                return
            if message["type"] == "http.response.start":
                state.started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except BodyTimeout:
            if not state.expired:
                raise
        if state.expired and not state.started:
            await _send_408(scope, send, self.seconds)


async def _send_408(scope: Scope, send: Send, seconds: float) -> None:
    problem = Problem(408, "Request timeout", f"the request body did not arrive within {seconds:g} s")
    body = orjson.dumps(problem.as_dict(instance=str(scope.get("path") or "") or None))
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
