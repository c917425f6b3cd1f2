"""The Slurm parser's NDJSON lines, written out by hand, against `json.dumps` of the records it
gives as dicts: byte for byte, on the shared real sacct lines and on lines made to be hostile to a
hand-written encoder (quotes, backslashes, control characters, non-ASCII, odd identities)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tally_agent.context import ParseContext
from tally_agent.sources import slurm
from tally_agent.timeutil import site_zone
from tests.agent.parsing import make_ctx

SHARED_SLURM = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "batch" / "apel_slurm.log"
APEL_FIELDS = (
    "JobID,JobName,User,Group,Start,End,Elapsed,CPUTimeRAW,"
    "Partition,NCPUS,NNodes,NodeList,MaxRSS,MaxVMSize,State"
)
HEADER = (
    "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|"
    "NodeList|MaxRSS|ReqMem|AllocTRES|ConsumedEnergyRaw|State|ExitCode"
)
HOSTILE_TEXTS = [
    'q"uote',
    "back\\slash\\",
    "tab\there",
    "ctl\x01\x1f\x7f",
    "na\u00efve \u65e5\u672c \U0001f600",
    "line\u2028sep\u2029",
    '\\"',
    "\x00",
    "{},:[]",
]


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True) + "\n"


def _both(lines: list[str], make: Any, fields: str | None = None) -> tuple[list[str], list[str]]:
    """(json.dumps of each dict record, each hand-written line), each from a fresh context."""
    records = list(slurm.SlurmParser(make(), fields).parse(iter(lines)))
    texts = list(slurm.SlurmParser(make(), fields).parse_ndjson(iter(lines)))
    return [_dumps(r) for r in records], texts


def _line(n: int, text: str, **values: str) -> str:
    row = {
        "JobID": str(1000 + n),
        "JobName": text,
        "User": text,
        "Group": text,
        "Account": text,
        "Partition": text,
        "QOS": text,
        "Submit": "2024-03-01T09:00:00",
        "Start": "2024-03-01T10:00:00",
        "End": "2024-03-01T11:00:00",
        "Elapsed": "01:00:00",
        "TotalCPU": "00:30:00",
        "NCPUS": "4",
        "NNodes": "1",
        "NodeList": text,
        "MaxRSS": "2048K",
        "ReqMem": "4000Mc",
        "AllocTRES": f"cpu=4,gres/gpu:{text}=2,gres/gpu=2",
        "ConsumedEnergyRaw": "5000",
        "State": "COMPLETED",
        "ExitCode": "1:0",
    }
    row.update(values)
    return "|".join(row.values())


@pytest.mark.skipif(not SHARED_SLURM.exists(), reason="shared samples not present")
def test_real_lines_are_json_dumps_text() -> None:
    lines = SHARED_SLURM.read_text(encoding="utf-8").splitlines(keepends=True)
    want, got = _both(lines, make_ctx, APEL_FIELDS)
    assert len(want) == 8  # every real line is an ended job
    assert got == want


def test_hostile_texts_are_json_dumps_text() -> None:
    lines = [HEADER] + [_line(n, text) for n, text in enumerate(HOSTILE_TEXTS)]
    want, got = _both(lines, make_ctx)
    assert len(want) == len(HOSTILE_TEXTS)
    assert got == want
    # the dicts hold the texts themselves (not something the two encoders would agree on anyway)
    record = json.loads(got[0])
    assert (record["job_name"], record["gpu_model"], record["project"]) == ('q"uote', 'q"uote', 'q"uote')


def test_every_optional_field_and_its_absence() -> None:
    """Arrays, CANCELLED by, a time with a tab in it (int() reads it: kept as a submit time), no
    energy, no exit code, an orphan step, no NodeList, a submit after the start (dropped)."""
    lines = [
        HEADER,
        _line(0, "a", JobID="77_3", State="CANCELLED by 5012", ConsumedEnergyRaw="", ExitCode=""),
        _line(1, "b", JobID="78_x", NodeList="None assigned", ReqMem="", AllocTRES=""),
        _line(2, "c", Submit="2024-03-01T\t9:59:59", State="TIMEOUT"),
        _line(3, "d", JobID="79.batch", JobName="batch", User="", Group="", QOS="", MaxRSS=""),
        _line(4, "e", JobID="80", State="CANCELLED", Account="", Submit="2024-03-01T10:30:00"),
    ]
    want, got = _both(lines, make_ctx)
    assert got == want
    records = [json.loads(text) for text in got]
    assert [r["local_job_id"] for r in records] == ["77_3", "78_x", "1002", "79", "80"]
    first = records[0]
    assert (first["array_job_id"], first["array_index"], first["cancelled_by"]) == ("77", 3, "5012")
    assert "array_index" not in records[1] and records[1]["array_job_id"] == "78"
    assert "node_list" not in records[1] and "gpu_model" not in records[1]
    assert records[2]["submit_time"] == "2024-03-01T\t9:59:59Z"
    assert '"submit_time":"2024-03-01T\\t9:59:59Z"' in got[2]
    assert "job_name" not in records[3] and "local_user" not in records[3]
    assert "cancelled_by" not in records[4] and "project" not in records[4]
    assert "submit_time" not in records[4]


@pytest.mark.parametrize(
    "identity",
    [
        {"site": 'S\u00e9te "x"', "resource": "r\\1"},
        {"site": "s", "resource": "r", "benchmark_type": "HEPscore23", "benchmark_per_core": 12.5},
        {"site": "s", "resource": "r", "benchmark_type": "HS06", "benchmark_per_core": 1e-7},
        {"site": "s", "resource": "", "batch_system": "slurm-\u00fc"},
    ],
)
def test_identity_is_json_dumps_text(identity: dict[str, Any]) -> None:
    def make() -> ParseContext:
        return ParseContext(zone=site_zone("Europe/Berlin"), **identity)

    lines = [HEADER] + [_line(n, text) for n, text in enumerate(HOSTILE_TEXTS[:3])]
    want, got = _both(lines, make)
    assert len(got) == 3
    assert got == want
