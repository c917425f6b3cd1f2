"""The loopback servers the tests stand up (the alerts' webhook, the subscriptions' file hook,
Lambda's Invoke API) take a request body only when its length is one count of bytes within their
limit and all of it arrives: anything else is a 4xx and a closed connection, never a crash or an
endless read. Raw requests over a socket, so the headers are exactly as written here."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.alerts.receivers import MAX_ALERT_BYTES, webhook
from tests.subscriptions.receivers import MAX_REPORT_BYTES, file_hook
from tests.support.lambda_server import MAX_EVENT_BYTES, lambda_stand_in

EVENT = {"a": 1}
BODY = b'{"a": 1}'  # EVENT as sent: 8 bytes


@dataclass
class Served:
    """A running server: where to POST, its limit, the status of a body it takes, and the bodies
    it kept (as JSON values), emptied before each test."""

    host: str
    port: int
    path: str
    limit: int
    ok: int
    kept: Callable[[], list[Any]]
    forget: Callable[[], None]


def _running(kind: str) -> AbstractContextManager[Any]:
    if kind == "alerts":
        return webhook()
    if kind == "subscriptions":
        return file_hook()
    return lambda_stand_in("echo", lambda event, _context: {"echo": event})


@pytest.fixture(scope="module", params=["alerts", "subscriptions", "lambda"])
def server(request: pytest.FixtureRequest) -> Iterator[Served]:
    kind = request.param
    with _running(kind) as running:
        where = urlsplit(running.url)
        assert where.hostname is not None and where.port is not None
        at = (where.hostname, where.port)
        if kind == "alerts":
            received = running.received
            yield Served(*at, where.path, MAX_ALERT_BYTES, 204, lambda: received, received.clear)
        elif kind == "subscriptions":
            posted = running.received
            bodies = lambda: [json.loads(p.body) for p in posted]  # noqa: E731
            yield Served(*at, where.path, MAX_REPORT_BYTES, 204, bodies, posted.clear)
        else:
            path, events = "/2015-03-31/functions/echo/invocations", running.events
            yield Served(*at, path, MAX_EVENT_BYTES, 200, lambda: events, events.clear)


@pytest.fixture
def served(server: Served) -> Served:
    server.forget()
    return server


def exchange(
    served: Served, headers: list[str], body: bytes, *, then: bytes = b"", ending: bool = True
) -> list[int]:
    """Send one request (then `then`, more bytes on the same connection), by default saying it is
    the connection's last and closing the client's side after it (`ending`); read until the server
    closes (a server still waiting for bytes fails this after 10 s). The statuses answered."""
    head = [f"POST {served.path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    with socket.create_connection((served.host, served.port), timeout=10) as conn:
        if ending:
            head.append("Connection: close")
        conn.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + body + then)
        if ending:
            conn.shutdown(socket.SHUT_WR)
        answered = b""
        while chunk := conn.recv(65536):
            answered += chunk
    return [int(line.split()[1]) for line in answered.split(b"\r\n") if line.startswith(b"HTTP/1.")]


def test_a_whole_body_within_the_limit_is_taken(served: Served) -> None:
    assert exchange(served, ["Content-Length: 8"], BODY) == [served.ok]
    assert served.kept() == [EVENT]


def test_the_same_length_twice_is_one_length(served: Served) -> None:
    assert exchange(served, ["Content-Length: 8", "Content-Length:  8 "], BODY) == [served.ok]
    assert served.kept() == [EVENT]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        pytest.param([], BODY, 411, id="no-length"),
        pytest.param(["Content-Length: eight"], BODY, 400, id="not-a-number"),
        pytest.param(["Content-Length: -1"], BODY, 400, id="negative"),
        pytest.param(["Content-Length: +8"], BODY, 400, id="signed"),
        pytest.param(["Content-Length: 8.0"], BODY, 400, id="fraction"),
        pytest.param(["Content-Length: ８"], BODY, 400, id="not-ascii-digit"),
        pytest.param(["Content-Length: 8", "Content-Length: 9"], BODY, 400, id="two-lengths"),
        pytest.param(["Content-Length: 20"], BODY, 400, id="truncated"),
        pytest.param(["Content-Length: " + "9" * 40], b"", 413, id="enormous"),
    ],
)
def test_a_body_not_given_whole_within_one_count_is_refused(
    served: Served, headers: list[str], body: bytes, status: int
) -> None:
    assert exchange(served, headers, body) == [status]
    assert served.kept() == []


def test_a_body_over_the_limit_is_refused_before_it_is_read(served: Served) -> None:
    # Only the head is sent and the connection kept open: a server reading the declared bytes
    # would wait for them instead of answering.
    assert exchange(served, [f"Content-Length: {served.limit + 1}"], b"", ending=False) == [413]
    assert served.kept() == []


def test_a_refused_requests_unread_bytes_are_not_taken_for_the_next_request(served: Served) -> None:
    # What follows a head over the limit reads as a second, well-formed request on a connection
    # kept alive: it is never answered, the connection closed after the refusal.
    smuggled = f"POST {served.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n".encode() + BODY
    head = [f"Content-Length: {served.limit + 1}"]
    assert exchange(served, head, b"", then=smuggled, ending=False) == [413]
    assert served.kept() == []


def test_lambda_refuses_an_event_that_is_not_json_as_lambda_does() -> None:
    with lambda_stand_in("echo", lambda event, _context: event) as running:
        client = boto3.client(
            "lambda",
            endpoint_url=running.url,
            region_name="eu-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        with pytest.raises(ClientError) as refused:
            client.invoke(FunctionName="echo", Payload=b"{not json")
        assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # The same client's next, good event runs: the refusal left nothing behind.
        answer = client.invoke(FunctionName="echo", Payload=json.dumps(EVENT).encode())
        assert json.loads(answer["Payload"].read()) == EVENT
        assert running.events == [EVENT]
