"""Calls to the provider that a hostile or broken server cannot stretch or swell.

Every request has one deadline for all of it (connect, TLS handshake, sending, headers, body), not
a timeout per socket operation that a server dripping one byte at a time could renew forever; the
body is read up to a size bound and no further. Redirects are not followed (a provider's
endpoints answer directly; following one would send a code or a refresh token elsewhere).
Only the standard library: the Lambda layer carries no HTTP client.
"""

from __future__ import annotations

import http.client
import selectors
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BufferedReader, RawIOBase
from typing import Any, Protocol
from urllib.parse import urlsplit


class HttpError(Exception):
    """The request got no usable answer (refused, timed out, too large, not HTTP)."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    #: Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)


class HttpTransport(Protocol):
    """What the OIDC client needs from HTTP; tests may wrap the default to count or break calls."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
        max_bytes: int,
    ) -> HttpResponse: ...


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the provider did not answer in time")
    return left


def _wait(sock: socket.socket, events: int, deadline: float) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, events)
        if not selector.select(_remaining(deadline)):
            raise TimeoutError("the provider did not answer in time")


class _DeadlineSocketIO(RawIOBase):
    """A non-blocking socket read as a file, every wait bounded by the request's deadline."""

    def __init__(self, owner: _DeadlineSocket) -> None:
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock, deadline = self._owner.sock, self._owner.deadline
        while True:
            _remaining(deadline)
            try:
                return sock.recv_into(buffer)
            except (ssl.SSLWantReadError, BlockingIOError):
                _wait(sock, selectors.EVENT_READ, deadline)
            except ssl.SSLWantWriteError:
                _wait(sock, selectors.EVENT_WRITE, deadline)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._owner.file_closed()


class _DeadlineSocket:
    """The parts of a socket that http.client uses, over a non-blocking socket with a deadline.

    Like a real socket, it stays open while a file made from it is open: http.client closes the
    connection of a `Connection: close` answer before the body is read from the response's file.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.deadline = deadline
        self._files = 0
        self._close_requested = False

    def makefile(self, mode: str, *args: object, **kwargs: object) -> BufferedReader:
        if "r" not in mode:
            raise ValueError("only reading through a file is supported")
        self._files += 1
        return BufferedReader(_DeadlineSocketIO(self))

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _remaining(self.deadline)
            try:
                sent = self.sock.send(view)
            except (ssl.SSLWantWriteError, BlockingIOError):
                _wait(self.sock, selectors.EVENT_WRITE, self.deadline)
                continue
            except ssl.SSLWantReadError:
                _wait(self.sock, selectors.EVENT_READ, self.deadline)
                continue
            view = view[sent:]

    def file_closed(self) -> None:
        self._files -= 1
        if self._close_requested and self._files == 0:
            self.sock.close()

    def close(self) -> None:
        self._close_requested = True
        if self._files == 0:
            self.sock.close()


def _handshake(tls: ssl.SSLSocket, deadline: float) -> None:
    tls.setblocking(False)
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            _wait(tls, selectors.EVENT_READ, deadline)
        except ssl.SSLWantWriteError:
            _wait(tls, selectors.EVENT_WRITE, deadline)


class _DeadlineConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, deadline: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=_remaining(deadline))
        self._deadline = deadline
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=_remaining(self._deadline))
        if self._tls is not None:
            tls = self._tls.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
            try:
                _handshake(tls, self._deadline)
            except BaseException:
                tls.close()
                raise
            sock = tls
        self.sock = _DeadlineSocket(sock, self._deadline)


class StdlibTransport:
    """HTTP/1.1 with http.client: one connection per request (provider calls are rare)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls or ssl.create_default_context()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
        max_bytes: int,
    ) -> HttpResponse:
        deadline = time.monotonic() + timeout
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"cannot fetch {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection = _DeadlineConnection(
                parts.hostname, parts.port, deadline, self._tls if parts.scheme == "https" else None
            )
            response: http.client.HTTPResponse | None = None
            try:
                connection.request(method, target, body=body, headers=dict(headers))
                response = connection.getresponse()
                length = response.getheader("content-length")
                if length is not None and length.isdigit() and int(length) > max_bytes:
                    raise HttpError(f"answer of {int(length)} bytes exceeds the {max_bytes}-byte bound")
                data = response.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise HttpError(f"answer exceeds the {max_bytes}-byte bound")
                return HttpResponse(response.status, data, {k.lower(): v for k, v in response.getheaders()})
            finally:
                if response is not None:
                    response.close()
                connection.close()
        except HttpError:
            raise
        except TimeoutError as exc:
            raise HttpError(f"no answer within {timeout:g} s") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
