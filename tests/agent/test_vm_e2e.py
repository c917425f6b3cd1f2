"""`tally-agent vm` end to end over HTTPS against the real local server, with the instance identity
from a fake AWS metadata service: records delivered, spooled while the server is down, delivered
when it is back, and found in the warehouse exactly once, tiling time without gaps or overlaps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.certs import make_certificates
from tests.agent.fake_metadata import AWS_DOC, fake_metadata
from tests.agent.https_server import BIN, HAVE_SERVER, Server
from tests.support.paths import AGENTS
from tests.support.servers import free_port

pytestmark = [
    pytest.mark.functional,
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_SERVER, reason="tally.api.app cannot be imported"),
]


def warehouse_vms(home: Path) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, object]] = []
    for file in sorted((home / "warehouse" / "vms").rglob("*.parquet")):
        rows += pq.read_table(file).to_pylist()
    return rows


def test_vm_records_reach_the_warehouse_once_across_an_outage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "TALLY_HOME": str(home)}
    subprocess.run(
        [str(BIN / "tally"), "sites", "add", "CLOUD-SITE"], env=env, check=True, capture_output=True
    )
    created = subprocess.run(
        [str(BIN / "tally"), "keys", "create", "--site", "CLOUD-SITE", "--resource", "aws-eu", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key_file = tmp_path / "key"
    key_file.write_text(json.loads(created.stdout)["key"] + "\n")
    certs = make_certificates(tmp_path)
    port = free_port()
    server = Server(home, certs, port)
    spool = tmp_path / "spool"
    with fake_metadata("aws") as (metadata_url, metadata_log):
        config = tmp_path / "vm.ini"
        config.write_text(
            "[tally]\n"
            f"server = https://127.0.0.1:{port}\napi_key_file = {key_file}\n"
            "site = CLOUD-SITE\nresource = aws-eu\n"
            f"ca_bundle = {certs['ca']}\nspool_dir = {spool}\n"
            "benchmark_type = HEPscore23\nbenchmark_per_core = 14.2\n"
            # One attempt, so a run while the server is down spools at once (the connection is
            # refused); the timeout only bounds how long a busy server may take to answer.
            "attempts = 1\nretry_delay = 0\nretry_base_seconds = 0\ntimeout = 120\n"
            "[vm]\nprovider = aws\n"
            f"aws_url = {metadata_url}\nmin_interval_seconds = 1\nsince_boot_max_seconds = {10**9}\n"
            "metadata_timeout = 60\n"  # the fake metadata service answers from this busy process
            "project = climate\n"
        )
        agent = [sys.executable, "-m", "tally_agent", "vm", "--config", str(config), "--json"]

        def run_agent() -> tuple[int, dict[str, int]]:
            done = subprocess.run(
                agent,
                env={**os.environ, "PYTHONPATH": str(AGENTS)},
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.stdout.strip(), done.stderr[-2000:]
            return done.returncode, json.loads(done.stdout)

        try:
            server.start()
            code, report = run_agent()  # since boot
            assert (code, report["accepted"], report["pending_batches"]) == (0, 1, 0)
            server.stop()
            for _ in range(2):  # server down: each run spools its record and says "try later"
                code, report = run_agent()
                assert code == 75 and report["sent_batches"] == 0 and report["spooled_records"] == 1
            assert len(list((spool / "outbox" / "vms").glob("*.ndjson.gz"))) == 2
            server.start()
            code, report = run_agent()  # delivers the two spooled batches, then its own
            assert (code, report["accepted"], report["pending_batches"]) == (0, 3, 0)
        finally:
            server.stop()
    rows = warehouse_vms(home)
    identities = [(r["provider"], r["account"], r["instance_id"], r["interval_start"]) for r in rows]
    assert len(rows) == 4 and len(set(identities)) == 4
    rows.sort(key=lambda r: r["interval_start"])  # type: ignore[arg-type, return-value]
    assert [r["interval_start"] for r in rows[1:]] == [r["interval_end"] for r in rows[:-1]]
    for row in rows:
        assert (row["provider"], row["account"], row["instance_id"]) == (
            "aws",
            AWS_DOC["accountId"],
            AWS_DOC["instanceId"],
        )
        assert (row["region"], row["instance_type"], row["project"]) == (
            "eu-west-1",
            "c6i.2xlarge",
            "climate",
        )
        assert (row["benchmark_type"], row["benchmark_per_core"]) == ("HEPscore23", 14.2)
        assert row["vcpus"] >= 1 and row["cpu_busy_seconds"] >= 0  # type: ignore[operator]
    assert rows[0]["interval_start"] == rows[0]["boot_time"]
    # Identity was fetched once for this boot, not once per run.
    assert sum(1 for method, _, _ in metadata_log if method == "PUT") == 1
    assert not list((spool / "outbox").rglob("*.ndjson.gz"))
