"""Input lines of one or several files, which a parser may read as one stream or file by file.

Formats with a header per file (CSV quota reports) or one document per file (JSON) read each
file on its own through `by_file`; line-oriented logs read everything as one stream. Both count
the non-blank lines they hand out, so a parse can tell an empty input from one it did not
recognise.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import IO, ContextManager, Iterable, Iterator, List, Tuple


class FileLines:
    """Lines of every file in turn (`-` is standard input), iterable once."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths: List[str] = list(paths)
        self.content_lines = 0  # non-blank lines handed out so far

    def __iter__(self) -> Iterator[str]:
        for name in self.paths:
            yield from self._lines(name)

    def files(self) -> Iterator[Tuple[str, Iterator[str]]]:
        for name in self.paths:
            yield name, self._lines(name)

    def _lines(self, name: str) -> Iterator[str]:
        # One generator between the file and the parser: this runs once per line of every log.
        if name == "-":
            opened: ContextManager[IO[str]] = nullcontext(sys.stdin)
        else:
            opened = open(name, encoding="utf-8", errors="replace", newline="")  # noqa: SIM115 (entered below)
        with opened as handle:
            for line in handle:
                if not line.isspace():  # a file gives no "" line: a blank one is at least "\n"
                    self.content_lines += 1
                yield line


def by_file(lines: Iterable[str]) -> Iterator[Tuple[str, Iterator[str]]]:
    """The files behind `lines` one at a time; any other iterable is one unnamed file."""
    if isinstance(lines, FileLines):
        yield from lines.files()
    else:
        yield "-", iter(lines)
