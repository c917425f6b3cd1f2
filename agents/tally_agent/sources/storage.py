"""Storage: EMI StAR XML records, and snapshots of file systems or quota reports.

StAR input is read record by record (one `StorageUsageRecord` element at a time), so a file of
concatenated documents or a huge `StorageUsageRecords` list parses in constant memory.
"""

from __future__ import annotations

import csv
import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from tally_agent.context import ParseContext
from tally_agent.inputs import by_file
from tally_agent.timeutil import iso_z, parse_iso_z
from tally_agent.units import UnitError, parse_memory

SOURCE = "storage"
STAR_NS = "http://eu-emi.eu/namespaces/2011/02/storagerecord"
_OPEN = re.compile(r"<(?:(\w+):)?StorageUsageRecord[\s>/]")
_CLOSE = re.compile(r"</(?:\w+:)?StorageUsageRecord>")
_MEDIA = {"disk": "disk", "tape": "tape", "object": "object"}


def _star_blocks(lines: Iterable[str], ctx: ParseContext) -> Iterator[tuple[int, str, Optional[str]]]:
    buffer: List[str] = []
    start = 0
    prefix: Optional[str] = None
    for line_no, line in enumerate(lines, 1):
        ctx.stats.lines += 1
        rest = line
        # A line may hold several records (a document written on one line): take each in turn.
        while rest:
            if not buffer:
                found = _OPEN.search(rest)
                if not found:
                    break
                start, prefix = line_no, found.group(1)
                rest = rest[found.start() :]
            closed = _CLOSE.search(rest)
            if not closed:
                buffer.append(rest)
                break
            buffer.append(rest[: closed.end()])
            yield start, "".join(buffer), prefix
            buffer = []
            rest = rest[closed.end() :]


def parse_star(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Storage records from StAR XML (the `Site` element is replaced by the configured site)."""
    stats = ctx.stats
    for line_no, block, prefix in _star_blocks(lines, ctx):
        if prefix and f"xmlns:{prefix}=" not in block:
            block = block.replace(
                f"<{prefix}:StorageUsageRecord", f'<{prefix}:StorageUsageRecord xmlns:{prefix}="{STAR_NS}"', 1
            )
        try:
            # The site's own files; expat resolves no external entities.
            element = ET.fromstring(block)  # noqa: S314
            record = _star_record(element, ctx)
        except (ET.ParseError, UnitError, ValueError) as exc:
            stats.error(SOURCE, line_no, str(exc))
            continue
        stats.records += 1
        yield record


def _star_record(element: ET.Element, ctx: ParseContext) -> Dict[str, Any]:
    ns = {"sr": STAR_NS}

    def text(path: str) -> Optional[str]:
        found = element.find(path, ns)
        return found.text.strip() if found is not None and found.text else None

    def number(path: str) -> Optional[int]:
        value = text(path)
        return int(value) if value is not None else None

    identity = element.find("sr:RecordIdentity", ns)
    record_id = identity.get(f"{{{STAR_NS}}}recordId") if identity is not None else None
    system = text("sr:StorageSystem")
    end = text("sr:EndTime")
    used = number("sr:ResourceCapacityUsed")
    if not system or not end or used is None:
        raise UnitError("StAR record without StorageSystem, EndTime or ResourceCapacityUsed")
    subgroup = role = None
    for attribute in element.findall("sr:SubjectIdentity/sr:GroupAttribute", ns):
        kind = attribute.get(f"{{{STAR_NS}}}attributeType")
        if kind == "subgroup":
            subgroup = (attribute.text or "").strip() or None
        elif kind == "role":
            role = (attribute.text or "").strip() or None
    group = text("sr:SubjectIdentity/sr:Group")
    start = text("sr:StartTime")
    media = (text("sr:StorageMedia") or "").lower()
    record: Dict[str, Any] = {
        "site": ctx.site,
        "storage_system": system,
        "storage_share": text("sr:StorageShare") or "",
        "storage_media": _MEDIA.get(media, "other") if media else None,
        "storage_class": text("sr:StorageClass"),
        "path": text("sr:DirectoryPath") or "",
        "owner": text("sr:SubjectIdentity/sr:LocalUser") or text("sr:SubjectIdentity/sr:UserIdentity") or "",
        "group": text("sr:SubjectIdentity/sr:LocalGroup") or group,
        "vo": group,
        "vo_group": subgroup,
        "vo_role": role,
        "start_time": iso_z(parse_iso_z(start)) if start else None,
        "end_time": iso_z(parse_iso_z(end)),
        "file_count": number("sr:FileCount"),
        "used_bytes": used,
        "logical_used_bytes": number("sr:LogicalCapacityUsed"),
        "allocated_bytes": number("sr:ResourceCapacityAllocated"),
        "record_id": record_id,
    }
    return {k: v for k, v in record.items() if v is not None}


def parse_quota(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Storage records from a quota report as CSV with a header naming some of: share, path,
    owner, group, vo, used, allocated (or quota/limit), files, time (default: now). Sizes may carry
    K/M/G/T suffixes (binary).

    Every file has its own header (or none, with the `fields` option naming the columns). A row
    with more fields than its header is a counted error; a shorter row leaves the rest empty.
    """
    now = iso_z(datetime.now(timezone.utc))
    fields = ctx.options.get("fields")
    for name, file_lines in by_file(lines):
        yield from _quota_file(name, _counted(file_lines, ctx), ctx, now, fields)


def _quota_file(
    name: str, lines: Iterable[str], ctx: ParseContext, now: str, fields: Optional[str]
) -> Iterator[Dict[str, Any]]:
    stats = ctx.stats
    where = "" if name == "-" else f"{name}: "
    reader = csv.reader(lines)
    header: Optional[List[str]] = None
    if fields:
        header = [f.strip().lower() for f in fields.split(",")]
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            if "used" not in header:
                stats.error(
                    SOURCE,
                    reader.line_num,
                    f"{where}not a quota report (expected a CSV whose header names a `used` column)",
                )
                return
            stats.recognised += 1
            continue
        if len(row) > len(header):
            stats.error(SOURCE, reader.line_num, f"{where}{len(row)} fields, the header has {len(header)}")
            continue
        values = {key: cell.strip() for key, cell in zip(header, row)}
        try:
            record = _quota_record(values, ctx, now)
        except (UnitError, ValueError) as exc:
            stats.error(SOURCE, reader.line_num, f"{where}{exc}")
            continue
        stats.records += 1
        yield record


def _quota_record(row: Dict[str, str], ctx: ParseContext, now: str) -> Dict[str, Any]:
    used = parse_memory(row.get("used", ""))
    if used is None:
        raise UnitError("no used size")
    allocated = parse_memory(row.get("allocated") or row.get("quota") or row.get("limit") or "")
    files = row.get("files") or row.get("file_count") or ""
    when = row.get("time") or row.get("end_time")
    record: Dict[str, Any] = {
        "site": ctx.site,
        "storage_system": ctx.options.get("storage_system") or ctx.resource,
        "storage_share": row.get("share", ""),
        "storage_media": "disk",
        "path": row.get("path", ""),
        "owner": row.get("owner", ""),
        "group": row.get("group") or None,
        "vo": row.get("vo") or None,
        "end_time": iso_z(parse_iso_z(when)) if when else now,
        "file_count": int(files) if files else None,
        "used_bytes": used,
        "allocated_bytes": allocated or None,
    }
    return {k: v for k, v in record.items() if v is not None}


def _counted(lines: Iterable[str], ctx: ParseContext) -> Iterator[str]:
    for line in lines:
        ctx.stats.lines += 1
        yield line


def snapshot(
    paths: Iterable[str], ctx: ParseContext, share_names: Optional[Dict[str, str]] = None
) -> Iterator[Dict[str, Any]]:
    """One storage record per configured mount point, from statvfs (used, size, files)."""
    now = iso_z(datetime.now(timezone.utc))
    system = ctx.options.get("storage_system") or ctx.resource
    for path in paths:
        try:
            stat = os.statvfs(path)
        except OSError as exc:
            ctx.stats.error(SOURCE, 0, f"{path}: {exc}")
            continue
        size = stat.f_blocks * stat.f_frsize
        free = stat.f_bfree * stat.f_frsize
        ctx.stats.records += 1
        yield {
            "site": ctx.site,
            "storage_system": system,
            "storage_share": (share_names or {}).get(path, Path(path.rstrip("/")).name or "/"),
            "storage_media": "disk",
            "path": path,
            "end_time": now,
            "file_count": max(stat.f_files - stat.f_ffree, 0),
            "used_bytes": max(size - free, 0),
            "allocated_bytes": size,
        }
