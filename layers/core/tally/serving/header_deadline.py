"""A bound on the time a client may take to send a request's headers.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits for ever on a
connection that was opened and sends nothing, or half a request line: enough of those exhaust the
server's connections. This protocol starts a timer when a connection opens and when a request's
first byte arrives, and closes the connection when the headers are not complete in time. The time
to send the body is bounded at the ASGI level (`tally.api.body_deadline`).

A request the HTTP parser refuses before the app sees it (a request line or headers past its
limits, bytes that are not HTTP) is answered 400 as the app answers, in problem+json, not in
uvicorn's plain text: a client reads one kind of error from every refusal.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 30\r\nconnection: close\r\n\r\nrequest headers took too long\n"
)


def _problem_400(detail: str) -> bytes:
    body = json.dumps(
        {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail}
    ).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on every request's headers."""

    header_timeout_seconds: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer is text/plain; the message is its parser's ("Invalid HTTP request
        # received."), not the client's bytes.
        self.transport.write(_problem_400(f"{msg} The request line or headers are malformed or too long."))
        self.transport.close()

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_seconds, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        # Answer only when no response is being written on this connection (pipelining).
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's `http` option, with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_seconds": seconds})
