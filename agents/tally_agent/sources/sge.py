"""Grid Engine (SGE, Son of Grid Engine, Univa/Altair UGE): the colon-separated `accounting` file.

UGE >= 8.2 writes millisecond timestamps; they are recognised by size, no option needed.

Tightly integrated parallel jobs (a parallel environment with `accounting_summary FALSE`) write one
line for the master task (`pe_taskid` NONE) and one per parallel sub-task (`pe_taskid` set, e.g.
`1.node02`), all with the same job_number and task_number. They are folded into one job, as Slurm
steps are: CPU seconds summed (each line's `cpu` field), peak memory the maximum; wall time,
start, end, slots, state and exit status from the master line; `node_list` is the master host
followed by the sub-task hosts, `nodes` their count. A sub-task line seen twice (same
`pe_taskid` in the same run) counts once.

Bounded memory: a job outside any parallel environment (`granted_pe` NONE) cannot have
sub-tasks and is emitted at once. A parallel job is held until `window` lines (option
`sge.window`, default 10,000) have been read since its last line, or until the end of the input,
because its sub-task lines may come before or after the master line. The pending jobs are at most
the parallel jobs with a line among the last `window` lines; each holds one record, its totals
and its host and task names. Records come out in input order (of each job's first line), so the
records after a pending job wait with it; should more than 2 x `window` records wait, the finished
ones pass the jobs still open.

Never twice: the keys of the last `window` parallel jobs emitted are remembered. A line for one of
them that started after that job ended is a new run (a rescheduled job) and starts a new job; any
other late line (it came more than `window` lines after the rest of its job) is a counted error
and is not added, never a second record.

A sub-task whose master line never appears (lost, or in another file): the job is emitted from its
folded sub-tasks, with state `NO_MASTER` (exit code left empty) so it stands out: start the
earliest sub-task start, end the latest end, wall time the span between, cores the `slots` of
the sub-task line (Grid Engine writes the job's total there, see qacct(1)). A warning is counted.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

from tally_agent.context import ParseContext
from tally_agent.timeutil import iso_z, parse_epoch, parse_iso_z
from tally_agent.units import UnitError

SOURCE = "sge"
DEFAULT_WINDOW = 10_000
NO_MASTER = "NO_MASTER"
_MIN_FIELDS = 43  # up to maxvmem
_GPU_REQUEST = re.compile(r"(?:^|[\s,])gpus?=(\d+)")
_NONE = ("", "NONE", "none")
# Positions in sge_accounting(5).
QNAME, HOST, GROUP, OWNER, JOB_NAME, JOB_NUMBER, ACCOUNT = 0, 1, 2, 3, 4, 5, 6
SUBMIT, START, END, FAILED, EXIT_STATUS, WALLCLOCK = 8, 9, 10, 11, 12, 13
RU_MAXRSS, PROJECT, GRANTED_PE, SLOTS, TASK, CPU, CATEGORY, PE_TASK, MAXVMEM, UGE_MAXRSS = (
    16,
    31,
    33,
    34,
    35,
    36,
    39,
    41,
    42,
    47,
)

_Key = Tuple[str, str]


class _Line:
    """One accounting line read into a record (not yet stamped) and the figures that are folded."""

    __slots__ = ("cpu", "host", "millis", "record", "rss")

    def __init__(
        self, record: Dict[str, Any], cpu: float, rss: Optional[int], host: str, millis: bool
    ) -> None:
        self.record = record
        self.cpu = cpu
        self.rss = rss
        self.host = host
        self.millis = millis


class _Job:
    """A parallel job being folded: its master line (once seen) and the sum of its sub-tasks."""

    __slots__ = ("base", "cpu", "first", "hosts", "last", "master", "millis", "record", "rss", "tasks")

    def __init__(self, line_no: int) -> None:
        self.first = line_no
        self.last = line_no
        self.master: Optional[Dict[str, Any]] = None
        self.base: Optional[Dict[str, Any]] = None  # the first sub-task's record (for orphans)
        self.cpu = 0.0
        self.rss: Optional[int] = None
        self.hosts: Dict[str, None] = {}  # ordered set
        self.tasks: Set[str] = set()
        self.millis = False
        self.record: Optional[Dict[str, Any]] = None  # set when finished

    def run_end(self) -> str:
        """The end of the run this job is: the master's end, else its latest sub-task end."""
        record = self.master if self.master is not None else self.base
        assert record is not None
        return str(record["end_time"])

    def add(self, line: _Line) -> None:
        self.cpu += line.cpu
        if line.rss is not None and (self.rss is None or line.rss > self.rss):
            self.rss = line.rss
        if line.host:
            self.hosts[line.host] = None
        self.millis = self.millis or line.millis


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Records of jobs that ran, parallel sub-tasks folded into their job; never-started jobs skipped."""
    return _Parser(ctx).parse(lines)


class _Parser:
    """Streams accounting lines; holds parallel jobs (and the records after them) for `window` lines."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.window = int(ctx.options.get("window") or DEFAULT_WINDOW)
        if self.window < 1:
            raise ValueError(f"sge.window must be at least 1 line, not {self.window}")
        self.pending: OrderedDict[_Key, _Job] = OrderedDict()  # least recently touched first
        # Emitted parallel jobs -> (end of their run, whether a master line was seen).
        self.done: OrderedDict[_Key, Tuple[str, bool]] = OrderedDict()
        # Records in input order (of each job's first line); a _Job until it is finished.
        self.out: Deque[Union[Dict[str, Any], _Job]] = deque()

    def parse(self, lines: Iterable[str]) -> Iterator[Dict[str, Any]]:
        stats = self.ctx.stats
        pending = self.pending
        out = self.out
        for line_no, raw in enumerate(lines, 1):
            stats.lines += 1
            if pending:
                self._expire(line_no)
            line = raw.rstrip("\r\n")
            if line.strip() and not line.startswith("#"):
                self._line(line_no, line)
            while out:
                head = out[0]
                if isinstance(head, _Job):
                    if head.record is None:
                        break
                    head = head.record
                out.popleft()
                yield head
            if len(out) > 2 * self.window:
                # A parallel job open for this long: let the finished records behind it pass.
                yield from self._compact()
        for key in list(pending):
            self._close(key)
        for item in out:
            record = item.record if isinstance(item, _Job) else item
            assert record is not None
            yield record

    def _compact(self) -> Iterator[Dict[str, Any]]:
        """Yield every finished record held and keep only the open jobs (in their order)."""
        kept: List[_Job] = []
        for item in self.out:
            if not isinstance(item, _Job):
                yield item
            elif item.record is None:
                kept.append(item)
            else:
                yield item.record
        self.out.clear()
        self.out.extend(kept)

    def _expire(self, line_no: int) -> None:
        """Finish the parallel jobs that had no line among the last `window` lines."""
        pending = self.pending
        while pending:
            key, job = next(iter(pending.items()))
            if line_no - job.last <= self.window:
                break
            self._close(key)

    def _line(self, line_no: int, line: str) -> None:
        stats = self.ctx.stats
        parts = line.split(":")
        try:
            read = _read(parts)
        except (UnitError, ValueError, IndexError) as exc:
            stats.error(SOURCE, line_no, str(exc))
            return
        if read is None:
            stats.skipped += 1
            return
        sub_task = parts[PE_TASK] not in _NONE
        if not sub_task and parts[GRANTED_PE] in _NONE:
            stats.records += 1  # not parallel: no sub-task can follow
            self.out.append(self.ctx.stamp(read.record, "uge" if read.millis else "sge"))
            return
        key = (parts[JOB_NUMBER], parts[TASK])
        start = str(read.record["start_time"])
        job = self.pending.get(key)
        if job is not None and (
            (job.master is not None and (not sub_task or start > job.run_end()))
            or (not sub_task and job.master is None and start > job.run_end())
        ):
            # A second master line, or a line that started after this run ended: a rerun.
            self._close(key)
            job = None
        if job is None:
            emitted = self.done.get(key)
            if emitted is not None and start <= emitted[0] and (sub_task or not emitted[1]):
                what = f"sub-task {parts[PE_TASK]}" if sub_task else "master line"
                stats.error(
                    SOURCE,
                    line_no,
                    f"{what} of job {_job_id(key)} came more than {self.window} lines after the rest "
                    "of its job, which was already emitted: not counted (raise sge.window)",
                )
                return
            job = self.pending[key] = _Job(line_no)
            self.out.append(job)
        else:
            self.pending.move_to_end(key)
        job.last = line_no
        if sub_task:
            if parts[PE_TASK] in job.tasks:
                stats.warn(
                    SOURCE, line_no, f"sub-task {parts[PE_TASK]} of job {_job_id(key)} repeated: counted once"
                )
                return
            job.tasks.add(parts[PE_TASK])
            base = job.base  # kept only while no master line was seen: the orphan's record
            if base is not None:
                base["start_time"] = min(base["start_time"], read.record["start_time"])
                base["end_time"] = max(base["end_time"], read.record["end_time"])
            elif job.master is None:
                job.base = read.record
        else:
            job.master = read.record
            job.base = None  # only needed while there is no master
            job.hosts = {read.host: None, **job.hosts}
        job.add(read)

    def _close(self, key: _Key) -> None:
        """Fold a parallel job into its record; remember its key so that it is never emitted twice."""
        job = self.pending.pop(key)
        done = self.done
        done[key] = (job.run_end(), job.master is not None)
        done.move_to_end(key)
        while len(done) > self.window:
            done.popitem(last=False)
        stats = self.ctx.stats
        record = job.master if job.master is not None else job.base
        assert record is not None
        if job.master is None:
            stats.warn(
                SOURCE,
                job.first,
                f"job {_job_id(key)}: sub-tasks without a master line, emitted as {NO_MASTER}",
            )
            record["wall_seconds"] = _epoch(record["end_time"]) - _epoch(record["start_time"])
            record["state"] = NO_MASTER
            record["exit_code"] = None
        record["cpu_seconds"] = round(job.cpu)
        record["memory_max_bytes"] = job.rss
        record["node_list"] = ",".join(job.hosts) or None
        record["nodes"] = max(len(job.hosts), 1)
        stats.records += 1
        job.record = self.ctx.stamp(record, "uge" if job.millis else "sge")
        job.master = job.base = None
        job.tasks = set()
        job.hosts = {}


def _job_id(key: _Key) -> str:
    job, task = key
    return f"{job}.{task}" if task.isdigit() and int(task) else job


def _epoch(text: str) -> int:
    """Whole seconds since the epoch of a `...Z` time written by iso_z."""
    return int(parse_iso_z(text).timestamp())


def _read(p: List[str]) -> Optional[_Line]:
    if len(p) < _MIN_FIELDS:
        raise UnitError(f"{len(p)} fields, expected at least {_MIN_FIELDS}")
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
    cpu = float(p[CPU])
    if wall < 0 or cpu < 0:
        raise UnitError("negative wall or CPU time")
    task = int(p[TASK]) if p[TASK].isdigit() else 0
    job = p[JOB_NUMBER]
    exit_status = int(p[EXIT_STATUS])
    failed = p[FAILED].split(" ", 1)[0]
    slots = int(p[SLOTS]) if p[SLOTS].isdigit() else 1
    gpus = _GPU_REQUEST.search(p[CATEGORY])
    rss = _max_rss(p)
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
        "cpu_seconds": round(cpu),
        "cores": max(slots, 1),
        "nodes": 1,
        "gpus": int(gpus.group(1)) if gpus else 0,
        "memory_max_bytes": rss,
        "state": "FAILED" if failed not in ("0", "") or exit_status != 0 else "COMPLETED",
        "exit_code": exit_status,
        "node_list": p[HOST],
    }
    return _Line(record, cpu, rss, p[HOST], millis)


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
