"""The Tally app in a process of its own, for tests that must survive (and measure) the server:
a crash kills that process, not pytest, and its peak memory is its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    url: str
    key: str
    process: subprocess.Popen[str]

    def alive(self) -> bool:
        if self.process.poll() is not None:
            return False
        return httpx.get(f"{self.url}/v1/health", timeout=10).status_code < 500

    def peak_rss_bytes(self) -> int:
        """The process's peak resident memory so far (VmHWM in /proc/<pid>/status)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc status")


@contextmanager
def server_process(home: Path) -> Iterator[ServerProcess]:
    port = free_port()
    env = {**os.environ, "TALLY_MODE": "local", "TALLY_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.server_process", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        key = process.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server process did not start") from None
                time.sleep(0.1)
        yield ServerProcess(url, key, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    import uvicorn

    from tally.api.app import create_app
    from tally.settings import Settings

    app = create_app(Settings(mode="local", home=Path(os.environ["TALLY_HOME"])))
    services = app.state.services
    services.add_site("SITE-A")
    print(services.create_key("SITE-A").plain, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
