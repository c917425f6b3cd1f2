"""Split an APEL text message into its header and its `Key: Value` records.

The wire format (APEL `record_factory.py` and `Record.load_from_msg`): one header line
`<type>: <version>`, then records of `Key: Value` lines, each ended by a line `%%`. Keys are
case-sensitive; a value is everything after the first colon, stripped, so a missing space after
the colon is fine (APEL strips both sides). A value of `none`, `null` or nothing, in any case, means
absent (APEL `check_for_null`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Family = Literal[
    "job", "job04", "summary", "summary04", "normalised", "normalised04", "sync", "cloud", "cloud_summary"
]

#: (header type, version) -> record family. APEL 2.5.0 `apel/db/__init__.py` names the headers;
#: `record_factory.py` routes v0.4 to the dict-valued record classes and tells the v0.3 summary
#: (normalised) from v0.2 by its full header. Job messages v0.1 to v0.3 share one field set.
FAMILIES: dict[tuple[str, str], Family] = {
    ("APEL-individual-job-message", "v0.1"): "job",
    ("APEL-individual-job-message", "v0.2"): "job",
    ("APEL-individual-job-message", "v0.3"): "job",
    ("APEL-individual-job-message", "v0.4"): "job04",
    ("APEL-summary-job-message", "v0.2"): "summary",
    ("APEL-summary-job-message", "v0.3"): "normalised",
    ("APEL-summary-job-message", "v0.4"): "summary04",
    ("APEL-normalised-summary-message", "v0.3"): "normalised",
    ("APEL-normalised-summary-message", "v0.4"): "normalised04",
    ("APEL-sync-message", "v0.1"): "sync",
    ("APEL-cloud-message", "v0.4"): "cloud",
    ("APEL-cloud-summary-message", "v0.4"): "cloud_summary",
}
END_OF_RECORD = "%%"
NULLS = frozenset({"none", "null", ""})


class MessageError(ValueError):
    """The message as a whole cannot be read (no header, an unknown type)."""


@dataclass
class RawRecord:
    """One record as sent: its fields in order, where it starts, and what was wrong with its lines."""

    index: int
    line_no: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    problems: list[tuple[str | None, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Message:
    header: str
    family: Family
    records: list[RawRecord]


def parse_header(line: str) -> tuple[str, str, Family]:
    """The message type, version and family of a header line (`APEL-sync-message: v0.1`)."""
    name, colon, version = line.partition(":")
    name, version = name.strip(), version.strip()
    if not colon or not name:
        raise MessageError(f"the first line is not an APEL header (`<type>: <version>`): {line[:80]!r}")
    family = FAMILIES.get((name, version))
    if family is None:
        known = ", ".join(f"{n}: {v}" for n, v in FAMILIES)
        raise MessageError(f"message type {name}: {version} is not one Tally reads (it reads {known})")
    return name, version, family


def parse_message(text: str) -> Message:
    """The header and every record of `text`; a record's unreadable lines are noted, not fatal."""
    lines = text.lstrip("\ufeff").splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise MessageError("the message is empty")
    name, version, family = parse_header(lines[first])
    records: list[RawRecord] = []
    current: RawRecord | None = None
    for number, line in enumerate(lines[first + 1 :], start=first + 2):
        stripped = line.strip()
        if stripped == END_OF_RECORD:
            if current is not None:
                records.append(current)
            current = None
            continue
        if not stripped:
            continue
        if current is None:
            current = RawRecord(index=len(records), line_no=number)
        current.lines.append(line)
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon or not key:
            current.problems.append((None, f"line {number} is not `Key: Value`: {stripped[:80]!r}"))
        elif key in current.fields:
            current.problems.append((key, f"{key} is given twice in one record (line {number})"))
        else:
            current.fields[key] = value.strip()
    if current is not None:
        # A last record without its `%%`: APEL's split on `%%` reads it too, so Tally does.
        records.append(current)
    return Message(f"{name}: {version}", family, records)


def is_null(value: str | None) -> bool:
    return value is None or value.strip().lower() in NULLS
