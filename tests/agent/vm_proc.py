"""A /proc tree in the kernel's formats for the VM sampler, and one cron run of `tally-agent vm`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tally_agent.config import Config
from tally_agent.vm import command, statefile

BOOT = 1_767_225_600  # 2026-01-01T00:00:00Z
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


def write_proc(
    root: Path,
    *,
    ticks: dict[str, int],
    btime: int,
    uptime: float,
    net: dict[str, tuple[int, int]],
    boot_id: str | None = "11111111-2222-3333-4444-555555555555",
    cpus: int = 4,
    mem_kb: int = 16_384_000,
) -> None:
    """A /proc tree in the kernel's formats (the per-CPU lines only need to exist)."""
    root.mkdir(parents=True, exist_ok=True)
    values = " ".join(str(ticks.get(f, 0)) for f in FIELDS)
    per_cpu = "".join(f"cpu{n} 1 0 1 1 0 0 0 0 0 0\n" for n in range(cpus))
    (root / "stat").write_text(
        f"cpu  {values}\n{per_cpu}intr 1 0\nctxt 99\nbtime {btime}\nprocesses 10\nprocs_running 1\n"
    )
    (root / "uptime").write_text(f"{uptime:.2f} {uptime * cpus * 0.9:.2f}\n")
    lines = [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast"
        "|bytes    packets errs drop fifo colls carrier compressed",
    ]
    for name, (rx, tx) in net.items():
        lines.append(f"{name:>6}: {rx} 10 0 0 0 0 0 0 {tx} 10 0 0 0 0 0 0")
    (root / "net").mkdir(exist_ok=True)
    (root / "net" / "dev").write_text("\n".join(lines) + "\n")
    (root / "meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree:         1000 kB\n")
    random = root / "sys" / "kernel" / "random"
    random.mkdir(parents=True, exist_ok=True)
    if boot_id is None:
        (random / "boot_id").unlink(missing_ok=True)
    else:
        (random / "boot_id").write_text(boot_id + "\n")


def cron_run(config: Config, now: int | None) -> dict[str, Any] | None:
    """What one `tally-agent vm` run does apart from delivery: measure, then keep the new state."""
    result = command.measure(config, now=now)
    statefile.save(command.state_path(config, config.options["vm"]), result.state)
    return result.record


def ticks(**values: int) -> dict[str, int]:
    return {f: values.get(f, 0) for f in FIELDS}
