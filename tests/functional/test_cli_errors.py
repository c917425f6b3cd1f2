"""Every expected failure of `tally registry` and `tally query` is one plain line and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TALLY = str(Path(sys.executable).parent / "tally")
ENTRY = {
    "site": "NORTH-HPC",
    "resource": "hex",
    "benchmark_type": "HS06",
    "benchmark_per_core": 11.5,
    "valid_from": "2026-01-01T00:00:00Z",
}


def tally(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Not a terminal (pipes): nothing may carry colour or cursor codes.
    env = {**os.environ, "TALLY_HOME": str(home), "TERM": "xterm-256color"}
    return subprocess.run([TALLY, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-errors") / "home"
    assert tally(folder, "sites", "add", "NORTH-HPC").returncode == 0
    return folder


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done
    line = done.stderr.strip()
    assert "\n" not in line and "\x1b" not in line and "Traceback" not in line, done.stderr
    assert "pydantic" not in line and "http" not in line
    return line


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {**ENTRY, "benchmark_per_core": "fast"},
            "error: the resources entry is not valid: benchmark_per_core: Input should be a valid number",
        ),
        (
            {k: v for k, v in ENTRY.items() if k != "valid_from"},
            "error: the resources entry is not valid: valid_from: Field required",
        ),
        ({**ENTRY, "site": "NOWHERE"}, "error: site 'NOWHERE' is not known; add it first"),
    ],
)
def test_registry_add_names_what_is_wrong(home: Path, body: dict[str, object], message: str) -> None:
    assert one_line(tally(home, "registry", "add", "resources", json.dumps(body))).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"site": "NORTH-HPC",', "error: the resources entry is not valid JSON: "),
        ("[1, 2]", "error: the resources entry must be a JSON object ({...}), not list"),
    ],
)
def test_registry_add_says_when_the_json_is_not_an_entry(home: Path, text: str, message: str) -> None:
    assert one_line(tally(home, "registry", "add", "resources", text)).startswith(message)


def test_a_good_entry_is_added_and_listed(home: Path) -> None:
    done = tally(home, "registry", "add", "resources", json.dumps(ENTRY))
    assert done.returncode == 0, done.stderr
    listed = json.loads(tally(home, "registry", "list", "resources").stdout)
    assert [(e["site"], e["resource"], e["benchmark_per_core"]) for e in listed] == [
        ("NORTH-HPC", "hex", 11.5)
    ]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELEC 1 FROM",
            "error: not valid Athena SQL: Invalid expression / Unexpected token at line 1, column 7",
        ),
        (
            "SELECT sum(wall_seconds) / 3600 FROM jobs",
            "write 'CAST(SUM(wall_seconds) AS DOUBLE) / 3600'",
        ),
        ("SELECT [1] FROM [jobs", "error: not valid Athena SQL: "),
        ("SELECT nope FROM jobs", 'Binder Error: Referenced column "nope" not found in FROM clause!'),
        ("SELECT CAST('[red]x' AS INTEGER)", "Could not convert string '[red]x'"),
    ],
)
def test_query_errors_are_plain_text_off_a_terminal(home: Path, sql: str, message: str) -> None:
    assert message in one_line(tally(home, "query", sql))


def test_a_decimal_divisor_runs(home: Path) -> None:
    done = tally(home, "query", "SELECT 7200 / 3600.0 AS hours", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"hours": 2.0}]
