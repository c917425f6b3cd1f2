"""HTCondor: `condor_history -format` pipe lines, APEL's column order (optional scale factor)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator

from tally_agent.context import ParseContext
from tally_agent.timeutil import iso_z, parse_epoch
from tally_agent.units import UnitError

SOURCE = "htcondor"
ATTRIBUTES = (
    "GlobalJobId",
    "Owner",
    "RemoteWallClockTime",
    "RemoteUserCpu",
    "RemoteSysCpu",
    "JobStartDate",
    "EnteredCurrentStatus",
    "ResidentSetSize_RAW",
    "ImageSize_RAW",
    "RequestCpus",
)


def history_command(since_epoch: int) -> list[str]:
    """The condor_history call that prints these columns for jobs ended after `since_epoch`."""
    command = ["condor_history", "-constraint", f"JobStartDate > 0 && EnteredCurrentStatus > {since_epoch}"]
    for name in ATTRIBUTES:
        command += ["-format", "%d|" if name not in ("GlobalJobId", "Owner") else "%s|", name]
    command[-2] = "%d|\\n"
    return command


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Records from `GlobalJobId|Owner|Wall|UserCpu|SysCpu|Start|End|RSS KiB|Image KiB|Cpus[|scale]`.

    The optional 11th column is APEL's CPU scaling factor: wall and CPU times are multiplied by it.
    """
    stats = ctx.stats
    for line_no, raw in enumerate(lines, 1):
        stats.lines += 1
        line = raw.strip()
        if not line:
            continue
        parts = line.split("|")
        if parts and parts[-1] == "" and len(parts) in (11, 12) and line.endswith("|"):
            parts = parts[:-1]  # the `-format "%d|"` of the last column leaves a trailing `|`
        try:
            if len(parts) not in (10, 11):
                raise UnitError(f"{len(parts)} fields, expected 10 or 11")
            scale = float(parts[10]) if len(parts) == 11 and parts[10] else 1.0
            start = parse_epoch(parts[5])
            end = parse_epoch(parts[6])
            if start is None or end is None:
                raise UnitError("no start or end time")
            if end < start:
                raise UnitError("job ends before it starts")
            wall = int(parts[2])
            cpu = int(parts[3]) + int(parts[4])
            if wall < 0 or cpu < 0 or scale <= 0:
                raise UnitError("negative time or scale")
            rss = int(parts[7]) if parts[7] else None
            record: Dict[str, Any] = {
                "local_job_id": parts[0],
                "local_user": parts[1],
                "start_time": iso_z(start),
                "end_time": iso_z(end),
                "wall_seconds": int(wall * scale),
                "cpu_seconds": int(cpu * scale),
                "cores": max(int(parts[9] or 1), 1),
                "nodes": 1,
                "memory_max_bytes": rss * 1024 if rss is not None else None,
                "state": "ENDED",
            }
        except (UnitError, ValueError) as exc:
            stats.error(SOURCE, line_no, str(exc))
            continue
        stats.records += 1
        yield ctx.stamp(record, "htcondor")
