"""Valid records of every kind, to vary one field at a time in tests."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import orjson


def job(n: int = 1, site: str = "SITE-A", resource: str = "cluster1", **over: object) -> dict[str, object]:
    end = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n)
    record: dict[str, object] = {
        "site": site,
        "resource": resource,
        "batch_system": "slurm",
        "local_job_id": str(1000 + n),
        "local_user": "alice",
        "project": "lattice-qcd",
        "queue": "compute",
        "submit_time": (end - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_time": (end - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": 7200,
        "cpu_seconds": 6000 * 4,
        "cores": 4,
        "state": "COMPLETED",
    }
    record.update(over)
    return record


def vm(n: int = 1, site: str = "SITE-A", **over: object) -> dict[str, object]:
    start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=15 * n)
    record: dict[str, object] = {
        "site": site,
        "resource": "cloud1",
        "provider": "aws",
        "account": "123456789012",
        "instance_id": "i-0abc",
        "interval_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "interval_end": (start + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "uptime_seconds": 3600 + 900 * n,
        "cpu_busy_seconds": 1500.5,
        "cpu_idle_seconds": 1999.5,
        "vcpus": 4,
    }
    record.update(over)
    return record


def storage(n: int = 1, site: str = "SITE-A", **over: object) -> dict[str, object]:
    end = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=n)
    record: dict[str, object] = {
        "site": site,
        "storage_system": "dcache.example.org",
        "storage_share": "atlas-disk",
        "owner": "atlas",
        "end_time": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "used_bytes": 10**12 + n,
        "file_count": 1000,
    }
    record.update(over)
    return record


def accelerator(n: int = 1, site: str = "SITE-A", **over: object) -> dict[str, object]:
    start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=n)
    record: dict[str, object] = {
        "site": site,
        "resource": "cluster1",
        "associated_id": str(2000 + n),
        "model": "NVIDIA A100-SXM4-40GB",
        "count": 2,
        "interval_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "interval_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "allocated_seconds": 7200,
        "active_seconds": 5000,
    }
    record.update(over)
    return record


def summary(n: int = 1, site: str = "SITE-A", **over: object) -> dict[str, object]:
    """A normalised job summary of March 2026 for one VO (n tells the records apart)."""
    record: dict[str, object] = {
        "site": site,
        "resource": "ce1.example.org",
        "month_start": "2026-03-01T00:00:00Z",
        "vo": f"vo{n}",
        "wall_seconds": 3600 * n,
        "cpu_seconds": 3000 * n,
        "record_count": n,
        "benchmark_type": "HEPscore23",
        "normalised_wall_seconds": 3600.0 * n * 10,
        "normalised_cpu_seconds": 3000.0 * n * 10,
    }
    record.update(over)
    return record


def sync(n: int = 1, site: str = "SITE-A", **over: object) -> dict[str, object]:
    """A sync record for March of year 1990 + n (n tells the records apart)."""
    record: dict[str, object] = {
        "site": site,
        "resource": "ce1.example.org",
        "month_start": f"{1990 + n}-03-01T00:00:00Z",
        "record_count": 100 + n,
    }
    record.update(over)
    return record


def grid_identity(n: int = 1, site: str = "SITE-A", **over: object) -> dict[str, object]:
    """A BLAH line of job 1000+n (the job of `job(n)`), handed to the batch system on 1 March 2026."""
    record: dict[str, object] = {
        "site": site,
        "resource": "cluster1",
        "lrms_id": f"{1000 + n}.batch1",
        "submit_time": (datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "global_user": f"/DC=org/DC=example/CN=Grid User {n}",
        "fqan": "/atlas/Role=production/Capability=NULL",
        "vo": "atlas",
        "vo_group": "/atlas",
        "vo_role": "Role=production",
        "ce": "ce1.example.org:8443/cream-slurm-long",
        "grid_job_id": f"CREAM{n:09d}",
    }
    record.update(over)
    return record


Factory = Callable[..., dict[str, object]]
FACTORIES: dict[str, Factory] = {
    "jobs": job,
    "vms": vm,
    "storage": storage,
    "accelerators": accelerator,
    "summaries": summary,
    "syncs": sync,
    "grid_identities": grid_identity,
}


def ndjson(records: Iterable[object]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def gzipped(records: Iterable[object]) -> bytes:
    return gzip.compress(ndjson(records))


NDJSON = {"Content-Type": "application/x-ndjson"}
GZIP_NDJSON = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
