"""The invoices part of bench/money.py: a month's invoices for 1,000 projects over 10 million jobs,
beside a bare DuckDB aggregation of the same rows, in one run.

The jobs are generated with numpy and written straight to the warehouse as compaction leaves a
month (one Parquet file in `jobs/dt=2026-03/`, written a million rows at a time). Every job states
its HEPscore23 per core (10, or 20 on every seventh), so each is priced by its own numbers; every
tenth ran 1 to 4 A100 GPUs. The price list: core-hours at 0.010 EUR before 16 March and 0.015 EUR
from then on (a tariff change inside the month), GPU-hours at 2.50 EUR.

Timed, each in a fresh process so its peak RSS is its own:
  * tally: `MoneyService.issue_month` — one aggregation of `usage_priced` (the views: dedup,
    normalisation, person links, the tariff join) and 1,000 numbered invoices written;
  * bare: DuckDB reading the same Parquet file, the same sums per project, rate and unit with the
    tariffs as a CASE, no views.
The invoices' totals are checked against the bare sums (to the cent, per project).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tally.domain.schema import stored_schema
from tally.money.pricing import priced_lines_by_project
from tally.money.tariffs import Tariff
from tally.services.container import Services
from tally.settings import Settings

SITE, RESOURCE, PERIOD = "HPC", "cluster", "2026-03"
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
MONTH_SECONDS = 31 * 86_400
CHANGE = datetime(2026, 3, 16, tzinfo=UTC)
CHUNK = 1_000_000
TS = pa.timestamp("us", tz="UTC")


def chunk(first: int, n: int, projects: int) -> pa.Table:
    """Jobs first .. first + n - 1 (vectorised; the same numbers every run)."""
    rng = np.random.default_rng(first)
    i = np.arange(first, first + n)
    end_us = int(MONTH_START.timestamp() * 1e6) + rng.integers(0, MONTH_SECONDS, n) * 1_000_000
    wall = rng.integers(60, 12 * 3600, n)
    cores = rng.choice(np.array([1, 2, 4, 8, 16, 32]), n)
    gpus = np.where(i % 10 == 0, 1 + i % 4, 0)
    columns: dict[str, Any] = {
        "site": pa.repeat(SITE, n),
        "resource": pa.repeat(RESOURCE, n),
        "batch_system": pa.repeat("slurm", n),
        "infrastructure": pa.repeat("hpc", n),
        "local_job_id": pc.cast(pa.array(i), pa.string()),
        "local_user": _names("u", i % 5000, 5000),
        "project": _names("p", i % projects, projects),
        "end_time": pa.array(end_us, TS),
        "start_time": pa.array(end_us - wall * 1_000_000, TS),
        "wall_seconds": pa.array(wall),
        "cpu_seconds": pa.array(wall * cores * 9 // 10),
        "cores": pa.array(cores),
        "nodes": pa.repeat(1, n),
        "gpus": pa.array(gpus),
        "gpu_model": _gpu_models(gpus),
        "state": pa.repeat("COMPLETED", n),
        "benchmark_type": pa.repeat("HEPscore23", n),
        "benchmark_per_core": pa.array(np.where(i % 7 == 0, 20.0, 10.0)),
        "ingested_at": pa.repeat(pa.scalar(datetime(2026, 4, 1, tzinfo=UTC), TS), n),
        "batch_id": pa.repeat("bench", n),
    }
    schema = stored_schema("jobs")
    return pa.table(
        {f.name: columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema},
        schema=schema,
    )


def _names(prefix: str, index: np.ndarray[Any, Any], count: int) -> pa.Array:
    """`prefix` + index as text, built from `count` distinct names (no per-row Python)."""
    names = pa.array([f"{prefix}{k}" for k in range(count)])
    return pc.take(names, pa.array(index))


def _gpu_models(gpus: np.ndarray[Any, Any]) -> pa.Array:
    """A100 where the job ran GPUs, null elsewhere."""
    return pc.if_else(pa.array(gpus > 0), pa.scalar("A100"), pa.scalar(None, pa.string()))


def tariffs() -> list[Tariff]:
    common = {"site": SITE, "resource": RESOURCE, "currency": "EUR"}
    return [
        Tariff.model_validate(
            {
                **common,
                "tariff_id": "core-1",
                "unit": "core_hour",
                "benchmark": "HEPscore23",
                "rate": "0.010",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_to": "2026-03-16T00:00:00Z",
            }
        ),
        Tariff.model_validate(
            {
                **common,
                "tariff_id": "core-2",
                "unit": "core_hour",
                "benchmark": "HEPscore23",
                "rate": "0.015",
                "valid_from": "2026-03-16T00:00:00Z",
            }
        ),
        Tariff.model_validate(
            {
                **common,
                "tariff_id": "gpu",
                "unit": "gpu_hour",
                "gpu_model": "A100",
                "rate": "2.50",
                "valid_from": "2026-01-01T00:00:00Z",
            }
        ),
    ]


def generate(home: Path, jobs: int, projects: int) -> float:
    svc = Services(Settings(mode="local", home=home))
    svc.add_site(SITE)
    for tariff in tariffs():
        svc.money.tariffs.put(tariff)
    folder = svc.settings.local_warehouse / "jobs" / f"dt={PERIOD}"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with pq.ParquetWriter(folder / "bench.parquet", stored_schema("jobs")) as writer:
        for first in range(0, jobs, CHUNK):
            writer.write_table(chunk(first, min(CHUNK, jobs - first), projects))
    return time.perf_counter() - started


#: The same sums with no views: per project, (quantity, rate) of each priced unit, by job end time.
BARE = """
WITH j AS (
  SELECT project, end_time, wall_seconds, cores, gpus, gpu_model, benchmark_per_core
  FROM read_parquet('{path}')
)
SELECT project, 'core' AS what,
  CASE WHEN end_time < TIMESTAMPTZ '2026-03-16 00:00:00+00' THEN 0.010 ELSE 0.015 END AS rate,
  sum(CAST(wall_seconds * cores AS DOUBLE) * benchmark_per_core) / 3600 AS quantity
FROM j GROUP BY ALL
UNION ALL
SELECT project, 'gpu', 2.50, sum(CAST(wall_seconds * gpus AS DOUBLE)) / 3600
FROM j WHERE gpus > 0 AND gpu_model = 'A100' GROUP BY ALL
"""


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: its own, where ru_maxrss would carry the parent's
    peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_tally(home: Path) -> dict[str, Any]:
    svc = Services(Settings(mode="local", home=home))
    engine = svc.engine
    engine.query("SELECT 1")  # the views load once per engine
    started = time.perf_counter()
    issued = svc.money.issue_month(engine, PERIOD)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    totals = {i.project: str(i.totals["EUR"]) for i in issued}
    # The aggregation alone, again (its share of the run; the rest is numbering and writing).
    started = time.perf_counter()
    priced_lines_by_project(engine, date(2026, 3, 1), date(2026, 4, 1))
    aggregation = time.perf_counter() - started
    return {
        "seconds": seconds,
        "aggregation_seconds": aggregation,
        "peak_rss_mb": peak,
        "invoices": len(issued),
        "totals": totals,
    }


def phase_bare(home: Path) -> dict[str, Any]:
    path = home / "warehouse" / "jobs" / f"dt={PERIOD}" / "bench.parquet"
    started = time.perf_counter()
    rows = duckdb.execute(BARE.format(path=path)).fetchall()
    seconds = time.perf_counter() - started
    totals: dict[str, Decimal] = {}
    for project, _what, rate, quantity in rows:
        # Each line rounded as an invoice line is: quantity to 6 places, amount to the cent.
        q = Decimal(repr(quantity)).quantize(Decimal("0.000001"))
        amount = (q * Decimal(str(rate))).quantize(Decimal("0.01"))
        totals[project] = totals.get(project, Decimal(0)) + amount
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "totals": {p: str(t) for p, t in totals.items()},
    }


def _child(phase: str, home: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, phase, str(home)], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(jobs: int = 10_000_000, projects: int = 1000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        written = generate(home, jobs, projects)
        size = (home / "warehouse" / "jobs" / f"dt={PERIOD}" / "bench.parquet").stat().st_size
        tally = _child("tally", home)
        bare = _child("bare", home)
    assert tally["invoices"] == len(bare["totals"]) == projects, (tally["invoices"], len(bare["totals"]))
    # Both sum the same doubles in different orders: a line's quantity may differ in its sixth
    # place, so a total may differ by a cent at a rounding boundary (three lines: at most 3 cents).
    gaps = {p: abs(Decimal(tally["totals"][p]) - Decimal(t)) for p, t in bare["totals"].items()}
    assert max(gaps.values()) <= Decimal("0.03"), max(gaps.items(), key=lambda g: g[1])
    return {
        "jobs": jobs,
        "projects": projects,
        "parquet_mb": round(size / 2**20, 1),
        "generate_seconds": round(written, 2),
        "tally_invoices": tally["invoices"],
        "tally_seconds": round(tally["seconds"], 2),
        "tally_aggregation_seconds": round(tally["aggregation_seconds"], 2),
        "tally_peak_rss_mb": round(tally["peak_rss_mb"]),
        "bare_duckdb_seconds": round(bare["seconds"], 2),
        "bare_duckdb_peak_rss_mb": round(bare["peak_rss_mb"]),
        "time_ratio": round(tally["seconds"] / bare["seconds"], 1),
        "rss_ratio": round(tally["peak_rss_mb"] / bare["peak_rss_mb"], 1),
        "totals_equal_to_the_cent": sum(1 for g in gaps.values() if g == 0),
        "largest_total_gap_eur": str(max(gaps.values())),
    }


if __name__ == "__main__":  # a phase in a fresh process: bench/money.py runs these
    phase, where = sys.argv[1], Path(sys.argv[2])
    out = phase_tally(where) if phase == "tally" else phase_bare(where)
    print(json.dumps(out))
