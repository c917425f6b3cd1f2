"""End to end over HTTPS against the real local server: cron-like runs of `tally-agent run` with the
server stopped between runs, answering 500, and killed while the agent posts. Afterwards the
warehouse holds every job exactly once (after deduplication by identity) and the spool is empty.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest

from tests.agent.certs import make_certificates
from tests.agent.https_server import BIN, HAVE_SERVER, Server
from tests.support.paths import AGENTS
from tests.support.servers import free_port

pytestmark = [
    pytest.mark.functional,
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_SERVER, reason="tally.api.app cannot be imported"),
]
HEADER = (
    "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|NodeList|"
    "MaxRSS|ReqMem|AllocTRES|ConsumedEnergyRaw|State|ExitCode"
)
FAKE_SACCT = """import sys
sys.stdout.write(open(sys.argv[1]).read())
"""


class AgentReport(TypedDict, total=False):
    """`tally_agent run --json` output (the agent's Report.as_dict()); empty when nothing was printed."""

    spooled_batches: int
    spooled_records: int
    sent_batches: int
    accepted: int
    duplicates: int
    rejected: int
    refused_batches: int
    pending_batches: int
    parse_errors: int
    skipped_sending: str
    since: dict[str, str | None]


@contextmanager
def answering_500(certs: dict[str, Path]) -> Iterator[str]:
    """A stdlib HTTPS server on loopback that answers 500 to everything."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _fail(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b'{"type":"about:blank","title":"Internal Server Error","status":500}'
            self.send_response(500)
            self.send_header("Content-Type", "application/problem+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._fail()

        def do_POST(self) -> None:
            self._fail()

        def log_message(self, *args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["cert"], certs["key"])
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def sacct_lines(first: int, count: int, now: datetime) -> list[str]:
    lines = []
    for n in range(first, first + count):
        end = now - timedelta(hours=6) + timedelta(seconds=n)
        start = end - timedelta(minutes=30)
        s, e = start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")
        tres = "cpu=2,gres/gpu:a100=1,gres/gpu=1" if n % 10 == 0 else "cpu=2"
        lines.append(
            f"{n}|job{n}|u{n % 7}|g|p|batch|normal|{s}|{s}|{e}|00:30:00|00:00:00|2|1|n1||2G|{tres}|0|"
            f"COMPLETED|0:0"
        )
        lines.append(f"{n}.batch|batch|||||||{s}|{e}|00:30:00|00:50:00|2|1|n1|1500M||||COMPLETED|0:0")
    return lines


def read_warehouse(home: Path, kind: str) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    rows: list[tuple[str, str]] = []
    for file in sorted((home / "warehouse" / kind).rglob("*.parquet")):
        table = pq.read_table(
            file,
            columns=["local_job_id", "end_time"] if kind == "jobs" else ["associated_id", "interval_start"],
        )
        columns = [table.column(i).to_pylist() for i in range(2)]
        rows += [(str(a), str(b)) for a, b in zip(*columns, strict=True)]
    return rows


def test_cron_runs_survive_outages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "TALLY_HOME": str(home)}
    subprocess.run(
        [str(BIN / "tally"), "sites", "add", "TEST-SITE"], env=env, check=True, capture_output=True
    )
    created = subprocess.run(
        [str(BIN / "tally"), "keys", "create", "--site", "TEST-SITE", "--resource", "cluster1", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)["key"]
    certs = make_certificates(tmp_path)
    port = free_port()
    server = Server(home, certs, port)
    jobs_file = tmp_path / "sacct.txt"
    (tmp_path / "fake_sacct.py").write_text(FAKE_SACCT)
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    config = tmp_path / "agent.ini"
    config.write_text(
        "[tally]\n"
        f"server = https://127.0.0.1:{port}\napi_key_file = {key_file}\n"
        "site = TEST-SITE\nresource = cluster1\n"
        f"ca_bundle = {certs['ca']}\nspool_dir = {tmp_path / 'spool'}\nbatch_system = slurm\n"
        "benchmark_type = HEPscore23\nbenchmark_per_core = 10.5\nattempts = 1\nretry_delay = 0\n"
        "retry_base_seconds = 0\ntimeout = 10\nmax_batch_records = 200\n"
        "[slurm]\n"
        f"sacct = {sys.executable} {tmp_path / 'fake_sacct.py'} {jobs_file}\n"
    )
    agent_env = {**os.environ, "PYTHONPATH": str(AGENTS)}
    agent = [sys.executable, "-m", "tally_agent", "run", "--config", str(config), "--json"]
    now = datetime.now(UTC).replace(microsecond=0)
    lines = [HEADER]
    total = 0

    def add_jobs(count: int) -> None:
        nonlocal total
        lines.extend(sacct_lines(total, count, now))
        total += count
        jobs_file.write_text("\n".join(lines) + "\n")

    def run_agent(*extra: str) -> tuple[int, AgentReport]:
        done = subprocess.run([*agent, *extra], env=agent_env, capture_output=True, text=True, timeout=120)
        report: AgentReport = json.loads(done.stdout) if done.stdout.strip() else {}
        return done.returncode, report

    try:
        # 1. Server up: everything goes through.
        server.start()
        add_jobs(150)
        code, report = run_agent()
        assert code == 0 and report["pending_batches"] == 0 and report["accepted"] == 150 + 15
        # 2. Server stopped between runs: the run spools and says so (75 = try again later).
        server.stop()
        add_jobs(150)
        code, report = run_agent()
        assert code == 75 and report["pending_batches"] >= 1 and report["sent_batches"] == 0
        # 3. A server answering 500: still spooled, nothing dropped.
        add_jobs(150)
        with answering_500(certs) as failing:
            code, report = run_agent("--server", failing)
        assert code == 75 and report["sent_batches"] == 0
        # 4. Killed while the agent posts: many small batches, SIGKILL once the first new ones land.
        server.start()
        add_jobs(3000)
        before = len(list((home / "warehouse").rglob("*.parquet")))
        process = subprocess.Popen(
            [*agent, "--max-batch-records", "50"],
            env=agent_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(list((home / "warehouse").rglob("*.parquet"))) < before + 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.stop(signal.SIGKILL)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 75, err[-2000:]
        assert json.loads(out)["pending_batches"] > 0
        # 5. Server back: the next cron run delivers the spool, then anything new.
        server.start()
        add_jobs(100)
        code, report = run_agent()
        assert code == 0 and report["pending_batches"] == 0
        code, report = run_agent()  # a quiet run re-reads the overlap; the server dedupes it
        assert code == 0
    finally:
        server.stop()

    jobs = read_warehouse(home, "jobs")
    unique = set(jobs)
    assert len(unique) == total
    assert {job_id for job_id, _ in unique} == {str(n) for n in range(total)}
    gpus = set(read_warehouse(home, "accelerators"))
    assert {job_id for job_id, _ in gpus} == {str(n) for n in range(0, total, 10)}
    assert not list((tmp_path / "spool" / "outbox").rglob("*.ndjson.gz"))
