"""JSON values from lines: one top-level array (read element by element), or values one after the
other (NDJSON, or pretty-printed objects in a row). Memory stays bounded by the largest value.

A value that cannot be read is a counted error at the line where it started, and reading goes
on at the next line. Valid JSON never breaks a line inside a string, so a value is taken as
unfinished (more lines are read) only while the decoder stops at the end of what it was given.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator, Tuple

from tally_agent.context import ParseStats

# The longest value read before giving up on it (a real record is a few kilobytes).
MAX_VALUE_CHARS = 4_000_000
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


def values(lines: Iterable[str], stats: ParseStats, source: str) -> Iterator[Tuple[int, Any]]:
    """(line number where the value starts, value) for each top-level value or array element."""
    buffer = ""
    start_line = 0
    depth = 0  # 1 inside the top-level array
    for line_no, line in enumerate(lines, 1):
        stats.lines += 1
        if not buffer.strip(_SPACE):
            buffer, start_line = "", line_no
        buffer += line
        pos = 0
        while True:
            while pos < len(buffer) and (buffer[pos] in _SPACE or (depth and buffer[pos] == ",")):
                pos += 1
            if pos >= len(buffer):
                buffer = ""
                break
            char = buffer[pos]
            if char == "[" and depth == 0:
                stats.recognised += 1  # a list, if empty, is still a document of this format
                depth, pos = 1, pos + 1
                continue
            if char == "]" and depth == 1:
                depth, pos = 0, pos + 1
                continue
            try:
                value, end = _DECODER.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(buffer.rstrip(_SPACE)) and len(buffer) - pos < MAX_VALUE_CHARS:
                    buffer = buffer[pos:]  # unfinished: read on
                    break
                stats.error(source, start_line, f"not JSON: {exc.msg}")
                buffer = ""
                break
            yield start_line, value
            pos = end
            start_line = line_no
    if buffer.strip(_SPACE):
        stats.error(source, start_line, "unfinished JSON value at the end of the input")
