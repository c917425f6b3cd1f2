"""The shortcuts of the fast Slurm path: same text as `json.dumps`, bounded caches, and values
that warn or fail doing so every time (nothing unreadable is remembered as read)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tally_agent import output
from tally_agent.sources import slurm
from tests.agent.parsing import make_ctx, parse_all

HEADER = "JobID|State|Start|End|Elapsed|NCPUS|TotalCPU|ReqMem|MaxRSS"
AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.mark.parametrize(
    "record",
    [
        {"b": 1, "a": "x", "c": None},
        {"job_name": 'q"uo\\te\n\t\x01\x1f\x7f', "u": "na\u00efve \u65e5\u672c", "z": "\ud83d\ude00"},
        {"benchmark_per_core": 12.5, "f": 1e-7, "g": 10.0, "n": -3, "big": 2**70, "t": True, "e": ""},
    ],
)
def test_ndjson_line_is_json_dumps_text(record: dict[str, Any]) -> None:
    want = json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True) + "\n"
    assert output.ndjson_line(record) == want


def test_a_bad_time_fails_on_every_line() -> None:
    lines = [HEADER] + [
        f"{n}|COMPLETED|2024-13-01T10:00:00|2024-03-01T11:00:00|01:00:00|4|00:10:00||" for n in (1, 2)
    ]
    ctx = make_ctx()
    assert parse_all(slurm.parse, lines, ctx) == []
    assert ctx.stats.errors == 2
    assert [message for _, _, message in ctx.stats.problems] == ["bad time '2024-13-01T10:00:00'"] * 2


def test_warned_values_are_warned_on_every_line() -> None:
    lines = [HEADER] + [
        f"{n}|COMPLETED|2024-03-01T10:00:00|2024-03-01T11:00:00|01:00:00|4|00:10:00|16?|20H"
        for n in (1, 2, 3)
    ]
    ctx = make_ctx()
    records = parse_all(slurm.parse, lines, ctx)
    assert [r["local_job_id"] for r in records] == ["1", "2", "3"]
    assert all("memory_requested_bytes" not in r and "memory_max_bytes" not in r for r in records)
    assert ctx.stats.warnings == 6  # ReqMem and MaxRSS, each on each of the three lines


def test_bad_durations_fail_on_every_line() -> None:
    lines = [HEADER] + [
        f"{n}|COMPLETED|2024-03-01T10:00:00|2024-03-01T11:00:00|01:00:00|4|-00:10:00||" for n in (1, 2)
    ]
    ctx = make_ctx()
    assert parse_all(slurm.parse, lines, ctx) == []
    assert ctx.stats.errors == 2


def test_value_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slurm, "_CACHE_MAX", 8)
    parser = slurm.SlurmParser(make_ctx())
    lines = [HEADER] + [
        f"{n}|COMPLETED|2024-03-01T10:00:00|2024-03-01T10:{n % 60:02d}:{n // 60:02d}"
        f"|00:{n % 60:02d}:{n // 60:02d}|{n}|00:00:{n % 60:02d}|{n}M|{n}K"
        for n in range(1, 200)
    ]
    records = list(parser.parse(iter(lines)))
    assert len(records) == 199
    for n, record in enumerate(records, 1):  # right after each time a cache was emptied, too
        assert record["wall_seconds"] == n % 60 * 60 + n // 60
        assert record["cpu_seconds"] == n % 60
        assert record["cores"] == n
        assert record["memory_max_bytes"] == n * 1024
        assert record["memory_requested_bytes"] == n * 1024**2
    caches = (parser._durations, parser._sizes, parser._ints, parser._memory, parser._epochs, parser._times)
    assert all(0 < len(cache) <= 8 for cache in caches)


def test_parse_does_not_load_the_https_client() -> None:
    code = (
        "import sys; from tally_agent import cli; code = cli.main(['parse', 'slurm', '/dev/null']); "
        "print(code, 'tally_agent.transport' in sys.modules, 'tally_agent.runner' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(AGENTS)},
        check=True,
    )
    assert done.stdout.split() == ["0", "False", "False"]
