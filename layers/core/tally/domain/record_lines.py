"""A batch of records as NDJSON lines, the form the ingest takes whatever the body's form was.

Arrow's JSON reader (pyarrow 25) crashes the process when a block of input starts with a top-level
`null` (elsewhere a top-level `null` becomes a row of nulls), so the ingest hands Arrow only lines
that each start with `{`: a block then always starts with an object. Every other departure from
one object per line makes Arrow fail or return more rows than there are lines, and the ingest then
judges the batch record by record; the one leniency Arrow has over JSON, NaN and Infinity in float
fields, is caught after the read (see `tally.services.ingest`). Checking that takes two scans of
the body in C, where parsing every line with orjson first (as before) cost about as much CPU as
Arrow's whole read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

# The longest record line parsed (the longest valid record is about a tenth of this: node_list's
# 65,536 characters, escaped, and every other field at its longest). A longer one is rejected
# unparsed, so no single record can cost more than a few times this much memory.
MAX_RECORD_BYTES = 1 << 20

# A line that does not start with `{` (a blank one included), in a body that does.
_LINE_NOT_OBJECT = re.compile(rb"\n(?!\{)")


@dataclass(frozen=True)
class RecordLines:
    """A batch as one JSON value per line (NDJSON, no blank lines).

    `arrow_safe` is true only when no line can crash Arrow's reader (see the module note): each
    starts with `{` (or orjson parsed it as one object), is UTF-8 and at most `MAX_RECORD_BYTES`.
    Lines built elsewhere start unchecked and the ingest checks them.
    """

    ndjson: bytes
    count: int
    arrow_safe: bool = False
    # True once blank lines are gone and `arrow_safe` is decided (by `split_lines` or `check_lines`).
    checked: bool = False


def check_lines(lines: RecordLines) -> RecordLines:
    """Lines built outside `split_lines`: blank lines removed, and `arrow_safe` decided."""
    return lines if lines.checked else checked_lines(lines.ndjson.strip())


def checked_lines(stripped: bytes, newlines: int | None = None) -> RecordLines:
    """Lines of a stripped NDJSON body without blank ones, `arrow_safe` decided. `newlines`, when
    the caller has counted them already, is `stripped.count(b"\\n")` (a scan of the body saved)."""
    if not stripped:
        return RecordLines(b"", 0, False, checked=True)
    if stripped.startswith(b"{") and _LINE_NOT_OBJECT.search(stripped) is None:
        # The usual body: every line starts with `{`, so none is blank. Decided in two scans in C,
        # without a Python object per line.
        safe = _is_utf8(stripped) and not _has_long_line(stripped)
        count = stripped.count(b"\n") if newlines is None else newlines
        return RecordLines(stripped, count + 1, safe, checked=True)
    lines = stripped.split(b"\n")
    kept = [line for line in lines if line and not line.isspace()]
    ndjson = stripped if len(kept) == len(lines) else b"\n".join(kept)
    return RecordLines(ndjson, len(kept), arrow_safe(ndjson, kept), checked=True)


def arrow_safe(ndjson: bytes, lines: list[bytes]) -> bool:
    """Whether `lines` (the lines of `ndjson`, none blank) may go to Arrow's reader.

    Lines that each start with `{` are safe as they are; otherwise (leading whitespace, say) each
    line must parse with orjson as one object, as `all_objects` checks.
    """
    if not lines or max(map(len, lines)) > MAX_RECORD_BYTES or not _is_utf8(ndjson):
        return False
    if all(line.startswith(b"{") for line in lines):
        return True
    return all_objects(lines)


def _has_long_line(data: bytes) -> bool:
    """Whether a line of `data` is longer than `MAX_RECORD_BYTES`, without splitting it: such a
    line holds a whole aligned window of half that length, so only windows without a newline are
    looked at more closely (one `find` each, which stops at the window's first newline)."""
    half = MAX_RECORD_BYTES // 2
    for start in range(0, len(data) - half + 1, half):
        if data.find(b"\n", start, start + half) == -1:
            first = data.rfind(b"\n", 0, start) + 1
            end = data.find(b"\n", start + half)
            if (len(data) if end == -1 else end) - first > MAX_RECORD_BYTES:
                return True
    return False


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def all_objects(lines: list[bytes]) -> bool:
    """Whether orjson parses every line, on its own, as one JSON object.

    Each line is parsed separately (a body parsed whole could hide a line that is only part of an
    object); `map` keeps the loop in C, about a second per million lines less than a call each.
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
