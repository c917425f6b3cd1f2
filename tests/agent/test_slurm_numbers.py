"""Slurm numbers that real dumps got wrong: ReqMem flags, Elapsed vs End - Start, states, array
placeholders and zero-CPU jobs. Every expected value is worked out here by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from tally.domain.records import JobRecord
from tally_agent.context import ParseContext
from tally_agent.sources import slurm
from tests.agent.parsing import make_ctx, parse_all

MIB = 1024**2
HEADER = "JobID|State|Submit|Start|End|Elapsed|Suspended|NCPUS|NNodes|TotalCPU|ReqMem|ReqTRES|ExitCode"


def row(
    job: str,
    state: str = "COMPLETED",
    start: str = "2024-03-01T10:00:00",
    end: str = "2024-03-01T11:00:00",
    elapsed: str = "01:00:00",
    suspended: str = "00:00:00",
    ncpus: str = "4",
    nnodes: str = "1",
    req: str = "",
    tres: str = "",
) -> str:
    return (
        f"{job}|{state}|2024-03-01T09:00:00|{start}|{end}|{elapsed}|{suspended}|{ncpus}|{nnodes}|"
        f"00:10:00|{req}|{tres}|0:0"
    )


def run(lines: list[str], header: str = HEADER) -> tuple[list[dict[str, object]], ParseContext]:
    ctx = make_ctx()
    records = parse_all(slurm.parse, [header, *lines], ctx)
    for record in records:
        JobRecord.model_validate(record)  # the server's own contract
    return records, ctx


def seconds(start: str, end: str) -> int:
    return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


# -- 1. ReqMem ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("req", "ncpus", "nnodes", "size"),
    [
        # The per-CPU flag (bit 31) folded into the number: (2^31 + 3000) MiB = 3000 MiB per CPU.
        (f"{2**31 + 3000}Mn", "4", "1", 4 * 3000 * MIB),
        (f"{2**31 + 3000}Mc", "8", "2", 8 * 3000 * MIB),
        (f"{2**31 + 3000}M", "2", "1", 2 * 3000 * MIB),
        (f"{2**31 + 2}Gn", "4", "1", 4 * 2 * 1024 * MIB),
        (f"{2**31 + 1}T", "2", "1", 2 * 1024**4),
        (f"{2**63 + 500}Mn", "4", "1", 4 * 500 * MIB),  # 64-bit flag
        ("3000Mc", "4", "2", 4 * 3000 * MIB),
        ("3000Mn", "4", "2", 2 * 3000 * MIB),
        ("16Gn", "4", "3", 3 * 16 * 1024 * MIB),
        ("2Tn", "4", "1", 2 * 1024**4),
        ("512Kc", "2", "1", 2 * 512 * 1024),
        ("64G", "4", "2", 64 * 1024 * MIB),
    ],
)
def test_reqmem_flag_and_suffixes(req: str, ncpus: str, nnodes: str, size: int) -> None:
    records, ctx = run([row("1", req=req, ncpus=ncpus, nnodes=nnodes)])
    assert records[0]["memory_requested_bytes"] == size
    assert ctx.stats.warnings == 0


@pytest.mark.parametrize("req", ["0", "0n", "0c", f"{2**31}Mn"])
def test_reqmem_zero_is_the_whole_node_and_has_no_size(req: str) -> None:
    records, _ = run([row("2", req=req)])
    assert "memory_requested_bytes" not in records[0]


def test_reqtres_wins_when_it_disagrees_and_the_disagreement_is_counted() -> None:
    records, ctx = run(
        [
            # Agree: 3000 MiB per CPU x 4 CPUs = 12000 MiB.
            row("10", req=f"{2**31 + 3000}Mn", tres="billing=4,cpu=4,mem=12000M,node=1"),
            # Disagree: ReqMem says 4 x 1000 MiB, ReqTRES 16 GiB.
            row("11", req="1000Mc", tres="billing=4,cpu=4,mem=16G,node=1"),
            # ReqMem 0 (whole node): ReqTRES gives the size, no disagreement.
            row("12", req="0", tres="cpu=4,mem=192000M,node=1"),
            # ReqTRES without mem=: ReqMem stands.
            row("13", req="2Gn", tres="cpu=4,node=1"),
        ]
    )
    sizes = [r.get("memory_requested_bytes") for r in records]
    assert sizes == [12000 * MIB, 16 * 1024 * MIB, 192000 * MIB, 2 * 1024 * MIB]
    assert ctx.stats.summary()["reqmem_disagrees"] == 1


def test_live_sacct_asks_for_reqtres_and_suspended() -> None:
    names = slurm.parse_fields(slurm.LIVE_FIELDS)
    assert {"REQTRES", "SUSPENDED"} <= set(names)
    assert slurm.parse_fields(slurm.SACCT_FIELDS) == names[: len(slurm.parse_fields(slurm.SACCT_FIELDS))]


# -- 2. Elapsed and states -------------------------------------------------------------------------
def test_elapsed_longer_than_end_minus_start_is_corrected_and_warned() -> None:
    records, ctx = run(
        [
            # Equal start and end, 22:30:00 (81,000 s) elapsed: impossible.
            row("20", start="2024-03-01T10:00:00", end="2024-03-01T10:00:00", elapsed="22:30:00"),
            row("21", start="2024-03-01T10:00:00", end="2024-03-01T10:20:00", elapsed="1-00:00:00"),
            row("22", elapsed="01:00:01"),  # within a second: kept as is
        ]
    )
    walls = [r["wall_seconds"] for r in records]
    assert walls == [0, seconds("2024-03-01T10:00:00", "2024-03-01T10:20:00"), 3601]
    assert ctx.stats.counts["elapsed_mismatches"] == 2 and ctx.stats.warnings == 2


def test_shorter_elapsed_is_suspension() -> None:
    records, ctx = run(
        [
            # Suspended 10 minutes: Elapsed 50 min + 10 min = End - Start: consistent.
            row("30", elapsed="00:50:00", suspended="00:10:00"),
            # Suspended 10 minutes but Elapsed 20 min: End - Start - Suspended (50 min) is used.
            row("31", elapsed="00:20:00", suspended="00:10:00"),
        ]
    )
    assert [r["wall_seconds"] for r in records] == [3000, 3600 - 600]
    assert ctx.stats.counts["elapsed_mismatches"] == 1
    # Without a Suspended column a shorter Elapsed is kept (Slurm leaves suspended time out) but
    # warned about.
    header = "JobID|State|Start|End|Elapsed|NCPUS"
    ctx = make_ctx()
    (record,) = parse_all(
        slurm.parse, [header, "32|COMPLETED|2024-03-01T10:00:00|2024-03-01T11:00:00|00:40:00|2"], ctx
    )
    assert record["wall_seconds"] == 2400 and ctx.stats.warnings == 1
    assert ctx.stats.counts["elapsed_mismatches"] == 1


def test_unknown_states_are_warned_and_skipped_never_silent() -> None:
    records, ctx = run([row("40", state="EXPLODED"), row("41", state="completed"), row("42")])
    assert [r["local_job_id"] for r in records] == ["42"]
    assert ctx.stats.counts["unknown_states"] == 2 and ctx.stats.warnings == 2
    assert ctx.stats.skipped == 2


@pytest.mark.parametrize("state", ["SPECIAL_EXIT", "REVOKED", "LAUNCH_FAILED", "DEADLINE"])
def test_other_ended_states_are_accounted(state: str) -> None:
    records, ctx = run([row("43", state=state)])
    assert records[0]["state"] == state and ctx.stats.warnings == 0


@pytest.mark.parametrize("state", ["REQUEUE_HOLD", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"])
def test_states_that_have_not_ended_wait(state: str) -> None:
    records, ctx = run([row("44", state=state)])
    assert records == [] and ctx.stats.warnings == 0 and ctx.stats.skipped == 1


def test_cancelled_by_keeps_who_cancelled() -> None:
    records, _ = run([row("50", state="CANCELLED by 5012"), row("51", state="CANCELLED"), row("52")])
    assert [r["state"] for r in records] == ["CANCELLED", "CANCELLED", "COMPLETED"]
    assert [r.get("cancelled_by") for r in records] == ["5012", None, None]


# -- 3. Array placeholders --------------------------------------------------------------------------
def test_array_ranges_are_counted_and_warned_when_they_claim_time() -> None:
    records, ctx = run(
        [
            row("123_[1-3,9]", state="PENDING", start="Unknown", end="Unknown", elapsed="00:00:00"),
            row("124_[5-9%2]", state="PENDING", start="None", end="Unknown", elapsed="00:00:00"),
            row("125_[1-2]", state="CANCELLED by 0", elapsed="00:05:00"),  # claims 300 s
            row("123_4"),
        ]
    )
    assert [r["local_job_id"] for r in records] == ["123_4"]
    assert ctx.stats.counts["array_placeholders"] == 3
    assert ctx.stats.warnings == 1 and ctx.stats.skipped == 3
    assert ctx.stats.summary()["array_placeholders"] == 3


# -- 4. Zero cores ------------------------------------------------------------------------------------
def test_zero_cpus_is_never_turned_into_one() -> None:
    records, ctx = run(
        [
            row(
                "60",
                state="CANCELLED by 0",
                end="2024-03-01T10:00:00",
                elapsed="00:00:00",
                ncpus="0",
                nnodes="0",
            ),
            row("61", state="FAILED", elapsed="01:00:00", ncpus="0", nnodes="0"),  # claims an hour
            row("62", ncpus="2"),
        ]
    )
    assert [(r["local_job_id"], r["cores"]) for r in records] == [("62", 2)]
    assert ctx.stats.counts["zero_cores"] == 2 and ctx.stats.skipped == 2
    assert ctx.stats.warnings == 1  # only the one that claims elapsed time


def test_the_server_contract_refuses_zero_cores_too() -> None:
    base = {
        "site": "S",
        "resource": "R",
        "batch_system": "slurm",
        "local_job_id": "1",
        "end_time": "2024-03-01T10:00:00Z",
        "wall_seconds": 0,
        "cpu_seconds": 0,
        "state": "CANCELLED",
    }
    with pytest.raises(ValueError, match="cores"):
        JobRecord.model_validate({**base, "cores": 0})
    assert JobRecord.model_validate({**base, "cores": 1, "cancelled_by": "5012"}).cancelled_by == "5012"
