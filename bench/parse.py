"""Parser benchmark: lines per second and peak memory of each agent parser on large generated logs.

Usage: .venv/bin/python bench/parse.py [--slurm-lines 1000000] [--other-lines 200000]
Target: slurm >= 80,000 lines/s on one core, in constant memory (peak does not grow with input).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))

from tally_agent.context import ParseContext
from tally_agent.sources import htcondor, lsf, pbs, sge, slurm
from tally_agent.timeutil import site_zone

SACCT_HEADER = (
    "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|NodeList|"
    "MaxRSS|ReqMem|AllocTRES|ConsumedEnergyRaw|State|ExitCode\n"
)


def _slurm(path: Path, lines: int) -> None:
    with path.open("w") as out:
        out.write(SACCT_HEADER)
        for n in range(lines // 3):
            t = f"2024-03-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00"
            e = f"2024-03-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:59"
            out.write(
                f"{n}|job{n}|u{n % 50}|g|acct|batch|normal|{t}|{t}|{e}|00:00:59|00:00:00|8|1|n{n % 90}||4000Mc|"  # noqa: E501
                f"cpu=8,gres/gpu:a100=1,gres/gpu=1|12345|COMPLETED|0:0\n"
            )
            out.write(f"{n}.batch|batch|||||||{t}|{e}|00:00:59|00:07:30|8|1|n1|1536000K|||||COMPLETED|0:0\n")
            out.write(
                f"{n}.extern|extern|||||||{t}|{e}|00:00:59|00:00:00.010|8|1|n1|800K|||||COMPLETED|0:0\n"
            )


def _pbs(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for n in range(lines):
            out.write(
                f"03/01/2024 10:00:00;E;{n}.server;user=u group=g jobname=j queue=q ctime=1709280000 "
                f"qtime=1709280000 etime=1709280000 start=1709283600 exec_host=n1/0-3+n2/0-3 "
                f"Resource_List.nodes=2:ppn=4 session=1 end=1709287200 Exit_status=0 "
                f"resources_used.cput=03:00:00 resources_used.mem=2031040kb resources_used.walltime=01:00:00\n"  # noqa: E501
            )


def _htcondor(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for n in range(lines):
            out.write(f"ce.example#{n}.0#1|user|3600|3000|10|1709283600|1709287200|712944|2075028|1\n")


def _sge(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for n in range(lines):
            out.write(
                f"q:h:g:o:name:{n}:sge:0:1709280000:1709283600:1709287200:0:0:3600:3000.5:10.1:385648:0:0:0:0:"
                f"1:0:0:0:0:0:0:0:1:1:NONE:defaultdepartment:NONE:1:0:3010.6:1.5:0.1:-q q:0.0:NONE:1546682368\n"  # noqa: E501
            )


def _lsf(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for n in range(lines):
            out.write(
                f'"JOB_FINISH" "10.1" 1709287200 {n} 500 33554482 4 1709280000 0 0 1709283600 "user" "normal" '  # noqa: E501
                f'"" "" "" "login1" "/home/u" "" "o" "e" "1709280000.{n}" 0 1 "4*n1" 64 60.0 "job" "run.sh" '
                f'3000.2 10.3 0 0 -1 0 0 927804 87722 0 0 0 -1 0 0 0 0 0 -1 "" "proj" 0 4 "" "" 0 '
                f'310424 339112 "" "" ""\n'
            )


SOURCES: dict[str, tuple[Callable[[Path, int], None], Any]] = {
    "slurm": (_slurm, slurm.parse),
    "pbs": (_pbs, pbs.parse),
    "htcondor": (_htcondor, htcondor.parse),
    "sge": (_sge, sge.parse),
    "lsf": (_lsf, lsf.parse),
}


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        yield from handle


def measure(name: str, path: Path, trace: bool) -> tuple[int, int, float, int]:
    ctx = ParseContext(site="BENCH", resource="bench", zone=site_zone("UTC"))
    parse = SOURCES[name][1]
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    records = 0
    for _ in parse(_lines(path), ctx):
        records += 1
    elapsed = time.perf_counter() - started
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert ctx.stats.errors == 0, ctx.stats.problems[:3]
    return ctx.stats.lines, records, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slurm-lines", type=int, default=1_000_000)
    parser.add_argument("--other-lines", type=int, default=200_000)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; one core; lines/s without tracing, peak heap with tracemalloc")
    print(f"{'parser':10} {'lines':>10} {'records':>9} {'seconds':>8} {'lines/s':>10} {'peak heap':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (generate, _) in SOURCES.items():
            path = Path(tmp) / f"{name}.log"
            generate(path, args.slurm_lines if name == "slurm" else args.other_lines)
            lines, records, elapsed, _ = measure(name, path, trace=False)
            # Peak traced heap over the whole stream: a few KiB, whatever the input size.
            _, _, _, peak = measure(name, path, trace=True)
            print(
                f"{name:10} {lines:>10,} {records:>9,} {elapsed:>8.2f} {lines / elapsed:>10,.0f} "
                f"{peak / 1024:>8,.0f} KiB"
            )
            path.unlink()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process max RSS {rss / 1024:,.1f} MiB")


if __name__ == "__main__":
    main()
