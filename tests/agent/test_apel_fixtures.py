"""Every APEL batch fixture parsed and compared value by value with its `.expected.json`.

APEL's field names map onto the contract as: JobName -> local_job_id, LocalUserID -> local_user,
LocalUserGroup -> local_group, WallDuration -> wall_seconds, CpuDuration -> cpu_seconds,
StartTime/StopTime -> start_time/end_time, Queue -> queue, MemoryReal (KiB) -> memory_max_bytes,
NodeCount -> nodes, Processors -> cores. MemoryVirtual has no column in the contract.

Documented overrides (where our rule or contract differs from APEL on purpose):
  O1 state rule (data README): DEADLINE and BOOT_FAIL ended, so they are accounted, not skipped.
  O2 Slurm MaxRSS `0` is 0 bytes (APEL raises); unreadable memory (`20H`) leaves memory empty and
     keeps the job (APEL drops the job). Only times (end < start) and negative CPU reject a line.
  O3 Slurm lines `278952.batch` are steps whose allocation line is missing from the dump: the job
     is rebuilt from them as `278952` (APEL reports the step id).
  O4 PBS ids drop the server suffix (`21048463.lcgbatch01...` -> `21048463`), as Open XDMoD does.
  O5 nodes is at least 1 (contract); APEL reports NodeCount 0 for HTCondor and SGE.
  O6 SGE MemoryReal in APEL is the integral `mem` (GB*s) x 1024^2, not a peak; we report the peak
     (UGE maxrss, else ru_maxrss KiB) and compare that with the raw line instead.
  O7 LSF array element: line 2 is element 23 of `imb_sr[1-90]` (idx field), so its id is
     `436491[23]`; two elements of one array must not share an id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tally_agent.sources import htcondor, lsf, pbs, sge, slurm
from tests.agent.helpers import expected
from tests.agent.parsing import make_ctx, parse_all

APEL_SLURM_FIELDS = ",".join(
    [
        "JobID",
        "JobName",
        "User",
        "Group",
        "Start",
        "End",
        "Elapsed",
        "CPUTimeRAW",
        "Partition",
        "NCPUS",
        "NNodes",
        "NodeList",
        "MaxRSS",
        "MaxVMSize",
        "State",
    ]
)
SIMPLE = {
    "LocalUserID": "local_user",
    "LocalUserGroup": "local_group",
    "WallDuration": "wall_seconds",
    "CpuDuration": "cpu_seconds",
    "StartTime": "start_time",
    "StopTime": "end_time",
    "Queue": "queue",
    "Processors": "cores",
}


def compare(case: dict[str, Any], record: dict[str, Any], job_id: str, nodes_min_one: bool = False) -> None:
    want = case["expected"]
    assert record["local_job_id"] == job_id
    for apel, ours in SIMPLE.items():
        if apel in want:
            assert record.get(ours) == want[apel], (case["line_no"], apel)
    if "MemoryReal" in want:
        got = record.get("memory_max_bytes")
        assert (None if got is None else got // 1024) == want["MemoryReal"], case["line_no"]
    nodes = want["NodeCount"]
    assert record["nodes"] == (max(nodes, 1) if nodes_min_one else nodes)  # O5
    assert record["site"] == "TEST-SITE" and record["resource"] == "cluster1"


def test_slurm(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_slurm.expected.json")
    ctx = make_ctx(fields=APEL_SLURM_FIELDS)
    records = parse_all(slurm.parse, [c["line"] + "\n" for c in spec["cases"]], ctx)
    assert len(records) == len(spec["cases"]) == 8
    for case, record in zip(spec["cases"], records, strict=True):
        compare(case, record, case["expected"]["JobName"].split(".")[0])  # O3
    assert ctx.stats.errors == 0


def test_slurm_rejects(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_slurm.expected.json")
    outcome: dict[str, str] = {}
    for reject in spec["rejects"]:
        ctx = make_ctx(fields=APEL_SLURM_FIELDS)
        records = parse_all(slurm.parse, [reject["line"]], ctx)
        state = reject["line"].rsplit("|", 1)[1]
        key = state if reject["line"].startswith("123|") else reject["line"][:40] + reject["line"][-30:]
        outcome[key] = "record" if records else ("error" if ctx.stats.errors else "skipped")
    # The state rule: skip exactly the states that have not ended.
    for state in ("CONFIGURING", "COMPLETING", "PENDING", "RUNNING", "RESIZING", "SUSPENDED"):
        assert outcome[state] == "skipped", state
    for state in ("CANCELLED", "COMPLETED", "FAILED", "NODE_FAIL", "PREEMPTED", "TIMEOUT"):
        assert outcome[state] == "record", state
    for state in ("BOOT_FAIL", "DEADLINE"):  # O1: APEL skips these; they ended, we account them
        assert outcome[state] == "record", state
    values = [v for k, v in outcome.items() if not k.isupper() and "_" not in k[:3]]
    # O2: `0|0` memory and `20H|54J` memory are kept; end<start and negative CPU are errors.
    assert sorted(values) == ["error", "error", "record", "record", "record"]


def test_pbs(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_pbs_torque.expected.json")
    records = parse_all(pbs.parse, [c["line"] for c in spec["cases"]])
    assert len(records) == 7
    for case, record in zip(spec["cases"], records, strict=True):
        compare(case, record, case["expected"]["JobName"].split(".")[0])  # O4


def test_pbs_rejects(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_pbs_torque.expected.json")
    missing_start, abort, reversed_times, no_exec_host = (r["line"] for r in spec["rejects"])
    for line in (missing_start, reversed_times):
        ctx = make_ctx()
        assert parse_all(pbs.parse, [line], ctx) == []
        assert ctx.stats.errors == 1 and ctx.stats.problems[0][1] == 1
    ctx = make_ctx()
    assert parse_all(pbs.parse, [abort], ctx) == [] and ctx.stats.skipped == 1 and ctx.stats.errors == 0
    # Without exec_host the job still ran: cores come from `nodes=1:ppn=8` (APEL mpi=False gives 0).
    (record,) = parse_all(pbs.parse, [no_exec_host])
    assert (record["cores"], record["nodes"], record["wall_seconds"]) == (8, 1, 0)


def test_htcondor(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_htcondor.expected.json")
    records = parse_all(htcondor.parse, [c["line"] for c in spec["cases"]])
    assert len(records) == 9
    for case, record in zip(spec["cases"], records, strict=True):
        compare(case, record, case["expected"]["JobName"], nodes_min_one=True)


def test_sge(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_sge.expected.json")
    lines = [c["line"] for c in spec["cases"]]
    records = parse_all(sge.parse, lines)
    assert len(records) == 4
    for case, record in zip(spec["cases"], records, strict=True):
        want = dict(case["expected"])
        want.pop("MemoryReal")  # O6
        compare({**case, "expected": want}, record, want["JobName"], nodes_min_one=True)
        ru_maxrss_kib = float(case["line"].split(":")[16])
        assert record["memory_max_bytes"] == int(ru_maxrss_kib * 1024)
    # The UGE millisecond line (APEL needs an option; recognised here by size).
    uge = spec["rejects"][0]
    (record,) = parse_all(sge.parse, [uge["line"]])
    want = dict(uge["expect"])
    want.pop("MemoryReal")
    compare({"line_no": 0, "expected": want}, record, "3872561", nodes_min_one=True)
    assert record["batch_system"] == "uge"
    assert record["memory_max_bytes"] == 124411904  # UGE's own maxrss column (bytes)


def test_lsf(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_lsf.expected.json")
    path = data_dir / "batch" / "apel_lsf.log"
    with path.open(encoding="utf-8") as handle:
        records = parse_all(lsf.parse, handle)
    assert len(records) == 3
    ids = ["699195", "436491[23]", "31255091"]  # O7
    for case, record, job_id in zip(spec["cases"], records, ids, strict=True):
        compare(case, record, job_id)
    assert records[1]["array_job_id"] == "436491" and records[1]["array_index"] == 23


def test_lsf_rejects(data_dir: Path) -> None:
    spec = expected(data_dir / "batch" / "apel_lsf.expected.json")
    unseparated, reversed_times, resize, non_mpi = (r["line"] for r in spec["rejects"])
    for line in (unseparated, reversed_times):
        ctx = make_ctx()
        assert parse_all(lsf.parse, [line], ctx) == [] and ctx.stats.errors == 1
    ctx = make_ctx()
    assert parse_all(lsf.parse, [resize], ctx) == [] and ctx.stats.skipped == 1
    (record,) = parse_all(lsf.parse, [non_mpi])
    assert (record["cores"], record["nodes"], record["cpu_seconds"]) == (1, 1, 294)  # round(277.21 + 17.28)


@pytest.mark.parametrize("name", ["apel_slurm", "apel_pbs_torque", "apel_htcondor", "apel_sge", "apel_lsf"])
def test_whole_log_files_parse_without_errors(data_dir: Path, name: str) -> None:
    source = {
        "apel_slurm": slurm,
        "apel_pbs_torque": pbs,
        "apel_htcondor": htcondor,
        "apel_sge": sge,
        "apel_lsf": lsf,
    }[name]
    ctx = make_ctx(fields=APEL_SLURM_FIELDS) if name == "apel_slurm" else make_ctx()
    with (data_dir / "batch" / f"{name}.log").open(encoding="utf-8") as handle:
        records = list(source.parse(handle, ctx))
    cases = expected(data_dir / "batch" / f"{name}.expected.json")["cases"]
    assert len(records) == len(cases) and ctx.stats.errors == 0
