"""The `tally` command line as a user runs it: real processes, TALLY_HOME, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli import TALLY, tally
from tests.support.records import job
from tests.support.servers import free_port


def test_sites_and_keys_lifecycle(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", "NORTH-HPC").returncode == 0
    listed = json.loads(tally(home, "sites", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["NORTH-HPC"]

    plain = tally(home, "keys", "create", "--site", "NORTH-HPC").stdout.strip()
    assert plain.startswith("tly_") and "\n" not in plain
    created = json.loads(
        tally(home, "keys", "create", "--site", "NORTH-HPC", "--resource", "hex", "--json").stdout
    )
    assert set(created) == {"id", "key", "site", "resources", "scopes"} and created["resources"] == ["hex"]
    assert created["scopes"] == ["records:write", "reports:read", "registry:write"]
    billing = json.loads(
        tally(home, "keys", "create", "--site", "NORTH-HPC", "--scope", "billing:write", "--json").stdout
    )
    assert (billing["scopes"], billing["resources"]) == (["billing:write"], [])
    legacy = json.loads(
        tally(home, "keys", "create", "--site", "NORTH-HPC", "--resource", "billing", "--json").stdout
    )
    assert (legacy["scopes"], legacy["resources"]) == (["billing:write"], [])

    keys = json.loads(tally(home, "keys", "list", "--json").stdout)
    assert {k["id"] for k in keys} == {plain.split("_")[1], created["id"], billing["id"], legacy["id"]}
    assert {k["id"]: k["scopes"] for k in keys}[billing["id"]] == ["billing:write"]
    assert all(created["key"] not in json.dumps(k) for k in keys)

    assert tally(home, "keys", "revoke", created["id"]).returncode == 0
    revoked = {k["id"]: k["revoked_at"] for k in json.loads(tally(home, "keys", "list", "--json").stdout)}
    assert revoked[created["id"]] is not None and revoked[plain.split("_")[1]] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sites", "add", "bad name!"), "invalid site name"),
        (("keys", "create", "--site", "NOWHERE"), "no site named 'NOWHERE'"),
        (("keys", "revoke", "0123456789abcdef"), "no key with id"),
        (("keys", "create", "--site", "A", "--scope", "records:read"), "unknown scope 'records:read'"),
    ],
)
def test_errors_are_one_clear_line_and_a_non_zero_exit(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = tally(tmp_path / "home", *args)
    assert done.returncode == 1
    assert message in done.stderr and done.stderr.strip().count("\n") == 0
    assert "Traceback" not in done.stderr


def test_adding_a_site_twice_fails_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tally(home, "sites", "add", "A")
    done = tally(home, "sites", "add", "A")
    assert done.returncode == 1 and "exists already" in done.stderr


def test_serve_with_demo_loads_data_once_and_answers(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    env = {**os.environ, "TALLY_HOME": str(home)}
    cmd = [TALLY, "serve", "--demo", "--demo-jobs", "3000", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        keys = json.loads((home / "demo-keys.json").read_text())
        assert sorted(keys) == ["CLOUD-BURST", "LAKESIDE-GRID", "NORTH-HPC", "RIVERSIDE-UNI"]
        headers = {"Authorization": f"Bearer {keys['NORTH-HPC']}"}
        state = httpx.get(f"{base}/v1/sync-state", params={"resource": "hex"}, headers=headers).json()
        assert state["record_count"] > 0 and state["latest_event_time"] is not None
        posted = httpx.post(f"{base}/v1/records/jobs", json=[job(1, site="NORTH-HPC")], headers=headers)
        assert posted.json()["accepted"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    parquet = list((home / "warehouse" / "jobs").rglob("*.parquet"))
    assert parquet, "demo data was not written"

    # A second start finds the demo loaded and does not load it again.
    again = tally(home, "demo")
    assert again.returncode == 1 and "has sites already" in again.stderr
