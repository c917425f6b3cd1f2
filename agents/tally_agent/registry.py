"""Sources by name: what each parses into and the function that does it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

from tally_agent.context import ParseContext, ParseStats
from tally_agent.sources import (
    gpu,
    grid_identity,
    htcondor,
    lsf,
    nvidia,
    openstack_events,
    pbs,
    sge,
    slurm,
    storage,
    xdmod_storage,
)

Parser = Callable[[Iterable[str], ParseContext], Iterator[Dict[str, Any]]]


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # record kind posted to the server ("identities" are joined, never posted)
    parse: Parser
    expects: str  # the format, as named to a user whose input was not recognised
    fields: bool = False  # takes a column list (`--fields`, `-o SOURCE.fields=`) for headerless input
    # The records of `parse` as NDJSON lines, made without a dict per record (`tally-agent parse`).
    ndjson: Optional[Callable[[Iterable[str], ParseContext], Iterator[str]]] = None


def _gpu_from_batch(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Accelerator allocations from the configured batch system's log."""
    batch = BATCH[ctx.batch_system or ctx.options.get("batch_system") or "slurm"]
    if not batch.fields and ctx.options.get("fields"):
        raise ValueError(f"--fields applies to a Slurm dump; {batch.name} logs have a fixed layout")
    measured = nvidia.from_options(ctx.options, ctx.stats, ctx.zone)
    return gpu.from_jobs(batch.parse(lines, ctx), measured)


_SACCT = "`sacct --parsable2` output (a `JobID|...` header line, or the layout given with --fields)"
_PBS = "PBS/Torque accounting records (`date;type;id;attributes`)"
_SGE = "the SGE/UGE `accounting` file (`:`-separated lines)"
BATCH: Dict[str, Source] = {
    "slurm": Source("slurm", "jobs", slurm.parse, _SACCT, fields=True, ndjson=slurm.parse_ndjson),
    "pbs": Source("pbs", "jobs", pbs.parse, _PBS),
    "torque": Source("torque", "jobs", pbs.parse, _PBS),
    "pbspro": Source("pbspro", "jobs", pbs.parse, _PBS),
    "htcondor": Source(
        "htcondor", "jobs", htcondor.parse, "`condor_history -format` lines (10 or 11 `|` columns)"
    ),
    "sge": Source("sge", "jobs", sge.parse, _SGE),
    "uge": Source("uge", "jobs", sge.parse, _SGE),
    "lsf": Source("lsf", "jobs", lsf.parse, "`lsb.acct` JOB_FINISH records"),
}

SOURCES: Dict[str, Source] = {
    **BATCH,
    "blah": Source(
        "blah", "identities", grid_identity.parse, 'BLAH/CREAM log lines (`"lrmsID=..." "userDN=..."`)'
    ),
    "gpu": Source(
        "gpu",
        "accelerators",
        _gpu_from_batch,
        "the batch system's accounting (as for `parse slurm`)",
        fields=True,
    ),
    "apel-accelerator": Source(
        "apel-accelerator",
        "accelerators",
        gpu.parse_apel_message,
        "an `APEL-accelerator-message` JSON document",
    ),
    "star": Source("star", "storage", storage.parse_star, "EMI StAR XML (`StorageUsageRecord` elements)"),
    "quota": Source(
        "quota",
        "storage",
        storage.parse_quota,
        "a CSV quota report whose header names a `used` column",
        fields=True,
    ),
    "xdmod-storage": Source(
        "xdmod-storage",
        "storage",
        xdmod_storage.parse,
        "Open XDMoD storage JSON (a list of objects with resource, mountpoint, user, pi, dt, "
        "file_count, logical_usage)",
    ),
    "openstack-events": Source(
        "openstack-events",
        "vms",
        openstack_events.parse,
        "OpenStack Nova notifications as JSON (`compute.instance.*` / `instance.*` with event_type, "
        "timestamp, payload)",
    ),
}


class UnrecognisedInputError(ValueError):
    """A non-empty input in which the source recognised nothing (`parse`/`import` exit 4)."""


def nothing_recognised(source: str, content_lines: int, stats: ParseStats) -> Optional[str]:
    """Why a parse of a non-empty input failed that recognised nothing (every line skipped
    silently or an error, no record, no header), else None."""
    if content_lines == 0 or stats.records or stats.skipped or stats.recognised:
        return None
    expects = SOURCES[source].expects
    return f"{source}: nothing in {content_lines} non-blank lines was recognised; expected {expects}"


def check_fields(source: str, options: Dict[str, str]) -> None:
    """`--fields` for a source whose layout is fixed is refused, not silently ignored."""
    if options.get("fields") and not SOURCES[source].fields:
        raise ValueError(f"{source} takes no --fields: its layout is fixed")
