"""Shared by the scaling curves of bench/ingest.py and bench/query.py: the log-log fit and the peak
memory of one child process."""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Sequence


def exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The slope of the least-squares line through (log size, log time): 1.0 is linear growth."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def wait_peak_mb(proc: subprocess.Popen[bytes]) -> float:
    """Wait for `proc` and return its own peak resident memory (MB), not that of earlier children."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def print_curve(title: str, unit: str, rows: Sequence[tuple[int, float, float]]) -> None:
    """One line per size (time, peak memory), then the exponent of the fit of time against size."""
    print(f"\n{title}")
    for size, secs, peak in rows:
        print(f"  {size:>12,} {unit}: {secs:9.2f} s   peak {peak:8.0f} MB")
    if len(rows) >= 2:
        fit = exponent([r[0] for r in rows], [r[1] for r in rows])
        print(f"  time grows as size^{fit:.2f} (log-log least-squares fit over {len(rows)} sizes)")
