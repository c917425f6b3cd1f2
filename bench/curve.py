"""Shared by the scaling curves of bench/ingest.py and bench/query.py: the log-log fit and the peak
own peak memory of a process."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path


def exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The slope of the least-squares line through (log size, log time): 1.0 is linear growth."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def peak_mb(pid: int | str = "self") -> float:
    """A live process's own peak resident memory (VmHWM, MB). Not `ru_maxrss`: Linux carries a
    parent's peak across fork and exec into the child's, so a big parent would inflate it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def print_curve(title: str, unit: str, rows: Sequence[tuple[int, float, float]]) -> None:
    """One line per size (time, peak memory), then the exponent of the fit of time against size."""
    print(f"\n{title}")
    for size, secs, peak in rows:
        print(f"  {size:>12,} {unit}: {secs:9.2f} s   peak {peak:8.0f} MB")
    if len(rows) >= 2:
        fit = exponent([r[0] for r in rows], [r[1] for r in rows])
        print(f"  time grows as size^{fit:.2f} (log-log least-squares fit over {len(rows)} sizes)")
