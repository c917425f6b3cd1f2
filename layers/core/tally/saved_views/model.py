"""A saved view and the bounds it is held to. Its state is the portal's own (opaque to the server):
any JSON object, kept as sent, bounded in size and depth so a view cannot be a storage sink."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tally.domain.errors import RequestRefused, TooLarge

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TITLE = 200
MAX_STATE_BYTES = 16 * 1024  # the state as compact JSON
MAX_DEPTH = 32
MAX_VIEWS = 100  # per person
#: What a PUT body may be as sent: the state, the title and JSON's wrapping.
MAX_BODY_BYTES = 2 * MAX_STATE_BYTES


class InvalidView(RequestRefused):
    """A view name, title or state outside the bounds (422)."""


@dataclass(frozen=True)
class SavedView:
    name: str
    title: str
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidView(
            f"a view name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; "
            f"not {name[:80]!r}"
        )
    return name


def check_title(title: object) -> str:
    if not isinstance(title, str):
        raise InvalidView("title must be a string")
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE or any(ord(c) < 32 for c in title):
        raise InvalidView(f"title must be 1 to {MAX_TITLE} printable characters")
    return title


def _depth(value: object, limit: int) -> int:
    """Nesting depth of a JSON value, stopping as soon as it passes `limit`."""
    stack: list[tuple[object, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def check_state(state: object) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise InvalidView("state must be a JSON object")
    if _depth(state, MAX_DEPTH) > MAX_DEPTH:
        raise InvalidView(f"state is nested more than {MAX_DEPTH} levels deep")
    size = len(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_STATE_BYTES:
        raise TooLarge(f"state is {size} bytes as JSON, more than the limit of {MAX_STATE_BYTES}")
    return state
