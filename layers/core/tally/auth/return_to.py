"""Where a browser may be sent after signing in: a path of this site only (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_RETURN_TO = 512


def safe_return_to(value: str | None) -> str:
    """`value` when it is a local absolute path (`/portal/...`, with query), else ValueError.

    Refused: anything with a scheme or host (`https://evil`, `//evil`), backslashes (which
    browsers read as slashes: `/\\evil`), control characters and fragments-only; None gives `/`.
    """
    if value is None or value == "":
        return "/"
    if len(value) > MAX_RETURN_TO:
        raise ValueError(f"return_to is longer than {MAX_RETURN_TO} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value) or "\\" in value:
        raise ValueError("return_to holds a space, a control character or a backslash")
    if not value.startswith("/") or value.startswith("//"):
        raise ValueError("return_to must be a path on this site, starting with a single /")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        raise ValueError("return_to must be a path on this site, not another site's address")
    return value
