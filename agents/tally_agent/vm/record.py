"""One `vms` record (the server's VmRecord contract) from an interval and the instance identity."""

from __future__ import annotations

from typing import Any, Dict, Optional

from tally_agent.timeutil import from_epoch, iso_z
from tally_agent.vm.interval import Interval


def build(
    interval: Interval,
    site: str,
    resource: str,
    identity: Dict[str, str],
    benchmark_type: Optional[str],
    benchmark_per_core: Optional[float],
) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "site": site,
        "resource": resource,
        "provider": identity["provider"],
        "account": identity["account"],
        "instance_id": identity["instance_id"],
        "region": identity.get("region"),
        "instance_type": identity.get("instance_type"),
        "image_id": identity.get("image_id"),
        "vm_name": identity.get("vm_name"),
        "project": identity.get("project"),
        "vo": identity.get("vo"),
        "global_user": identity.get("global_user"),
        "interval_start": iso_z(from_epoch(interval.start)),
        "interval_end": iso_z(from_epoch(interval.end)),
        "boot_time": iso_z(from_epoch(interval.boot_time)),
        "uptime_seconds": interval.uptime_seconds,
        "cpu_busy_seconds": interval.cpu_busy_seconds,
        "cpu_idle_seconds": interval.cpu_idle_seconds,
        "cpu_iowait_seconds": interval.cpu_iowait_seconds,
        "cpu_steal_seconds": interval.cpu_steal_seconds,
        "vcpus": interval.vcpus,
        "memory_bytes": interval.memory_bytes,
        "net_rx_bytes": interval.net_rx_bytes,
        "net_tx_bytes": interval.net_tx_bytes,
        "state": "running",
        "benchmark_type": benchmark_type if benchmark_per_core else None,
        "benchmark_per_core": benchmark_per_core if benchmark_type else None,
    }
    return {k: v for k, v in record.items() if v is not None and v != ""}
