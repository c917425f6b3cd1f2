"""Which provider URLs Tally talks to: https anywhere, plain http only on this machine's loopback."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tally.auth.oidc.errors import OidcError


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url_problem(url: str) -> str | None:
    """Why `url` may not be used as a provider endpoint, or None when it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"not a URL: {exc}"
    if not host:
        return "no host"
    if parts.fragment:
        return "has a fragment"
    if parts.username is not None or parts.password is not None:
        return "carries credentials"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback_host(host):
        return None
    return "must be https (plain http only on loopback)"


def require_secure_url(url: str, what: str) -> str:
    problem = secure_url_problem(url)
    if problem is not None:
        raise OidcError("insecure_endpoint", f"{what} {url!r}: {problem}")
    return url
