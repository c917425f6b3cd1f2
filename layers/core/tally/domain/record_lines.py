"""A batch of records as NDJSON lines, the form the ingest takes whatever the body's form was.

Arrow's JSON reader crashes the process on some top-level values that are not objects (a line
`null` segfaults it), so `RecordLines.objects` is true only when every line has been parsed by
orjson as one complete JSON object; the ingest never hands Arrow anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

# The longest record line parsed (the longest valid record is about a tenth of this: node_list's
# 65,536 characters, escaped, and every other field at its longest). A longer one is rejected
# unparsed, so no single record can cost more than a few times this much memory.
MAX_RECORD_BYTES = 1 << 20


@dataclass(frozen=True)
class RecordLines:
    """A batch as one JSON value per line (NDJSON, no blank lines).

    `objects` is true only when every line is known to parse as one complete JSON object (see the
    module note on Arrow); lines built elsewhere start unchecked and the ingest checks them.
    """

    ndjson: bytes
    count: int
    objects: bool = False
    # True once blank lines are gone and `objects` is decided (by `split_lines` or `check_lines`).
    checked: bool = False


def check_lines(lines: RecordLines) -> RecordLines:
    """Lines built outside `split_lines`: blank lines removed, and `objects` decided."""
    return lines if lines.checked else checked_lines(lines.ndjson.strip())


def checked_lines(stripped: bytes) -> RecordLines:
    """Lines of a stripped NDJSON body without blank ones, `objects` decided line by line."""
    lines = stripped.split(b"\n")
    kept = [line for line in lines if line and not line.isspace()]
    ndjson = stripped if len(kept) == len(lines) else b"\n".join(kept)
    return RecordLines(ndjson, len(kept), all_objects(kept), checked=True)


def all_objects(lines: list[bytes]) -> bool:
    """Whether orjson parses every line, on its own, as one JSON object.

    Each line is still parsed separately (a body parsed whole could hide a line that is only part
    of an object); `map` keeps the loop in C, about a second per million lines less than a call each.
    """
    if max(map(len, lines), default=0) > MAX_RECORD_BYTES:
        return all(map(_is_object, lines))
    try:
        return all(type(value) is dict for value in map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return False


def _is_object(line: bytes) -> bool:
    if len(line) > MAX_RECORD_BYTES:
        return False
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
