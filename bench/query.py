"""Query benchmark: the monthly jobs report (site, VO, project, with normalisation) over >= 10 million
jobs written with the project's own warehouse writer, against a bare DuckDB scan of the same columns.

    .venv/bin/python bench/query.py [--jobs 10000000] [--dir /tmp/tally-bench-query] [--runs 3]
    .venv/bin/python bench/query.py --startup [--dir /tmp/tally-bench-startup] [--runs 5]
    .venv/bin/python bench/query.py --curve [--sizes 1000000,3000000] [--files 100,1000]
    .venv/bin/python bench/query.py --jobs 1000000 --baseline /path/to/other/checkout [--grid-share 0.2]

`--baseline DIR` also times the same report with the code and SQL of another checkout of Tally
(its layers/core and athena_queries) on the same warehouse: each checkout in a fresh process,
alternately, best of --runs each, so a change to the views is measured against what it replaces.
`--grid-share` also writes BLAH lines (grid_identities) for that share of the jobs, which the view
jobs_identified joins to them (without any, the join has nothing to do).

`--curve` prints the monthly report's time (best of --runs, on a new engine in a child process) and
that process's peak memory over 1M and 3M jobs, then over 1M jobs in 100 and 1,000 files, each
with the exponent of a log-log fit of time against size (a few minutes). The full curve, 10M jobs
and 10,000 files, takes about half an hour to build:
    .venv/bin/python bench/query.py --curve --sizes 1000000,3000000,10000000 --files 100,1000,10000

`--startup` instead measures what a person waits for on the demo warehouse (loaded by `tally
demo`) and on a copy with 10x its files (each file hard-linked ten times; the views deduplicate
the copies): the whole `tally query "SELECT 1"` process, `tally query` counting jobs, and a
month's jobs report on a warm engine; each next to bare DuckDB over the same files in the same
run (a process reading every file with read_parquet, with and without union_by_name, and the
month's files grouped the same way).

The bare scan reads the same Parquet files with read_parquet and groups the same columns by site,
VO, project and month with plain sums: no deduplication, registry join, VO mapping or views. The
report goes through the views (dedup, normalisation with a mid-month benchmark change, VO mapping)
exactly as the API runs it. Both are timed in the same process, alternately, best of --runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tally.adapters.warehouse import open_warehouse
from tally.domain.records import MODELS
from tally.domain.schema import cluster_order, stored_schema
from tally.query.duckdb_engine import DuckDbEngine
from tally.registry.entries import ResourceBenchmark, VoMapping
from tally.registry.store import RegistryStore
from tally.reports.run import run_report
from tally.reports.spec import make_spec
from tally.settings import Settings

SITES = [f"SITE-{i:02d}" for i in range(12)]
RESOURCES = ["cpu", "gpu", "bigmem"]
VOS = ["atlas", "cms", "lhcb", "alice", "dune", "belle", None, None]
PROJECTS = [f"project-{i:03d}" for i in range(60)]
MONTHS = [(2026, 1), (2026, 2), (2026, 3)]


def month_bounds(year: int, month: int) -> tuple[int, int]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def pick(rng: np.random.Generator, values: Sequence[str | None], n: int) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(rng.integers(0, len(values), n)))


def month_of_jobs(rng: np.random.Generator, year: int, month: int, n: int, first_id: int) -> pa.Table:
    lo, hi = month_bounds(year, month)
    site = rng.integers(0, len(SITES), n)
    resource = rng.integers(0, len(RESOURCES), n)
    end = rng.integers(lo, hi, n)
    order = np.lexsort((end, resource, site))
    site, resource, end = site[order], resource[order], end[order]
    wall = rng.integers(60, 2 * 86400, n)
    cores = rng.choice(np.array([1, 1, 1, 2, 4, 8, 8, 16, 32, 64]), n)
    cpu = (wall * cores * rng.uniform(0.3, 1.0, n)).astype(np.int64)
    wait = rng.integers(0, 7200, n)
    ts = pa.timestamp("us", tz="UTC")

    def times(seconds: np.ndarray) -> pa.Array:
        return pa.array(seconds * 1_000_000, pa.int64()).cast(ts)

    nulls = {
        name: pa.nulls(n, t)
        for name, t in (
            ("array_job_id", pa.string()),
            ("array_index", pa.int64()),
            ("global_user", pa.string()),
            ("vo_group", pa.string()),
            ("vo_role", pa.string()),
            ("qos", pa.string()),
            ("application", pa.string()),
            ("gpu_model", pa.string()),
            ("energy_joules", pa.int64()),
            ("node_list", pa.string()),
            ("benchmark_type", pa.string()),
            ("benchmark_per_core", pa.float64()),
        )
    }
    columns = {
        "site": pa.array(SITES, pa.string()).take(pa.array(site)),
        "resource": pa.array(RESOURCES, pa.string()).take(pa.array(resource)),
        "batch_system": pa.array(["slurm"] * n, pa.string()),
        "infrastructure": pa.array(["hpc"] * n, pa.string()),
        "local_job_id": pa.array(np.arange(first_id, first_id + n).astype(str)),
        "job_name": pick(rng, [f"job-{i}" for i in range(200)], n),
        "local_user": pick(rng, [f"user{i:03d}" for i in range(300)], n),
        "local_group": pick(rng, [f"group{i:02d}" for i in range(40)], n),
        "vo": pick(rng, VOS, n),
        "project": pick(rng, PROJECTS, n),
        "queue": pick(rng, ["short", "long", "gpu", "bigmem", "debug"], n),
        "submit_time": times(end - wall - wait),
        "start_time": times(end - wall),
        "end_time": times(end),
        "wall_seconds": pa.array(wall),
        "cpu_seconds": pa.array(cpu),
        "cores": pa.array(cores),
        "nodes": pa.array(np.ones(n, np.int64)),
        "gpus": pa.array(np.where(resource == 1, 1, 0).astype(np.int64)),
        "memory_requested_bytes": pa.array(cores * (4 << 30)),
        "memory_max_bytes": pa.array((rng.integers(1, 4096, n) << 20).astype(np.int64)),
        "state": pick(rng, ["COMPLETED"] * 8 + ["FAILED", "TIMEOUT"], n),
        "exit_code": pa.array(np.zeros(n, np.int64)),
        "ingested_at": pa.array([datetime(2026, 4, 1, tzinfo=UTC)] * n, ts),
        "batch_id": pa.array([f"bench-{year}-{month:02d}"] * n, pa.string()),
        **nulls,
    }
    schema = stored_schema("jobs")
    # Fields added to the contract since (all optional) are left null, as an older agent sends them.
    return pa.table(
        [columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema],
        schema=schema,
    )


def blah_lines(rng: np.random.Generator, jobs: pa.Table, share: float) -> pa.Table:
    """BLAH lines (grid_identities) for `share` of `jobs`, each handed over at the job's submit
    time, as a CREAM CE logs them; the job id carries the CE's suffix (`123.ce1`)."""
    picked = jobs.filter(pa.array(rng.random(jobs.num_rows) < share))
    n = picked.num_rows
    dns = pick(rng, [f"/DC=org/DC=bench/CN=Grid User {i}" for i in range(500)], n)
    vos = pick(rng, [v for v in VOS if v], n)
    columns = {
        "site": picked["site"],
        "resource": picked["resource"],
        "lrms_id": pc.binary_join_element_wise(picked["local_job_id"], pa.scalar("ce1"), "."),
        "submit_time": picked["submit_time"],
        "global_user": dns,
        "vo": vos,
        "vo_group": pc.binary_join_element_wise(pa.scalar("/"), vos, ""),
        "vo_role": pa.array(["Role=NULL"] * n, pa.string()),
        "ingested_at": picked["ingested_at"],
        "batch_id": picked["batch_id"],
    }
    schema = stored_schema("grid_identities")
    return pa.table(
        [columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema],
        schema=schema,
    )


def build(home: Path, jobs: int, files: int = len(MONTHS), grid_share: float = 0.0) -> None:
    """`jobs` jobs over three months, written as about `files` files (batches per month), and
    BLAH lines for `grid_share` of them."""
    warehouse = open_warehouse(Settings(mode="local", home=home))
    rng = np.random.default_rng(42)
    per_month = -(-jobs // len(MONTHS))
    slices = max(1, files // len(MONTHS))
    for i, (year, month) in enumerate(MONTHS):
        n = min(per_month, jobs - i * per_month)
        table = month_of_jobs(rng, year, month, n, i * per_month)
        if grid_share > 0:
            lines = blah_lines(rng, table, grid_share)
            model = MODELS["grid_identities"]
            warehouse.write_partitioned(
                "grid_identities",
                lines,
                model.partition_time,
                f"bench-blah-{year}-{month:02d}",
                model.partition_span,
                cluster_order("grid_identities"),
            )
        step = -(-n // slices)
        for k in range(0, n, step):
            warehouse.write_partitioned(
                "jobs",
                table.slice(k, step),
                "end_time",
                f"bench-{year}-{month:02d}" + (f"-{k // step}" if slices > 1 else ""),
                MODELS["jobs"].partition_span,
                cluster_order("jobs"),
            )
    store = RegistryStore(warehouse)
    change = datetime(2026, 2, 15, 12, tzinfo=UTC)
    since = datetime(2020, 1, 1, tzinfo=UTC)
    benchmarks = []
    for site in SITES:
        benchmarks += [
            ResourceBenchmark(
                site=site,
                resource="cpu",
                benchmark_type="HEPscore23",
                benchmark_per_core=14.0,
                valid_from=since,
                valid_to=change,
            ),
            ResourceBenchmark(
                site=site,
                resource="cpu",
                benchmark_type="HEPscore23",
                benchmark_per_core=17.0,
                valid_from=change,
            ),
            ResourceBenchmark(
                site=site, resource="bigmem", benchmark_type="HS06", benchmark_per_core=11.0, valid_from=since
            ),
        ]
    store.replace_all("resources", list(benchmarks))
    store.replace_all(
        "vo_mapping",
        [
            VoMapping(site=s, match_field="project", match_value=p, vo="mapped")
            for s in SITES
            for p in PROJECTS[:5]
        ],
    )


BARE = """
SELECT site, vo, project, CAST(date_trunc('month', end_time) AS DATE) AS month, count(*) AS jobs,
       sum(wall_seconds * cores) AS core_seconds, max(benchmark_per_core) AS b,
       count(resource) AS r, count(local_job_id) AS i
FROM read_parquet('{root}/jobs/dt=*/*.parquet', hive_partitioning = true, hive_types = {{'dt': 'VARCHAR'}})
GROUP BY ALL
"""


def _best(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def _process(argv: list[str], home: Path) -> None:
    env = {**os.environ, "TALLY_HOME": str(home), "TALLY_MODE": "local"}
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)


def _process_times(runs: int, argv: list[str], home: Path) -> str:
    """Best wall time and best CPU time (user + system) of `runs` runs of a process: on a shared
    machine the CPU time is what the process itself costs."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        _process(argv, home)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return f"{min(walls):.3f} s wall, {min(cpus):.3f} s CPU"


def _multiply(source: Path, target: Path, copies: int) -> None:
    """`target` as `source` with every warehouse data file hard-linked `copies` times."""
    shutil.copytree(source, target, symlinks=True, copy_function=shutil.copy2)
    for path in list((target / "warehouse").rglob("*.parquet")):
        if "registry" in path.parts:
            continue
        for copy in range(1, copies):
            os.link(path, path.with_name(f"{path.stem}-copy{copy}{path.suffix}"))


BARE_ALL = "SELECT count(*) FROM read_parquet('{root}/{table}/*/*.parquet', union_by_name = {union})"
BARE_MONTH = """
SELECT site, vo, count(*) AS jobs, sum(wall_seconds * cores) AS core_seconds
FROM read_parquet({files}, hive_partitioning = true, hive_types = {{'dt': 'VARCHAR'}})
GROUP BY ALL
"""
TABLES = ("jobs", "storage", "accelerators", "vms")


def startup(base: Path, runs: int) -> None:
    from tally.demo.loader import load_demo
    from tally.services.container import Services

    shutil.rmtree(base, ignore_errors=True)
    demo = base / "demo"
    started = time.perf_counter()
    load_demo(Services(Settings(mode="local", home=demo)), now=datetime(2026, 12, 1, tzinfo=UTC))
    print(f"demo loaded in {time.perf_counter() - started:.1f} s")
    _multiply(demo, base / "demo-x10", 10)
    for name in ("demo", "demo-x10"):
        _measure(name, base / name, runs)


def _bare_script(root: Path, union: bool) -> str:
    queries = [BARE_ALL.format(root=root.as_posix(), table=t, union=str(union).lower()) for t in TABLES]
    return "import duckdb; c = duckdb.connect(); " + "; ".join(f'c.sql("{q}").fetchall()' for q in queries)


def _measure(name: str, home: Path, runs: int) -> None:
    tally = str(Path(sys.executable).parent / "tally")
    root = home / "warehouse"
    files = sum(1 for _ in root.rglob("*.parquet"))
    print(f"\n{name}: {files:,} Parquet files")
    _process([tally, "query", "SELECT 1"], home)  # compiles the SQL catalog once, as any first use
    select1 = _process_times(runs, [tally, "query", "SELECT 1"], home)
    count = _process_times(runs, [tally, "query", "SELECT count(*) FROM jobs"], home)
    plain = _process_times(runs, [sys.executable, "-c", _bare_script(root, False)], home)
    union = _process_times(runs, [sys.executable, "-c", _bare_script(root, True)], home)
    print(f"  tally query 'SELECT 1', whole process:    {select1} (goal < 2 s)")
    print(f"  tally query count(*) FROM jobs, process:  {count}")
    print("  bare DuckDB process, read_parquet over jobs, storage, accelerators, vms:")
    print(f"      union_by_name = false:                {plain}")
    print(f"      union_by_name = true (every footer):  {union}")
    engine = DuckDbEngine(root, cache_dir=home / "cache")
    spec = make_spec(
        "jobs", ["site", "vo"], ["jobs", "core_hours", "normalised_core_hours"], "2026-10-01", "2026-11-01"
    )
    first = _best(1, lambda: run_report(engine, spec))
    warm = _best(runs, lambda: run_report(engine, spec))
    month_files = [p.as_posix() for p in sorted((root / "jobs").glob("dt=2026-10-*/*.parquet"))]
    bare = duckdb.connect()
    query = BARE_MONTH.format(files="[" + ", ".join(f"'{f}'" for f in month_files) + "]")
    bare_month = _best(runs, lambda: bare.sql(query).fetchall())
    print(f"  month's jobs report, first on a new engine: {first:.3f} s")
    print(f"  month's jobs report, warm:                  {warm:.3f} s (goal < 1 s)")
    print(f"  bare DuckDB, the month's {len(month_files)} files grouped: {bare_month:.3f} s")


MONTHLY = (["site", "vo", "project", "month"], ["jobs", "core_hours", "normalised_core_hours"])


def report_only(home: Path, runs: int) -> None:
    """The child of `--curve`: best time of the monthly report on a new engine, on stdout."""
    engine = DuckDbEngine(home / "warehouse")
    spec = make_spec("jobs", *MONTHLY, "2026-01-01", "2026-04-01")
    import tally
    from bench.curve import peak_mb

    print(_best(runs, lambda: run_report(engine, spec)), peak_mb(), Path(tally.__file__).resolve().parent)


def _report_child(home: Path, runs: int, checkout: Path | None = None) -> tuple[float, float]:
    """Time and own peak memory of the report in a fresh process, with the code and SQL of
    `checkout` when given (its packages come first on the path, before this checkout's install)."""
    argv = [sys.executable, __file__, "--report-only", "--dir", str(home), "--runs", str(runs)]
    here = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": here}
    if checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(checkout / "layers" / "core"), str(checkout), here])
        env["TALLY_SQL_DIR"] = str(checkout / "athena_queries")
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout.split()
    if checkout is not None and not Path(out[2]).is_relative_to(checkout.resolve()):
        raise SystemExit(f"the report ran the tally of {out[2]}, not of {checkout}")
    return float(out[0]), float(out[1])


def curve(base: Path, sizes: list[int], file_counts: list[int], runs: int) -> None:
    sys.path.insert(
        0, str(Path(__file__).resolve().parents[1])
    )  # run as a script, bench/ itself is on the path, not the checkout
    from bench.curve import print_curve

    by_jobs, by_files = [], []
    for jobs in sizes:
        home = base / f"jobs-{jobs}"
        shutil.rmtree(home, ignore_errors=True)
        build(home, jobs)
        by_jobs.append((jobs, *_report_child(home, runs)))
        shutil.rmtree(home)
    for files in file_counts:
        home = base / f"files-{files}"
        shutil.rmtree(home, ignore_errors=True)
        build(home, FILE_CURVE_JOBS, files)
        written = sum(1 for _ in (home / "warehouse" / "jobs").rglob("*.parquet"))
        by_files.append((written, *_report_child(home, runs)))
        shutil.rmtree(home)
    print_curve("monthly jobs report (3 months, normalised), by jobs, in 3 files", "jobs", by_jobs)
    print_curve(f"the same report over {FILE_CURVE_JOBS:,} jobs, by Parquet files", "files", by_files)


FILE_CURVE_JOBS = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep an existing warehouse of the same size")
    parser.add_argument("--startup", action="store_true", help="start-up and warm latency on the demo")
    parser.add_argument("--curve", action="store_true", help="time and peak memory against jobs and files")
    parser.add_argument("--sizes", default="1000000,3000000", help="job counts for --curve")
    parser.add_argument("--files", default="100,1000", help="file counts for --curve")
    parser.add_argument(
        "--grid-share", type=float, default=0.0, help="share of jobs with a BLAH line (grid_identities)"
    )
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another checkout to time the report against"
    )
    parser.add_argument("--report-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.startup:
        startup(args.dir or Path("/tmp/tally-bench-startup"), args.runs)
        return
    if args.report_only:
        report_only(args.dir, args.runs)
        return
    if args.curve:
        sizes = [int(n) for n in args.sizes.split(",") if n]
        counts = [int(n) for n in args.files.split(",") if n]
        curve(args.dir or Path("/tmp/tally-bench-curve"), sizes, counts, args.runs)
        return
    home: Path = args.dir or Path("/tmp/tally-bench-query")
    root = home / "warehouse"
    marker = home / f"built-{args.jobs}-{args.grid_share}"
    if not (args.reuse and marker.exists()):
        shutil.rmtree(home, ignore_errors=True)
        started = time.perf_counter()
        build(home, args.jobs, grid_share=args.grid_share)
        marker.touch()
        print(f"built {args.jobs:,} jobs in {time.perf_counter() - started:.1f} s")
    files = list((root / "jobs").rglob("*.parquet"))
    size = sum(f.stat().st_size for f in files)

    engine = DuckDbEngine(root)
    spec = make_spec(
        "jobs",
        ["site", "vo", "project", "month"],
        ["jobs", "core_hours", "normalised_core_hours"],
        "2026-01-01",
        "2026-04-01",
    )
    bare = duckdb.connect()
    bare.execute("SET TimeZone = 'UTC'")
    report_times, bare_times = [], []
    rows = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        rows = run_report(engine, spec).table.num_rows
        report_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        bare.sql(BARE.format(root=root.as_posix())).to_arrow_table()
        bare_times.append(time.perf_counter() - started)
    report, scan = min(report_times), min(bare_times)
    print(f"jobs on disk:        {args.jobs:,} in {len(files)} files, {size / 1e6:.1f} MB")
    print(f"bytes per job:       {size / args.jobs:.1f} (target <= 40)")
    print(f"monthly report:      {report:.3f} s ({rows:,} rows: site x VO x project x month, normalised)")
    print(f"bare DuckDB scan:    {scan:.3f} s (same columns, same grouping, no views)")
    print(f"ratio report/scan:   {report / scan:.2f} (target <= 2)")
    if args.baseline:
        compare(home, args.baseline.resolve(), args.runs, scan)


def compare(home: Path, baseline: Path, runs: int, scan: float) -> None:
    """The report in fresh processes, this checkout and `baseline` alternately (twice each)."""
    here = Path(__file__).resolve().parents[1]
    if not (baseline / "athena_queries" / "views").is_dir():
        raise SystemExit(f"--baseline {baseline}: no athena_queries/views there")
    mine, theirs = [], []
    for _ in range(2):
        mine.append(_report_child(home, runs, here)[0])
        theirs.append(_report_child(home, runs, baseline)[0])
    now, before = min(mine), min(theirs)
    print(f"\nmonthly report, fresh process, best of {runs} x 2, same warehouse:")
    print(f"  this checkout ({here}):  {now:.3f} s, report/scan {now / scan:.2f}")
    print(f"  baseline ({baseline}):  {before:.3f} s, report/scan {before / scan:.2f}")
    print(f"  this / baseline:         {now / before:.2f}")


if __name__ == "__main__":
    main()
