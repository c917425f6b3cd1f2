"""A webhook endpoint on loopback that keeps each POST's headers and bytes (reports are files,
not JSON), and can answer an error on purpose."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.request_body import body_or_refused
from tests.support.servers import free_port

#: Far over any report file the tests deliver: a larger body is refused, not read.
MAX_REPORT_BYTES = 16 * 1024 * 1024


@dataclass
class Posted:
    headers: dict[str, str]
    body: bytes


@dataclass
class FileHook:
    url: str
    received: list[Posted] = field(default_factory=list)
    attempts: int = 0
    status: int = 204


@contextmanager
def file_hook() -> Iterator[FileHook]:
    port = free_port()
    hook = FileHook(f"http://127.0.0.1:{port}/reports")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook.attempts += 1
            body = body_or_refused(self, MAX_REPORT_BYTES)
            if body is None:
                return
            if hook.status < 300:
                hook.received.append(Posted(dict(self.headers.items()), body))
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
