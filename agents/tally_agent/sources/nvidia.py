"""Measured GPU use from `nvidia-smi`, attributed to batch jobs.

Two measurements, each read from the command or from files the GPU nodes write:

* **accounting** (`nvidia-smi -am 1` enables it): one line per process that used a GPU,
  `--query-accounted-apps=gpu_serial,gpu_uuid,pid,time,max_memory_usage,gpu_utilization,mem_utilization`.
  `time` is how long the process held the GPU (ms), `gpu_utilization` the percent of that time a
  kernel ran, `max_memory_usage` its peak device memory (MiB). A process is tied to its job by
  `(gpu_uuid, pid)` through the job map (PIDs are only unique on one node; the UUID names the node).
* **samples**: `--query-gpu=[timestamp,]uuid,utilization.gpu,memory.used` taken every minute or
  so. A sample is tied to the job that held that GPU UUID when it was taken.

The job map says which GPU UUIDs (and, when known, which PIDs on them) belong to which job. Its
lines are `JOBID UUID[,UUID...] [PID[,PID...]]` (whitespace separated, `#` starts a comment),
written by a batch prolog (UUIDs of the allocated GPUs) or by `map-running` below, which reads the
job of every running GPU process from its cgroup.

Per job, `active_seconds` is the kernel-busy time per device (busy device-seconds / `count`, as
`allocated_seconds` is per device), `utilisation_percent` the busy share of the measured time and
`memory_bytes` the peak device memory summed over the job's GPUs. Accounting wins over samples;
accounting covers the whole allocation (no process means an idle GPU), samples only the minutes
they cover, so with samples `active_seconds` is what was observed, never extrapolated.

Run on a GPU node: `python3 -m tally_agent.sources.nvidia sample` prints one timestamped sample
per GPU, `... map-running` prints job-map lines for the processes running now.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from tally_agent.context import ParseStats
from tally_agent.timeutil import iso_z, parse_iso_z

SOURCE = "nvidia"
MIB = 1024 * 1024
ACCOUNTED_FIELDS = (
    "gpu_serial",
    "gpu_uuid",
    "pid",
    "time",
    "max_memory_usage",
    "gpu_utilization",
    "mem_utilization",
)
SAMPLE_FIELDS = ("uuid", "utilization.gpu", "memory.used")
ACCOUNTED_QUERY = f"--query-accounted-apps={','.join(ACCOUNTED_FIELDS)}"
SAMPLE_QUERY = f"--query-gpu={','.join(SAMPLE_FIELDS)}"
CSV_FORMAT = "--format=csv,noheader,nounits"
DEFAULT_SAMPLE_GAP = 120.0
# What nvidia-smi prints for a value it does not have.
_MISSING = {
    "",
    "n/a",
    "[n/a]",
    "[not supported]",
    "not supported",
    "[unknown error]",
    "[insufficient permissions]",
}
_UNITS = {"ms": 1.0, "s": 1000.0, "mib": 1.0, "gib": 1024.0, "%": 1.0}
# The job of a process from its cgroup path: Slurm (v1 and v2), PBS Pro and Torque.
_CGROUP_JOB = (
    re.compile(r"/job_(\d+)(?:/|$)"),
    re.compile(r"/(?:pbs_jobs|pbspro)\.service/jobid/([^/\s]+)"),
    re.compile(r"/(?:torque|pbspro)/([0-9][^/\s]*)"),
)


class NvidiaError(RuntimeError):
    """nvidia-smi could not be run or failed."""


@dataclass(frozen=True)
class AccountedApp:
    """One process in the GPU accounting buffer."""

    gpu_uuid: str
    pid: int
    gpu_serial: Optional[str]
    time_ms: Optional[float]
    max_memory_bytes: Optional[int]
    gpu_utilization: Optional[float]
    mem_utilization: Optional[float]


@dataclass(frozen=True)
class Sample:
    """The utilisation and memory of one GPU at one moment."""

    time: datetime
    gpu_uuid: str
    utilization: Optional[float]
    memory_bytes: Optional[int]


def _key(uuid: str) -> str:
    return uuid.strip().lower()


def _number(text: str, what: str) -> Optional[float]:
    """A number as nvidia-smi prints it, with or without its unit (`1234`, `1234 ms`, `45 %`)."""
    value = text.strip()
    if value.lower() in _MISSING:
        return None
    parts = value.split()
    scale = 1.0
    if len(parts) == 2 and parts[1].lower() in _UNITS:
        scale = _UNITS[parts[1].lower()]
        value = parts[0]
    elif value.endswith("%"):
        value = value[:-1]
    try:
        number = float(value) * scale
    except ValueError:
        raise ValueError(f"bad {what} {text!r}") from None
    if number < 0 or number != number:
        raise ValueError(f"bad {what} {text!r}")
    return number


def _percent(text: str, what: str) -> Optional[float]:
    number = _number(text, what)
    if number is not None and number > 100:
        raise ValueError(f"{what} {text.strip()!r} is above 100 %")
    return number


def _mib(text: str, what: str) -> Optional[int]:
    number = _number(text, what)
    return None if number is None else int(number * MIB)


def _columns(line: str) -> List[str]:
    return [part.strip() for part in line.rstrip("\r\n").split(",")]


def _is_header(columns: Sequence[str], names: Iterable[str]) -> bool:
    """nvidia-smi's `--format=csv` header: `gpu_uuid, pid, time [ms], ...`."""
    first = {name.lower() for name in names}
    return any(column.split(" [")[0].lower() in first for column in columns[:2])


def parse_accounted(lines: Iterable[str], stats: ParseStats) -> Iterator[AccountedApp]:
    """Processes from `--query-accounted-apps` output in the order of ACCOUNTED_FIELDS."""
    for line_no, line in enumerate(lines, 1):
        stats.lines += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = _columns(line)
        if _is_header(columns, ACCOUNTED_FIELDS):
            continue
        if len(columns) != len(ACCOUNTED_FIELDS):
            stats.error(
                SOURCE, line_no, f"accounting: {len(columns)} fields, expected {len(ACCOUNTED_FIELDS)}"
            )
            continue
        serial, uuid, pid, time_ms, memory, gpu_util, mem_util = columns
        try:
            if not uuid or uuid.lower() in _MISSING:
                raise ValueError("no gpu_uuid")
            if not pid.isdigit():
                raise ValueError(f"bad pid {pid!r}")
            app = AccountedApp(
                gpu_uuid=uuid,
                pid=int(pid),
                gpu_serial=None if serial.lower() in _MISSING else serial,
                time_ms=_number(time_ms, "time"),
                max_memory_bytes=_mib(memory, "max_memory_usage"),
                gpu_utilization=_percent(gpu_util, "gpu_utilization"),
                mem_utilization=_percent(mem_util, "mem_utilization"),
            )
        except ValueError as exc:
            stats.error(SOURCE, line_no, f"accounting: {exc}")
            continue
        stats.records += 1
        yield app


def _sample_time(text: str, zone: tzinfo) -> datetime:
    """nvidia-smi's `timestamp` (`2024/01/15 10:00:00.123`, the node's local time), ISO or epoch."""
    value = text.strip()
    for fmt in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=zone).astimezone(timezone.utc)
        except ValueError:
            pass
    if value.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(value), timezone.utc)
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise ValueError(f"bad timestamp {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


def parse_samples(
    lines: Iterable[str], stats: ParseStats, zone: tzinfo = timezone.utc, now: Optional[datetime] = None
) -> Iterator[Sample]:
    """Samples from `--query-gpu=timestamp,uuid,utilization.gpu,memory.used` lines.

    A line without the timestamp column (the plain `--query-gpu=uuid,...` snapshot) is taken at
    `now`; such a line in a file without `now` is an error (it cannot be placed in time).
    """
    for line_no, line in enumerate(lines, 1):
        stats.lines += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = _columns(line)
        if _is_header(columns, ("timestamp", *SAMPLE_FIELDS)):
            continue
        try:
            if len(columns) == len(SAMPLE_FIELDS) + 1:
                moment = _sample_time(columns[0], zone)
                columns = columns[1:]
            elif len(columns) == len(SAMPLE_FIELDS):
                if now is None:
                    raise ValueError("a sample without a timestamp")
                moment = now.astimezone(timezone.utc)
            else:
                raise ValueError(f"{len(columns)} fields, expected timestamp,{','.join(SAMPLE_FIELDS)}")
            uuid, util, memory = columns
            if not uuid or uuid.lower() in _MISSING:
                raise ValueError("no uuid")
            sample = Sample(moment, uuid, _percent(util, "utilization.gpu"), _mib(memory, "memory.used"))
        except ValueError as exc:
            stats.error(SOURCE, line_no, f"samples: {exc}")
            continue
        stats.records += 1
        yield sample


@dataclass
class JobMap:
    """Which GPU UUIDs, and which processes on them, belong to which job."""

    uuids: Dict[str, Set[str]] = field(default_factory=dict)  # job id -> GPU UUIDs (lower case)
    processes: Dict[Tuple[str, int], Set[str]] = field(default_factory=dict)  # (uuid, pid) -> job ids

    def add(self, job_id: str, uuids: Iterable[str], pids: Iterable[int] = ()) -> None:
        keys = {_key(u) for u in uuids if u.strip()}
        self.uuids.setdefault(job_id, set()).update(keys)
        for pid in pids:
            for uuid in keys:
                self.processes.setdefault((uuid, pid), set()).add(job_id)

    def job_of(self, app: AccountedApp) -> Optional[str]:
        """The one job a process belongs to; None when unknown or claimed by several jobs."""
        jobs = self.processes.get((_key(app.gpu_uuid), app.pid), set())
        return next(iter(jobs)) if len(jobs) == 1 else None


def parse_job_map(lines: Iterable[str], stats: ParseStats, job_map: Optional[JobMap] = None) -> JobMap:
    """`JOBID UUID[,UUID...] [PID[,PID...]]` lines into a JobMap (added to `job_map` if given)."""
    result = job_map if job_map is not None else JobMap()
    for line_no, line in enumerate(lines, 1):
        stats.lines += 1
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) not in (2, 3):
            stats.error(SOURCE, line_no, "job map: expected JOBID UUID[,UUID...] [PID[,PID...]]")
            continue
        uuids = [u for u in parts[1].split(",") if u]
        pids = [p for p in parts[2].split(",") if p] if len(parts) == 3 else []
        if not uuids or not all(p.isdigit() for p in pids):
            stats.error(SOURCE, line_no, f"job map: bad UUIDs or PIDs in {text!r}")
            continue
        result.add(parts[0], uuids, [int(p) for p in pids])
        stats.records += 1
    return result


@dataclass
class Measurements:
    """Accounting, samples and the job map of one run; `measure` gives a job's measured fields."""

    job_map: JobMap = field(default_factory=JobMap)
    apps: List[AccountedApp] = field(default_factory=list)
    samples: Dict[str, List[Sample]] = field(default_factory=dict)  # uuid (lower case) -> by time
    sample_gap: float = DEFAULT_SAMPLE_GAP
    unattributed: int = 0

    def add_samples(self, samples: Iterable[Sample]) -> None:
        for sample in samples:
            self.samples.setdefault(_key(sample.gpu_uuid), []).append(sample)
        for series in self.samples.values():
            series.sort(key=lambda s: s.time)

    def measure(
        self, job_id: str, start: datetime, end: datetime, count: int, allocated: int
    ) -> Dict[str, Any]:
        """`active_seconds`, `utilisation_percent`, `memory_bytes` of one job ({} if unmeasured)."""
        count = max(count, 1)
        measured = self._from_accounting(job_id, count, allocated)
        return measured if measured else self._from_samples(job_id, start, end, count, allocated)

    def _from_accounting(self, job_id: str, count: int, allocated: int) -> Dict[str, Any]:
        busy: Dict[str, float] = {}
        peak: Dict[str, int] = {}
        for app in self.apps:
            if self.job_map.job_of(app) != job_id:
                continue
            uuid = _key(app.gpu_uuid)
            if app.time_ms is not None and app.gpu_utilization is not None:
                busy[uuid] = busy.get(uuid, 0.0) + app.time_ms / 1000.0 * app.gpu_utilization / 100.0
            if app.max_memory_bytes is not None:
                peak[uuid] = max(peak.get(uuid, 0), app.max_memory_bytes)
        result: Dict[str, Any] = {}
        if busy:
            # One GPU cannot be busy longer than the job held it (overlapping processes).
            total = sum(min(seconds, float(allocated)) for seconds in busy.values())
            total = min(total, float(allocated) * count)
            result["active_seconds"] = round(total / count)
            if allocated > 0:
                result["utilisation_percent"] = round(100.0 * total / (allocated * count), 2)
        if peak:
            result["memory_bytes"] = sum(peak.values())
        return result

    def _from_samples(
        self, job_id: str, start: datetime, end: datetime, count: int, allocated: int
    ) -> Dict[str, Any]:
        uuids = set(self.job_map.uuids.get(job_id, set()))
        busy = covered = 0.0
        peak: Dict[str, int] = {}
        for uuid in uuids:
            series = [s for s in self.samples.get(uuid, []) if start <= s.time <= end]
            for index, sample in enumerate(series):
                following = series[index + 1].time if index + 1 < len(series) else end
                held = min((following - sample.time).total_seconds(), self.sample_gap)
                if sample.utilization is not None and held > 0:
                    busy += held * sample.utilization / 100.0
                    covered += held
                if sample.memory_bytes is not None:
                    peak[uuid] = max(peak.get(uuid, 0), sample.memory_bytes)
        result: Dict[str, Any] = {}
        if covered > 0:
            result["active_seconds"] = min(round(busy / count), allocated)
            result["utilisation_percent"] = round(100.0 * busy / covered, 2)
        if peak:
            result["memory_bytes"] = sum(peak.values())
        return result

    def apply(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """Fill the measured fields of a job's accelerators record (fields already set are kept)."""
        if record.get("associated_kind", "job") != "job":
            return record
        measured = self.measure(
            str(record["associated_id"]),
            parse_iso_z(record["interval_start"]),
            parse_iso_z(record["interval_end"]),
            int(record.get("count") or 1),
            int(record["allocated_seconds"]),
        )
        if not measured and self.job_map.uuids.get(str(record["associated_id"])):
            self.unattributed += 1
        for name, value in measured.items():
            record.setdefault(name, value)
        return record


def run_nvidia_smi(nvidia_smi: str, query: str) -> List[str]:
    """Lines of `nvidia-smi <query> --format=csv,noheader,nounits`."""
    command = [*shlex.split(nvidia_smi), query, CSV_FORMAT]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NvidiaError(f"cannot run {command[0]}: {exc}") from exc
    if done.returncode != 0:
        raise NvidiaError(f"{command[0]} exited with {done.returncode}: {done.stderr.strip()[:500]}")
    return done.stdout.splitlines(keepends=True)


def _paths(patterns: str) -> List[str]:
    """Comma-separated file names or glob patterns, sorted, each file once."""
    found: List[str] = []
    for pattern in (p.strip() for p in patterns.split(",")):
        if pattern:
            # Absolute patterns such as /shared/gpu/*/accounting.csv: Path.glob takes relative ones only.
            magic = glob.has_magic(pattern)
            matches = sorted(glob.glob(pattern)) if magic else [pattern]  # noqa: PTH207
            found += [m for m in matches if m not in found]
    return found


def _read(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield from handle


def from_options(
    options: Dict[str, str], stats: ParseStats, zone: tzinfo = timezone.utc, now: Optional[datetime] = None
) -> Optional[Measurements]:
    """Measurements configured in the `[gpu]` section; None when nothing is configured.

    Options: `job_map` (files), `accounting_files`, `samples_files` (files or glob patterns, comma
    separated), `nvidia_smi` (a command: run it for accounting and one sample now, on a GPU node),
    `sample_gap` (seconds one sample stands for at most, default 120).
    """
    names = ("job_map", "accounting_files", "samples_files", "nvidia_smi")
    if not any(options.get(name) for name in names):
        return None
    measured = Measurements(sample_gap=float(options.get("sample_gap") or DEFAULT_SAMPLE_GAP))
    for path in _paths(options.get("job_map", "")):
        parse_job_map(_read(path), stats, measured.job_map)
    for path in _paths(options.get("accounting_files", "")):
        measured.apps += parse_accounted(_read(path), stats)
    for path in _paths(options.get("samples_files", "")):
        measured.add_samples(parse_samples(_read(path), stats, zone))
    command = options.get("nvidia_smi", "")
    if command:
        moment = now or datetime.now(timezone.utc)
        measured.apps += parse_accounted(run_nvidia_smi(command, ACCOUNTED_QUERY), stats)
        measured.add_samples(parse_samples(run_nvidia_smi(command, SAMPLE_QUERY), stats, zone, moment))
    return measured


def job_of_cgroup(text: str) -> Optional[str]:
    """The batch job id in a `/proc/PID/cgroup` file, None when the process is in no job."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        for pattern in _CGROUP_JOB:
            found = pattern.search(path)
            if found:
                return found.group(1)
    return None


def running_map_lines(nvidia_smi: str = "nvidia-smi", proc: str = "/proc") -> List[str]:
    """Job-map lines (`JOBID UUID PID`) for the GPU processes running now, jobs from their cgroups."""
    lines = run_nvidia_smi(nvidia_smi, "--query-compute-apps=gpu_uuid,pid")
    out: List[str] = []
    for line in lines:
        columns = _columns(line)
        if len(columns) != 2 or not columns[1].isdigit():
            continue
        try:
            cgroup = Path(proc, columns[1], "cgroup").read_text(encoding="utf-8", errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        job = job_of_cgroup(cgroup)
        if job is not None:
            out.append(f"{job} {columns[0]} {columns[1]}\n")
    return out


def sample_lines(nvidia_smi: str = "nvidia-smi", now: Optional[datetime] = None) -> List[str]:
    """One `timestamp,uuid,utilization.gpu,memory.used` line per GPU, stamped `now` (UTC)."""
    moment = iso_z(now or datetime.now(timezone.utc))
    lines = run_nvidia_smi(nvidia_smi, SAMPLE_QUERY)
    return [f"{moment}, {line.strip()}\n" for line in lines if line.strip()]


def main(argv: Optional[List[str]] = None) -> int:
    """`sample` or `map-running` on a GPU node (append the output to the files the agent reads)."""
    args = list(sys.argv[1:] if argv is None else argv)
    nvidia_smi = os.environ.get("TALLY_NVIDIA_SMI", "nvidia-smi")
    if args not in (["sample"], ["map-running"]):
        print("usage: python3 -m tally_agent.sources.nvidia sample|map-running", file=sys.stderr)
        return 2
    try:
        lines = sample_lines(nvidia_smi) if args == ["sample"] else running_map_lines(nvidia_smi)
    except NvidiaError as exc:
        print(f"tally-agent nvidia: {exc}", file=sys.stderr)
        return 1
    sys.stdout.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
