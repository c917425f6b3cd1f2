"""The benchmark per core stamped on every VM record, with its type.

Configured: `benchmark_type` and `benchmark_per_core` in `[tally]`. Measured: `[vm]
benchmark_command` is run once per boot (its result, or its failure, is kept in the state file
until the next boot); the last number it prints is the score, per core unless `benchmark_scope =
machine`, in which case it is divided by the vCPUs. The type is `benchmark_type` (HEPscore23 or
HS06). A configured value is used whenever no command is set.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from typing import Any, Dict, Optional, Tuple

from tally_agent.config import Config, ConfigError

log = logging.getLogger("tally_agent")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TYPES = ("HEPscore23", "HS06")


def last_number(output: str) -> Optional[float]:
    found = _NUMBER.findall(output)
    return float(found[-1]) if found else None


def measure(command: str, timeout: float) -> float:
    """Run the benchmark command and read its score; ValueError when it fails or prints none."""
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"benchmark command failed: {exc}") from exc
    if done.returncode != 0:
        raise ValueError(f"benchmark command exited with {done.returncode}: {done.stderr.strip()[:300]}")
    score = last_number(done.stdout)
    if score is None or score <= 0:
        raise ValueError(f"benchmark command printed no positive score: {done.stdout.strip()[:300]!r}")
    return score


def resolve(
    config: Config, options: Dict[str, str], cached: Dict[str, Any], vcpus: int
) -> Tuple[Optional[str], Optional[float], Dict[str, Any]]:
    """(type, per-core value, what to cache for this boot)."""
    command = options.get("benchmark_command", "").strip()
    if not command:
        if config.benchmark_type and config.benchmark_per_core:
            return config.benchmark_type, config.benchmark_per_core, {}
        return None, None, {}
    kind = config.benchmark_type
    if kind not in TYPES:
        raise ConfigError("benchmark_command needs benchmark_type HEPscore23 or HS06")
    if cached.get("command") == command and cached.get("type") == kind:
        value = cached.get("per_core")
        return (kind, float(value), cached) if value else (None, None, cached)
    scope = options.get("benchmark_scope", "core").strip().lower()
    if scope not in ("core", "machine"):
        raise ConfigError("benchmark_scope must be core or machine")
    timeout = float(options.get("benchmark_timeout") or 3600)
    try:
        score = measure(command, timeout)
    except ValueError as exc:
        log.error("%s; VM records carry no benchmark until the next boot", exc)
        return None, None, {"command": command, "type": kind, "per_core": None, "error": str(exc)}
    per_core = round(score / vcpus if scope == "machine" else score, 4)
    log.info("measured %s = %s per core", kind, per_core)
    return kind, per_core, {"command": command, "type": kind, "per_core": per_core}
