"""The VM sampler's memory between runs: the last sample, and what was learned once per boot
(the instance identity, the measured benchmark). One JSON file, replaced atomically."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from tally_agent.spool import atomic_write
from tally_agent.vm.procfs import Sample

log = logging.getLogger("tally_agent")
VERSION = 1


@dataclass
class VmState:
    sample: Optional[Sample] = None
    # Per-boot caches: valid while `boot_id` equals the running boot's id.
    boot_id: str = ""
    identity: Dict[str, str] = field(default_factory=dict)
    benchmark: Dict[str, Any] = field(default_factory=dict)


def _sample(data: Dict[str, Any]) -> Sample:
    net: Dict[str, Tuple[int, int]] = {str(k): (int(v[0]), int(v[1])) for k, v in data["net"].items()}
    return Sample(
        taken_at=int(data["taken_at"]),
        boot_id=str(data["boot_id"]),
        boot_time=int(data["boot_time"]),
        uptime=float(data["uptime"]),
        cpu={str(k): int(v) for k, v in data["cpu"].items()},
        vcpus=int(data["vcpus"]),
        clock_ticks=int(data["clock_ticks"]),
        memory_bytes=None if data.get("memory_bytes") is None else int(data["memory_bytes"]),
        net=net,
    )


def load(path: Path) -> VmState:
    """The stored state; an unreadable or foreign file counts as no state (and is logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return VmState()
    except (OSError, ValueError) as exc:
        log.warning("VM state %s unreadable (%s): starting from a new baseline", path, exc)
        return VmState()
    try:
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}")
        raw = data.get("sample")
        return VmState(
            sample=_sample(raw) if raw else None,
            boot_id=str(data.get("boot_id", "")),
            identity={str(k): str(v) for k, v in (data.get("identity") or {}).items()},
            benchmark=dict(data.get("benchmark") or {}),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        log.warning("VM state %s not usable (%s): starting from a new baseline", path, exc)
        return VmState()


def save(path: Path, state: VmState) -> None:
    sample = asdict(state.sample) if state.sample is not None else None
    if sample is not None:
        sample["net"] = {k: list(v) for k, v in sample["net"].items()}
    document = {
        "version": VERSION,
        "sample": sample,
        "boot_id": state.boot_id,
        "identity": state.identity,
        "benchmark": state.benchmark,
    }
    atomic_write(path, json.dumps(document, sort_keys=True, indent=1).encode("utf-8"))
