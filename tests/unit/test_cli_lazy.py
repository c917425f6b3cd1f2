"""`tally` imports a command's module only when the command runs; its help lists every command as
the loaded commands would."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from tally.cli.lazy import LazyTyperGroup
from tally.cli.main import COMMANDS, app

ENV = {"COLUMNS": "200"}


def root() -> LazyTyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, LazyTyperGroup)
    return group


def listed_line(command: typer.core.TyperCommand | typer.core.TyperGroup) -> str:
    """The first paragraph of a command's help on one line, as typer's command list shows it."""
    text = inspect.cleandoc(command.short_help or command.help or "")
    return text.split("\n\n")[0].replace("\n", " ")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_kept_line_is_the_command_s_own_help(name: str) -> None:
    group = root()
    command = group.get_command(typer.Context(group), name)
    assert command is not None and command.name == name
    assert COMMANDS[name].help == listed_line(command)  # type: ignore[arg-type]


def test_help_lists_every_command_as_the_loaded_commands_would(capsys: pytest.CaptureFixture[str]) -> None:
    group = root()
    context = typer.Context(group, info_name="tally")
    group.get_help(context)
    lazy = capsys.readouterr().out
    group.load_all()
    group.get_help(context)
    loaded = capsys.readouterr().out
    assert lazy == loaded
    for name in COMMANDS:
        assert f" {name} " in lazy


def test_help_and_a_command_import_only_what_they_run() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tally.cli.main import app\n"
        "for args in (['--help'], ['sites', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "    names = [m for m in sys.modules if m.startswith('tally.cli.') or m in ('fastapi', 'duckdb')]\n"
        "    print(sorted(names))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    after_help, after_sites = (eval(line) for line in done.stdout.splitlines())  # noqa: S307 (our own output)
    assert after_help == ["tally.cli.lazy", "tally.cli.main"]
    assert "tally.cli.sites" in after_sites and "tally.cli.billing" not in after_sites
    assert "duckdb" not in after_sites


def test_a_mistyped_command_is_matched_against_commands_not_yet_imported() -> None:
    result = CliRunner().invoke(app, ["subscriptons"], env=ENV)
    assert result.exit_code == 2
    assert "Did you mean 'subscriptions'?" in result.output


def test_a_lazy_command_runs_as_before(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["sites", "list"], env={**ENV, "TALLY_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
