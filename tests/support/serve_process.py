"""`tally serve` as a real process on loopback: started, waited for, killed, restarted.

Its output goes to a file (never a pipe nobody drains), which the tests read for the banner.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TALLY = str(BIN / "tally")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tally(home: Path, *args: str) -> str:
    """Run a `tally` command on `home`; its stdout."""
    done = subprocess.run(
        [TALLY, *args],
        env={**os.environ, "TALLY_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def site_with_key(home: Path, site: str, resource: str) -> str:
    tally(home, "sites", "add", site)
    created = json.loads(tally(home, "keys", "create", "--site", site, "--resource", resource, "--json"))
    return str(created["key"])


class TallyServe:
    def __init__(self, home: Path, port: int, *args: str, env: dict[str, str] | None = None) -> None:
        self.home, self.port, self.args = home, port, args
        # The alerts scheduler is off unless a test asks for it.
        self.env = {
            **os.environ,
            "TALLY_HOME": str(home),
            "TALLY_ALERTS_SCHEDULE_SECONDS": "0",
            **(env or {}),
        }
        self.log = home.parent / f"serve-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> str:
        """Start and wait until it accepts connections; the output so far (the banner)."""
        self.starts += 1
        mark = len(self.output())
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [TALLY, "serve", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Application startup complete" in self.output()[mark:]:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self.output()
                except OSError:
                    pass
            if self.process.poll() is not None:
                raise RuntimeError(f"tally serve exited {self.process.returncode}: {self.output()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"tally serve did not start: {self.output()[-2000:]}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def agent_options(self) -> tuple[str, str]:
        """(server URL, CA bundle) from the last `agents: --server ... --ca-bundle ...` line."""
        found = re.findall(r"agents: --server (\S+) --ca-bundle (\S+)", self.output())
        assert found, self.output()[-2000:]
        url, ca = found[-1]
        return str(url), str(ca)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
