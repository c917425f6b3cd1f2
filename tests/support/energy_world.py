"""A small warehouse for the energy, emissions, efficiency and network figures, with values chosen
so every expected figure can be worked out by hand (see the comments on each job).

Sites: north (its carbon intensity drops mid-month, from 200 to 50 gCO2e/kWh at noon on
2026-01-15), south (400 gCO2e/kWh throughout) and west (no intensity at all).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from tally.adapters.warehouse import open_warehouse
from tally.domain.records import MODELS, RecordKind
from tally.domain.schema import stored_schema
from tally.registry.entries import CarbonIntensity, Entry
from tally.settings import Settings

GIB = 1024**3
KWH = 3_600_000  # joules
SWITCH = datetime(2026, 1, 15, 12, tzinfo=UTC)
INGESTED = datetime(2026, 2, 1, tzinfo=UTC)

INTENSITIES: list[dict[str, Any]] = [
    {
        "site": "north",
        "grams_co2e_per_kwh": 200.0,
        "valid_from": "2025-01-01T00:00:00Z",
        "valid_to": "2026-01-15T12:00:00Z",
    },
    {
        "site": "north",
        "grams_co2e_per_kwh": 50.0,
        "valid_from": "2026-01-15T12:00:00Z",
        "source": "new contract",
    },
    {"site": "south", "grams_co2e_per_kwh": 400.0, "valid_from": "2025-01-01T00:00:00Z"},
]


def _job(site: str, job_id: str, user: str, project: str, end: str, **values: Any) -> dict[str, Any]:
    return {
        "site": site,
        "resource": f"{site}-cluster",
        "batch_system": "slurm",
        "local_job_id": job_id,
        "local_user": user,
        "project": project,
        "state": "COMPLETED",
        "end_time": end,
        **values,
    }


JOBS: list[dict[str, Any]] = [
    # 2 kWh at 200 g/kWh = 0.4 kg; CPU 7200 of 3600 x 4 core-seconds; memory 2 of 8 GiB.
    _job(
        "north",
        "n1",
        "alice",
        "p1",
        "2026-01-10T00:00:00Z",
        wall_seconds=3600,
        cpu_seconds=7200,
        cores=4,
        energy_joules=2 * KWH,
        memory_requested_bytes=8 * GIB,
        memory_max_bytes=2 * GIB,
    ),
    # 1 kWh after the switch, at 50 g/kWh = 0.05 kg; CPU 7200 of 3600 x 2; memory 4 of 4 GiB.
    _job(
        "north",
        "n2",
        "alice",
        "p1",
        "2026-01-20T00:00:00Z",
        wall_seconds=3600,
        cpu_seconds=7200,
        cores=2,
        energy_joules=1 * KWH,
        memory_requested_bytes=4 * GIB,
        memory_max_bytes=4 * GIB,
    ),
    # Ends exactly at the switch: the new interval holds it. 10 kWh x 50 g = 0.5 kg; no memory figures.
    _job(
        "north",
        "n3",
        "bob",
        "p2",
        "2026-01-15T12:00:00Z",
        wall_seconds=1800,
        cpu_seconds=900,
        cores=1,
        energy_joules=10 * KWH,
    ),
    # No energy measured: counts in jobs_without_energy, adds nothing (not 0) to energy or CO2e.
    _job(
        "north",
        "n4",
        "bob",
        "p2",
        "2026-01-05T00:00:00Z",
        wall_seconds=3600,
        cpu_seconds=28800,
        cores=8,
        memory_requested_bytes=16 * GIB,
        memory_max_bytes=12 * GIB,
    ),
    # The only job of p3, with no energy: p3's energy and CO2e are NULL.
    _job("north", "n5", "bob", "p3", "2026-01-08T00:00:00Z", wall_seconds=100, cpu_seconds=50, cores=1),
    # 5 kWh at 400 g/kWh = 2 kg; CPU 3600 of 7200; memory 1 of 2 GiB.
    _job(
        "south",
        "s1",
        "carol",
        "p1",
        "2026-01-12T00:00:00Z",
        wall_seconds=7200,
        cpu_seconds=3600,
        cores=1,
        energy_joules=5 * KWH,
        memory_requested_bytes=2 * GIB,
        memory_max_bytes=1 * GIB,
    ),
    # 1 kWh at a site with no intensity: energy counted, CO2e NULL, one job without intensity.
    _job(
        "west",
        "w1",
        "dave",
        "p3",
        "2026-01-12T00:00:00Z",
        wall_seconds=3600,
        cpu_seconds=3600,
        cores=1,
        energy_joules=1 * KWH,
    ),
]


def _vm(account: str, instance: str, start: str, end: str, **values: Any) -> dict[str, Any]:
    return {
        "site": "north",
        "resource": "north-cloud",
        "provider": "openstack",
        "account": account,
        "instance_id": instance,
        "interval_start": start,
        "interval_end": end,
        "uptime_seconds": 900,
        "cpu_busy_seconds": 100.0,
        "vcpus": 2,
        **values,
    }


VMS: list[dict[str, Any]] = [
    # i-1: two samples on Jan 10 (rx 100 + 200, tx 10 + 20) and one on Jan 11 (rx 5, tx 7).
    _vm("acc-1", "i-1", "2026-01-10T00:00:00Z", "2026-01-10T00:15:00Z", net_rx_bytes=100, net_tx_bytes=10),
    _vm("acc-1", "i-1", "2026-01-10T00:15:00Z", "2026-01-10T00:30:00Z", net_rx_bytes=200, net_tx_bytes=20),
    _vm("acc-1", "i-1", "2026-01-11T00:00:00Z", "2026-01-11T00:15:00Z", net_rx_bytes=5, net_tx_bytes=7),
    # i-2: counters not read (e.g. from cloud events): NULL bytes, not 0.
    _vm("acc-2", "i-2", "2026-01-10T00:00:00Z", "2026-01-10T00:15:00Z"),
]


def intensity_entries() -> list[Entry]:
    return [CarbonIntensity.model_validate(entry) for entry in INTENSITIES]


def write_records(home: Path, kind: RecordKind, rows: list[dict[str, Any]]) -> None:
    model = MODELS[kind]
    full = [
        {**model.model_validate(row).model_dump(), "ingested_at": INGESTED, "batch_id": f"{kind}-1"}
        for row in rows
    ]
    warehouse = open_warehouse(Settings(mode="local", home=home))
    warehouse.write_partitioned(
        kind, pa.Table.from_pylist(full, schema=stored_schema(kind)), model.partition_time, f"{kind}-1"
    )


def write_world(home: Path) -> None:
    write_records(home, "jobs", JOBS)
    write_records(home, "vms", VMS)
