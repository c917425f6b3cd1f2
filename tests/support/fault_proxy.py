"""A fault-injecting HTTP/1.1 proxy on loopback, between the agent and the server.

Each request (the agent sends one per connection) is read whole, then, chosen by a seeded random
generator: answered 500 or 503 without reaching the server, dropped before it reaches the server,
forwarded and its answer dropped (the server stored the batch, the agent never hears of it), or
forwarded and answered. When the server is down the connection is closed. Every fault is counted.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

FAULTS = ("answer_500", "answer_503", "drop_request", "drop_answer")


@dataclass
class FaultPlan:
    """Probability of each fault per request; the rest are forwarded and answered."""

    answer_500: float = 0.0
    answer_503: float = 0.0
    drop_request: float = 0.0
    drop_answer: float = 0.0
    seed: int = 0
    enabled: bool = True
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def choose(self) -> str:
        with self._lock:
            if not self.enabled:
                return "forward"
            draw = self._random.random()
            for name in FAULTS:
                draw -= float(getattr(self, name))
                if draw < 0:
                    return name
            return "forward"

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    @property
    def injected(self) -> int:
        """Faults the proxy made (a request failing because the server was down is counted apart)."""
        return sum(self.counts[name] for name in FAULTS)


def _problem(status: int, title: str) -> bytes:
    body = f'{{"type":"about:blank","title":"{title}","status":{status},"detail":"injected"}}'.encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + (await reader.readexactly(length) if length else b"")


async def _forward(request: bytes, port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=30)  # the server closes: Connection: close
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()


@contextmanager
def fault_proxy(server_port: Callable[[], int], plan: FaultPlan) -> Iterator[int]:
    """Run the proxy in a thread; yield the port it listens on. `server_port()` says where the
    server is now (a restarted server may listen elsewhere)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            fault = plan.choose()
            if fault in ("answer_500", "answer_503"):
                status = 500 if fault == "answer_500" else 503
                writer.write(_problem(status, "Internal Server Error" if status == 500 else "Unavailable"))
                await writer.drain()
            elif fault != "drop_request":
                try:
                    answer = await _forward(request, server_port())
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    fault = "server_down"
                else:
                    if not answer:
                        fault = "server_down"  # killed while it worked on the request
                    elif fault == "forward":
                        writer.write(answer)
                        await writer.drain()
            plan.count(fault)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            plan.count("client_gone")
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    async def start() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    ready.wait(10)
    try:
        yield int(str(holder["port"]))
    finally:

        async def stop() -> None:
            server = holder["server"]
            assert isinstance(server, asyncio.Server)
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
