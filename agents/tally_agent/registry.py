"""Sources by name: what each parses into and the function that does it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator

from tally_agent.context import ParseContext
from tally_agent.sources import gpu, grid_identity, htcondor, lsf, nvidia, pbs, sge, slurm, storage

Parser = Callable[[Iterable[str], ParseContext], Iterator[Dict[str, Any]]]


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # record kind posted to the server ("identities" are joined, never posted)
    parse: Parser


def _gpu_from_batch(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Accelerator allocations from the configured batch system's log."""
    batch = BATCH[ctx.batch_system or ctx.options.get("batch_system") or "slurm"]
    measured = nvidia.from_options(ctx.options, ctx.stats, ctx.zone)
    return gpu.from_jobs(batch.parse(lines, ctx), measured)


BATCH: Dict[str, Source] = {
    "slurm": Source("slurm", "jobs", slurm.parse),
    "pbs": Source("pbs", "jobs", pbs.parse),
    "torque": Source("torque", "jobs", pbs.parse),
    "pbspro": Source("pbspro", "jobs", pbs.parse),
    "htcondor": Source("htcondor", "jobs", htcondor.parse),
    "sge": Source("sge", "jobs", sge.parse),
    "uge": Source("uge", "jobs", sge.parse),
    "lsf": Source("lsf", "jobs", lsf.parse),
}

SOURCES: Dict[str, Source] = {
    **BATCH,
    "blah": Source("blah", "identities", grid_identity.parse),
    "gpu": Source("gpu", "accelerators", _gpu_from_batch),
    "apel-accelerator": Source("apel-accelerator", "accelerators", gpu.parse_apel_message),
    "star": Source("star", "storage", storage.parse_star),
    "quota": Source("quota", "storage", storage.parse_quota),
}
