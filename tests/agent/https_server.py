"""The Tally server under uvicorn with TLS as a process of its own, for the agent's end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.paths import REPO

try:
    import tally.api.app  # noqa: F401

    HAVE_SERVER = True
except ImportError:  # the server is written concurrently; skip only while it cannot be imported
    HAVE_SERVER = False
BIN = REPO / ".venv" / "bin"


# A bound on waiting for the server to start or stop, not an expectation: importing the app takes
# a second on a quiet machine and many on a loaded one.
STARTUP_TIMEOUT = 300.0


class Server:
    """The Tally server under uvicorn with TLS, as a process that can be stopped or killed."""

    def __init__(self, home: Path, certs: dict[str, Path], port: int) -> None:
        self.home, self.certs, self.port = home, certs, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start and wait until it accepts connections (uvicorn binds once the app is made)."""
        env = {**os.environ, "TALLY_HOME": str(self.home)}
        self.process = subprocess.Popen(
            [
                str(BIN / "python"),
                "-m",
                "uvicorn",
                "--factory",
                "tally.api.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ssl-keyfile",
                str(self.certs["key"]),
                "--ssl-certfile",
                str(self.certs["cert"]),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert self.process.poll() is None, "server exited"
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STARTUP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STARTUP_TIMEOUT)
        self.process = None
