"""The agent says what it did: the one-line summary of `import` and `run` against the real server
(a batch stored before is reported as replayed, not as accepted again), the hint and count for
Slurm dumps whose field order does not match, and `vm --print` with identity given by `-o` for
every provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.api.app import create_app
from tests.agent.fake_metadata import AWS_DOC, fake_metadata
from tests.agent.vm_proc import write_proc
from tests.support.deployments import local_settings
from tests.support.paths import AGENTS
from tests.support.servers import running_app

AGENT = [sys.executable, "-m", "tally_agent"]
ENV = {**os.environ, "PYTHONPATH": str(AGENTS)}
HEADER = "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|State"
DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port: every metadata probe fails fast


def agent(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENT, *args], env=ENV, capture_output=True, text=True, timeout=timeout)


def sacct_line(n: int) -> str:
    return (
        f"{n}|job{n}|alice|users|proj|batch|normal|2026-03-01T10:00:00|2026-03-01T10:00:00|"
        f"2026-03-01T11:{n:02d}:00|01:{n:02d}:00|00:30:00|2|1|COMPLETED"
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real app under uvicorn on loopback (plain HTTP, which the agent accepts for loopback)."""
    app = create_app(local_settings(tmp_path / "home"))
    app.state.services.add_site("TEST-SITE")
    key = app.state.services.create_key("TEST-SITE").plain
    with running_app(app) as url:
        yield url, key


def common(tmp_path: Path, url: str, key: str) -> list[str]:
    return [
        "--server",
        url,
        "--api-key",
        key,
        "--site",
        "TEST-SITE",
        "--resource",
        "cluster1",
        "--spool-dir",
        str(tmp_path / "spool"),
        "--retry-base-seconds",
        "0",
    ]


def test_import_summary_and_a_replayed_batch(tmp_path: Path, server: tuple[str, str]) -> None:
    url, key = server
    dump = tmp_path / "sacct.txt"
    # Five jobs, one of them twice (a duplicate within the batch), one ending in 2099 (the server
    # rejects it: too far in the future) and a line the agent cannot read (three fields).
    lines = [HEADER, *(sacct_line(n) for n in range(1, 6)), sacct_line(3)]
    lines.append(
        "8|late|alice|users|proj|batch|normal|2099-03-01T10:00:00|2099-03-01T10:00:00|"
        "2099-03-01T11:00:00|01:00:00|00:30:00|2|1|COMPLETED"
    )
    lines.append("9|short|line")
    dump.write_text("\n".join(lines) + "\n")
    first = agent("import", "slurm", *common(tmp_path, url, key), str(dump))
    assert first.returncode == 0, first.stderr
    assert "plain HTTP (loopback only)" in first.stderr
    assert first.stdout.splitlines() == [
        "tally-agent import: sent 7 records in 1 batches: 5 accepted, 1 duplicates, 0 replayed "
        "(0 batches stored before), 1 rejected; 0 batches left in the spool; "
        "1 unreadable lines (1 with a wrong number of fields)"
    ]
    assert "pass --fields" in first.stderr
    records = 7
    # The same file again is the same batch: the server stored it before and says so.
    again = agent("import", "slurm", *common(tmp_path, url, key), str(dump), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["replayed_batches"] == 1 and report["replayed_records"] == records
    assert report["accepted"] == 0 and report["duplicates"] == 0 and report["sent_records"] == records
    text = agent("import", "slurm", *common(tmp_path, url, key), str(dump)).stdout.strip()
    assert f"0 accepted, 0 duplicates, {records} replayed (1 batches stored before)" in text


def test_run_summary_when_the_server_is_down_then_up(tmp_path: Path, server: tuple[str, str]) -> None:
    url, key = server
    dump = tmp_path / "sacct.txt"
    dump.write_text("\n".join([HEADER, *(sacct_line(n) for n in range(1, 4))]) + "\n")
    fake = tmp_path / "sacct.py"
    fake.write_text(f"import sys\nsys.stdout.write(open({str(dump)!r}).read())\n")
    options = [*common(tmp_path, url, key), "--first-run-days", "100000", "--attempts", "1"]
    options += ["-o", f"slurm.sacct={sys.executable} {fake}", "--gpu", "no"]
    down = agent("run", *options, "--server", DEAD, "--retry-delay", "0")
    assert down.returncode == 75
    assert down.stdout.strip() == (
        "tally-agent run: sent 0 records in 0 batches: 0 accepted, 0 duplicates, 0 replayed "
        "(0 batches stored before), 0 rejected; 1 batches left in the spool"
    )
    up = agent("run", *options)
    assert up.returncode == 0, up.stderr
    # The spooled batch goes first (3 accepted); then the run reads the overlap again, which is
    # the very same batch: the server had it, and the summary says replayed, not accepted twice.
    assert up.stdout.splitlines() == [
        "tally-agent run: sent 6 records in 2 batches: 3 accepted, 0 duplicates, 3 replayed "
        "(1 batches stored before), 0 rejected; 0 batches left in the spool"
    ]


def test_parse_slurm_with_the_wrong_field_count_says_pass_fields(tmp_path: Path) -> None:
    dump = tmp_path / "dump.txt"
    # A dump made with a shorter --format and no header: the agent's own 21-field order cannot fit.
    dump.write_text(
        "\n".join(f"{n}|job{n}|alice|2026-03-01T10:00:00|2026-03-01T11:00:00|COMPLETED" for n in range(1, 5))
        + "\n"
    )
    done = agent("parse", "slurm", str(dump))
    # No line fits, so nothing is recognised (exit 4, naming the format) and the hint says why.
    assert done.returncode == 4 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    summary = "tally-agent parse slurm: lines=4 records=0 skipped=0 errors=4 warnings=0 wrong_field_count=4"
    assert summary in lines
    hints = [line for line in lines if "pass --fields" in line]
    assert len(hints) == 1 and "the 21 of the agent's sacct format" in hints[0]
    assert "--format=JobID,JobName,User," in hints[0]
    # With the right --fields the same dump parses, and nothing is counted.
    fields = "JobID,JobName,User,Start,End,State"
    ok = agent("parse", "slurm", "--fields", fields, str(dump))
    assert "records=4 skipped=0 errors=0" in ok.stderr and "wrong_field_count=0" in ok.stderr
    assert "pass --fields" not in ok.stderr and len(ok.stdout.splitlines()) == 4
    # A header that does not match the lines names itself as the origin.
    dump.write_text("JobID|JobName|User|State\n1|a|b|COMPLETED\n2|a|COMPLETED\n")
    mixed = agent("parse", "slurm", str(dump))
    assert "wrong_field_count=1" in mixed.stderr and "the 4 of the header line" in mixed.stderr


def fresh_proc(root: Path) -> int:
    """A VM booted 600 s ago: its first sample is the interval [boot, now]. Returns the boot time."""
    boot = int(time.time()) - 600
    write_proc(
        root,
        ticks={"user": 30_000, "system": 10_000, "idle": 50_000, "iowait": 700, "steal": 300},
        btime=boot,
        uptime=600.0,
        net={"lo": (999, 999), "eth0": (12_345, 6_789)},
    )
    return boot


def vm_print(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    dead = [f"-o vm.{p}_url={DEAD}" for p in ("aws", "azure", "gcp", "openstack")]
    args = ["vm", "--print", "--site", "CLOUD", "--resource", "vms", "--spool-dir", str(tmp_path / "s")]
    args += [a for item in dead for a in item.split(" ", 1)]
    args += ["-o", f"vm.proc={tmp_path / 'proc'}", "-o", "vm.clock_ticks=100"]
    args += ["-o", f"vm.config_drive={tmp_path / 'no-drive'}", "-o", "vm.metadata_timeout=1"]
    return agent(*args, *options)


@pytest.mark.parametrize("provider", ["aws", "azure", "gcp", "openstack", "opennebula"])
def test_vm_print_honours_identity_options_for_every_provider(tmp_path: Path, provider: str) -> None:
    boot = fresh_proc(tmp_path / "proc")
    done = vm_print(
        tmp_path,
        *("-o", f"vm.provider={provider}", "-o", "vm.account=acct-7", "-o", "vm.instance_id=inst-9"),
        *("-o", "vm.region=north-1", "-o", "vm.project=climate"),
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["provider"] == provider and record["account"] == "acct-7"
    assert record["instance_id"] == "inst-9" and record["region"] == "north-1"
    assert record["project"] == "climate"
    assert record["cpu_busy_seconds"] == 400.0 and record["cpu_idle_seconds"] == 500.0
    assert record["net_rx_bytes"] == 12_345 and record["net_tx_bytes"] == 6_789
    assert record["interval_start"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(boot))
    # --print changed nothing: no state file, nothing spooled.
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").rglob("*"))
    if provider != "opennebula":
        assert "no metadata service answered" in done.stderr


def test_vm_print_options_override_what_the_metadata_service_says(tmp_path: Path) -> None:
    fresh_proc(tmp_path / "proc")
    with fake_metadata("aws") as (url, _):
        done = vm_print(
            tmp_path, "-o", "vm.provider=aws", "-o", f"vm.aws_url={url}", "-o", "vm.account=override-1"
        )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["account"] == "override-1"
    assert record["instance_id"] == AWS_DOC["instanceId"] and record["region"] == AWS_DOC["region"]


def test_vm_print_says_when_a_run_would_send_nothing(tmp_path: Path) -> None:
    write_proc(tmp_path / "proc", ticks={"user": 1}, btime=int(time.time()) - 86_400, uptime=86_400.0, net={})
    done = vm_print(tmp_path, "-o", "vm.provider=opennebula", "-o", "vm.account=a", "-o", "vm.instance_id=i")
    assert done.returncode == 0 and done.stdout == ""
    assert "a run now would send no record (first sample: baseline recorded)" in done.stderr
