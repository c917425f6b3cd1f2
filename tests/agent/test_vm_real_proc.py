"""The sampler on this machine's real /proc: relations that must hold between its numbers and
what the kernel says, read independently here."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest

from tally_agent.config import Config
from tests.agent.vm_proc import cron_run

PROC = Path("/proc")
pytestmark = [
    pytest.mark.slow,  # waits for real CPU ticks to pass
    pytest.mark.skipif(not (PROC / "stat").exists(), reason="no /proc on this machine"),
]


def kernel() -> tuple[int, int, float, int]:
    """(online CPUs, btime, uptime, MemTotal bytes) read straight from /proc."""
    stat = (PROC / "stat").read_text().splitlines()
    cpus = sum(1 for line in stat if line.startswith("cpu") and line[3:4].isdigit())
    btime = next(int(line.split()[1]) for line in stat if line.startswith("btime "))
    uptime = float((PROC / "uptime").read_text().split()[0])
    mem = next(
        int(line.split()[1]) * 1024
        for line in (PROC / "meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return cpus, btime, uptime, mem


def cpu_total(record: dict[str, float]) -> float:
    return sum(record[f"cpu_{k}_seconds"] for k in ("busy", "idle", "iowait", "steal"))


def test_real_proc_since_boot_then_a_short_interval(tmp_path: Path) -> None:
    options = {
        "provider": "local",
        "account": "me",
        "instance_id": "this-host",
        "min_interval_seconds": "1",
        "since_boot_max_seconds": str(10**9),
    }
    config = Config(
        site="S", resource="R", spool_dir=str(tmp_path), state_dir=str(tmp_path), options={"vm": options}
    )
    cpus, btime, _, mem = kernel()
    first = cron_run(config, None)
    _, _, uptime_after, _ = kernel()
    assert first is not None
    assert first["vcpus"] == cpus and first["memory_bytes"] == mem
    assert first["interval_start"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(btime))
    assert first["boot_time"] == first["interval_start"]
    assert 0 <= uptime_after - first["uptime_seconds"] < 2
    end = calendar.timegm(time.strptime(first["interval_end"], "%Y-%m-%dT%H:%M:%SZ"))
    # Since boot: the CPU columns cannot hold more than vCPUs x wall time (ticks lag by < 1 per CPU).
    assert cpu_total(first) <= cpus * (end - btime) * 1.01 + cpus * 0.02
    assert cpu_total(first) >= cpus * first["uptime_seconds"] * 0.5  # the kernel counts most of it
    # Busy for a while, then the next sample: a short interval that tiles onto the first one.
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:
        sum(i * i for i in range(1000))
    second = cron_run(config, None)
    assert second is not None
    assert second["interval_start"] == first["interval_end"]
    start = calendar.timegm(time.strptime(second["interval_start"], "%Y-%m-%dT%H:%M:%SZ"))
    stop = calendar.timegm(time.strptime(second["interval_end"], "%Y-%m-%dT%H:%M:%SZ"))
    elapsed = stop - start
    assert 1 <= elapsed <= 3
    assert cpu_total(second) <= cpus * elapsed * 1.05 + cpus * 0.02
    assert second["cpu_busy_seconds"] >= 0.5  # this process kept one CPU busy for about 1.2 s
    assert min(second[f"cpu_{k}_seconds"] for k in ("busy", "idle", "iowait", "steal")) >= 0
    assert second["net_rx_bytes"] >= 0 and second["net_tx_bytes"] >= 0
    assert second["uptime_seconds"] - first["uptime_seconds"] == pytest.approx(elapsed, abs=1)
