"""PBS: Torque and PBS Pro accounting logs (`date;E;jobid;key=value ...`), end records only."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from tally_agent.context import ParseContext
from tally_agent.timeutil import from_epoch, iso_z, parse_local
from tally_agent.units import UnitError, parse_duration, parse_memory

SOURCE = "pbs"
_GPUS_IN_SPEC = re.compile(r"(?:^|:)gpus?=(\d+)")
_PPN = re.compile(r"^(\d+):ppn=(\d+)")


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Records of ended jobs from PBS/Torque accounting lines; other record types are ignored."""
    stats = ctx.stats
    for line_no, raw in enumerate(lines, 1):
        stats.lines += 1
        line = raw.strip()
        if not line:
            continue
        head = line.split(";", 3)
        if len(head) < 4:
            stats.error(SOURCE, line_no, "not a `date;type;id;attributes` record")
            continue
        if head[1] != "E":
            stats.skipped += 1
            continue
        try:
            record = _record(head[0][-19:], head[2], head[3], ctx)
        except (UnitError, ValueError, KeyError) as exc:
            stats.error(SOURCE, line_no, str(exc))
            continue
        if record is None:
            stats.skipped += 1
            continue
        stats.records += 1
        yield record


def _attributes(text: str) -> Dict[str, str]:
    attrs: Dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep:
            attrs[key] = value
    return attrs


def _record(stamp: str, job_id: str, text: str, ctx: ParseContext) -> Optional[Dict[str, Any]]:
    a = _attributes(text)
    hosts, slots = exec_hosts(a.get("exec_host", ""))
    if "start" not in a or a["start"] in ("", "0"):
        if hosts or "resources_used.walltime" in a:
            raise UnitError("end record of a job that ran has no start time")
        return None  # deleted before it ran
    start = from_epoch(int(a["start"]))
    if "end" in a:
        end = from_epoch(int(a["end"]))
    else:
        moment = parse_local(stamp, ctx.zone, "%m/%d/%Y %H:%M:%S")
        if moment is None:
            raise UnitError(f"bad record time {stamp!r}")
        end = moment
    if end < start:
        raise UnitError("job ends before it starts")
    wall_text = a.get("resources_used.walltime")
    wall = parse_duration(wall_text) if wall_text else int((end - start).total_seconds())
    cput = a.get("resources_used.cput")
    cores = _cores(a, slots)
    node_count = len(hosts) or _int_prefix(a.get("Resource_List.nodect", "")) or 1
    pro = "exec_vnode" in a or "resources_used.ncpus" in a or "run_count" in a
    local_id, array_job, array_index = _job_id(job_id)
    status = a.get("Exit_status")
    exit_code = int(status) if status not in (None, "") else None
    submit = from_epoch(int(a["ctime"])) if a.get("ctime", "0") not in ("", "0") else None
    project = a.get("account") or a.get("project")
    record: Dict[str, Any] = {
        "local_job_id": local_id,
        "array_job_id": array_job,
        "array_index": array_index,
        "job_name": a.get("jobname"),
        "local_user": a.get("user"),
        "local_group": a.get("group"),
        "project": None if project == "_pbs_project_default" else project,
        "queue": a.get("queue"),
        "submit_time": iso_z(submit) if submit is not None and submit <= start else None,
        "start_time": iso_z(start),
        "end_time": iso_z(end),
        "wall_seconds": wall,
        "cpu_seconds": parse_duration(cput) if cput else 0,
        "cores": cores,
        "nodes": node_count,
        "gpus": gpus(a),
        "memory_requested_bytes": _memory(a.get("Resource_List.mem", "")),
        "memory_max_bytes": _memory(a.get("resources_used.mem", "")),
        "energy_joules": None,
        "state": _state(exit_code),
        "exit_code": exit_code,
        "node_list": ",".join(hosts) or None,
    }
    return ctx.stamp(record, "pbspro" if pro else "torque")


def exec_hosts(text: str) -> Tuple[List[str], int]:
    """Unique hosts (in order) and slot count from `h/0+h/1`, `h/0-3`, `h/0-1,5` or `h/0*13`."""
    hosts: List[str] = []
    seen = set()
    slots = 0
    if not text:
        return hosts, 0
    for part in text.split("+"):
        host, _, cpus = part.partition("/")
        if host not in seen:
            seen.add(host)
            hosts.append(host)
        if "*" in cpus:
            slots += int(cpus.split("*", 1)[1] or 1)
            continue
        for span in cpus.split(",") if cpus else ["0"]:
            low, dash, high = span.partition("-")
            slots += int(high) - int(low) + 1 if dash else 1
    return hosts, slots


def _cores(a: Dict[str, str], slots: int) -> int:
    for key in ("resources_used.ncpus", "total_execution_slots"):
        value = a.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    if slots:
        return slots
    ppn = _PPN.match(a.get("Resource_List.nodes", ""))
    if ppn:
        return int(ppn.group(1)) * int(ppn.group(2))
    value = a.get("Resource_List.ncpus", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def gpus(a: Dict[str, str]) -> int:
    """GPUs from PBS Pro `ngpus` (request or exec_vnode) or Torque `nodes=N:...:gpus=G`."""
    value = a.get("Resource_List.ngpus", "")
    if value.isdigit():
        return int(value)
    vnode = a.get("exec_vnode", "")
    if "ngpus=" in vnode:
        return sum(int(m) for m in re.findall(r"ngpus=(\d+)", vnode))
    for key in ("Resource_List.nodes", "Resource_List.nodect"):
        spec = a.get(key, "")
        found = _GPUS_IN_SPEC.search(spec)
        if found:
            count = _int_prefix(spec) if key == "Resource_List.nodes" else 1
            return int(found.group(1)) * (count or 1)
    return 0


def _job_id(text: str) -> Tuple[str, Optional[str], Optional[int]]:
    """`123.server` -> 123; `123[4].server` -> (`123[4]`, `123`, 4)."""
    local = text.split(".", 1)[0]
    if "[" in local and local.endswith("]"):
        parent, _, index = local[:-1].partition("[")
        return local, parent, int(index) if index.isdigit() else None
    return local, None, None


def _int_prefix(text: str) -> Optional[int]:
    digits = re.match(r"\d+", text)
    return int(digits.group(0)) if digits else None


def _memory(text: str) -> Optional[int]:
    if not text:
        return None
    return parse_memory(text, default_unit="")


def _state(exit_code: Optional[int]) -> str:
    if exit_code is None or exit_code == 0:
        return "COMPLETED"
    return "KILLED" if exit_code > 256 else "FAILED"
