"""GPUs: batch allocations become `accelerators` records tied to their job.

Also reads EGI/APEL accelerator messages (`APEL-accelerator-message` JSON), which carry monthly
availability and active time per associated VM or job.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Iterator, Optional

from tally_agent.context import ParseContext
from tally_agent.sources.nvidia import Measurements
from tally_agent.timeutil import iso_z, parse_iso_z
from tally_agent.units import UnitError

SOURCE = "gpu"
_VENDORS = (
    (
        "NVIDIA",
        ("nvidia", "tesla", "a100", "h100", "h200", "v100", "p100", "a40", "l40", "t4", "rtx", "gh200"),
    ),
    ("AMD", ("amd", "mi100", "mi210", "mi250", "mi300", "instinct")),
    ("Intel", ("intel", "max1550", "pvc")),
)


def vendor_of(model: str) -> Optional[str]:
    lowered = model.lower()
    for vendor, marks in _VENDORS:
        if any(mark in lowered for mark in marks):
            return vendor
    return None


def from_job(job: Dict[str, Any], measured: Optional[Measurements] = None) -> Optional[Dict[str, Any]]:
    """The accelerator allocation of one job record, or None when it had no GPU.

    `allocated_seconds` is per device (the wall time), `count` the number of devices, as in the
    APEL accelerator record (AvailableDuration x Count). With `measured` (nvidia-smi accounting or
    samples, see `nvidia.py`), `active_seconds`, `utilisation_percent` and `memory_bytes` are filled
    where the job's GPUs were measured.
    """
    count = int(job.get("gpus") or 0)
    if count <= 0:
        return None
    model = str(job.get("gpu_model") or "unknown")
    record: Dict[str, Any] = {
        "site": job["site"],
        "resource": job["resource"],
        "associated_kind": "job",
        "associated_id": job["local_job_id"],
        "accelerator_type": "GPU",
        "vendor": vendor_of(model),
        "model": model,
        "count": count,
        "interval_start": job["start_time"],
        "interval_end": job["end_time"],
        "allocated_seconds": int(job["wall_seconds"]),
        "local_user": job.get("local_user"),
        "global_user": job.get("global_user"),
        "vo": job.get("vo"),
        "project": job.get("project"),
    }
    record = {k: v for k, v in record.items() if v is not None}
    return measured.apply(record) if measured is not None else record


def from_jobs(
    jobs: Iterable[Dict[str, Any]], measured: Optional[Measurements] = None
) -> Iterator[Dict[str, Any]]:
    for job in jobs:
        record = from_job(job, measured)
        if record is not None:
            yield record


def parse_apel_message(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Accelerator records from an `APEL-accelerator-message` JSON document (one or more lines)."""
    stats = ctx.stats
    text = "".join(lines)
    stats.lines += text.count("\n") + 1
    try:
        document = json.loads(text)
        if document.get("Type") != "APEL-accelerator-message":
            raise UnitError("not an APEL-accelerator-message")
        usage = document["UsageRecords"]
    except (ValueError, KeyError, AttributeError) as exc:
        stats.error(SOURCE, 1, str(exc))
        return
    for number, item in enumerate(usage, 1):
        try:
            year, month = int(item["MeasurementYear"]), int(item["MeasurementMonth"])
            start = datetime(year, month, 1, tzinfo=timezone.utc)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)
            kind = "vm" if str(item.get("AssociatedRecordType", "")).lower() == "cloud" else "job"
            fqan = str(item.get("FQAN") or "")
            record: Dict[str, Any] = {
                "site": ctx.site,
                "resource": ctx.resource,
                "associated_kind": kind,
                "associated_id": str(item["AssociatedRecord"]),
                "accelerator_type": item.get("Type", "GPU")
                if item.get("Type") in ("GPU", "FPGA")
                else "other",
                "vendor": vendor_of(str(item["Model"])),
                "model": str(item["Model"]),
                "count": int(item.get("Count", 1)),
                "interval_start": iso_z(start),
                "interval_end": iso_z(end),
                "allocated_seconds": int(item["AvailableDuration"]),
                "active_seconds": int(item["ActiveDuration"]) if "ActiveDuration" in item else None,
                "vo": fqan.strip("/").split("/", 1)[0] or None,
            }
        except (ValueError, KeyError, TypeError) as exc:
            stats.error(SOURCE, number, f"usage record {number}: {exc}")
            continue
        stats.records += 1
        yield {k: v for k, v in record.items() if v is not None}


def within(record: Dict[str, Any], since: Optional[str]) -> bool:
    return since is None or parse_iso_z(record["interval_end"]) >= parse_iso_z(since)
