"""Energy benchmark: what energy and emissions cost the jobs report. The monthly jobs report (site,
VO, project, month) over the report base as it was before energy (the baseline), then today's
base with the default metrics, with energy_kwh and memory_efficiency (the same base, two more
columns), with co2e_kg (the base joined to each site's carbon intensity at each job's end), and
the jobs_footprint_monthly view read whole: all on one engine in the same run, best of --runs.

    .venv/bin/python bench/energy.py [--jobs 1000000] [--dir /tmp/tally-bench-energy] [--runs 3]

Jobs are written with the warehouse writer as bench/query.py writes them, 70% of them with a
measured energy; every site has two carbon intensities, changing mid-February.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the checkout on the path

from bench.query import MONTHS, SITES, month_of_jobs
from tally.adapters.warehouse import open_warehouse
from tally.domain.records import MODELS
from tally.domain.schema import cluster_order
from tally.query.duckdb_engine import DuckDbEngine
from tally.registry.entries import CarbonIntensity, Entry
from tally.registry.store import RegistryStore
from tally.reports.catalog import JOBS
from tally.reports.run import run_report
from tally.reports.spec import make_spec
from tally.settings import Settings

# The jobs report's base before energy: the same rows and columns, no intensity join.
BEFORE = """
SELECT
  site, resource, vo, project,
  coalesce(person_id, global_user, local_user || '@' || site) AS report_user, person_id,
  queue, infrastructure, state,
  end_time AS event_time, dt,
  wall_seconds, cpu_seconds, core_seconds, gpu_seconds, wait_seconds,
  normalised_hepscore23_seconds, normalised_hs06_seconds, normalised_core_seconds, normalisation_type
FROM person_usage
"""
GROUP = ["site", "vo", "project", "month"]
RANGE = ("2026-01-01", "2026-04-01")


def build(home: Path, jobs: int) -> None:
    warehouse = open_warehouse(Settings(mode="local", home=home))
    rng = np.random.default_rng(15)
    per_month = -(-jobs // len(MONTHS))
    for i, (year, month) in enumerate(MONTHS):
        n = min(per_month, jobs - i * per_month)
        table = month_of_jobs(rng, year, month, n, i * per_month)
        joules = rng.integers(10_000, 50_000_000, n)
        measured = rng.random(n) < 0.7
        energy = pa.array(np.where(measured, joules, 0), pa.int64(), mask=~measured)
        table = table.set_column(table.schema.get_field_index("energy_joules"), "energy_joules", energy)
        warehouse.write_partitioned(
            "jobs",
            table,
            "end_time",
            f"bench-{year}-{month:02d}",
            MODELS["jobs"].partition_span,
            cluster_order("jobs"),
        )
    change = datetime(2026, 2, 15, 12, tzinfo=UTC)
    since = datetime(2020, 1, 1, tzinfo=UTC)
    entries: list[Entry] = []
    for k, site in enumerate(SITES):
        entries += [
            CarbonIntensity(site=site, grams_co2e_per_kwh=100.0 + k, valid_from=since, valid_to=change),
            CarbonIntensity(site=site, grams_co2e_per_kwh=50.0 + k, valid_from=change),
        ]
    RegistryStore(warehouse).replace_all("carbon_intensity", entries)


def best(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    home = args.dir or Path(tempfile.mkdtemp(prefix="tally-bench-energy-"))
    shutil.rmtree(home, ignore_errors=True)
    started = time.perf_counter()
    build(home, args.jobs)
    print(f"wrote {args.jobs:,} jobs in {time.perf_counter() - started:.1f} s under {home}")
    engine = DuckDbEngine(Settings(mode="local", home=home).local_warehouse)
    before = make_spec("jobs", GROUP, [], *RANGE, custom=replace(JOBS, base_sql=BEFORE))
    cases = {
        "default metrics, today's base": make_spec("jobs", GROUP, [], *RANGE),
        "energy_kwh, memory_efficiency": make_spec(
            "jobs", GROUP, ["energy_kwh", "memory_efficiency"], *RANGE
        ),
        "co2e_kg (intensity join)": make_spec("jobs", GROUP, ["energy_kwh", "co2e_kg"], *RANGE),
    }
    for spec in [before, *cases.values()]:
        run_report(engine, spec)  # compile and warm each query once
    rows = len(run_report(engine, before).table)
    base = best(args.runs, lambda: run_report(engine, before))
    print(f"monthly jobs report ({rows:,} rows), best of {args.runs}:")
    print(f"  {'default metrics, base before energy':<38} {base:.3f} s  (baseline)")
    for name, spec in cases.items():
        took = best(args.runs, partial(run_report, engine, spec))
        print(f"  {name:<38} {took:.3f} s  ({took / base:.2f}x baseline)")
    view = best(args.runs, lambda: engine.query("SELECT * FROM jobs_footprint_monthly"))
    print(f"  {'jobs_footprint_monthly, whole view':<38} {view:.3f} s  ({view / base:.2f}x baseline)")
    if args.dir is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
