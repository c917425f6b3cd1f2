"""Open XDMoD storage snapshots: the JSON files XDMoD's storage realm ingests (a list of objects
with resource, mountpoint, user, pi, dt, file_count, logical_usage, physical_usage,
soft_threshold, hard_threshold; sizes in bytes, dt in UTC), turned into `storage` records.

Mapping (StAR semantics): resource -> storage_system (unless the `storage_system` option names
one), mountpoint -> storage_share and path, user -> owner, pi -> project, dt -> end_time,
physical_usage -> used_bytes (logical_usage when physical is absent: XDMoD requires only the
logical one), logical_usage -> logical_used_bytes, soft_threshold -> allocated_bytes (the
allocation; the hard threshold when there is no soft one; 0 means no quota).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, Optional

from tally_agent.context import ParseContext
from tally_agent.inputs import by_file
from tally_agent.sources import jsonstream
from tally_agent.timeutil import iso_z, parse_iso_z
from tally_agent.units import UnitError

SOURCE = "xdmod-storage"
REQUIRED = ("resource", "mountpoint", "user", "pi", "dt", "file_count", "logical_usage")
_INT64_MAX = 2**63 - 1


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    stats = ctx.stats
    for name, file_lines in by_file(lines):
        where = "" if name == "-" else f"{name}: "
        values = jsonstream.JsonValues(file_lines, stats, SOURCE)
        for line_no, value in values:
            try:
                record = _record(value, ctx)
            except (UnitError, ValueError) as exc:
                stats.error(SOURCE, line_no, f"{where}{exc}")
                continue
            stats.records += 1
            yield record
        stats.recognised += values.empty_lists


def _record(value: Any, ctx: ParseContext) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise UnitError(f"not an XDMoD storage object: {type(value).__name__}")
    missing = [k for k in REQUIRED if value.get(k) in (None, "")]
    if missing:
        raise UnitError(f"XDMoD storage object without {', '.join(missing)}")
    logical = _size(value, "logical_usage")
    physical = _size(value, "physical_usage")
    soft = _size(value, "soft_threshold")
    hard = _size(value, "hard_threshold")
    mountpoint = _text(value, "mountpoint")
    record: Dict[str, Any] = {
        "site": ctx.site,
        "storage_system": ctx.options.get("storage_system") or _text(value, "resource"),
        "storage_share": mountpoint,
        "storage_media": "disk",
        "path": mountpoint,
        "owner": _text(value, "user"),
        "project": _text(value, "pi"),
        "end_time": iso_z(parse_iso_z(_text(value, "dt"))),
        "file_count": _size(value, "file_count"),
        "used_bytes": physical if physical is not None else logical,
        "logical_used_bytes": logical,
        "allocated_bytes": soft or hard or None,
    }
    return {k: v for k, v in record.items() if v is not None}


def _text(value: Dict[str, Any], key: str) -> str:
    item = value[key]
    if not isinstance(item, str):
        raise UnitError(f"{key} is not a string")
    return item


def _size(value: Dict[str, Any], key: str) -> Optional[int]:
    item = value.get(key)
    if item is None:
        return None
    if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= _INT64_MAX:
        raise UnitError(f"{key} {item!r} is not a byte count or count (integer from 0 to 2^63-1)")
    return item
