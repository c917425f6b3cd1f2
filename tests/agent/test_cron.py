"""`install-cron`: the printed line, that the line really starts the agent, and `--install` into a
crontab file through a fake `crontab` program (TALLY_AGENT_CRONTAB), never the user's crontab."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tally_agent import cli, cron
from tests.support.paths import AGENTS

# A stand-in for crontab(1): `-l` prints the file (exit 1 "no crontab" when absent), `-` replaces it.
FAKE_CRONTAB = """import sys
from pathlib import Path
table = Path(sys.argv[1])
if sys.argv[2] == "-l":
    if not table.exists():
        sys.stderr.write("no crontab for tester\\n")
        sys.exit(1)
    sys.stdout.write(table.read_text())
elif sys.argv[2] == "-":
    table.write_text(sys.stdin.read())
else:
    sys.exit(2)
"""


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake_crontab.py"
    script.write_text(FAKE_CRONTAB)
    table = tmp_path / "crontab.txt"
    monkeypatch.setenv("TALLY_AGENT_CRONTAB", f"{shlex.quote(sys.executable)} {script} {table}")
    return table


def expected_line(config: Path, every: str) -> str:
    command = f"{shlex.quote(sys.executable)} -m tally_agent run --config {config.resolve()}"
    return f"{every} {command} >/dev/null 2>&1 # tally-agent"


def test_prints_the_line(tmp_path: Path, crontab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agent.ini"
    config.write_text("[tally]\n")
    assert cli.main(["install-cron", "--config", str(config), "--every", "10"]) == 0
    assert capsys.readouterr().out == expected_line(config, "*/10 * * * *") + "\n"
    assert not crontab.exists()  # printing installs nothing
    assert cli.main(["install-cron", "--config", str(config), "--every", "1"]) == 0
    assert capsys.readouterr().out == expected_line(config, "* * * * *") + "\n"
    assert cli.main(["install-cron", "--config", str(config), "--every", "61"]) == 1
    assert "1..60" in capsys.readouterr().err


def test_zipapp_and_console_script_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pyz = tmp_path / "tally-agent.pyz"
    monkeypatch.setattr(sys, "argv", [str(pyz)])
    assert cron.agent_command(None) == [sys.executable, str(pyz.resolve()), "run"]
    script = tmp_path / "bin" / "tally-agent"
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert cron.agent_command("x.ini") == [
        str(script.resolve()),
        "run",
        "--config",
        str(Path("x.ini").resolve()),
    ]


def test_the_printed_command_starts_the_agent(tmp_path: Path, crontab: Path) -> None:
    """What cron would run: the agent must accept it (a config error, exit 1, not a usage error)."""
    config = tmp_path / "agent.ini"
    config.write_text("[tally]\nsite = S\nresource = r\n")  # no server: `run` stops with exit 1
    line = cron.cron_line(str(config), 15)
    command = line.split(" >/dev/null")[0].split(" ", 5)[5]
    done = subprocess.run(
        shlex.split(command),
        env={**os.environ, "PYTHONPATH": str(AGENTS)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "missing configuration: server" in done.stderr


def test_install_into_a_crontab_file_keeps_other_lines(
    tmp_path: Path, crontab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.ini"
    config.write_text("[tally]\n")
    # No crontab yet (`crontab -l` exits 1): the line becomes the whole table.
    assert cli.main(["install-cron", "--config", str(config), "--install"]) == 0
    first = expected_line(config, "*/15 * * * *")
    assert crontab.read_text() == first + "\n"
    assert capsys.readouterr().out == first + "\n"
    # The user's own lines stay; an earlier tally-agent line is replaced, not duplicated.
    crontab.write_text("MAILTO=ops@example.org\n0 3 * * * /usr/local/bin/backup\n" + first + "\n")
    assert cli.main(["install-cron", "--config", str(config), "--install", "--every", "5"]) == 0
    assert crontab.read_text().splitlines() == [
        "MAILTO=ops@example.org",
        "0 3 * * * /usr/local/bin/backup",
        expected_line(config, "*/5 * * * *"),
    ]


def test_install_never_touches_the_real_crontab_when_redirected(crontab: Path) -> None:
    line = "*/15 * * * * true # tally-agent"
    text = cron.install(line)
    assert text == line + "\n" == crontab.read_text()


def _failing_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on: str) -> Path:
    """A crontab(1) stand-in whose `on` operation ("-l" or "-") fails with a permission error."""
    script = tmp_path / "broken_crontab.py"
    table = tmp_path / "crontab.txt"
    table.write_text("0 1 * * * backup.sh\n")
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        f"if sys.argv[1] == {on!r}:\n"
        "    sys.stderr.write('crontab: permission denied\\n'); sys.exit(1)\n"
        f"if sys.argv[1] == '-l': sys.stdout.write(Path({str(table)!r}).read_text())\n"
        f"else: Path({str(table)!r}).write_text(sys.stdin.read())\n"
    )
    monkeypatch.setenv("TALLY_AGENT_CRONTAB", f"{shlex.quote(sys.executable)} {script}")
    return table


def test_an_unreadable_crontab_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _failing_crontab(tmp_path, monkeypatch, "-l")
    with pytest.raises(ValueError, match="cannot read the crontab"):
        cron.install("*/10 * * * * tally-agent run # tally-agent")
    assert table.read_text() == "0 1 * * * backup.sh\n"


def test_a_refused_write_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing_crontab(tmp_path, monkeypatch, "-")
    config = tmp_path / "agent.ini"
    config.write_text("[agent]\nserver = https://tally.example.org\nsite = S\nresource = R\n")
    assert cli.main(["install-cron", "--config", str(config), "--install"]) == 1
    assert "crontab refused the new table: crontab: permission denied" in capsys.readouterr().err
