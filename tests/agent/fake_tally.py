"""A scripted stdlib HTTPS server on loopback standing in for Tally, and an agent config that posts to it."""

from __future__ import annotations

import gzip
import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tally_agent.config import Config, load
from tests.support.json_answers import answer_json


@dataclass
class Fake:
    """What the fake server answers (a queue of statuses for POSTs, then 200) and what it got."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[str, bytes]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    reason: dict[str, object] = field(default_factory=dict)


@contextmanager
def fake_tally(certs: dict[str, Path]) -> Iterator[Fake]:
    """Serve a Fake over HTTPS with `certs` until the block ends."""
    state = Fake()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            answer_json(self, status, body)

        def do_GET(self) -> None:
            with lock:
                state.gets.append(self.path)
            self._answer(200, {"latest_event_time": None})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state.posts.append((self.path, body))
                status = state.statuses.pop(0) if state.statuses else 200
            if status == 200:
                records = gzip.decompress(body).decode().splitlines()
                self._answer(200, {"accepted": len(records), "duplicates": 0, "rejected": 0, "errors": []})
            else:
                self._answer(status, state.reason or {"title": "Nope", "status": status})

        def log_message(self, *args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["cert"], certs["key"])
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def config_for(tmp_path: Path, fake: Fake, certs: dict[str, Path], **extra: object) -> Config:
    values: dict[str, object] = {
        "server": fake.url,
        "api_key": "k",
        "site": "TEST-SITE",
        "resource": "cluster1",
        "ca_bundle": str(certs["ca"]),
        "spool_dir": str(tmp_path / "spool"),
        "attempts": 1,
        "retry_delay": 0.0,
        "retry_base_seconds": 0.0,
        "timeout": 10.0,
    }
    values.update(extra)
    return load(None, values)
