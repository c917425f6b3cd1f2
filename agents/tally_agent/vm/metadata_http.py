"""Plain-HTTP requests to a link-local metadata service: short timeouts, never through a proxy
(a proxy would answer for another machine, or leak the request), errors as `MetadataError`."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

# No ProxyHandler entries: http_proxy in the environment must not apply to 169.254.169.254.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MetadataError(Exception):
    """The metadata service is absent, refused the request, or answered something unusable."""


def fetch(
    url: str,
    headers: Dict[str, str],
    timeout: float,
    method: str = "GET",
    data: Optional[bytes] = None,
) -> Tuple[bytes, Dict[str, str]]:
    """The body and (lower-cased) headers of a 2xx answer."""
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
            return response.read(), answer_headers
    except urllib.error.HTTPError as exc:
        raise MetadataError(f"{method} {url} answered {exc.code}") from exc
    except (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError) as exc:
        raise MetadataError(f"{method} {url}: {exc}") from exc


def fetch_json(url: str, headers: Dict[str, str], timeout: float) -> Dict[str, Any]:
    body, _ = fetch(url, headers, timeout)
    return as_object(body, url)


def as_object(body: bytes, where: str) -> Dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise MetadataError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise MetadataError(f"{where}: not a JSON object")
    return value


def text(value: Any) -> str:
    """A metadata value as a string ('' for missing)."""
    return "" if value is None else str(value).strip()
