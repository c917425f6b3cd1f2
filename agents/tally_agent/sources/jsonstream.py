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


class JsonValues:
    """(line number where the value starts, value) for each top-level value or array element.

    `empty_lists` counts top-level `[]` seen: a document of no records, which a source may take
    as recognised (JSON alone says nothing of the format).
    """

    def __init__(self, lines: Iterable[str], stats: ParseStats, source: str) -> None:
        self.lines = lines
        self.stats = stats
        self.source = source
        self.empty_lists = 0

    def __iter__(self) -> Iterator[Tuple[int, Any]]:
        stats = self.stats
        buffer = ""
        start_line = 0
        depth = 0  # 1 inside the top-level array
        elements = 0  # values read in the current top-level array
        for line_no, line in enumerate(self.lines, 1):
            stats.lines += 1
            if not buffer.strip(_SPACE):
                buffer, start_line = "", line_no
            line_at = len(buffer)  # where this line begins in the buffer
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
                    depth, elements, pos = 1, 0, pos + 1
                    continue
                if char == "]" and depth == 1:
                    self.empty_lists += elements == 0
                    depth, pos = 0, pos + 1
                    continue
                try:
                    value, end = _DECODER.raw_decode(buffer, pos)
                except json.JSONDecodeError as exc:
                    if exc.pos >= len(buffer.rstrip(_SPACE)) and len(buffer) - pos < MAX_VALUE_CHARS:
                        buffer = buffer[pos:]  # unfinished: read on
                        break
                    stats.error(self.source, start_line, f"not JSON: {exc.msg}")
                    if pos < line_at:  # the broken value began on an earlier line: retry this one alone
                        buffer, pos, line_at, start_line = buffer[line_at:], 0, 0, line_no
                        continue
                    buffer = ""
                    break
                elements += 1
                yield start_line, value
                pos = end
                start_line = line_no
        if buffer.strip(_SPACE):
            stats.error(self.source, start_line, "unfinished JSON value at the end of the input")
        elif depth:
            stats.error(self.source, start_line, "unfinished JSON list at the end of the input")
