"""The VM sampler on /proc files written by the test: exact CPU-second and byte arithmetic across
consecutive runs, a reboot between samples, counter dips and resets, and runs too close together.

Every scenario goes through `measure` and the state file, as a cron run does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tally_agent.config import Config
from tests.agent.interpreters import python39
from tests.agent.vm_proc import BOOT, cron_run, ticks, write_proc
from tests.support.paths import AGENTS


def iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_config(tmp_path: Path, **vm: str) -> Config:
    options = {
        "provider": "opennebula",
        "account": "acc-1",
        "instance_id": "one-42",
        "proc": str(tmp_path / "proc"),
        "clock_ticks": "100",
        **vm,
    }
    return Config(
        site="CLOUD-SITE",
        resource="one",
        spool_dir=str(tmp_path / "spool"),
        state_dir=str(tmp_path / "spool"),
        options={"vm": options},
    )


def test_fresh_boot_then_deltas(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path)
    # 600 s after boot, 4 vCPUs: 2400 CPU-seconds = 240,000 ticks, of which guest 5,000 inside user.
    first = ticks(
        user=60_000,
        nice=1_000,
        system=9_000,
        idle=150_000,
        iowait=4_000,
        irq=500,
        softirq=1_500,
        steal=14_000,
        guest=5_000,
    )
    write_proc(
        proc,
        ticks=first,
        btime=BOOT,
        uptime=600.4,
        net={"lo": (9_999, 9_999), "eth0": (1_000_000, 200_000), "eth1": (50, 60)},
    )
    record = cron_run(config, BOOT + 600)
    assert record is not None
    assert record == {
        "site": "CLOUD-SITE",
        "resource": "one",
        "provider": "opennebula",
        "account": "acc-1",
        "instance_id": "one-42",
        "interval_start": iso(BOOT),
        "interval_end": iso(BOOT + 600),
        "boot_time": iso(BOOT),
        "uptime_seconds": 600,
        "cpu_busy_seconds": 720.0,  # (60000 + 1000 + 9000 + 500 + 1500) / 100, guest not added again
        "cpu_idle_seconds": 1500.0,
        "cpu_iowait_seconds": 40.0,
        "cpu_steal_seconds": 140.0,
        "vcpus": 4,
        "memory_bytes": 16_384_000 * 1024,
        "net_rx_bytes": 1_000_050,
        "net_tx_bytes": 200_060,
        "state": "running",
    }
    second = ticks(
        user=150_000,
        nice=1_000,
        system=20_000,
        idle=408_000,
        iowait=4_100,
        irq=600,
        softirq=1_600,
        steal=14_700,
        guest=20_000,
    )
    write_proc(
        proc,
        ticks=second,
        btime=BOOT,
        uptime=1500.4,
        net={"lo": (1, 1), "eth0": (3_000_000, 700_000), "eth1": (50, 60)},
    )
    record = cron_run(config, BOOT + 1500)
    assert record is not None
    assert (record["interval_start"], record["interval_end"]) == (iso(BOOT + 600), iso(BOOT + 1500))
    assert record["cpu_busy_seconds"] == pytest.approx((90_000 + 11_000 + 100 + 100) / 100)
    assert record["cpu_idle_seconds"] == pytest.approx(2580.0)
    assert record["cpu_iowait_seconds"] == pytest.approx(1.0)
    assert record["cpu_steal_seconds"] == pytest.approx(7.0)
    # lo went "backwards" but is excluded; eth0 grew by exactly this much.
    assert (record["net_rx_bytes"], record["net_tx_bytes"]) == (2_000_000, 500_000)
    assert record["uptime_seconds"] == 1500
    total = sum(record[f"cpu_{k}_seconds"] for k in ("busy", "idle", "iowait", "steal"))
    assert total == pytest.approx(4 * 900)


def test_reboot_between_samples_counts_from_zero(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path)
    write_proc(
        proc,
        ticks=ticks(user=500_000, idle=900_000),
        btime=BOOT,
        uptime=50_000.0,
        net={"eth0": (9_000_000, 9_000_000)},
    )
    assert cron_run(config, BOOT + 50_000) is None  # long-running VM: a baseline only
    # Rebooted at BOOT + 60_000; sampled 420 s later. All counters are lower than before.
    reboot = BOOT + 60_000
    write_proc(
        proc,
        ticks=ticks(user=3_000, system=1_000, idle=164_000),
        btime=reboot,
        uptime=420.7,
        net={"eth0": (70_000, 8_000)},
        boot_id="99999999-2222-3333-4444-555555555555",
    )
    record = cron_run(config, reboot + 420)
    assert record is not None
    assert (record["interval_start"], record["interval_end"]) == (iso(reboot), iso(reboot + 420))
    assert record["boot_time"] == iso(reboot)
    assert (record["cpu_busy_seconds"], record["cpu_idle_seconds"]) == (40.0, 1640.0)
    assert (record["net_rx_bytes"], record["net_tx_bytes"]) == (70_000, 8_000)
    assert record["uptime_seconds"] == 420
    # The next sample continues from the new boot's counters.
    write_proc(
        proc,
        ticks=ticks(user=9_000, system=1_000, idle=518_000),
        btime=reboot,
        uptime=1320.7,
        net={"eth0": (80_000, 9_000)},
        boot_id="99999999-2222-3333-4444-555555555555",
    )
    record = cron_run(config, reboot + 1320)
    assert record is not None
    assert record["interval_start"] == iso(reboot + 420)
    assert (record["cpu_busy_seconds"], record["cpu_idle_seconds"]) == (60.0, 3540.0)
    assert (record["net_rx_bytes"], record["net_tx_bytes"]) == (10_000, 1_000)


def test_reboot_detected_without_boot_id(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path)
    write_proc(proc, ticks=ticks(user=100_000, idle=100_000), btime=BOOT, uptime=900.0, net={}, boot_id=None)
    assert cron_run(config, BOOT + 900) is not None
    # A short reboot: the new boot is already up longer than 60 s but its uptime is below the old one.
    write_proc(
        proc, ticks=ticks(user=10_000, idle=38_000), btime=BOOT + 1000, uptime=120.0, net={}, boot_id=None
    )
    record = cron_run(config, BOOT + 1120)
    assert record is not None
    assert record["interval_start"] == iso(BOOT + 1000)
    assert record["cpu_busy_seconds"] == 100.0


def test_counter_dips_and_resets(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path, since_boot_max_seconds="0")
    base = ticks(user=100_000, idle=200_000, iowait=50_000)
    write_proc(
        proc, ticks=base, btime=BOOT, uptime=10_000.0, net={"eth0": (5_000, 6_000), "tun0": (700, 800)}
    )
    assert cron_run(config, BOOT + 10_000) is None
    # iowait dips by 300 ticks (a NO_HZ kernel quirk); tun0 was recreated (counters restarted).
    write_proc(
        proc,
        ticks=ticks(user=130_000, idle=289_700, iowait=49_700),
        btime=BOOT,
        uptime=10_300.0,
        net={"eth0": (6_000, 7_000), "tun0": (40, 50)},
    )
    record = cron_run(config, BOOT + 10_300)
    assert record is not None
    assert record["cpu_iowait_seconds"] == 0.0  # never negative
    assert record["cpu_idle_seconds"] == 897.0
    assert (record["net_rx_bytes"], record["net_tx_bytes"]) == (1_000 + 40, 1_000 + 50)
    # iowait recovers to 50,100: only the 100 ticks above the earlier high count, not the 400 since the dip.
    write_proc(
        proc,
        ticks=ticks(user=160_000, idle=379_400, iowait=50_100),
        btime=BOOT,
        uptime=10_600.0,
        net={"eth0": (6_500, 7_000), "tun0": (90, 50)},
    )
    record = cron_run(config, BOOT + 10_600)
    assert record is not None
    assert record["cpu_iowait_seconds"] == 1.0
    assert (record["net_rx_bytes"], record["net_tx_bytes"]) == (550, 0)
    # All CPU counters backwards within the same boot (a restored snapshot): no record, new baseline.
    write_proc(proc, ticks=ticks(user=1_000, idle=2_000), btime=BOOT, uptime=10_900.0, net={"eth0": (1, 1)})
    assert cron_run(config, BOOT + 10_900) is None
    write_proc(
        proc, ticks=ticks(user=31_000, idle=92_000), btime=BOOT, uptime=11_200.0, net={"eth0": (11, 21)}
    )
    record = cron_run(config, BOOT + 11_200)
    assert record is not None
    assert record["interval_start"] == iso(BOOT + 10_900)
    assert (record["cpu_busy_seconds"], record["cpu_idle_seconds"]) == (300.0, 900.0)
    assert (record["net_rx_bytes"], record["net_tx_bytes"]) == (10, 20)


def test_runs_too_close_together_keep_the_interval_whole(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path, since_boot_max_seconds="0")
    write_proc(proc, ticks=ticks(user=1_000, idle=1_000), btime=BOOT, uptime=5000.0, net={})
    assert cron_run(config, BOOT + 5000) is None
    write_proc(proc, ticks=ticks(user=2_000, idle=1_000), btime=BOOT, uptime=5030.0, net={})
    assert cron_run(config, BOOT + 5030) is None  # 30 s < min_interval_seconds (60)
    write_proc(proc, ticks=ticks(user=5_000, idle=300_000), btime=BOOT, uptime=5900.0, net={})
    record = cron_run(config, BOOT + 5900)
    assert record is not None
    assert (record["interval_start"], record["interval_end"]) == (iso(BOOT + 5000), iso(BOOT + 5900))
    assert record["cpu_busy_seconds"] == 40.0


def test_consecutive_intervals_tile_time(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path)
    records = []
    user = idle = 0
    for n in range(1, 6):
        user, idle = user + 20_000 * n, idle + 360_000 - 20_000 * n
        write_proc(proc, ticks=ticks(user=user, idle=idle), btime=BOOT, uptime=900.0 * n, net={})
        record = cron_run(config, BOOT + 900 * n)
        assert record is not None
        records.append(record)
    assert [r["interval_start"] for r in records[1:]] == [r["interval_end"] for r in records[:-1]]
    assert records[0]["interval_start"] == iso(BOOT)
    assert sum(r["cpu_busy_seconds"] for r in records) == user / 100
    assert sum(r["cpu_idle_seconds"] for r in records) == idle / 100


def test_corrupt_state_file_starts_a_new_baseline(tmp_path: Path) -> None:
    proc, config = tmp_path / "proc", make_config(tmp_path, since_boot_max_seconds="0")
    state = tmp_path / "spool" / "vm-state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 1, "sample": {"taken_at": "x"')
    write_proc(proc, ticks=ticks(user=1_000, idle=1_000), btime=BOOT, uptime=5000.0, net={})
    assert cron_run(config, BOOT + 5000) is None
    saved = json.loads(state.read_text())
    assert saved["sample"]["taken_at"] == BOOT + 5000
    assert not list(state.parent.glob(".*.tmp"))  # the atomic write left no temporary file


@pytest.mark.slow  # a Python 3.9 process importing the agent
@pytest.mark.skipif(not python39(), reason="no Python 3.9 on this machine")
def test_same_record_under_python39(tmp_path: Path) -> None:
    """The oldest supported interpreter computes the same record from the same files."""
    proc = tmp_path / "proc"
    write_proc(
        proc,
        ticks=ticks(user=12_345, system=678, idle=50_000),
        btime=BOOT,
        uptime=400.0,
        net={"ens3": (123, 456)},
    )
    ini = tmp_path / "vm.ini"
    ini.write_text(
        "[tally]\nsite = S\nresource = R\n"
        f"spool_dir = {tmp_path / 'spool'}\n"
        f"[vm]\nprovider = opennebula\naccount = a\ninstance_id = i\nproc = {proc}\nclock_ticks = 100\n"
    )
    outputs = []
    for python in (python39(), sys.executable):
        done = subprocess.run(
            [python, "-m", "tally_agent", "vm", "--print", "--config", str(ini)],
            env={"PYTHONPATH": str(AGENTS), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        record = json.loads(done.stdout)
        record.pop("interval_end")  # the wall clock at each run
        outputs.append(record)
    assert outputs[0] == outputs[1]
    assert outputs[0]["cpu_busy_seconds"] == 130.23 and outputs[0]["net_rx_bytes"] == 123
    assert outputs[0]["interval_start"] == iso(BOOT)
