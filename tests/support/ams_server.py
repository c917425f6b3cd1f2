"""An ARGO Messaging Service stand-in on loopback, over HTTPS, speaking the publish API exactly as
argo-ams-library calls it: `POST /v1/projects/<project>/topics/<topic>:publish`, token in the
`x-api-key` header, body `{"messages": [{"data": <base64>, "attributes": {...}}]}`, answer
`{"messageIds": [...]}`; 401 for a wrong token, 404 for an unknown topic."""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.json_answers import answer_json


@dataclass
class Published:
    """What the stand-in received: each message's decoded text and attributes, in order."""

    texts: list[str] = field(default_factory=list)
    attributes: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0


@dataclass(frozen=True)
class AmsStandIn:
    host: str  # host:port, as argo-ams-library's endpoint
    project: str
    topic: str
    token: str
    received: Published


def _handler(stand_in: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            answer_json(self, status, body)

        def do_POST(self) -> None:
            received: Published = stand_in["received"]
            received.requests += 1
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("x-api-key") != stand_in["token"]:
                self._answer(
                    401, {"error": {"code": 401, "message": "Unauthorized", "status": "UNAUTHORIZED"}}
                )
                return
            expected = f"/v1/projects/{stand_in['project']}/topics/{stand_in['topic']}:publish"
            if self.path != expected:
                self._answer(
                    404, {"error": {"code": 404, "message": "Topic doesn't exist", "status": "NOT_FOUND"}}
                )
                return
            ids = []
            for message in json.loads(body)["messages"]:
                received.texts.append(base64.b64decode(message["data"]).decode())
                received.attributes.append(message.get("attributes", {}))
                ids.append(str(len(received.texts)))
            self._answer(200, {"messageIds": ids})

    return Handler


@contextmanager
def running_ams(cert: Path, key: Path) -> Iterator[AmsStandIn]:
    """Serve the stand-in with `cert`/`key` on a free loopback port, project EGI, topic accounting."""
    received = Published()
    token = secrets.token_hex(16)
    state = {"received": received, "token": token, "project": "EGI", "topic": "accounting"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield AmsStandIn(f"127.0.0.1:{port}", "EGI", "accounting", token, received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
