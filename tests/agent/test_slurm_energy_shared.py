"""ConsumedEnergyRaw over the real sacct lines of the shared data: the dumps there carry no energy
column (so every job's energy stays NULL, never 0), and the same lines with the column added give
each job exactly the joules written into it (an empty value, as sacct prints for a node without
energy accounting, stays NULL)."""

from __future__ import annotations

from pathlib import Path

from tally_agent.sources import slurm
from tests.agent.helpers import expected
from tests.agent.parsing import make_ctx, parse_all

# The columns of the shared dump (its README), in order.
APEL_SLURM_FIELDS = (
    "JobID,JobName,User,Group,Start,End,Elapsed,CPUTimeRAW,Partition,NCPUS,NNodes,NodeList,"
    "MaxRSS,MaxVMSize,State"
)


def _lines(data_dir: Path) -> list[str]:
    spec = expected(data_dir / "batch" / "apel_slurm.expected.json")
    return [case["line"] for case in spec["cases"]]


def test_dump_without_energy_column_leaves_energy_null(data_dir: Path) -> None:
    lines = _lines(data_dir)
    records = parse_all(slurm.parse, [line + "\n" for line in lines], make_ctx(fields=APEL_SLURM_FIELDS))
    assert len(records) == len(lines) == 8
    # The agent leaves an unknown value out of the record; the contract reads it as NULL.
    assert [r.get("energy_joules", "absent") for r in records] == ["absent"] * 8


def test_consumed_energy_raw_is_read_per_job(data_dir: Path) -> None:
    lines = _lines(data_dir)
    # Joules chosen per line: every other line has none (sacct prints an empty field then).
    energies = ["" if i % 2 else str(1000 * (i + 1) + 7) for i in range(len(lines))]
    ctx = make_ctx(fields=APEL_SLURM_FIELDS + ",ConsumedEnergyRaw")
    records = parse_all(slurm.parse, [f"{line}|{e}\n" for line, e in zip(lines, energies, strict=True)], ctx)
    assert ctx.stats.errors == 0
    assert [r.get("energy_joules") for r in records] == [1007, None, 3007, None, 5007, None, 7007, None]
    plain = parse_all(slurm.parse, [line + "\n" for line in lines], make_ctx(fields=APEL_SLURM_FIELDS))
    # Nothing else about a job changes with the energy column.
    assert [{k: v for k, v in r.items() if k != "energy_joules"} for r in records] == plain
