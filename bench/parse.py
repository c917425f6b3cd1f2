"""Parser benchmark: the agent's whole process beside APEL's parsers, on the same lines, in one run.

Usage: .venv/bin/python bench/parse.py [--lines 320000] [--other-lines 100000]
                                       [--apel DIR] [--apel-python PYTHON] [--only slurm,pbs]

For each batch system the same input is read twice:
- tally: `python -m tally_agent parse SOURCE FILE [--fields ...]` as a separate process, NDJSON to
  /dev/null; timed from spawn to exit (interpreter start, imports, reading, writing included).
- apel:  APEL's parser class (`SlurmParser`, `PBSParser`, `SGEParser`, `LSFParser`, `HTCondorParser`)
  called line by line in a loop inside its own process; only the loop is timed, imports excluded.
`ratio` is tally lines/s over apel lines/s; `max RSS` is each process's peak resident memory.

Inputs: the real accounting lines of `../shared/data/batch/apel_*.log` (when present) replicated to
the line count with a fresh job id per copy; Slurm also gets generated lines in the agent's own
sacct layout (allocation, batch and extern lines per job), given to APEL in its 15-column layout.
APEL is not part of Tally: pass a checkout of apel/apel (release 2.5.0: `git archive 2.5.0-1`) with
`--apel`, and an interpreter that has its imports (`future`, `iso8601`) with `--apel-python`;
without them the apel columns are left empty (see agents/README.md).
Target: tally >= 5x APEL on the real Slurm lines. On a shared machine compare the CPU-time ratio:
wall-clock rates swing with the load of other processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "batch"
APEL_SLURM_FIELDS = (
    "JobID,JobName,User,Group,Start,End,Elapsed,CPUTimeRAW,"
    "Partition,NCPUS,NNodes,NodeList,MaxRSS,MaxVMSize,State"
)
SACCT_HEADER = (
    "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|"
    "NodeList|MaxRSS|ReqMem|AllocTRES|ConsumedEnergyRaw|State|ExitCode|ReqTRES|Suspended"
)
# Run inside APEL's process: its parser over the file, line by line; prints what it counted.
APEL_LOOP = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import importlib
cls = getattr(importlib.import_module("apel.parsers." + sys.argv[2]), sys.argv[3])
parser = cls("BENCH", "bench", False)
records = errors = lines = 0
with open(sys.argv[4], encoding="utf-8") as handle:
    started, cpu_started = time.perf_counter(), time.process_time()
    for line in handle:
        lines += 1
        try:
            if parser.parse(line) is not None:
                records += 1
        except Exception:
            errors += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({"lines": lines, "records": records, "errors": errors, "seconds": elapsed, "cpu": cpu}))
"""


@dataclass
class Case:
    """One input file, read by the agent (source + arguments) and by an APEL parser class."""

    name: str
    source: str
    agent_args: list[str]
    apel_module: str
    apel_class: str
    agent_file: Path
    apel_file: Path


@dataclass
class Run:
    lines: int
    records: int
    seconds: float  # wall clock
    cpu_seconds: float  # user + system: steadier than wall time on a shared machine
    max_rss_kib: int
    note: str = ""


def _replicate(sample: Path, target: Path, lines: int, vary: Callable[[str, int], str]) -> None:
    """`lines` lines cycling through the real sample, each copy with a job id of its own."""
    real = [line for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()]
    with target.open("w", encoding="utf-8") as out:
        for n in range(lines):
            out.write(vary(real[n % len(real)], 10_000_000 + n) + "\n")


def _vary_slurm(line: str, job: int) -> str:
    return re.sub(r"^\d+", str(job), line, count=1)


def _vary_pbs(line: str, job: int) -> str:
    return re.sub(r";(\d+)\.", f";{job}.", line, count=1)


def _vary_htcondor(line: str, job: int) -> str:
    return re.sub(r"(^|#)\d+", lambda m: f"{m.group(1)}{job}", line, count=1)


def _vary_sge(line: str, job: int) -> str:
    parts = line.split(":")
    parts[5] = str(job)
    return ":".join(parts)


def _vary_lsf(line: str, job: int) -> str:
    parts = line.split(" ", 4)
    parts[3] = str(job)
    return " ".join(parts)


def _sacct_time(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def _generated_slurm(agent_file: Path, apel_file: Path, lines: int) -> None:
    """A busy cluster's sacct dump: each job an allocation, a batch and an extern line; job ids
    rising, starts a few seconds apart (times repeat across the lines of a job and between jobs),
    a mix of states, array elements, GPU jobs and ReqMem forms. APEL gets the same lines in its
    layout (APEL reads every line as a job of its own, steps included)."""
    rnd = random.Random(2024)
    states = ["COMPLETED"] * 14 + ["FAILED", "TIMEOUT", "CANCELLED by 5012", "OUT_OF_MEMORY", "NODE_FAIL"]
    apel_cols = (0, 1, 2, 3, 8, 9, 10, 11, 5, 12, 13, 14, 15, 15, 19)
    base = 1_709_251_200  # 2024-03-01T00:00:00Z
    with agent_file.open("w", encoding="utf-8") as agent, apel_file.open("w", encoding="utf-8") as apel:
        agent.write(SACCT_HEADER + "\n")
        for n in range(lines // 3):
            job = str(4_000_000 + n) if n % 10 else f"{4_000_000 + n}_{n % 97}"
            ncpus = rnd.choice((1, 1, 2, 4, 8, 16, 32))
            wall = rnd.choice((59, 300, 3600, 7200, 43200)) + rnd.randrange(0, 30)
            start = base + n * 3 + rnd.randrange(0, 5)
            t0, t1, sub = _sacct_time(start), _sacct_time(start + wall), _sacct_time(start - 120)
            cpu = _duration(wall * ncpus * rnd.randrange(50, 100) // 100)
            gpu = "gres/gpu:a100=1,gres/gpu=1," if n % 7 == 0 else ""
            state = rnd.choice(states)
            user = f"u{n % 311:03d}"
            rows = [
                [job, f"run{n % 53}.sh", user, "physics", "proj1", "batch", "normal", sub, t0, t1,
                 _duration(wall), cpu, str(ncpus), "1", f"n{n % 400:04d}", "", f"{ncpus * 2000}Mc",
                 f"billing={ncpus},cpu={ncpus},{gpu}mem={ncpus * 2000}M,node=1", str(wall * 37),
                 state, "0:0", f"billing={ncpus},cpu={ncpus},mem={ncpus * 2000}M,node=1", "00:00:00"],
                [f"{job}.batch", "batch", "", "", "proj1", "", "", t0, t0, t1, _duration(wall), cpu,
                 str(ncpus), "1", f"n{n % 400:04d}", f"{rnd.randrange(100_000, 9_000_000)}K", "", "",
                 "0", "COMPLETED" if state == "COMPLETED" else "FAILED", "0:0", "", "00:00:00"],
                [f"{job}.extern", "extern", "", "", "proj1", "", "", t0, t0, t1, _duration(wall),
                 "00:00:00.002", str(ncpus), "1", f"n{n % 400:04d}", "900K", "", "", "0", "COMPLETED",
                 "0:0", "", "00:00:00"],
            ]  # fmt: skip
            for row in rows:
                agent.write("|".join(row) + "\n")
                apel.write("|".join(row[i] for i in apel_cols) + "\n")


def _cases(tmp: Path, lines: int, other: int, only: set[str]) -> list[Case]:
    cases = []
    real = {
        "slurm": (
            "apel_slurm.log",
            _vary_slurm,
            ["--fields", APEL_SLURM_FIELDS],
            "slurm",
            "SlurmParser",
            lines,
        ),
        "pbs": ("apel_pbs_torque.log", _vary_pbs, [], "pbs", "PBSParser", other),
        "sge": ("apel_sge.log", _vary_sge, [], "sge", "SGEParser", other),
        "lsf": ("apel_lsf.log", _vary_lsf, [], "lsf", "LSFParser", other),
        "htcondor": ("apel_htcondor.log", _vary_htcondor, [], "htcondor", "HTCondorParser", other),
    }
    for source, (sample, vary, args, module, cls, count) in real.items():
        if source not in only:
            continue
        if not (SHARED / sample).exists():
            print(f"{source}: {SHARED / sample} not present, real lines skipped")
            continue
        path = tmp / f"{source}-real.log"
        _replicate(SHARED / sample, path, count, vary)
        cases.append(Case(f"{source} real", source, args, module, cls, path, path))
    if "slurm" in only:
        agent_file, apel_file = tmp / "slurm-gen.log", tmp / "slurm-gen-apel.log"
        _generated_slurm(agent_file, apel_file, lines)
        cases.append(Case("slurm generated", "slurm", [], "slurm", "SlurmParser", agent_file, apel_file))
    return cases


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str, str, int]:
    """Wall seconds, max RSS (KiB), stdout, stderr and exit status of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return elapsed, usage.ru_maxrss, out.read().decode(), err.read().decode(), child.returncode


def run_agent(case: Case) -> Run:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "agents")}
    command = [sys.executable, "-m", "tally_agent", "parse", case.source, str(case.agent_file)]
    command += case.agent_args
    with open(os.devnull, "w") as devnull:  # NDJSON written, to /dev/null
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=devnull, stderr=subprocess.PIPE, env=env)
        assert child.stderr is not None
        err = child.stderr.read().decode()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
    summary = next((line for line in err.splitlines() if line.startswith("tally-agent parse")), "")
    counts = dict(item.split("=", 1) for item in summary.split(": ", 1)[-1].split() if "=" in item)
    if "lines" not in counts:
        raise SystemExit(f"agent failed on {case.name} (status {status}): {err[-500:]}")
    note = f"errors={counts['errors']}" if counts.get("errors", "0") != "0" else ""
    cpu = usage.ru_utime + usage.ru_stime
    return Run(int(counts["lines"]), int(counts["records"]), elapsed, cpu, usage.ru_maxrss, note)


def run_apel(case: Case, apel: Path, python: str) -> Run | str:
    command = [python, "-c", APEL_LOOP, str(apel), case.apel_module, case.apel_class, str(case.apel_file)]
    _, rss, out, err, code = _timed(command)
    if code != 0:
        return err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
    counts = json.loads(out)
    note = f"errors={counts['errors']}" if counts["errors"] else ""
    return Run(counts["lines"], counts["records"], counts["seconds"], counts["cpu"], rss, note)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=320_000, help="Slurm lines (real and generated)")
    parser.add_argument("--other-lines", type=int, default=100_000, help="lines of PBS, SGE, LSF, HTCondor")
    parser.add_argument("--apel", type=Path, help="checkout of apel/apel (its apel/parsers/*.py)")
    parser.add_argument("--apel-python", default=sys.executable, help="interpreter with APEL's imports")
    parser.add_argument("--only", default="slurm,pbs,sge,lsf,htcondor", help="comma-separated sources")
    args = parser.parse_args()
    apel = args.apel if args.apel and (args.apel / "apel" / "parsers").is_dir() else None
    if args.apel and apel is None:
        print(f"--apel {args.apel}: no apel/parsers there; APEL columns skipped")
    print(
        f"python {sys.version.split()[0]}; tally: whole process, NDJSON to /dev/null; apel: in-process loop"
    )
    print("lines/s by wall clock (and by CPU time, user + system); ratio = tally / apel, wall (CPU)")
    print(
        f"{'input':16} {'lines':>8} | {'tally rec':>9} {'lines/s':>9} {'(cpu)':>9} {'max RSS':>8} | "
        f"{'apel rec':>8} {'lines/s':>9} {'(cpu)':>9} {'max RSS':>8} | {'ratio':>13}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for case in _cases(Path(tmp), args.lines, args.other_lines, set(args.only.split(","))):
            ours = run_agent(case)
            theirs: Run | str = "no --apel" if apel is None else run_apel(case, apel, args.apel_python)
            print(_row(case, ours, theirs))


def _side(run: Run) -> str:
    return (
        f"{run.records:>8,} {run.lines / run.seconds:>9,.0f} {run.lines / run.cpu_seconds:>9,.0f} "
        f"{run.max_rss_kib / 1024:>6.1f}Mi"
    )


def _row(case: Case, ours: Run, theirs: Run | str) -> str:
    row = f"{case.name:16} {ours.lines:>8,} | {' ' + _side(ours)} | "
    if isinstance(theirs, Run):
        wall = ours.lines / ours.seconds / (theirs.lines / theirs.seconds)
        cpu = ours.lines / ours.cpu_seconds / (theirs.lines / theirs.cpu_seconds)
        row += f"{_side(theirs)} | {wall:>5.2f}x ({cpu:.2f}x)"
    else:
        row += f"{'-':>38} | {'-':>13}  apel: {theirs}"
    notes = [f"tally {ours.note}" if ours.note else ""]
    if isinstance(theirs, Run) and theirs.note:
        notes.append(f"apel {theirs.note}")
    return row + "".join(f"  {n}" for n in notes if n)


if __name__ == "__main__":
    main()
