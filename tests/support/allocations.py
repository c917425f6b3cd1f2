"""A planted month of one project's usage at HPC, priced by tariffs that change on 10 March, with
allocations in core-hours and in money around it: written through the real ingest into a local
warehouse (real Parquet, real DuckDB). NOW is the evaluation time; every figure is worked out here.

Usage of project `lattice` at HPC/cluster (each job states HEPscore23 10 per core):
  * one job a day ending 1..20 March at 12:00, 1 h x 4 cores = 40 core-hours each;
  * g1 (5 March): 1 h x 1 core = 10 core-hours, and 2 GPUs of model A100 for 1 h = 2 GPU-hours,
    priced from the job's own GPU fields (no accelerator record names it);
  * g2 (6 March): 2 h x 1 core = 20 core-hours, 1 GPU, and an accelerator record of the job that
    measured 3600 allocated GPU-seconds: 1 GPU-hour, priced once (from the measurement);
  * a job of project `other` (not the allocations').
Tariffs (EUR): core-hours 0.010 before 10 March, 0.015 from then on; A100 GPU-hours 2.50.
  core-hours at 0.010: 9 x 40 + 10 + 20 = 390 -> 3.90
  core-hours at 0.015: 11 x 40 = 440          -> 6.60
  GPU-hours at 2.50:  2 + 1 = 3                -> 7.50      total 18.00 EUR
Per day: 0.40 on 1-9 March (plus 5.10 on the 5th, 2.70 on the 6th), 0.60 on 10-20 March.
With a history of 7 days (14-20 March, all 0.60) the forecast is flat at 0.60 a day: 11 days to
1 April, 6.60 more.

Also a batch job's GPU at HPC idle (0.5 %) for the 36 hours before NOW (project `gpuidle`): the
idle-GPU rule prices it by the A100 tariff, 36 x 2.50 = 90.00 EUR.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from tally.domain.record_lines import RecordLines
from tally.foresight.model import Allocation, AllocationUnit, ResourceRef
from tally.foresight.service import AllocationIn
from tally.foresight.settings import ForesightSettings
from tally.money.tariffs import Tariff
from tally.people.authz import Fence
from tally.services.container import Services
from tally.services.ingest import Principal
from tests.support.deployments import local_settings

NOW = datetime(2026, 3, 21, tzinfo=UTC)
HPC, PROJECT = "HPC", "lattice"
EVERYTHING = Fence(everything=True)
MONEY_USED = Decimal("18.00")
CORE_HOURS_USED = Decimal(390 + 440)
IDLE_GPU_MONEY = Decimal("90.00")


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def services(home: Path) -> Services:
    return Services(local_settings(home, foresight=ForesightSettings(history_days=7)))


def ingest(svc: Services, kind: str, rows: list[dict[str, Any]]) -> None:
    body = b"\n".join(orjson.dumps(r) for r in rows)
    at = NOW - timedelta(minutes=30)
    result = svc.ingest.ingest(kind, RecordLines(body, len(rows)), Principal(HPC, "test"), now=at)  # type: ignore[arg-type]
    assert result.rejected == 0, result.errors


def job(job_id: str, end: datetime, hours: float, cores: int, **over: object) -> dict[str, Any]:
    record: dict[str, Any] = {
        "site": HPC,
        "resource": "cluster",
        "batch_system": "slurm",
        "local_job_id": job_id,
        "local_user": "ann",
        "project": PROJECT,
        "start_time": z(end - timedelta(hours=hours)),
        "end_time": z(end),
        "wall_seconds": int(hours * 3600),
        "cpu_seconds": int(hours * 3600 * cores),
        "cores": cores,
        "state": "COMPLETED",
        "benchmark_type": "HEPscore23",
        "benchmark_per_core": 10.0,
    }
    record.update(over)
    return record


def gpu(
    job_id: str, start: datetime, utilisation: float, project: str, seconds: int = 3600
) -> dict[str, Any]:
    return {
        "site": HPC,
        "resource": "cluster",
        "associated_kind": "job",
        "associated_id": job_id,
        "model": "A100",
        "count": 1,
        "interval_start": z(start),
        "interval_end": z(start + timedelta(seconds=seconds)),
        "allocated_seconds": seconds,
        "utilisation_percent": utilisation,
        "project": project,
    }


def tariff(tariff_id: str, **fields: object) -> Tariff:
    body: dict[str, object] = {
        "tariff_id": tariff_id,
        "site": HPC,
        "resource": "cluster",
        "currency": "EUR",
        "valid_from": "2026-01-01T00:00:00Z",
        **fields,
    }
    return Tariff.model_validate(body)


def plant_usage(svc: Services) -> None:
    svc.add_site(HPC)
    for t in (
        tariff(
            "core-1", unit="core_hour", benchmark="HEPscore23", rate="0.010", valid_to="2026-03-10T00:00:00Z"
        ),
        tariff(
            "core-2",
            unit="core_hour",
            benchmark="HEPscore23",
            rate="0.015",
            valid_from="2026-03-10T00:00:00Z",
        ),
        tariff("gpu-a100", unit="gpu_hour", gpu_model="A100", rate="2.50"),
    ):
        svc.money.tariffs.put(t)
    jobs = [job(f"d{d}", datetime(2026, 3, d, 12, tzinfo=UTC), 1, 4) for d in range(1, 21)]
    jobs.append(job("g1", datetime(2026, 3, 5, 12, 30, tzinfo=UTC), 1, 1, gpus=2, gpu_model="A100"))
    jobs.append(job("g2", datetime(2026, 3, 6, 12, 30, tzinfo=UTC), 2, 1, gpus=1, gpu_model="A100"))
    jobs.append(job("o1", datetime(2026, 3, 7, 12, tzinfo=UTC), 1, 4, project="other"))
    ingest(svc, "jobs", jobs)
    gpus = [gpu("g2", datetime(2026, 3, 6, 10, 30, tzinfo=UTC), 70.0, PROJECT)]
    gpus += [gpu("job-77", NOW - timedelta(hours=36 - h), 0.5, "gpuidle") for h in range(36)]
    ingest(svc, "accelerators", gpus)


def allocate(
    svc: Services,
    unit: AllocationUnit,
    amount: str,
    resources: tuple[ResourceRef, ...] = (),
    currency: str | None = None,
    start: date = date(2026, 3, 1),
    end: date = date(2026, 4, 1),
) -> Allocation:
    body = AllocationIn(PROJECT, resources, unit, Decimal(amount), start, end, "", currency)
    return svc.foresight.create(body, EVERYTHING, "test")
