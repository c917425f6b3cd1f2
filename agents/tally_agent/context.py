"""What every parser needs: the site's identity and time zone, and a tally of bad lines."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timezone, tzinfo
from typing import Any, Dict, List, Optional, Tuple

log = logging.getLogger("tally_agent")

# Keep the first few problems verbatim; count all of them.
_KEEP = 50


@dataclass
class ParseStats:
    """Counts of what a parse produced, skipped and could not read (with line numbers)."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    errors: int = 0
    warnings: int = 0
    wrong_field_count: int = 0  # lines whose number of fields does not match the format in use
    problems: List[Tuple[str, int, str]] = field(default_factory=list)
    # Named tallies a source keeps beside the totals (e.g. `reqmem_disagrees`), shown in the summary.
    counts: Dict[str, int] = field(default_factory=dict)
    # Lines a source recognised as its format without making a record of them (a header, an
    # empty JSON list, a notification of no interest): tells "nothing to do" from "not this format".
    recognised: int = 0
    hints: List[str] = field(default_factory=list)  # what to change, said once at the end

    def error(self, source: str, line_no: int, message: str) -> None:
        self.errors += 1
        if len(self.problems) < _KEEP:
            self.problems.append((source, line_no, message))
        log.warning("%s line %d: %s", source, line_no, message)

    def hint(self, message: str) -> None:
        if message not in self.hints:
            self.hints.append(message)

    def warn(self, source: str, line_no: int, message: str) -> None:
        self.warnings += 1
        log.info("%s line %d: %s", source, line_no, message)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def summary(self) -> Dict[str, int]:
        return {
            "lines": self.lines,
            "records": self.records,
            "skipped": self.skipped,
            "errors": self.errors,
            "warnings": self.warnings,
            "wrong_field_count": self.wrong_field_count,
            **{name: self.counts[name] for name in sorted(self.counts)},
        }


@dataclass
class ParseContext:
    """Identity stamped on every record, plus per-source options from the config file."""

    site: str
    resource: str
    zone: tzinfo = timezone.utc
    batch_system: Optional[str] = None
    benchmark_type: Optional[str] = None
    benchmark_per_core: Optional[float] = None
    options: Dict[str, str] = field(default_factory=dict)
    stats: ParseStats = field(default_factory=ParseStats)

    def stamp(self, record: Dict[str, Any], batch_system: str) -> Dict[str, Any]:
        """Add site, resource, batch system and benchmark; drop fields left empty."""
        record.update(self.identity(batch_system))
        return {k: v for k, v in record.items() if v is not None and v != ""}

    def identity(self, batch_system: str) -> Dict[str, Any]:
        """What `stamp` adds to every record (a parser may add it itself, once per parse)."""
        identity: Dict[str, Any] = {
            "site": self.site,
            "resource": self.resource,
            "batch_system": self.batch_system or batch_system,
        }
        if self.benchmark_type and self.benchmark_per_core:
            identity["benchmark_type"] = self.benchmark_type
            identity["benchmark_per_core"] = self.benchmark_per_core
        return identity
