"""Grid Engine (SGE, Son of Grid Engine, Univa/Altair UGE): the colon-separated `accounting` file.

UGE >= 8.2 writes millisecond timestamps; they are recognised by size, no option needed.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Iterator, List, Optional

from tally_agent.context import ParseContext
from tally_agent.timeutil import iso_z, parse_epoch
from tally_agent.units import UnitError

SOURCE = "sge"
_MIN_FIELDS = 43  # up to maxvmem
_GPU_REQUEST = re.compile(r"(?:^|[\s,])gpus?=(\d+)")
_NONE = ("", "NONE", "none")
# Positions in sge_accounting(5).
QNAME, HOST, GROUP, OWNER, JOB_NAME, JOB_NUMBER, ACCOUNT = 0, 1, 2, 3, 4, 5, 6
SUBMIT, START, END, FAILED, EXIT_STATUS, WALLCLOCK = 8, 9, 10, 11, 12, 13
RU_MAXRSS, PROJECT, SLOTS, TASK, CPU, CATEGORY, PE_TASK, MAXVMEM, UGE_MAXRSS = (
    16,
    31,
    34,
    35,
    36,
    39,
    41,
    42,
    47,
)


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Records of jobs that ran; parallel-task lines (pe_taskid set) and never-started jobs skipped."""
    stats = ctx.stats
    for line_no, raw in enumerate(lines, 1):
        stats.lines += 1
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        try:
            record = _record(parts, ctx)
        except (UnitError, ValueError, IndexError) as exc:
            stats.error(SOURCE, line_no, str(exc))
            continue
        if record is None:
            stats.skipped += 1
            continue
        stats.records += 1
        yield record


def _record(p: List[str], ctx: ParseContext) -> Optional[Dict[str, Any]]:
    if len(p) < _MIN_FIELDS:
        raise UnitError(f"{len(p)} fields, expected at least {_MIN_FIELDS}")
    if p[PE_TASK] not in _NONE:
        return None  # one task of a tightly integrated parallel job: the master line carries the job
    start = parse_epoch(p[START])
    end = parse_epoch(p[END])
    if start is None:
        return None  # never started
    if end is None:
        raise UnitError("no end time")
    if end < start:
        raise UnitError("job ends before it starts")
    millis = float(p[START]) > 1e11
    submit = parse_epoch(p[SUBMIT])
    wall = round(float(p[WALLCLOCK]))
    cpu = round(float(p[CPU]))
    if wall < 0 or cpu < 0:
        raise UnitError("negative wall or CPU time")
    task = int(p[TASK]) if p[TASK].isdigit() else 0
    job = p[JOB_NUMBER]
    exit_status = int(p[EXIT_STATUS])
    failed = p[FAILED].split(" ", 1)[0]
    slots = int(p[SLOTS]) if p[SLOTS].isdigit() else 1
    gpus = _GPU_REQUEST.search(p[CATEGORY])
    record: Dict[str, Any] = {
        "local_job_id": f"{job}.{task}" if task else job,
        "array_job_id": job if task else None,
        "array_index": task or None,
        "job_name": p[JOB_NAME],
        "local_user": p[OWNER],
        "local_group": p[GROUP],
        "project": None if p[PROJECT] in _NONE else p[PROJECT],
        "queue": p[QNAME],
        "submit_time": iso_z(submit) if submit is not None and submit <= start else None,
        "start_time": iso_z(start),
        "end_time": iso_z(end),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cores": max(slots, 1),
        "nodes": 1,
        "gpus": int(gpus.group(1)) if gpus else 0,
        "memory_max_bytes": _max_rss(p),
        "state": "FAILED" if failed not in ("0", "") or exit_status != 0 else "COMPLETED",
        "exit_code": exit_status,
        "node_list": p[HOST],
    }
    return ctx.stamp(record, "uge" if millis else "sge")


def _max_rss(p: List[str]) -> Optional[int]:
    """UGE's own maxrss (bytes) when written, else the rusage ru_maxrss (KiB)."""
    if len(p) > UGE_MAXRSS:
        try:
            value = float(p[UGE_MAXRSS])
        except ValueError:
            value = -1.0
        if value > 0:
            return int(value)
    value = float(p[RU_MAXRSS])
    return int(value * 1024) if value >= 0 else None
