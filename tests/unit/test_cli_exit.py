"""The console script leaves without the interpreter's teardown (tally.cli.main._leave): what a
command printed must still all arrive, and its exit status must stay what it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tally.cli.main import _exit_code

TALLY = str(Path(sys.executable).parent / "tally")


def _tally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home)}
    return subprocess.run([TALLY, *args], env=env, capture_output=True, text=True, timeout=300)


def test_a_long_output_arrives_whole_through_a_pipe(tmp_path: Path) -> None:
    done = _tally(tmp_path, "query", "SELECT x FROM UNNEST(SEQUENCE(1, 200000)) AS t(x)", "--format", "csv")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "x" and len(lines) == 200_001
    assert lines[-1] == "200000"  # the last buffered block was flushed before leaving


def test_exit_statuses_are_kept(tmp_path: Path) -> None:
    assert _tally(tmp_path, "sites", "add", "SITE-A").returncode == 0
    again = _tally(tmp_path, "sites", "add", "SITE-A")
    assert again.returncode == 1 and "exists already" in again.stderr and "Traceback" not in again.stderr
    assert _tally(tmp_path, "no-such-command").returncode == 2  # a usage error, as click sets it


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), ("a message", 1)])
def test_an_exit_code_is_read_as_the_interpreter_reads_it(
    code: object, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(code) == status
    assert capsys.readouterr().err == ("a message\n" if isinstance(code, str) else "")
