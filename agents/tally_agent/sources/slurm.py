"""Slurm: `sacct --parsable2` output (live or dumped), job steps folded into their allocation.

The field order comes from a header line (`JobID|JobName|...`), else from the `fields` option
(the `--format` list the dump was made with), else from `SACCT_FIELDS`, the list the agent asks for.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from json import dumps as json_dumps
from json import encoder as json_encoder
from operator import itemgetter
from types import MethodType
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar

from tally_agent.context import ParseContext
from tally_agent.timeutil import EPOCH, LocalTimes, parse_iso_z
from tally_agent.units import UnitError, parse_duration, parse_memory

SOURCE = "slurm"
# The layout of a dump without a header line (unchanged, so old headerless dumps still parse).
SACCT_FIELDS = (
    "JobID,JobName,User,Group,Account,Partition,QOS,Submit,Start,End,Elapsed,TotalCPU,NCPUS,NNodes,"
    "NodeList,MaxRSS,ReqMem,AllocTRES,ConsumedEnergyRaw,State,ExitCode"
)
# What `run` asks sacct for (sacct prints a header, so the layout is read from it): ReqTRES checks
# ReqMem, Suspended explains an Elapsed shorter than End - Start.
LIVE_FIELDS = SACCT_FIELDS + ",ReqTRES,Suspended"
# States of allocations that have not ended: not accounted yet (sent once they end).
NOT_ENDED = frozenset(
    (
        "PENDING",
        "RUNNING",
        "SUSPENDED",
        "REQUEUED",
        "RESIZING",
        "CONFIGURING",
        "COMPLETING",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESV_DEL_HOLD",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "POWER_UP_NODE",
        "UPDATE_DB",
    )
)
# States of ended allocations. A state in neither set is warned about and the job skipped: it may
# not have ended, and sending it would give it a second identity once it does.
ENDED = frozenset(
    (
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "LAUNCH_FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "SPECIAL_EXIT",
        "TIMEOUT",
    )
)
# Old Slurm stores "per CPU" as a flag bit of the ReqMem number, and some sacct versions print the
# number with the flag still in it (`2147486648Mn` = 2^31 + 3000 MiB: 3000 MiB per CPU). 64-bit
# versions use bit 63.
_PER_CPU_BITS = (63, 31)
_MIB = 1024**2
# Other spellings sacct uses for the same column.
_ALIASES = {
    "ALLOCCPUS": "NCPUS",
    "JOBIDRAW": "JOBIDRAW",
    "CPUTIMERAW": "CPUTIMERAW",
    "CONSUMEDENERGY": "ENERGY",
}
_UNSET = ("", "Unknown", "None", "NONE")
# The columns a job's record is made of, fetched in one call (`SlurmParser._pick`) in this order.
_RECORD_FIELDS = (
    "JOBID",
    "JOBIDRAW",
    "STATE",
    "ELAPSED",
    "START",
    "END",
    "SUBMIT",
    "NCPUS",
    "NNODES",
    "ALLOCTRES",
    "JOBNAME",
    "USER",
    "GROUP",
    "ACCOUNT",
    "PARTITION",
    "QOS",
    "ENERGY",
    "CONSUMEDENERGYRAW",
    "EXITCODE",
    "NODELIST",
    "REQMEM",
    "REQTRES",
    "SUSPENDED",
)
# Converted values kept per text (durations, sizes, counts repeat across a dump); each cache is
# emptied when it reaches this many entries, so memory stays bounded on any input.
_CACHE_MAX = 16_384
_MISSING: Any = object()
# What `SlurmParser._values` makes of a job, in the order of its record's keys (see `_RECORD`).
_Job = Tuple[Any, ...]
_Out = TypeVar("_Out")
# json's own string encoder (C when available): the quoted text json.dumps gives a str with
# ensure_ascii=False.
_json_text: Callable[[str], str] = json_encoder.encode_basestring
_SECOND = timedelta(seconds=1)


# The record of a job, one row a key in key order (the order `output.ndjson_line` writes them):
# (key, position in _Job, when the key is written, how its value is written as JSON). Both
# renderings of a job, the record (`parse`) and its NDJSON line (`parse_ndjson`), are generated
# from this one table, unrolled as hand-written code would be: the line is built with f-strings,
# with no loop or lookup per field, which keeps the agent several times APEL's parsing speed.
# `_HEAD` and `_TAIL` mark where the site's identity fields (batch_system, benchmark_*; resource,
# site) go among the keys.
_ALWAYS, _IF_SET, _IF_TRUE = "always", "if set", "if true"  # when: always / not None / truthy
_NUMBER, _TEXT, _PLAIN = "number", "text", "plain"  # JSON: str(int), json's encoder, '"' + text + '"'
_HEAD, _TAIL = "identity_head", "identity_tail"
_RECORD: Tuple[Tuple[str, int, str, str], ...] = (
    ("array_index", 0, _IF_SET, _NUMBER),
    ("array_job_id", 1, _IF_TRUE, _TEXT),
    (_HEAD, -1, _ALWAYS, _PLAIN),
    ("cancelled_by", 2, _IF_TRUE, _TEXT),
    ("cores", 3, _ALWAYS, _NUMBER),
    ("cpu_seconds", 4, _ALWAYS, _NUMBER),
    ("end_time", 5, _ALWAYS, _TEXT),
    ("energy_joules", 6, _IF_SET, _NUMBER),
    ("exit_code", 7, _IF_SET, _NUMBER),
    ("gpu_model", 8, _IF_TRUE, _TEXT),
    ("gpus", 9, _ALWAYS, _NUMBER),
    ("job_name", 10, _IF_TRUE, _TEXT),
    ("local_group", 11, _IF_TRUE, _TEXT),
    ("local_job_id", 12, _IF_TRUE, _TEXT),
    ("local_user", 13, _IF_TRUE, _TEXT),
    ("memory_max_bytes", 14, _IF_SET, _NUMBER),
    ("memory_requested_bytes", 15, _IF_SET, _NUMBER),
    ("node_list", 16, _IF_TRUE, _TEXT),
    ("nodes", 17, _ALWAYS, _NUMBER),
    ("project", 18, _IF_TRUE, _TEXT),
    ("qos", 19, _IF_TRUE, _TEXT),
    ("queue", 20, _IF_TRUE, _TEXT),
    (_TAIL, -1, _ALWAYS, _PLAIN),
    ("start_time", 21, _ALWAYS, _TEXT),
    ("state", 22, _ALWAYS, _PLAIN),  # one of ENDED: needs no escaping
    ("submit_time", 23, _IF_SET, _TEXT),
    ("wall_seconds", 24, _ALWAYS, _NUMBER),
)


def _renderers(record: Tuple[Tuple[str, int, str, str], ...]) -> Dict[str, Callable[..., Any]]:
    """`as_dict(parser, job)` and `as_line(parser, job)` for the record layout above, as source
    text compiled once: the record `ctx.stamp` would give (empty fields not set, keys inserted in
    sorted order, which spares the NDJSON encoder most of its sorting) and the same record as the
    text `output.ndjson_line` gives (json.dumps, sorted keys, no spaces, non-ASCII kept)."""
    width = 1 + max(position for _, position, _, _ in record)
    names = ", ".join(f"v{i}" for i in range(width))
    as_dict = ["def as_dict(self, job):", f"    ({names},) = job", "    record = {}"]
    as_line = ["def as_line(self, job):", f"    ({names},) = job", "    q = _json_text", '    out = "{"']
    pending: List[str] = []  # unconditional JSON text not yet added to `out`

    def flush() -> None:
        if pending:
            as_line.append(f"    out += f{''.join(pending)!r}")
            pending.clear()

    for key, position, when, how in record:
        if key in (_HEAD, _TAIL):
            as_dict.append(f"    record.update(self.{key})")
            pending.append(f"{{self.{key}_json}}")
            continue
        value = f"v{position}"
        text = {_NUMBER: f"{{{value}}}", _TEXT: f"{{q({value})}}", _PLAIN: f'"{{{value}}}"'}[how]
        member = f'"{key}":{text},'
        if when == _ALWAYS:
            as_dict.append(f"    record[{key!r}] = {value}")
            pending.append(member)
            continue
        test = f"{value} is not None" if when == _IF_SET else value
        as_dict += [f"    if {test}:", f"        record[{key!r}] = {value}"]
        flush()
        as_line += [f"    if {test}:", f"        out += f{member!r}"]
    flush()
    as_dict.append("    return record")
    as_line.append('    return out[:-1] + "}\\n"')
    scope: Dict[str, Any] = {"_json_text": _json_text}
    source = "\n".join([*as_dict, "", *as_line])
    exec(compile(source, "<slurm record renderers>", "exec"), scope)  # noqa: S102 - generated from _RECORD
    return {"as_dict": scope["as_dict"], "as_line": scope["as_line"]}


_RENDER = _renderers(_RECORD)


def parse_fields(spec: str) -> List[str]:
    """Canonical (upper-case) column names from a `--format`/header list (`,` or `|` separated)."""
    sep = "|" if "|" in spec else ","
    names = []
    for raw in spec.split(sep):
        name = raw.strip().split("%", 1)[0].upper()
        names.append(_ALIASES.get(name, name))
    return names


def _looks_like_header(line: str) -> bool:
    first = line.split("|", 1)[0].strip().upper()
    return first in ("JOBID", "JOBIDRAW")


class _Group:
    """An allocation line and the steps that follow it, folded into one job."""

    __slots__ = ("cpu", "has_job", "job", "line_no", "max_rss", "step_cpu", "steps")

    def __init__(self, line_no: int) -> None:
        self.line_no = line_no
        self.job: Optional[List[str]] = None
        self.has_job = False
        self.steps = 0
        self.step_cpu = 0
        self.cpu: Optional[int] = None
        self.max_rss: Optional[int] = None


class SlurmParser:
    """Streams sacct lines; keeps only the group being folded, so memory stays constant."""

    def __init__(self, ctx: ParseContext, fields: Optional[str] = None) -> None:
        self.ctx = ctx
        self.times = LocalTimes(ctx.zone)
        # Text -> value caches (see _CACHE_MAX); only values read without a warning are kept.
        self._durations: Dict[str, int] = {}
        self._sizes: Dict[str, Optional[int]] = {}
        self._ints: Dict[str, Optional[int]] = {}
        self._exits: Dict[str, Optional[int]] = {}
        self._gpus: Dict[str, Tuple[int, Optional[str]]] = {}
        self._memory: Dict[Tuple[str, str, int, int], Optional[int]] = {}
        self._epochs: Dict[str, int] = {}
        self._times: Dict[str, Tuple[Optional[str], Optional[int]]] = {}
        spec = fields or ctx.options.get("fields") or ""
        self.names: List[str] = parse_fields(spec) if spec else []
        self.origin = "the fields option (--fields)"  # where the field order came from, for hints
        self._index()

    def _index(self) -> None:
        self.idx: Dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self.width = len(self.names)
        self.name_at = self.idx.get("JOBNAME")
        self.id_at = self.idx.get("JOBID", self.idx.get("JOBIDRAW"))
        # A missing column reads as "": its index points past the end, at the "" that _values
        # appends to the fields.
        self._pick: Callable[[List[str]], Tuple[str, ...]] = itemgetter(
            *(self.idx.get(name, self.width) for name in _RECORD_FIELDS)
        )
        # TotalCPU, else the CPUTimeRAW of APEL's dumps (used as the CPU time, as APEL does).
        self.cpu_at = self.idx.get("TOTALCPU", self.idx.get("CPUTIMERAW"))
        self.rss_at = self.idx.get("MAXRSS")

    def parse(self, lines: Iterable[str]) -> Iterator[Dict[str, Any]]:
        """Records of ended jobs."""
        as_dict: Callable[[_Job], Dict[str, Any]] = MethodType(_RENDER["as_dict"], self)
        return self._parse(lines, as_dict)

    def parse_ndjson(self, lines: Iterable[str]) -> Iterator[str]:
        """The same records as NDJSON lines (newline included), the text of `output.ndjson_line`."""
        as_line: Callable[[_Job], str] = MethodType(_RENDER["as_line"], self)
        return self._parse(lines, as_line)

    def _parse(self, lines: Iterable[str], render: Callable[[_Job], _Out]) -> Iterator[_Out]:
        stats = self.ctx.stats
        # Stamped on each record (as of the start), its empty fields left out as stamp does; in
        # two parts that go where their keys sort among the record's (see _RECORD), and the
        # same two as JSON text.
        identity = self.ctx.identity(SOURCE).items()
        kept = {k: v for k, v in identity if v is not None and v != ""}
        self.identity_head = {k: v for k, v in kept.items() if k < "cancelled_by"}
        self.identity_tail = {k: v for k, v in kept.items() if k >= "cancelled_by"}
        self.identity_head_json = _json_members(self.identity_head)
        self.identity_tail_json = _json_members(self.identity_tail)
        group: Optional[_Group] = None
        key = ""
        first = True
        fold, finish = self._fold, self._finish
        width, id_at = self.width, self.id_at  # set again when a header line gives the layout
        for line_no, raw in enumerate(lines, 1):
            stats.lines += 1
            line = raw.rstrip("\r\n")
            if not line or line.isspace():
                continue
            if first:
                first = False
                if _looks_like_header(line):
                    stats.recognised += 1
                    self.names = parse_fields(line)
                    self.origin = "the header line"
                    self._index()
                    width, id_at = self.width, self.id_at
                    continue
                if not self.names:
                    self.names = parse_fields(SACCT_FIELDS)
                    self.origin = "the agent's sacct format"
                    self._index()
                    width, id_at = self.width, self.id_at
            parts = line.split("|")
            if len(parts) != width:
                fixed = self._mend(parts)
                if fixed is None:
                    stats.wrong_field_count += 1
                    stats.error(SOURCE, line_no, f"{len(parts)} fields, expected {self.width}")
                    stats.hint(self._fields_hint())
                    continue
                parts = fixed
            job_id = parts[id_at] if id_at is not None else parts[self.idx["JOBIDRAW"]]
            alloc, dot, _step = job_id.partition(".")
            if alloc != key or group is None:
                if group is not None:
                    record = finish(group, render)
                    if record is not None:
                        yield record
                group = _Group(line_no)
                key = alloc
            try:
                fold(group, parts, bool(dot), line_no)
            except (UnitError, ValueError) as exc:
                stats.error(SOURCE, line_no, str(exc))
        if group is not None:
            record = finish(group, render)
            if record is not None:
                yield record

    def _fields_hint(self) -> str:
        return (
            f"lines whose number of fields is not the {self.width} of {self.origin}: pass --fields "
            f"with the sacct --format list the dump was made with, or dump with "
            f"sacct --parsable2 --format={SACCT_FIELDS}"
        )

    def _mend(self, parts: List[str]) -> Optional[List[str]]:
        """A `|` inside JobName splits it: glue the surplus back (only JobName may hold one)."""
        extra = len(parts) - self.width
        if extra <= 0 or self.name_at is None:
            return None
        at = self.name_at
        return [*parts[:at], "|".join(parts[at : at + extra + 1]), *parts[at + extra + 1 :]]

    def _fold(self, group: _Group, parts: List[str], is_step: bool, line_no: int) -> None:
        cpu_text = "" if self.cpu_at is None else parts[self.cpu_at]
        cpu = None
        if cpu_text:
            if cpu_text.startswith("-"):
                raise UnitError(f"negative CPU time {cpu_text!r}")
            cpu = self._durations.get(cpu_text)
            if cpu is None:
                cpu = parse_duration(cpu_text)
                _keep(self._durations, cpu_text, cpu)
        rss_text = "" if self.rss_at is None else parts[self.rss_at]
        rss = None
        if rss_text:
            rss = self._sizes.get(rss_text, _MISSING)
            if rss is _MISSING:
                try:
                    rss = parse_memory(rss_text)
                except UnitError:
                    rss = None
                    self.ctx.stats.warn(SOURCE, line_no, f"MaxRSS {rss_text!r} unreadable, left empty")
                else:
                    _keep(self._sizes, rss_text, rss)
        if rss is not None and (group.max_rss is None or rss > group.max_rss):
            group.max_rss = rss
        if is_step:
            group.steps += 1
            if cpu is not None:
                group.step_cpu += cpu
            if group.job is None:
                group.job = parts  # orphan steps: rebuilt into their job below
            else:
                self._widen(group.job, parts)
        else:
            group.has_job = True
            group.job = parts
            group.cpu = cpu

    def _widen(self, job: List[str], step: List[str]) -> None:
        """Orphan steps only: the job spans its steps (earliest start, latest end, most CPUs)."""
        if job is step:
            return
        for name, pick in (("START", min), ("END", max), ("NCPUS", _max_int), ("ELAPSED", _max_dur)):
            at = self.idx.get(name)
            if at is not None and step[at] not in _UNSET:
                job[at] = step[at] if job[at] in _UNSET else pick(job[at], step[at])

    def _duration(self, text: str) -> int:
        seconds = self._durations.get(text)
        if seconds is None:
            seconds = parse_duration(text)
            _keep(self._durations, text, seconds)
        return seconds

    def _int(self, text: str) -> Optional[int]:
        value = self._ints.get(text, _MISSING)
        if value is _MISSING:
            value = _int(text)
            _keep(self._ints, text, value)
        return value  # type: ignore[no-any-return]

    def _time(self, text: str) -> Tuple[Optional[str], Optional[int]]:
        """ISO time of a sacct time, and its epoch seconds when they can be had."""
        iso = self.times.to_iso(text)
        epoch = None
        if iso is not None:
            # A failure is raised again where End - Start is needed, as when no time is kept.
            with suppress(ValueError, OverflowError):
                epoch = self._epoch(iso)
        entry = (iso, epoch)
        _keep(self._times, text, entry)
        return entry

    def _epoch(self, iso: str) -> int:
        """Epoch seconds of an ISO time of `LocalTimes` (always whole seconds)."""
        seconds = self._epochs.get(iso)
        if seconds is None:
            seconds = (parse_iso_z(iso) - EPOCH) // _SECOND
            _keep(self._epochs, iso, seconds)
        return seconds

    def _finish(self, group: _Group, render: Callable[[_Job], _Out]) -> Optional[_Out]:
        parts = group.job
        if parts is None:
            return None
        stats = self.ctx.stats
        try:
            job = self._values(group, parts)
        except (UnitError, ValueError) as exc:
            stats.error(SOURCE, group.line_no, str(exc))
            return None
        if job is None:
            stats.skipped += 1
            return None
        stats.records += 1
        return render(job)

    def _values(self, group: _Group, parts: List[str]) -> Optional[_Job]:
        """What a job's record is made of (see `_Job`), None for a job that is not accounted."""
        stats = self.ctx.stats
        line_no = group.line_no
        (
            job_id,
            job_id_raw,
            state_text,
            elapsed,
            start_text,
            end_text,
            submit_text,
            ncpus_text,
            nnodes_text,
            alloc_tres,
            job_name,
            user,
            unix_group,
            account,
            partition,
            qos,
            energy,
            energy_raw,
            exit_text,
            node_list,
            req_mem,
            req_tres,
            suspended,
        ) = self._pick([*parts, ""])
        alloc = (job_id or job_id_raw).split(".", 1)[0]
        state = state_text.split(" ", 1)[0].rstrip("+")
        if "[" in alloc:
            # A pending array range (`123_[1-5]`) is a placeholder, not an allocation: never
            # expanded, but counted; one claiming elapsed time carries usage the site must look at.
            stats.count("array_placeholders")
            if elapsed and elapsed not in _UNSET and parse_duration(elapsed) > 0:
                stats.warn(SOURCE, line_no, f"array placeholder {alloc} ({state}) claims {elapsed} elapsed")
            return None
        if state in NOT_ENDED or not state:
            return None
        if state not in ENDED:
            stats.count("unknown_states")
            stats.warn(SOURCE, line_no, f"job {alloc}: state {state_text!r} is not a Slurm state; skipped")
            return None
        # Each time text is converted once (to ISO, and epoch seconds for End - Start).
        times = self._times
        start, start_epoch = times.get(start_text) or self._time(start_text)
        end, end_epoch = times.get(end_text) or self._time(end_text)
        if start is None:
            return None  # ended before it started (e.g. cancelled while pending): nothing used
        if end is None:
            raise UnitError(f"job {alloc} ended ({state}) without an end time")
        if end < start:
            raise UnitError(f"job {alloc} ends before it starts")
        submit = (times.get(submit_text) or self._time(submit_text))[0]
        if submit is not None and submit > start:
            submit = None
        if end_epoch is None or start_epoch is None:
            end_epoch, start_epoch = self._epoch(end), self._epoch(start)  # raises as it should
        span = end_epoch - start_epoch
        # Elapsed (and Suspended) read before, Elapsed within a second of End - Start and no
        # suspension: the usual case, settled here; _wall works out every other.
        durations = self._durations
        wall = durations.get(elapsed)
        if wall is None or abs(wall - span) > 1 or (suspended and durations.get(suspended) != 0):
            wall = self._wall(span, elapsed, suspended, alloc, line_no)
        cpu = group.step_cpu if group.steps else group.cpu
        ints = self._ints
        ncpus = ints.get(ncpus_text, _MISSING)
        if ncpus is _MISSING:
            ncpus = self._int(ncpus_text)
        if ncpus == 0:
            # Never given an allocation (e.g. cancelled before it ran): no core to account, and
            # substituting one would invent usage. Skipped and counted; warned when it claims time.
            stats.count("zero_cores")
            if wall > 0:
                stats.warn(SOURCE, line_no, f"job {alloc}: 0 CPUs but {wall} s elapsed; skipped")
            return None
        cores = ncpus or 1
        nodes = ints.get(nnodes_text, _MISSING)
        if nodes is _MISSING:
            nodes = self._int(nnodes_text)
        nodes = nodes or 1
        gpus, model = (0, None) if "gres/gpu" not in alloc_tres else self._gpus_from_tres(alloc_tres)
        array_job, array_index = (None, None) if "_" not in alloc else _array(alloc)
        if req_mem or req_tres:
            memory = self._requested_memory(req_mem, req_tres, cores, nodes, line_no)
        else:
            memory = None
        energy = energy or energy_raw
        energy_joules = self._int(energy) if energy else None
        exit_code = self._exits.get(exit_text, _MISSING)
        if exit_code is _MISSING:
            exit_code = _exit_code(exit_text)
            _keep(self._exits, exit_text, exit_code)
        return (
            array_index,
            array_job,
            _cancelled_by(state, state_text) if state == "CANCELLED" else None,
            cores,
            cpu or 0,
            end,
            energy_joules,
            exit_code,
            model,
            gpus,
            job_name if group.has_job else "",
            unix_group,
            alloc,
            user,
            group.max_rss,
            memory,
            "" if node_list == "None assigned" else node_list,
            nodes,
            account,
            qos,
            partition,
            start,
            state,
            submit,
            wall,
        )

    def _wall(self, span: int, elapsed_text: str, suspended_text: str, alloc: str, line_no: int) -> int:
        """Wall seconds: Elapsed, checked against End - Start (Slurm's Elapsed leaves out the time
        the job was suspended, given by the Suspended column when present).

        Longer than End - Start (beyond a second) is impossible: corrected to End - Start, with a
        warning. Shorter is what a suspension gives: kept (with a warning unless Suspended accounts
        for it, in which case End - Start - Suspended is used when it disagrees).
        """
        if not elapsed_text or elapsed_text in _UNSET:
            return span
        elapsed = self._duration(elapsed_text)
        suspended = (
            self._duration(suspended_text) if suspended_text and suspended_text not in _UNSET else None
        )
        expected = span - (suspended or 0)
        if abs(elapsed - expected) <= 1:
            return elapsed
        stats = self.ctx.stats
        stats.count("elapsed_mismatches")
        if elapsed > span or suspended is not None:
            stats.warn(
                SOURCE,
                line_no,
                f"job {alloc}: Elapsed {elapsed} s disagrees with End - Start {span} s"
                + (f" - Suspended {suspended} s" if suspended else "")
                + f"; {max(expected, 0)} s used",
            )
            return max(expected, 0)
        stats.warn(
            SOURCE,
            line_no,
            f"job {alloc}: Elapsed {elapsed} s is shorter than End - Start {span} s (suspended?); kept",
        )
        return elapsed

    def _gpus_from_tres(self, tres: str) -> Tuple[int, Optional[str]]:
        found = self._gpus.get(tres)
        if found is None:
            found = gpus_from_tres(tres)
            _keep(self._gpus, tres, found)
        return found

    def _requested_memory(
        self, req_mem: str, req_tres: str, cores: int, nodes: int, line_no: int
    ) -> Optional[int]:
        """ReqMem decoded, cross-checked against ReqTRES `mem=`, which wins when they disagree.

        Kept per (ReqMem, ReqTRES, cores, nodes) when no warning was given (a warned value is
        worked out, and warned about, each time)."""
        key = (req_mem, req_tres, cores, nodes)
        size = self._memory.get(key, _MISSING)
        if size is _MISSING:
            warnings = self.ctx.stats.warnings
            size = self._decode_memory(req_mem, req_tres, cores, nodes, line_no)
            if self.ctx.stats.warnings == warnings:
                _keep(self._memory, key, size)
        return size  # type: ignore[no-any-return]

    def _decode_memory(
        self, req_mem: str, req_tres: str, cores: int, nodes: int, line_no: int
    ) -> Optional[int]:
        from_reqmem = self._req_mem(req_mem, cores, nodes, line_no)
        from_tres = self._tres_mem(req_tres, line_no)
        if from_tres is None:
            return from_reqmem
        if from_reqmem is not None and abs(from_reqmem - from_tres) > _MIB:
            self.ctx.stats.count("reqmem_disagrees")
            self.ctx.stats.warn(
                SOURCE, line_no, f"ReqMem gives {from_reqmem} bytes, ReqTRES mem= {from_tres}; ReqTRES used"
            )
        return from_tres

    def _tres_mem(self, tres: str, line_no: int) -> Optional[int]:
        for item in tres.split(","):
            name, _, value = item.partition("=")
            if name.strip() == "mem":
                try:
                    return parse_memory(value, default_unit="M")
                except UnitError:
                    self.ctx.stats.warn(SOURCE, line_no, f"ReqTRES mem={value!r} unreadable, ignored")
                    return None
        return None

    def _req_mem(self, text: str, cores: int, nodes: int, line_no: int) -> Optional[int]:
        """ReqMem: `4000Mc` per CPU, `16Gn` per node (Slurm < 21.08), a plain size is the total;
        the per-CPU flag bit folded into the number means per CPU whatever suffix follows. `0`
        (the whole memory of each node) has no size: left empty unless ReqTRES gives one."""
        text = text.strip()
        if not text or text in _UNSET:
            return None
        scale = 1
        flag = ""
        if text[-1] in "cn" and len(text) > 1:
            flag = text[-1]
            text = text[:-1]
        unit = text[-1].upper() if text[-1].isalpha() else ""
        number = text[:-1] if unit else text
        if number.isdigit():
            value = int(number)
            for bit in _PER_CPU_BITS:
                if value >> bit == 1:
                    value -= 1 << bit
                    flag = "c"
                    break
            text = f"{value}{unit}"
        if flag:
            scale = cores if flag == "c" else nodes
        try:
            size = parse_memory(text, default_unit="M")
        except UnitError:
            self.ctx.stats.warn(SOURCE, line_no, f"ReqMem {text!r} unreadable, left empty")
            return None
        if not size:
            return None
        return size * scale


def gpus_from_tres(tres: str) -> Tuple[int, Optional[str]]:
    """GPU count and model from AllocTRES (`...,gres/gpu:a100=2,gres/gpu=2,...`)."""
    if "gres/gpu" not in tres:
        return 0, None
    total: Optional[int] = None
    typed = 0
    model: Optional[str] = None
    for item in tres.split(","):
        name, _, value = item.partition("=")
        if not name.startswith("gres/gpu"):
            continue
        count = _int(value) or 0
        if name == "gres/gpu":
            total = count
        elif name.startswith("gres/gpu:"):
            typed += count
            if model is None and count:
                model = name[len("gres/gpu:") :]
    return (total if total is not None else typed), model


def _array(alloc: str) -> Tuple[Optional[str], Optional[int]]:
    if "_" not in alloc:
        return None, None
    parent, _, index = alloc.partition("_")
    index = index.split("+", 1)[0]
    return (parent, int(index)) if index.isdigit() else (parent, None)


def _int(text: str) -> Optional[int]:
    text = text.strip()
    if not text or text in _UNSET:
        return None
    return int(text)


def _max_int(a: str, b: str) -> str:
    return a if int(a) >= int(b) else b


def _max_dur(a: str, b: str) -> str:
    return a if parse_duration(a) >= parse_duration(b) else b


def _cancelled_by(state: str, text: str) -> Optional[str]:
    """Who cancelled the job (`CANCELLED by 5012`: a uid), None for every other state."""
    if state != "CANCELLED":
        return None
    _, by, who = text.partition(" by ")
    return who.strip() or None if by else None


def _exit_code(text: str) -> Optional[int]:
    code = text.split(":", 1)[0].strip()
    if not code:
        return None
    return int(code)


def _json_members(fields: Dict[str, Any]) -> str:
    """`"key":value,` for each field in key order, as json.dumps writes them (a fixed part of
    every line)."""
    return "".join(f"{_json_text(k)}:{json_dumps(v, ensure_ascii=False)}," for k, v in sorted(fields.items()))


def _keep(cache: Dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Records of ended jobs from sacct `--parsable2` lines."""
    return SlurmParser(ctx).parse(lines)


def parse_ndjson(lines: Iterable[str], ctx: ParseContext) -> Iterator[str]:
    """The records of `parse` as NDJSON lines, written without building each record's dict."""
    return SlurmParser(ctx).parse_ndjson(lines)
