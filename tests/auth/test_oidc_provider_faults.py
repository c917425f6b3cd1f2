"""A provider that is slow, huge, redirecting, lying or gone: bounded time and memory, a reason.

The hostile providers are raw sockets on loopback that answer in the way each test needs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tally.auth.oidc import OidcClient, OidcConfig, OidcError, StdlibTransport
from tally.auth.oidc.http import HttpError
from tests.auth.helpers import Clock, Recorder, access_claims, config_for, forge
from tests.support.openid_provider import REDIRECT_URI, OpenIdProvider, new_signing_key


@dataclass
class RawServer:
    """A loopback listener that hands each connection to `serve` on a thread of its own."""

    serve: Callable[[socket.socket], None]
    sock: socket.socket = field(default_factory=socket.socket)
    connections: int = 0
    bytes_sent: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.bytes_sent += len(data)


@contextmanager
def raw_server(serve: Callable[[RawServer, socket.socket], None]) -> Iterator[RawServer]:
    server = RawServer(lambda conn: None)
    server.serve = lambda conn: serve(server, conn)
    server.sock.bind(("127.0.0.1", 0))
    server.sock.listen(8)
    stop = threading.Event()

    def accept() -> None:
        server.sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10)
                conn.recv(65536)  # the request (small; one read is enough here)
                server.serve(conn)
            except OSError:
                pass  # the client gave up: that is what these tests expect

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        server.sock.close()


def hostile_config(url: str, **overrides: object) -> OidcConfig:
    fields: dict[str, object] = {
        "issuer": url,
        "client_id": "tally-portal",
        "redirect_uri": REDIRECT_URI,
        "http_timeout_seconds": 1.0,
        "max_response_bytes": 64 * 1024,
    }
    return OidcConfig.model_validate(fields | overrides)


def discovery_reason(config: OidcConfig) -> tuple[str, str, float]:
    started = time.monotonic()
    with pytest.raises(OidcError) as refused:
        OidcClient(config).metadata()
    return refused.value.reason, refused.value.detail, time.monotonic() - started


def test_a_provider_dripping_bytes_is_cut_off_at_the_deadline() -> None:
    def drip(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        for _ in range(100):  # one header byte every 0.1 s: every read succeeds, none ends
            server.send(conn, b"X")
            time.sleep(0.1)

    with raw_server(drip) as server:
        reason, detail, elapsed = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and "no answer within 1 s" in detail
    assert 0.9 < elapsed < 2.0  # the one-second deadline, not 100 x a per-read timeout


def test_a_provider_that_never_answers_is_cut_off() -> None:
    with raw_server(lambda server, conn: time.sleep(5)) as server:
        reason, _, elapsed = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and elapsed < 2.0


def test_a_tls_handshake_that_never_completes_is_cut_off() -> None:
    # An https URL whose server accepts the connection and says nothing: the handshake has the
    # same deadline as the rest.
    with raw_server(lambda server, conn: time.sleep(5)) as server:
        url = server.url.replace("http://", "https://")
        started = time.monotonic()
        with pytest.raises(HttpError, match="no answer within 1 s"):
            StdlibTransport().request("GET", url + "/x", headers={}, body=None, timeout=1.0, max_bytes=1024)
    assert time.monotonic() - started < 2.0


def test_a_huge_answer_is_refused_by_its_length_or_at_the_bound() -> None:
    def announced(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n{")

    with raw_server(announced) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and "exceeds the 65536-byte bound" in detail

    def endless(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        for _ in range(2000):  # 128 MiB if anyone read it all
            server.send(conn, chunk)

    with raw_server(endless) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
        sent = server.bytes_sent
    assert reason == "discovery_failed" and "exceeds the 65536-byte bound" in detail
    assert sent < 16 * 1024 * 1024  # it stopped reading; the server's writes stalled soon after


def answer(status: str, body: bytes, *headers: str) -> Callable[[RawServer, socket.socket], None]:
    def serve(server: RawServer, conn: socket.socket) -> None:
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
        server.send(conn, ("\r\n".join(head) + "\r\n\r\n").encode() + body)

    return serve


def test_redirects_are_not_followed(provider: OpenIdProvider) -> None:
    # A discovery URL that redirects to the real provider's document: refused, never fetched there.
    redirect = answer("302 Found", b"", f"Location: {provider.issuer}/.well-known/openid-configuration")
    with raw_server(redirect) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and "HTTP 302" in detail


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>maintenance</html>", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "exceeds"),  # over the bound before it could nest
        (b"[" * 30_000 + b"]" * 30_000, "not JSON"),  # deep nesting within the bound: no crash
        (b'["an array"]', "not a JSON object"),
        (b'{"issuer": "x"}', "unusable authorization_endpoint"),
    ],
)
def test_an_unusable_discovery_document_is_refused(body: bytes, expected: str) -> None:
    with raw_server(answer("200 OK", body)) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and expected in detail


def document(issuer: str, **changes: object) -> bytes:
    doc = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
    }
    return json.dumps(doc | changes).encode()


def test_a_document_speaking_for_another_issuer_or_over_plain_http_is_refused() -> None:
    with raw_server(lambda s, c: answer("200 OK", document("https://idp.example.org"))(s, c)) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and "names issuer 'https://idp.example.org'" in detail

    def insecure(server: RawServer, conn: socket.socket) -> None:
        answer("200 OK", document(server.url, jwks_uri="http://keys.example.org/jwks"))(server, conn)

    with raw_server(insecure) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and "jwks_uri" in detail

    def no_s256(server: RawServer, conn: socket.socket) -> None:
        answer("200 OK", document(server.url, code_challenge_methods_supported=["plain"]))(server, conn)

    with raw_server(no_s256) as server:
        reason, detail, _ = discovery_reason(hostile_config(server.url))
    assert reason == "discovery_failed" and "S256" in detail


def test_a_jwks_without_a_usable_signing_key_is_refused() -> None:
    keys = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},  # symmetric: never
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},  # far below 2048 bits
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "use": "enc"},  # not for signatures
            "not an object",
        ]
    }

    def serve(server: RawServer, conn: socket.socket) -> None:
        request_is_jwks = server.connections > 1
        body = json.dumps(keys).encode() if request_is_jwks else document(server.url)
        answer("200 OK", body)(server, conn)

    with raw_server(serve) as server:
        client = OidcClient(hostile_config(server.url))
        with pytest.raises(OidcError) as refused:
            client.verify_access_token(
                forge_for(server.url)  # any well-formed RS256 token of this issuer
            )
    assert refused.value.reason == "discovery_failed"
    assert "none of the JWKS's 4 keys can verify signatures" in refused.value.detail


def forge_for(issuer: str) -> str:
    return forge(new_signing_key(), access_claims(issuer))


def test_a_provider_outage_keeps_the_last_keys_for_a_while(
    own_provider: OpenIdProvider, clock: Clock
) -> None:
    recorder = Recorder()
    config = config_for(
        own_provider, jwks_ttl_seconds=300, discovery_ttl_seconds=300, jwks_refetch_interval_seconds=30
    )
    client = OidcClient(config, http=recorder, clock=clock)
    token = forge(own_provider.keys[0], access_claims(own_provider.issuer, exp=int(time.time()) + 3600))
    assert client.verify_access_token(token).subject == "alice"
    own_provider.stop()

    clock.advance(301)  # the cached keys expired; the provider is down: the last ones still serve
    assert client.verify_access_token(token).subject == "alice"
    tries = len(recorder.urls)
    for _ in range(5):  # and no request waits for another failing fetch within the retry interval
        assert client.verify_access_token(token).subject == "alice"
    assert len(recorder.urls) == tries

    clock.advance(300)  # two lifetimes without a successful fetch: no more
    with pytest.raises(OidcError) as refused:
        client.verify_access_token(token)
    assert refused.value.reason == "discovery_failed"

    own_provider.start()  # back: the next try after the retry interval succeeds
    clock.advance(31)
    assert client.verify_access_token(token).subject == "alice"
