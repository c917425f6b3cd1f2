"""Slurm pitfalls from the issue, each with values worked out by hand."""

from __future__ import annotations

import pytest

from tally.domain.records import AcceleratorRecord, JobRecord
from tally_agent.sources import gpu, slurm
from tally_agent.units import UnitError, parse_duration, parse_memory
from tests.agent.parsing import make_ctx, parse_all
from tests.agent.sacct_rows import HEADER, row


def run(lines: list[str], zone: str = "UTC") -> tuple[list[dict[str, object]], int]:
    ctx = make_ctx(zone)
    records = parse_all(slurm.parse, [HEADER, *lines], ctx)
    for record in records:
        JobRecord.model_validate(record)  # the server's own contract
    return records, ctx.stats.errors


def test_steps_fold_into_their_job() -> None:
    records, errors = run(
        [
            row("100", cpu="00:00:00", rss=""),
            row("100.batch", name="batch", cpu="00:20:00", rss="2000K"),
            row("100.extern", name="extern", cpu="00:00:01", rss="100K"),
            row("100.0", name="srun", cpu="1-00:00:10", rss="1.5G"),
            row("101", cpu="00:05:00"),
        ]
    )
    assert errors == 0 and [r["local_job_id"] for r in records] == ["100", "101"]
    assert records[0]["cpu_seconds"] == 20 * 60 + 1 + 86400 + 10
    assert records[0]["memory_max_bytes"] == int(1.5 * 1024**3)
    assert records[0]["job_name"] == "job" and records[1]["cpu_seconds"] == 300


@pytest.mark.parametrize(
    ("state", "kept"),
    [
        ("CANCELLED by 5012", True),
        ("OUT_OF_MEMORY", True),
        ("DEADLINE", True),
        ("BOOT_FAIL", True),
        ("TIMEOUT", True),
        ("NODE_FAIL", True),
        ("PREEMPTED", True),
        ("FAILED", True),
        ("PENDING", False),
        ("RUNNING", False),
        ("SUSPENDED", False),
        ("REQUEUED", False),
        ("RESIZING", False),
        ("CONFIGURING", False),
        ("COMPLETING", False),
    ],
)
def test_state_rule(state: str, kept: bool) -> None:
    records, _ = run([row("7", state=state)])
    assert bool(records) is kept
    if kept:
        assert records[0]["state"] == state.split(" ")[0]


def test_unknown_and_none_times() -> None:
    records, errors = run(
        [
            row("1", state="CANCELLED by 0", start="None", end="2024-03-01T11:00:00", elapsed="00:00:00"),
            row("2", start="Unknown", end="Unknown"),
            row("3", end="Unknown"),
        ]
    )
    assert records == []  # 1 and 2 never started (nothing used); 3 ended without an end time: error
    assert errors == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("59", 59),
        ("01:05.753", 66),
        ("12:34", 754),
        ("01:02:03", 3723),
        ("2-01:24:56", 177896),
        ("3-04", 3 * 86400 + 4 * 3600),
        ("1-02:03", 86400 + 7200 + 180),
        ("00:00:00.499", 0),
        ("100:00:00", 360000),
    ],
)
def test_elapsed_and_totalcpu_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", 1024),
        ("16K", 16384),
        ("438.50M", 459800576),
        ("2.22G", int(2.22 * 1024**3)),
        ("1T", 1024**4),
        ("2000kb", 2048000),
        ("4000mb", 4000 * 1024**2),
        ("0", 0),
        ("", None),
    ],
)
def test_memory_suffixes(text: str, size: int | None) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["16?", "20H", "abc", "-5K", "1.2.3M"])
def test_memory_garbage(text: str) -> None:
    with pytest.raises(UnitError):
        parse_memory(text)


def test_garbage_memory_keeps_the_job() -> None:
    records, errors = run([row("5", rss="16?", req="16?")])
    assert errors == 0 and len(records) == 1
    assert "memory_max_bytes" not in records[0] and "memory_requested_bytes" not in records[0]


@pytest.mark.parametrize(
    ("req", "size"),
    [("4000Mc", 4 * 4000 * 1024**2), ("16Gn", 16 * 1024**3), ("32G", 32 * 1024**3), ("2000", 2000 * 1024**2)],
)
def test_reqmem_per_cpu_and_per_node(req: str, size: int) -> None:
    records, _ = run([row("9", req=req, ncpus="4")])
    assert records[0]["memory_requested_bytes"] == size


def test_gpus_and_model_from_alloctres() -> None:
    tres = "billing=8,cpu=8,gres/gpu:a100=2,gres/gpu=2,mem=64G,node=1"
    records, _ = run(
        [row("11", tres=tres), row("12", tres="cpu=4,gres/gpu=1"), row("13", tres="cpu=4,mem=1G")]
    )
    assert (records[0]["gpus"], records[0]["gpu_model"]) == (2, "a100")
    assert (records[1]["gpus"], records[1].get("gpu_model")) == (1, None)
    assert records[2]["gpus"] == 0
    allocation = gpu.from_job(records[0])
    assert allocation is not None
    AcceleratorRecord.model_validate(allocation)
    assert (allocation["associated_id"], allocation["model"], allocation["vendor"], allocation["count"]) == (
        "11",
        "a100",
        "NVIDIA",
        2,
    )
    assert allocation["allocated_seconds"] == 3600


def test_arrays_and_heterogeneous_jobs() -> None:
    records, _ = run(
        [
            row("200_4"),
            row("200_4.batch", cpu="00:01:00"),
            row("200_[5-9]", state="PENDING"),
            row("300+0"),
            row("300+0.0", cpu="00:02:00"),
            row("300+1"),
            row("300+1.0", cpu="00:03:00"),
        ]
    )
    assert [r["local_job_id"] for r in records] == ["200_4", "300+0", "300+1"]
    assert (records[0]["array_job_id"], records[0]["array_index"], records[0]["cpu_seconds"]) == (
        "200",
        4,
        60,
    )
    assert [r["cpu_seconds"] for r in records[1:]] == [120, 180]


def test_pipe_inside_job_name() -> None:
    records, errors = run([row("15", name="a|b|c"), row("15.batch", name="batch", cpu="00:00:07")])
    assert errors == 0 and records[0]["job_name"] == "a|b|c" and records[0]["cpu_seconds"] == 7


def test_local_times_with_the_site_zone() -> None:
    # Europe/Berlin: CET (+1) in winter, CEST (+2) in summer.
    records, _ = run(
        [
            row("20", start="2024-01-15T10:00:00", end="2024-01-15T12:00:00"),
            row("21", start="2024-07-15T10:00:00", end="2024-07-15T12:00:00"),
        ],
        zone="Europe/Berlin",
    )
    assert (records[0]["start_time"], records[0]["end_time"]) == (
        "2024-01-15T09:00:00Z",
        "2024-01-15T11:00:00Z",
    )
    assert (records[1]["start_time"], records[1]["end_time"]) == (
        "2024-07-15T08:00:00Z",
        "2024-07-15T10:00:00Z",
    )


def test_bad_line_is_counted_with_its_number_and_parsing_goes_on() -> None:
    ctx = make_ctx()
    records = parse_all(
        slurm.parse, [HEADER, row("1"), "garbage|line", row("2", elapsed="xx"), row("3")], ctx
    )
    assert [r["local_job_id"] for r in records] == ["1", "3"]
    assert ctx.stats.errors == 2
    assert [p[1] for p in ctx.stats.problems] == [3, 4]


def test_fields_option_for_headerless_dumps() -> None:
    ctx = make_ctx(fields="JobID,State,Start,End,Elapsed,NCPUS,TotalCPU")
    (record,) = parse_all(
        slurm.parse, ["77|COMPLETED|2024-01-01T00:00:00|2024-01-01T00:10:00|00:10:00|2|00:15:00"], ctx
    )
    assert (record["cores"], record["cpu_seconds"], record["wall_seconds"]) == (2, 900, 600)
