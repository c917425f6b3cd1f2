"""A request body read by a loopback test server (http.server), bounded: the declared length must
be one whole count no larger than the server's limit, and the client must send all of it. A
request that fails is refused with a 4xx and the connection closed (its unread bytes cannot be
taken for the next request), so a server under test never crashes on a client's mistake nor
reads without end."""

from __future__ import annotations

import contextlib
from http.server import BaseHTTPRequestHandler


class BodyRefusedError(Exception):
    """A request whose body was not taken: the status to answer (400, 411 or 413) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status, self.reason = status, reason


def read_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes:
    """The request's body, at most `limit` bytes; BodyRefusedError when its length is missing (411),
    not one count of bytes (400: garbled, negative, or several different values), over `limit`
    (413, before a byte is read), or more than the client sent (400)."""
    declared = {value.strip() for value in handler.headers.get_all("Content-Length") or ()}
    if not declared:
        raise BodyRefusedError(411, "a Content-Length is required")
    if len(declared) > 1:
        raise BodyRefusedError(400, "Content-Length is given more than once, differently")
    text = declared.pop()
    if not text.isascii() or not text.isdigit():
        raise BodyRefusedError(400, f"Content-Length is not a count of bytes: {text[:40]!r}")
    length = int(text)
    if length > limit:
        raise BodyRefusedError(413, f"the body of {length} bytes is over this server's {limit}")
    body = handler.rfile.read(length)
    if len(body) < length:
        raise BodyRefusedError(400, f"the body ended after {len(body)} of {length} bytes")
    return body


def refuse(handler: BaseHTTPRequestHandler, refused: BodyRefusedError) -> None:
    """Answer the refusal in plain text and close the connection."""
    text = refused.reason.encode()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client gone already
        handler.send_response(refused.status)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(text)))
        handler.send_header("Connection", "close")  # http.server then closes after this answer
        handler.end_headers()
        handler.wfile.write(text)
    handler.close_connection = True


def body_or_refused(handler: BaseHTTPRequestHandler, limit: int) -> bytes | None:
    """The bounded body, or None once the request has been refused (see `read_body`)."""
    try:
        return read_body(handler, limit)
    except BodyRefusedError as refused:
        refuse(handler, refused)
        return None
