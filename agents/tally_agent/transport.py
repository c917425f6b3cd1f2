"""HTTPS to the Tally server: verified TLS (optionally mutual), gzip NDJSON batches, JSON answers.

There is deliberately no way to turn certificate verification off: a private CA is configured
with `ca_bundle` instead (`tally serve --self-signed` prints the line). Plain `http://` is accepted
only for a server on this machine's loopback (127.0.0.0/8, ::1, localhost), with a warning, so a
key never crosses a network in the clear.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Optional

from tally_agent import __version__

USER_AGENT = f"tally-agent/{__version__}"
log = logging.getLogger("tally_agent")


class TransportError(Exception):
    """The server could not be reached or gave no usable answer: try again later."""


@dataclass
class Answer:
    status: int
    body: Dict[str, Any]

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status in (408, 425, 429)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def tls_context(ca_bundle: str = "", client_cert: str = "", client_key: str = "") -> ssl.SSLContext:
    """A client context that verifies the server (system CAs, or `ca_bundle`) and its host name."""
    context = ssl.create_default_context(cafile=ca_bundle or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert:
        context.load_cert_chain(client_cert, client_key or None)
    # Never weakened: these are the defaults, asserted so a future edit cannot silently drop them.
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url_problem(server: str) -> Optional[str]:
    """Why `server` cannot be used, or None: https://, or http:// to a loopback host only."""
    try:
        parts = urllib.parse.urlsplit(server)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        return f"server {server!r} is not a URL: {exc}"
    if not parts.hostname:
        return f"server {server!r} has no host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        if is_loopback(parts.hostname):
            return None
        return (
            f"server {server!r}: plain http:// is only allowed to this machine (127.0.0.1, ::1, "
            "localhost); use https:// (TLS is always verified)"
        )
    return f"server {server!r} must be an https:// URL (TLS is always verified)"


class Client:
    def __init__(self, server: str, key: str, context: ssl.SSLContext, timeout: float = 30.0) -> None:
        problem = server_url_problem(server)
        if problem:
            raise ValueError(problem)
        if server.startswith("http://"):
            log.warning("sending to %s over plain HTTP (loopback only); use https:// elsewhere", server)
        self.server = server.rstrip("/")
        self.key = key
        self.context = context
        self.timeout = timeout

    def sync_state(self, resource: str, kind: str) -> Dict[str, Any]:
        query = urllib.parse.urlencode({"resource": resource, "kind": kind})
        answer = self._call("GET", f"/v1/sync-state?{query}", None, {})
        if not answer.ok:
            raise TransportError(f"sync-state answered {answer.status}: {_reason(answer.body)}")
        return answer.body

    def post_batch(self, kind: str, gzip_body: bytes) -> Answer:
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        return self._call("POST", f"/v1/records/{kind}", gzip_body, headers)

    def _call(self, method: str, path: str, body: Optional[bytes], headers: Dict[str, str]) -> Answer:
        request = urllib.request.Request(self.server + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        request.add_header("Accept", "application/json, application/problem+json")
        request.add_header("User-Agent", USER_AGENT)
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return Answer(response.status, _json(response.read()))
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read()
            except OSError:
                payload = b""
            return Answer(exc.code, _json(payload))
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(f"TLS verification failed: {exc.verify_message}") from exc
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError) as exc:
            raise TransportError(f"{method} {path}: {exc}") from exc


def _json(payload: bytes) -> Dict[str, Any]:
    if not payload:
        return {}
    try:
        value = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        return {"detail": payload[:500].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"detail": value}


def _reason(body: Dict[str, Any]) -> str:
    return str(body.get("detail") or body.get("title") or body)
