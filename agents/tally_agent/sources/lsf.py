"""LSF: `lsb.acct` JOB_FINISH events (space separated, `"..."` strings with `""` escapes).

A quoted string may hold a real newline, so one event can span physical lines.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from tally_agent.context import ParseContext
from tally_agent.timeutil import iso_z, parse_epoch
from tally_agent.units import UnitError

SOURCE = "lsf"
_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\S+)')
_EVENT = re.compile(r'"[A-Z][A-Z0-9_]*" ')  # an lsb.acct line begins with its quoted event name
_DONE, _EXIT = 64, 32


def events(lines: Iterable[str]) -> Iterator[Tuple[int, str]]:
    """(first line number, event text): lines are joined while a quote is left open."""
    pending: List[str] = []
    start = 0
    quotes = 0
    for line_no, raw in enumerate(lines, 1):
        if not pending:
            start = line_no
        pending.append(raw)
        quotes += raw.count('"')
        if quotes % 2 == 0:
            text = "".join(pending).rstrip("\r\n")
            pending = []
            quotes = 0
            if text.strip():
                yield start, text
    if pending:
        yield start, "".join(pending).rstrip("\r\n")


def tokens(text: str) -> List[str]:
    return [q.replace('""', '"') if s is None or s == "" else s for q, s in _TOKEN.findall(text)]


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Records of finished jobs; other event types (JOB_RESIZE, ...) are skipped."""
    stats = ctx.stats

    def counted(source: Iterable[str]) -> Iterator[str]:
        for line in source:
            stats.lines += 1
            yield line

    for line_no, text in events(counted(lines)):
        if not text.startswith('"JOB_FINISH"'):
            if _EVENT.match(text):
                stats.skipped += 1  # another event type (JOB_RESIZE, ...)
            else:
                stats.error(SOURCE, line_no, "not an lsb.acct event record")
            continue
        try:
            record = _record(tokens(text), ctx)
        except (UnitError, ValueError, IndexError) as exc:
            stats.error(SOURCE, line_no, f"{type(exc).__name__}: {exc}")
            continue
        if record is None:
            stats.skipped += 1
            continue
        stats.records += 1
        yield record


def _record(t: List[str], ctx: ParseContext) -> Optional[Dict[str, Any]]:
    asked = int(t[22])
    at = 23 + asked
    executed = int(t[at])
    hosts_raw = t[at + 1 : at + 1 + executed]
    q = at + 1 + executed
    if len(hosts_raw) != executed or len(t) <= q + 31:
        raise UnitError("event is shorter than its host lists say")
    start = parse_epoch(t[10])
    end = parse_epoch(t[2])
    if start is None:
        return None  # finished without starting
    if end is None or end < start:
        raise UnitError("job ends before it starts")
    submit = parse_epoch(t[7])
    hosts: List[str] = []
    cores = 0
    for entry in hosts_raw:
        count, star, host = entry.partition("*")
        if star:
            cores += int(count)
        else:
            host = entry
            cores += 1
        if host not in hosts:
            hosts.append(host)
    utime, stime = max(float(t[q + 4]), 0.0), max(float(t[q + 5]), 0.0)
    status = int(t[q + 25])
    index = int(t[q + 29])
    rmem = int(t[q + 30])
    job = t[3]
    j_status = int(t[q])
    record: Dict[str, Any] = {
        "local_job_id": f"{job}[{index}]" if index > 0 else job,
        "array_job_id": job if index > 0 else None,
        "array_index": index if index > 0 else None,
        "job_name": t[q + 2],
        "local_user": t[11],
        "project": t[q + 24],
        "queue": t[12],
        "submit_time": iso_z(submit) if submit is not None and submit <= start else None,
        "start_time": iso_z(start),
        "end_time": iso_z(end),
        "wall_seconds": int((end - start).total_seconds()),
        "cpu_seconds": round(utime + stime),
        "cores": max(cores, 1),
        "nodes": max(len(hosts), 1),
        "memory_max_bytes": rmem * 1024 if rmem >= 0 else None,
        "state": "COMPLETED" if j_status & _DONE else "FAILED" if j_status & _EXIT else str(j_status),
        "exit_code": status >> 8 if status & 0xFF == 0 else status,
        "node_list": ",".join(hosts) or None,
    }
    return ctx.stamp(record, "lsf")
