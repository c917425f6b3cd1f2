"""Real receivers on loopback for the alerts' deliveries: a webhook endpoint (http.server) that can
fail or stall on purpose, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.request_body import body_or_refused
from tests.support.servers import free_port

#: Far over any alert's JSON: a larger body is refused, not read.
MAX_ALERT_BYTES = 1024 * 1024


@dataclass
class Webhook:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    #: Answer this status instead of 204 (e.g. 500), or sleep this long before answering.
    status: int = 204
    stall_seconds: float = 0.0


@contextmanager
def webhook() -> Iterator[Webhook]:
    port = free_port()
    hook = Webhook(f"http://127.0.0.1:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook.attempts += 1
            body = body_or_refused(self, MAX_ALERT_BYTES)
            if body is None:
                return
            if hook.stall_seconds:
                time.sleep(hook.stall_seconds)
            if hook.status < 300:
                hook.received.append(json.loads(body))
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


@dataclass
class Mailbox:
    port: int
    mails: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:
        self.mails.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
