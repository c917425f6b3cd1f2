"""Readers of the kernel's counters under /proc (or a copy of it, for tests).

All CPU counters in /proc/stat are in USER_HZ ticks since boot (`getconf CLK_TCK`, 100 on every
common Linux). `user` already contains `guest` and `nice` contains `guest_nice`, so the guest
columns are read but never added again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")
# Every tick the kernel hands out lands in exactly one of these (guest time is inside user/nice).
TOTAL_FIELDS = (*BUSY_FIELDS, "idle", "iowait", "steal")


class ProcError(ValueError):
    """A /proc file is missing or not in the format the kernel writes."""


@dataclass
class StatInfo:
    cpu: Dict[str, int]
    vcpus: int
    boot_time: int


@dataclass
class Sample:
    """The counters of one moment: cumulative since boot, except `taken_at` (epoch seconds)."""

    taken_at: int
    boot_id: str
    boot_time: int
    uptime: float
    cpu: Dict[str, int]
    vcpus: int
    clock_ticks: int
    memory_bytes: Optional[int]
    net: Dict[str, Tuple[int, int]] = field(default_factory=dict)


def clock_ticks() -> int:
    try:
        value = int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        value = 100
    return value if value > 0 else 100


def parse_stat(text: str) -> StatInfo:
    """The aggregate `cpu` line, the number of online CPUs (`cpuN` lines) and `btime`."""
    cpu: Optional[Dict[str, int]] = None
    vcpus = 0
    boot_time: Optional[int] = None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "cpu":
            values = [int(v) for v in parts[1:]]
            if len(values) < 4:
                raise ProcError(f"/proc/stat: short cpu line {line!r}")
            values += [0] * (len(CPU_FIELDS) - len(values))
            cpu = dict(zip(CPU_FIELDS, values))
        elif parts[0].startswith("cpu") and parts[0][3:].isdigit():
            vcpus += 1
        elif parts[0] == "btime" and len(parts) == 2:
            boot_time = int(parts[1])
    if cpu is None or boot_time is None:
        raise ProcError("/proc/stat: no aggregate cpu line or no btime")
    return StatInfo(cpu=cpu, vcpus=max(vcpus, 1), boot_time=boot_time)


def parse_uptime(text: str) -> float:
    """Seconds since boot (the first of the two numbers in /proc/uptime)."""
    parts = text.split()
    if not parts:
        raise ProcError("/proc/uptime is empty")
    return float(parts[0])


def parse_net_dev(text: str) -> Dict[str, Tuple[int, int]]:
    """Received and transmitted bytes per interface."""
    counters: Dict[str, Tuple[int, int]] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep or "|" in line:
            continue
        values = rest.split()
        if len(values) < 9:
            raise ProcError(f"/proc/net/dev: short line {line!r}")
        counters[name.strip()] = (int(values[0]), int(values[8]))
    return counters


def parse_meminfo(text: str) -> Optional[int]:
    """MemTotal in bytes (the kernel writes kB meaning KiB)."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            scale = 1024 if len(parts) > 2 and parts[2].lower() == "kb" else 1
            return int(parts[1]) * scale
    return None


def net_bytes(net: Dict[str, Tuple[int, int]], include: List[str], exclude: List[str]) -> Tuple[int, int]:
    """Summed (rx, tx) of the interfaces that count: `include` if given, else all but `exclude`."""
    rx = tx = 0
    for name, (r, t) in net.items():
        if (include and name not in include) or (not include and name in exclude):
            continue
        rx += r
        tx += t
    return rx, tx


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ProcError(f"cannot read {path}: {exc}") from exc


def read_sample(root: Path, now: Optional[float] = None, ticks: Optional[int] = None) -> Sample:
    """One sample of the counters under `root` (normally /proc) at `now`.

    Without `now` the read waits for the next whole second of the clock, so that the interval
    timestamps (whole seconds) and the counters describe the same moment to within milliseconds.
    """
    if now is None:
        time.sleep(1.0 - time.time() % 1.0)
        taken_at = round(time.time())
    else:
        taken_at = int(now)
    uptime = parse_uptime(_read(root / "uptime"))
    stat = parse_stat(_read(root / "stat"))
    try:
        net = parse_net_dev(_read(root / "net" / "dev"))
    except ProcError:
        net = {}
    try:
        memory = parse_meminfo(_read(root / "meminfo"))
    except ProcError:
        memory = None
    try:
        boot_id = _read(root / "sys" / "kernel" / "random" / "boot_id").strip()
    except ProcError:
        boot_id = ""
    return Sample(
        taken_at=taken_at,
        boot_id=boot_id,
        boot_time=stat.boot_time,
        uptime=uptime,
        cpu=stat.cpu,
        vcpus=stat.vcpus,
        clock_ticks=ticks or clock_ticks(),
        memory_bytes=memory,
        net=net,
    )
