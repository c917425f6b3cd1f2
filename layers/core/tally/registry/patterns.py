"""Job-name globs (`*` any run, `?` one character) as SQL LIKE patterns with `\\` as the escape."""

from __future__ import annotations


def glob_to_like(glob: str) -> str:
    out = []
    for char in glob:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", "\\"):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)
