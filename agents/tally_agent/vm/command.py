"""`tally-agent vm`: one cron run inside a VM.

Deliver what is spooled, take a sample, turn it into at most one record (see `interval`), write
that record to the spool *before* the new baseline is saved (a crash in between re-reports the
same interval_start, which the server deduplicates, instead of losing it), then deliver. A VM that
cannot reach the server keeps its records in the spool like every agent.

`[vm]` options besides those of `identity` and `benchmark`: `proc` (default /proc), `state_file`
(default <state_dir>/vm-state.json), `min_interval_seconds` (60), `since_boot_max_seconds` (1800),
`interfaces` (only these count) or `exclude_interfaces` (default lo), `clock_ticks` (USER_HZ).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tally_agent.config import Config, ConfigError
from tally_agent.lock import RunLock
from tally_agent.runner import Agent, Report
from tally_agent.vm import benchmark, identity, interval, procfs, record, statefile

log = logging.getLogger("tally_agent")
SOURCE = "vm"


def _names(value: str) -> Tuple[str, ...]:
    return tuple(v.strip() for v in value.replace("\n", ",").split(",") if v.strip())


def _int(options: Dict[str, str], name: str, default: int) -> int:
    value = options.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(f"[vm] {name} must be a whole number, got {value!r}") from None


def policy(options: Dict[str, str]) -> interval.Policy:
    exclude = options.get("exclude_interfaces")
    return interval.Policy(
        min_interval_seconds=max(1, _int(options, "min_interval_seconds", 60)),
        since_boot_max_seconds=_int(options, "since_boot_max_seconds", 1800),
        include_interfaces=_names(options.get("interfaces", "")),
        exclude_interfaces=_names(exclude) if exclude is not None else ("lo",),
    )


def state_path(config: Config, options: Dict[str, str]) -> Path:
    return Path(options.get("state_file") or Path(config.state_dir) / "vm-state.json")


@dataclass
class Measurement:
    record: Optional[Dict[str, Any]]
    state: statefile.VmState
    note: str


def measure(config: Config, now: Optional[float] = None) -> Measurement:
    """Sample and compare with the stored state; nothing is written."""
    options = config.source_options(SOURCE)
    stored = statefile.load(state_path(config, options))
    ticks = _int(options, "clock_ticks", 0) or None
    sample = procfs.read_sample(Path(options.get("proc") or "/proc"), now=now, ticks=ticks)
    boot = sample.boot_id or f"btime:{sample.boot_time}"
    same_boot = stored.boot_id == boot
    who, discovered = identity.resolve(options, stored.identity if same_boot else {})
    kind, per_core, measured = benchmark.resolve(
        config, options, stored.benchmark if same_boot else {}, sample.vcpus
    )
    outcome = interval.step(stored.sample, sample, policy(options))
    state = statefile.VmState(
        sample=outcome.baseline if outcome.baseline is not None else stored.sample,
        boot_id=boot,
        identity=discovered,
        benchmark=measured,
    )
    made = None
    if outcome.interval is not None:
        made = record.build(outcome.interval, config.site, config.resource, who, kind, per_core)
    return Measurement(made, state, outcome.note)


def run(config: Config, force: bool = False) -> Report:
    """One cron run of the VM agent (the same spool, backoff and lock as `run`)."""
    config.require("site", "resource", "server")
    agent = Agent(config)
    with RunLock(Path(config.spool_dir) / "tally-agent.lock"):
        delivered = agent.flush(force)
        result = measure(config)
        if result.note:
            log.info("vm: %s", result.note)
        records: List[Dict[str, Any]] = [result.record] if result.record is not None else []
        agent.spool_records("vms", agent._counted("vms", records))
        statefile.save(state_path(config, config.source_options(SOURCE)), result.state)
        if records:
            agent.report.since["vms"] = records[0]["interval_start"]
        if delivered or force:
            agent.flush(force=True)
        agent.report.pending_batches = agent.spool.count()
    return agent.report
