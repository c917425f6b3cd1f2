"""Lambda's Invoke REST API on loopback, running a real handler behind it (moto's server runs a
function's code only in Docker, and its Docker-less backend answers a fixed text, not the code's).

Speaks what botocore's `lambda.invoke` sends and reads: `POST /2015-03-31/functions/<name>/invocations`
with the event as the body; answers 200 with the handler's JSON result (`X-Amz-Executed-Version`),
or 200 with `X-Amz-Function-Error: Unhandled` and Lambda's error object when the handler raises;
404 `ResourceNotFoundException` for another function; 413 `RequestEntityTooLargeException` for an
event over Lambda's 6 MB, and `InvalidRequestContentException` for one that is not JSON (400) or
whose length is missing (411) or garbled (400). `behaviour` makes the function misbehave as a
deployment can: "slow" (answers after `delay` seconds), "garbage" (a body that is not JSON),
"huge" (an answer over a megabyte), "nan" (the forecast's numbers as NaN).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.request_body import BodyRefusedError, read_body

PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
#: Lambda's limit on a synchronous invocation's event.
MAX_EVENT_BYTES = 6 * 1024 * 1024


@dataclass
class LambdaStandIn:
    url: str
    function_name: str
    handler: Callable[[Any, Any], Any]
    behaviour: str = "normal"
    delay: float = 0.0
    events: list[Any] = field(default_factory=list)


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000001")
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped waiting
        handler.wfile.write(body)


def _refuse(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    """Lambda's error answer for a request it will not run, closing the connection (the body may
    be left unread)."""
    kind = "RequestEntityTooLargeException" if status == 413 else "InvalidRequestContentException"
    error = json.dumps({"Type": "User", "message": message}).encode()
    _answer(handler, status, error, **{"x-amzn-ErrorType": kind, "Connection": "close"})


def _request_handler(stand_in: LambdaStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            try:
                body = read_body(self, MAX_EVENT_BYTES)
            except BodyRefusedError as refused:
                _refuse(self, refused.status, refused.reason)
                return
            match = PATH.match(self.path.split("?", 1)[0])
            name = match["name"] if match else ""
            if name not in (stand_in.function_name, f"{stand_in.function_name}:$LATEST"):
                error = {"Type": "User", "message": f"Function not found: {name}"}
                _answer(
                    self, 404, json.dumps(error).encode(), **{"x-amzn-ErrorType": "ResourceNotFoundException"}
                )
                return
            try:
                event = json.loads(body)
            except ValueError:  # not UTF-8, or not JSON
                _refuse(self, 400, "Could not parse request body into json")
                return
            stand_in.events.append(event)
            if stand_in.behaviour == "slow":
                time.sleep(stand_in.delay)
            try:
                result = stand_in.handler(event, None)
            except Exception as error:  # Lambda reports any exception this way
                failure = {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []}
                _answer(
                    self,
                    200,
                    json.dumps(failure).encode(),
                    **{"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"},
                )
                return
            if stand_in.behaviour == "garbage":
                payload = b"<html>not json"
            elif stand_in.behaviour == "huge":
                payload = json.dumps({"forecast": {"daily": [1.0] * 300_000}}).encode()
            elif stand_in.behaviour == "nan" and "forecast" in result:
                result["forecast"]["expected"] = float("nan")
                payload = json.dumps(result).encode()  # json writes NaN, as Python handlers can
            else:
                payload = json.dumps(result).encode()
            _answer(self, 200, payload, **{"X-Amz-Executed-Version": "$LATEST"})

    return Handler


@contextmanager
def lambda_stand_in(function_name: str, handler: Callable[[Any, Any], Any]) -> Iterator[LambdaStandIn]:
    stand_in = LambdaStandIn("", function_name, handler)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(stand_in))
    server.daemon_threads = True
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
