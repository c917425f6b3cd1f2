"""Two samples in, one interval out: CPU seconds, bytes and uptime over the time between them.

The rules that keep every value non-negative and every second counted at most once:

* First sample ever (no state): counters since boot are exact, so a VM booted recently (uptime up
  to `since_boot_max_seconds`) reports the interval [boot, now]; an agent installed into a VM
  that has run for long only records a baseline and reports from the next run on.
* Reboot (another boot id; without one, uptime going backwards or `btime` moving): the old
  boot's counters are gone, the new ones started at zero at boot, so the interval is
  [boot, now] with the counters as they are. The time between the last sample of the old boot and
  its shutdown cannot be known and is not invented.
* Counter reset within one boot: a single CPU column going backwards (idle and iowait do on some
  NO_HZ kernels) adds nothing, and the higher value stays the baseline, so the dip is not counted
  again when the column recovers. The sum of all columns going backwards (a restored snapshot)
  gives no interval and a new baseline. A network interface whose counters went backwards was
  recreated or reset: it counts from zero.
* Samples closer than `min_interval_seconds` give nothing and keep the stored baseline, so a
  manual run between cron runs neither splits nor loses an interval; a clock that went backwards
  starts a new baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

from tally_agent.vm.procfs import BUSY_FIELDS, TOTAL_FIELDS, Sample, net_bytes


@dataclass
class Policy:
    min_interval_seconds: int = 60
    since_boot_max_seconds: int = 1800
    boot_time_tolerance: int = 60  # btime drifts with clock steps; only used without a boot id
    include_interfaces: Tuple[str, ...] = ()
    exclude_interfaces: Tuple[str, ...] = ("lo",)


@dataclass
class Interval:
    start: int
    end: int
    boot_time: int
    uptime_seconds: int
    cpu_busy_seconds: float
    cpu_idle_seconds: float
    cpu_iowait_seconds: float
    cpu_steal_seconds: float
    vcpus: int
    memory_bytes: Optional[int]
    net_rx_bytes: int
    net_tx_bytes: int
    since_boot: bool


@dataclass
class Outcome:
    interval: Optional[Interval]
    baseline: Optional[Sample]  # the sample to store; None keeps the stored one
    note: str


def rebooted(previous: Sample, current: Sample, tolerance: int) -> bool:
    if previous.boot_id and current.boot_id:
        return previous.boot_id != current.boot_id
    if current.uptime < previous.uptime:
        return True
    return abs(current.boot_time - previous.boot_time) > tolerance


def _seconds(ticks: Dict[str, int], names: Tuple[str, ...], hz: int) -> float:
    return round(sum(ticks.get(n, 0) for n in names) / hz, 2)


def _interval(
    start: int,
    current: Sample,
    cpu: Dict[str, int],
    net: Dict[str, Tuple[int, int]],
    policy: Policy,
    since_boot: bool,
) -> Interval:
    hz = current.clock_ticks
    rx, tx = net_bytes(net, list(policy.include_interfaces), list(policy.exclude_interfaces))
    return Interval(
        start=start,
        end=current.taken_at,
        boot_time=current.boot_time,
        uptime_seconds=int(current.uptime),
        cpu_busy_seconds=_seconds(cpu, BUSY_FIELDS, hz),
        cpu_idle_seconds=_seconds(cpu, ("idle",), hz),
        cpu_iowait_seconds=_seconds(cpu, ("iowait",), hz),
        cpu_steal_seconds=_seconds(cpu, ("steal",), hz),
        vcpus=current.vcpus,
        memory_bytes=current.memory_bytes,
        net_rx_bytes=rx,
        net_tx_bytes=tx,
        since_boot=since_boot,
    )


def _since_boot(current: Sample, policy: Policy, note: str) -> Outcome:
    if current.taken_at - current.boot_time < policy.min_interval_seconds:
        return Outcome(None, None, f"{note}: booted too recently for an interval")
    interval = _interval(current.boot_time, current, current.cpu, current.net, policy, since_boot=True)
    return Outcome(interval, current, note)


def step(previous: Optional[Sample], current: Sample, policy: Policy) -> Outcome:
    """The interval between the stored sample and `current`, and what to store next."""
    if previous is None:
        if current.uptime <= policy.since_boot_max_seconds:
            return _since_boot(current, policy, "first sample of a fresh boot")
        return Outcome(None, current, "first sample: baseline recorded")
    if rebooted(previous, current, policy.boot_time_tolerance):
        return _since_boot(current, policy, "reboot")
    elapsed = current.taken_at - previous.taken_at
    if elapsed < 0:
        return Outcome(None, current, "clock went backwards: new baseline")
    if elapsed < policy.min_interval_seconds:
        return Outcome(None, None, f"only {elapsed} s since the last sample: nothing to report yet")
    before = sum(previous.cpu.get(n, 0) for n in TOTAL_FIELDS)
    after = sum(current.cpu.get(n, 0) for n in TOTAL_FIELDS)
    if after < before:
        return Outcome(None, current, "CPU counters went backwards: new baseline")
    cpu: Dict[str, int] = {}
    kept: Dict[str, int] = {}
    for name, value in current.cpu.items():
        base = previous.cpu.get(name, 0)
        cpu[name] = max(0, value - base)
        kept[name] = max(value, base)
    net: Dict[str, Tuple[int, int]] = {}
    for name, (rx, tx) in current.net.items():
        old_rx, old_tx = previous.net.get(name, (0, 0))
        net[name] = (rx - old_rx if rx >= old_rx else rx, tx - old_tx if tx >= old_tx else tx)
    interval = _interval(previous.taken_at, current, cpu, net, policy, since_boot=False)
    return Outcome(interval, replace(current, cpu=kept), "")
