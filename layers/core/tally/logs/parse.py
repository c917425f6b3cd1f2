"""One raw log file through the agent's parser: its records, and every line it could not read.

The server imports the agent's parsers (`tally_agent.registry.BATCH`), so a file posted to
`/v1/logs/{source}` gives exactly the records `tally-agent import` would send; the agent imports
nothing from the server. BLAH/CREAM logs go through the agent's BLAH parser too; the agent joins
them to its jobs itself, the server stores them as `grid_identities` (with the site and resource
of the post) for the view jobs_identified to join. The parser's line problems are kept all (the
agent keeps the first 50 and logs each), because the server quarantines every unreadable line with
its reason.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from tally_agent.context import ParseContext, ParseStats
from tally_agent.registry import BATCH, SOURCES, Source, nothing_recognised
from tally_agent.timeutil import site_zone

#: Parsers of raw logs: the batch systems the agent reads (jobs) and BLAH (grid identities).
PARSERS: dict[str, Source] = {**BATCH, "blah": SOURCES["blah"]}
#: Sources a raw log may come from, and what each expects.
LOG_SOURCES: dict[str, str] = {name: source.expects for name, source in PARSERS.items()}
#: The table each parser's records go to (the agent's "identities" are grid_identities here).
STORED_AS: dict[str, str] = {"identities": "grid_identities"}
#: Lines listed with their reasons in one answer (every one is quarantined).
MAX_PROBLEMS_KEPT = 100_000
# sacct's --format list: field names, `%width` suffixes, separated by `,` or `|`.
_FIELDS = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(%\d+)?([,|][A-Za-z][A-Za-z0-9_]*(%\d+)?)*$")
_ZONE = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")


class LogFormatError(ValueError):
    """The request's source, layout or time zone cannot be used, or nothing in the file was recognised."""


class _AllProblems(ParseStats):
    """The agent's tally, keeping every problem (bounded) and logging none of them per line."""

    def error(self, source: str, line_no: int, message: str) -> None:
        self.errors += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append((source, line_no, message))


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1-based line number in the file
    message: str
    text: str  # the line as sent (for the quarantine)


class LogParse:
    """A parse in progress: iterate `records()` once (a stream, so memory stays one record at a
    time), then read the tallies and `problems()`."""

    def __init__(self, source: str, text: str, ctx: ParseContext) -> None:
        self.source = source
        made = PARSERS[source].kind
        self.kind = STORED_AS.get(made, made)
        self.text = text
        self.ctx = ctx
        self.content_lines = 0
        self.records_out = 0

    def _lines(self) -> Iterator[str]:
        # As the agent reads a file (`newline=""`): split on line ends only, endings kept.
        for line in io.StringIO(self.text, newline=""):
            if not line.isspace():
                self.content_lines += 1
            yield line

    def records(self) -> Iterator[dict[str, Any]]:
        parsed = PARSERS[self.source].parse(self._lines(), self.ctx)
        if self.kind == "grid_identities":
            parsed = self._identities(parsed)
        for record in parsed:
            self.records_out += 1
            yield record
        unrecognised = nothing_recognised(self.source, self.content_lines, self.ctx.stats)
        if unrecognised:
            raise LogFormatError("; ".join([unrecognised, *self.ctx.stats.hints]))

    def _identities(self, parsed: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """BLAH lines as grid_identities records: the post's site and resource added, and of the
        lines a CE writes for one job (one per FQAN, same lrmsID and timestamp) the first kept, as
        the primary FQAN (APEL's BLAH parser keeps the first too); the others count as skipped."""
        seen: set[tuple[str, str | None]] = set()
        for mapping in parsed:
            key = (str(mapping["lrms_id"]), mapping.get("timestamp"))
            if key in seen:
                self.ctx.stats.skipped += 1
                continue
            seen.add(key)
            record = {"site": self.ctx.site, "resource": self.ctx.resource, **mapping}
            record["submit_time"] = record.pop("timestamp")
            yield record

    @property
    def lines(self) -> int:
        return self.ctx.stats.lines

    @property
    def skipped(self) -> int:
        return self.ctx.stats.skipped

    @property
    def errors(self) -> int:
        return self.ctx.stats.errors

    def problems(self) -> list[LineProblem]:
        """Each unreadable line with its reason and text (read again from the file, by number)."""
        wanted: dict[int, list[str]] = {}
        for _src, n, message in self.ctx.stats.problems:
            wanted.setdefault(n, []).append(message)
        texts: dict[int, str] = {}
        if wanted:
            for n, line in enumerate(io.StringIO(self.text, newline=""), 1):
                if n in wanted:
                    texts[n] = line.rstrip("\r\n")
        return [LineProblem(n, m, texts.get(n, "")) for n in sorted(wanted) for m in wanted[n]]


def check_source(source: str) -> str:
    if source not in LOG_SOURCES:
        raise LogFormatError(f"unknown log source {source!r}: use one of {', '.join(LOG_SOURCES)}")
    return source


def parse_log(
    source: str,
    text: str,
    site: str,
    resource: str,
    fields: str | None = None,
    timezone: str | None = None,
) -> LogParse:
    """Start parsing `text` as the agent parses a file of `source` for `site` and `resource`."""
    batch = PARSERS[check_source(source)]
    options: dict[str, str] = {}
    if fields:
        if not batch.fields:
            raise LogFormatError(f"{source} takes no fields: its layout is fixed")
        if len(fields) > 4096 or not _FIELDS.match(fields):
            raise LogFormatError(f"fields {fields[:80]!r} is not a sacct --format list (JobID,State,...)")
        options["fields"] = fields
    ctx = ParseContext(site=site, resource=resource, zone=_zone(timezone), options=options)
    ctx.stats = _AllProblems()
    return LogParse(source, text, ctx)


def _zone(name: str | None) -> tzinfo:
    if not name:
        return site_zone("UTC")
    if not _ZONE.match(name):
        raise LogFormatError(f"timezone {name[:80]!r} is not an IANA time zone name")
    try:
        return site_zone(name)
    except (KeyError, ValueError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise LogFormatError(f"unknown timezone {name!r}") from exc
