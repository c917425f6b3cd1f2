"""Ingest throughput over loopback HTTP against the raw Arrow floor, measured in the same run.

    .venv/bin/python bench/ingest.py [--jobs 200000] [--batch 5000] [--rounds 3] [--baseline CHECKOUT]
    .venv/bin/python bench/ingest.py --curve [--sizes 50000,200000,1000000]

`--curve` instead posts 50k, 200k and 1M records (gzip, one client, a fresh server each) and prints
the time and the server's peak memory at each size, and the exponent of a log-log fit of time
against size (about 4 minutes on two idle cores; `--sizes 50000,200000` for a quick look).

Two shapes of history are measured: a busy cluster's month and a quieter site's half year.

Prints records per second for: the raw floor (pyarrow.json.read_json with the jobs schema, then
pyarrow.parquet.write_table with the warehouse's options, on the very same NDJSON bytes), the app
over HTTP with plain NDJSON bodies, and with gzip bodies (as agents send) from one and from two
concurrent clients; the ratio of each to the floor, and the server's CPU seconds beside the floor's
(wall time is noisy on a shared machine); with `--baseline`, the same for another checkout's
server; the cold import time of the Lambda handler module; and bytes per job on disk. Each server
first takes one untimed warm-up batch of 1,000 other jobs (its one-off imports are not per-record
cost; the floor runs in this process, already warm). The whole measurement is repeated `--rounds`
times (the floor, then each server, in every round); medians are printed, with each ratio's range.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pyarrow.json as pj
import pyarrow.parquet as pq

from tally.adapters.warehouse import PARQUET_OPTIONS
from tally.demo.generator import generate_jobs
from tally.domain.schema import input_schema

REPO = Path(__file__).resolve().parents[1]


def batches(
    jobs: int, size: int, months: int, start: datetime = datetime(2026, 10, 1, tzinfo=UTC)
) -> list[bytes]:
    """Realistic job records for one site over `months` months, in end-time order, as NDJSON batches.

    The span sets how many days one batch covers, and so how many day files it writes.
    """
    records = [dict(r, site="BENCH") for r in generate_jobs(start, months, jobs)]
    records.sort(key=lambda r: str(r["end_time"]))
    chunks = [records[i : i + size] for i in range(0, len(records), size)]
    return [b"\n".join(orjson.dumps(r) for r in chunk) + b"\n" for chunk in chunks]


def raw_floor(bodies: list[bytes], out: Path) -> float:
    options = pj.ParseOptions(explicit_schema=input_schema("jobs"), unexpected_field_behavior="error")
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        table = pj.read_json(
            io.BytesIO(body), read_options=pj.ReadOptions(block_size=len(body) + 1), parse_options=options
        )
        pq.write_table(table, out / f"{i}.parquet", **PARQUET_OPTIONS)
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """A live process's user + system CPU time so far (the machine may be shared: wall is noisy)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tally(home: Path, args: list[str]) -> str:
    env = {**os.environ, "TALLY_HOME": str(home)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tally"), *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"tally {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def serve(home: Path, port: int, source: Path | None = None) -> subprocess.Popen[bytes]:
    """A uvicorn server over `home`, running this checkout's Tally or the one under `source`."""
    env = {**os.environ, "TALLY_HOME": str(home)}
    if source is not None:
        env["PYTHONPATH"] = str(source / "layers" / "core")
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "tally.api.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def post_all(port: int, key: str, bodies: list[bytes], encoding: str | None, clients: int) -> float:
    """Post every batch with `clients` keep-alive connections (stdlib, as the agent does)."""
    payloads = [gzip.compress(b, 6) if encoding else b for b in bodies]  # prepared before timing
    return post_payloads(port, key, payloads, encoding, clients)


def post_payloads(port: int, key: str, payloads: list[bytes], encoding: str | None, clients: int) -> float:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
    if encoding:
        headers["Content-Encoding"] = encoding
    queue = list(reversed(payloads))
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", "/v1/records/jobs", body=body, headers=headers)
            answer = conn.getresponse()
            result = orjson.loads(answer.read())
            if answer.status != 200 or result["rejected"]:
                raise RuntimeError(f"bench batch refused: {answer.status} {str(result)[:300]}")
        conn.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return time.perf_counter() - start


def cold_import_seconds(runs: int = 5) -> float:
    # The ingest layer ships no pandas: hide it so pyarrow's optional import behaves as on Lambda.
    code = "\n".join(
        [
            "import sys, time, importlib.abc, importlib.util as u",
            "class NoPandas(importlib.abc.MetaPathFinder):",
            "    def find_spec(self, name, path, target=None):",
            "        if name.split('.')[0] == 'pandas': raise ModuleNotFoundError(name)",
            "sys.meta_path.insert(0, NoPandas())",
            "t = time.perf_counter()",
            f"s = u.spec_from_file_location('h', {str(REPO / 'functions/ingest_api/app.py')!r})",
            "m = u.module_from_spec(s); s.loader.exec_module(m)",
            "print(time.perf_counter() - t)",
        ]
    )
    env = {
        **os.environ,
        "TALLY_MODE": "aws",
        "TALLY_WAREHOUSE_URI": "s3://bench-bucket/warehouse",
        "TALLY_CONTROL_TABLE": "bench",
        "AWS_REGION": "eu-west-1",
    }
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def parquet_bytes(root: Path, skip: str | None = None) -> Iterator[int]:
    """Sizes of the Parquet files under `root`, but those in a partition whose value starts `skip`."""
    for path in root.rglob("*.parquet"):
        folders = path.relative_to(root).parts[:-1]
        if skip is None or not any(f.split("=", 1)[-1].startswith(skip) for f in folders):
            yield path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--port", type=int, default=18741)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of floor + servers; medians printed")
    parser.add_argument("--curve", action="store_true", help="time and peak memory against batch count")
    parser.add_argument("--sizes", default="50000,200000,1000000", help="record counts for --curve")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another Tally checkout: its server also ingests each shape (gzip, one client), same run",
    )
    a = parser.parse_args()
    if a.curve:
        curve([int(n) for n in a.sizes.split(",")], a.batch, a.port)
        return

    with tempfile.TemporaryDirectory() as tmp:
        # A busy cluster's month (batches of about one day) and a quieter site's half year
        # (several days per batch, so several day files per batch).
        for months in (1, 6):
            shape = batches(a.jobs, a.batch, months)
            scenario(Path(tmp) / f"m{months}", shape, months, a.port, a.baseline, a.rounds)
    cold = cold_import_seconds() * 1000
    print(f"cold import of functions/ingest_api/app.py, no pandas as on Lambda (median of 5): {cold:.0f} ms")


CURVE_BASE = 50_000


def curve_payloads(records: int, size: int) -> list[bytes]:
    """`records` jobs as gzip batches: copies of one busy month of 50,000 jobs, each copy with its
    own job ids, so the client holds only compressed bytes even at a million records."""
    base = [dict(r, site="BENCH") for r in generate_jobs(datetime(2026, 10, 1, tzinfo=UTC), 1, CURVE_BASE)]
    base.sort(key=lambda r: str(r["end_time"]))
    payloads: list[bytes] = []
    for copy in range(-(-records // len(base))):
        chunk = base[: records - copy * len(base)]
        for i in range(0, len(chunk), size):
            lines = (
                orjson.dumps(dict(r, local_job_id=f"{r['local_job_id']}.{copy}")) for r in chunk[i : i + size]
            )
            payloads.append(gzip.compress(b"\n".join(lines) + b"\n", 6))
    return payloads


def curve(sizes: list[int], size: int, port: int) -> None:
    sys.path.insert(0, str(REPO))  # run as a script, bench/ itself is on the path, not the checkout
    from bench.curve import peak_mb, print_curve

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for records in sizes:
            payloads = curve_payloads(records, size)
            home = Path(tmp) / f"curve-{records}"
            tally(home, ["sites", "add", "BENCH"])
            key = tally(home, ["keys", "create", "--site", "BENCH"])
            proc = serve(home, port)
            try:
                seconds = post_payloads(port, key, payloads, "gzip", 1)
                peak = peak_mb(proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            rows.append((records, seconds, peak))
            shutil.rmtree(home)
    print_curve(
        "ingest over HTTP, gzip, one client, a fresh server per size (peak = server RSS)", "records", rows
    )


#: The warm-up batch: jobs of another year, so none of them is one of the measured ones.
WARM_UP = batches(1_000, 1_000, 1, start=datetime(2025, 1, 1, tzinfo=UTC))


def scenario(
    tmp: Path, bodies: list[bytes], months: int, port: int, baseline: Path | None = None, rounds: int = 3
) -> None:
    n = sum(b.count(b"\n") for b in bodies)
    size = sum(len(b) for b in bodies)
    print(f"\n{n} jobs over {months} month(s) in {len(bodies)} batches, {size / 1e6:.1f} MB of NDJSON")
    runs: list[tuple[str | None, int, Path | None]] = [(None, 1, None), ("gzip", 1, None), ("gzip", 2, None)]
    if baseline is not None:
        runs.append(("gzip", 1, baseline))
    # Every round measures the floor and then each server once, so each ratio compares figures
    # taken minutes apart at most; the median over rounds damps a shared machine's bursts.
    floors: list[tuple[float, float]] = []
    results: dict[str, list[tuple[float, float, float]]] = {}
    stored: list[int] = []
    for round_ in range(rounds):
        here = tmp / f"round-{round_}"
        floor_dir = here / "floor"
        floor_dir.mkdir(parents=True)
        floor_cpu = time.process_time()
        floor_rate = n / raw_floor(bodies, floor_dir)
        floors.append((floor_rate, time.process_time() - floor_cpu))
        for encoding, clients, source in runs:
            label = f"{encoding or 'ndjson'} x{clients}" + (" baseline" if source else "")
            home = here / f"home-{encoding or 'plain'}-{clients}{'-baseline' if source else ''}"
            tally(home, ["sites", "add", "BENCH"])
            key = tally(home, ["keys", "create", "--site", "BENCH"])
            proc = serve(home, port, source)
            try:
                # One small batch of other jobs first: the server's one-off work on its first
                # batch (importing the ingest path, and pandas, which pyarrow loads on its first
                # conversion from Python values where pandas is installed, as here, not on Lambda)
                # is not per-record cost, and the floor runs in this process, already warm.
                post_all(port, key, WARM_UP, encoding, 1)
                idle = cpu_seconds(proc.pid)
                seconds = post_all(port, key, bodies, encoding, clients)
                cpu = cpu_seconds(proc.pid) - idle
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            results.setdefault(label, []).append((n / seconds, n / seconds / floor_rate, cpu))
            if source is None and not stored:
                # The measured jobs' files only (the warm-up's are in another year's partitions).
                stored = list(parquet_bytes(home / "warehouse" / "jobs", skip="2025"))
        shutil.rmtree(here)
    median = statistics.median
    floor_cpu = median(cpu for _, cpu in floors)
    print(
        f"raw floor (read_json + write_table, one file a batch):   {median(r for r, _ in floors):>9,.0f}"
        f" records/s  CPU {floor_cpu:5.2f} s  (median of {rounds} rounds)"
    )
    for name, figures in results.items():
        ratios = [ratio for _, ratio, _ in figures]
        cpu = median(c for _, _, c in figures)
        print(
            f"ingest over HTTP, {name:<18} {median(r for r, _, _ in figures):>11,.0f} records/s"
            f"  ratio {median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})"
            f"  server CPU {cpu:5.2f} s (floor CPU / server CPU {floor_cpu / cpu:.2f})"
        )
    print(f"day files written: {len(stored)} for {len(bodies)} batches; {sum(stored) / n:.1f} bytes per job")


if __name__ == "__main__":
    main()
