"""The zipapp is built and runs under a plain interpreter with no site-packages (`-I -S`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.interpreters import python39
from tests.support.paths import AGENTS, REPO


def _build(tmp_path: Path) -> Path:
    output = tmp_path / "tally-agent.pyz"
    subprocess.run([sys.executable, str(AGENTS / "build_zipapp.py"), "--output", str(output)], check=True)
    return output


def _sample(tmp_path: Path) -> Path:
    log = tmp_path / "sacct.txt"
    log.write_text(
        "JobID|State|Start|End|Elapsed|NCPUS|TotalCPU\n"
        "5|COMPLETED|2024-01-01T00:00:00|2024-01-01T01:00:00|01:00:00|4|02:00:00\n"
        "5.batch|COMPLETED|2024-01-01T00:00:00|2024-01-01T01:00:00|01:00:00|4|02:00:00\n"
    )
    return log


@pytest.mark.parametrize("python", [sys.executable, python39()], ids=["current", "python3.9"])
def test_zipapp_runs_isolated(tmp_path: Path, python: str) -> None:
    if not python:
        pytest.skip("no python3.9 on this machine")
    if python != sys.executable:
        probe = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            pytest.skip("python3.9 shim present but not runnable")
    app = _build(tmp_path)
    done = subprocess.run(
        [
            python,
            "-I",
            "-S",
            str(app),
            "parse",
            "slurm",
            "--site",
            "S",
            "--resource",
            "R",
            str(_sample(tmp_path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert (record["local_job_id"], record["cpu_seconds"], record["cores"]) == ("5", 7200, 4)
    assert record["end_time"] == "2024-01-01T01:00:00Z"
    assert REPO.exists()
