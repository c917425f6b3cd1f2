"""Slow clients cannot hold `tally serve`: with real sockets, a stalled or trickled body is answered
408 and closed within the body deadline, half-sent headers and silent connections are closed within
the header deadline, connections over the limit get 503 at once, and meanwhile others are served."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
from fastapi import Request

from tally.api.app import create_app
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.serve_process import TallyServe, free_port
from tests.support.servers import running_app

HEADER_TIMEOUT, BODY_TIMEOUT, MAX_CONNECTIONS = 1.0, 2.0, 40
SLACK = 1.5  # scheduling on a loaded 2-core machine


def open_stalled(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and when it closed (monotonic)."""
    sock.settimeout(limit)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except TimeoutError:
        return answer + b"<still open>", time.monotonic()
    except ConnectionResetError:
        pass
    return answer, time.monotonic()


def health(port: int) -> tuple[int, float]:
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer, _ = read_until_closed(sock, 10)
    return int(answer.split(b" ", 2)[1]), time.monotonic() - began


def post(key: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = (
        f"POST /v1/records/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {size}\r\n\r\n"
    )
    return head.encode() + body


RECORD = (
    b'{"site":"TEST-SITE","resource":"cluster1","batch_system":"slurm","local_job_id":"1",'
    b'"start_time":"2026-03-01T10:00:00Z","end_time":"2026-03-01T11:00:00Z","wall_seconds":3600,'
    b'"cpu_seconds":3000,"cores":1,"state":"COMPLETED"}\n'
)


@pytest.mark.slow
def test_slow_clients_are_cut_and_others_served(tmp_path: Path) -> None:
    home = tmp_path / "home"
    svc = Services(local_settings(home))
    svc.add_site("TEST-SITE")
    key = svc.create_key("TEST-SITE").plain
    port = free_port()
    server = TallyServe(
        home,
        port,
        env={
            "TALLY_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "TALLY_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "TALLY_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
    )
    server.start()
    try:
        # One ingest first, of another job: a fresh process loads the ingest path on its first
        # batch, which is no part of what the slow clients may or may not hold up.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as warm:
            other = post(key, RECORD.replace(b'"local_job_id":"1"', b'"local_job_id":"warm-up"'))
            warm.sendall(other.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n", 1))
            answer, _ = read_until_closed(warm, 30)
        assert answer.startswith(b"HTTP/1.1 200") and b'"accepted":1' in answer, answer[:300]
        began = time.monotonic()
        bodies = [open_stalled(port, post(key, RECORD[:50], length=len(RECORD))) for _ in range(10)]
        headers = [
            open_stalled(port, b"POST /v1/records/jobs HTTP/1.1\r\nHost: x\r\nContent-") for _ in range(5)
        ]
        silent = [open_stalled(port, b"") for _ in range(5)]
        # 20 slow connections of 40 allowed: others are served at once, writes included.
        status, took = health(port)
        assert status == 200 and took < 1.0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as ok:
            ok.sendall(post(key, RECORD))
            answer, _ = read_until_closed(ok, 1.0)  # well before the held bodies' 2 s deadline
        assert answer.startswith(b"HTTP/1.1 200") and b'"accepted":1' in answer, answer[:300]
        # A trickling client: one byte every 0.4 s makes the server wait, and the waiting adds up.
        trickle = open_stalled(port, post(key, b"", length=len(RECORD)))
        trickle_began = time.monotonic()
        sent = 0
        trickle.settimeout(0.4)
        while sent < len(RECORD):
            try:
                trickle.sendall(RECORD[sent : sent + 1])
            except OSError:
                break
            sent += 1
            try:
                if trickle.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
        trickled, trickle_closed = read_until_closed(trickle, BODY_TIMEOUT + SLACK)
        assert trickled.startswith(b"HTTP/1.1 408") and b"application/problem+json" in trickled
        assert BODY_TIMEOUT - 0.3 <= trickle_closed - trickle_began <= BODY_TIMEOUT + SLACK
        assert sent < len(RECORD)
        for sock in bodies:
            answer, closed = read_until_closed(sock, BODY_TIMEOUT + SLACK)
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
            assert b'"status":408' in answer and b"did not arrive within 2 s" in answer
            assert closed - began <= BODY_TIMEOUT + SLACK + 1.0
        for sock in headers + silent:
            answer, closed = read_until_closed(sock, HEADER_TIMEOUT + SLACK)
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
            assert closed - began <= BODY_TIMEOUT + SLACK + 1.0
        for sock in [*bodies, *headers, *silent, trickle]:
            sock.close()
        # Over the connection limit: the extra request is refused at once (503), not queued, and
        # once the slow ones are cut the server answers again.
        flood = [
            open_stalled(port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n") for _ in range(MAX_CONNECTIONS)
        ]
        status, took = health(port)
        assert status == 503 and took < 1.0
        time.sleep(HEADER_TIMEOUT + 0.5)
        status, _ = health(port)
        assert status == 200
        for sock in flood:
            answer, _ = read_until_closed(sock, SLACK)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
            sock.close()
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_body_deadline_counts_only_waiting_for_the_client(tmp_path: Path) -> None:
    """In the app itself (any server): a stalled body is answered 408 with a problem document,
    while an application that is slow to read a body that has arrived is not cut."""
    app = create_app(local_settings(tmp_path / "home", body_timeout_seconds=1.0))
    svc: Services = app.state.services
    svc.add_site("TEST-SITE")
    key = svc.create_key("TEST-SITE").plain

    @app.post("/slow-reader")
    async def slow_reader(request: Request) -> dict[str, int]:
        await asyncio.sleep(1.5)  # longer than the deadline, but the body is already here
        return {"bytes": len(await request.body())}

    with running_app(app) as url:
        port = int(url.rsplit(":", 1)[1])
        began = time.monotonic()
        with open_stalled(port, post(key, RECORD[:30], length=len(RECORD))) as stalled:
            answer, closed = read_until_closed(stalled, 5)
        assert answer.startswith(b"HTTP/1.1 408") and b'"title":"Request timeout"' in answer
        assert 0.9 <= closed - began <= 1.0 + SLACK
        with open_stalled(port, post(key, RECORD)) as fast:
            # Long enough for a loaded machine to ingest one record; the connection stays open.
            answer, _ = read_until_closed(fast, 3)
        answer = answer.removesuffix(b"<still open>")
        assert answer.startswith(b"HTTP/1.1 200") and b'"accepted":1' in answer
        body = b"x" * 1000
        request = f"POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        with open_stalled(port, request + body) as slow:
            answer, _ = read_until_closed(slow, 5)
        # The answer is whole; whether keep-alive has closed the connection by then is beside the point.
        answer = answer.removesuffix(b"<still open>")
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"bytes":1000}')


def test_a_request_the_parser_refuses_is_answered_in_problem_json(tmp_path: Path) -> None:
    """A 70 kB request line (past the HTTP parser's limit) never reaches the app: the server still
    answers 400 in problem+json, as the app answers, and keeps serving."""
    port = free_port()
    server = TallyServe(tmp_path / "home", port)
    server.start()
    try:
        for request in (
            b"GET /v1/fairshare?project=" + b"%C2%AD" * 12_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all\r\n\r\n",  # TLS to a plain port
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                answer, _ = read_until_closed(sock, 10)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
            assert b"content-type: application/problem+json" in head.lower()
            problem = json.loads(body)
            assert problem["status"] == 400 and problem["title"] == "Bad Request"
        assert health(port)[0] == 200
    finally:
        server.stop()
