"""SGE/UGE tightly integrated parallel jobs: sub-task lines (pe_taskid set) folded into their job."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from tally_agent.sources import sge
from tests.agent.helpers import epoch_iso
from tests.agent.parsing import make_ctx, parse_all

T0 = 1_700_000_000


DEFAULTS: dict[str, Any] = dict(
    pe_taskid="NONE", granted_pe="mpi", slots=8, task=0, exit_status=0, name="mpi.sh"
)


def acct(**given: Any) -> str:
    """One sge_accounting(5) line, field by field (45 fields, old SGE layout)."""
    f = {**DEFAULTS, **given}
    job, host, start, end, cpu = f["job"], f["host"], f["start"], f["end"], f["cpu"]
    granted_pe, slots = f["granted_pe"], f["slots"]
    fields = [
        "all.q", host, "grp", "alice", f["name"], str(job), "sge", "0",
        str(T0 - 100), str(start), str(end), "0", str(f["exit_status"]), f"{end - start}",
        f"{cpu * 0.9:.6f}", f"{cpu * 0.1:.6f}", f"{f['rss_kib']}.000000",
        *["0"] * 14,  # ru_ixrss .. ru_nivcsw
        "proj", "defaultdepartment", granted_pe, str(slots), str(f["task"]), f"{cpu:.6f}",
        "12.5", "0.01", f"-q all.q -pe {granted_pe} {slots}", "0.0", f["pe_taskid"], "1000000.0", "0", "0",
    ]  # fmt: skip
    assert len(fields) == 45
    return ":".join(fields)


def run(lines: list[str], **options: str) -> tuple[list[dict[str, Any]], Any]:
    ctx = make_ctx(**options)
    return parse_all(sge.parse, lines, ctx), ctx.stats


# An 8-slot MPI job over three hosts: the master on n1, sub-tasks on n1, n2 and n3.
MASTER = dict(job=77, host="n1", start=T0, end=T0 + 3600, cpu=12.4, rss_kib=1000)
SUBS = [
    dict(job=77, host="n1", start=T0 + 5, end=T0 + 3590, cpu=3500.4, rss_kib=2_000_000, pe_taskid="1.n1"),
    dict(job=77, host="n2", start=T0 + 6, end=T0 + 3591, cpu=3499.4, rss_kib=3_500_000, pe_taskid="1.n2"),
    dict(job=77, host="n3", start=T0 + 7, end=T0 + 3592, cpu=3498.4, rss_kib=2_500_000, pe_taskid="1.n3"),
]


def expected_cpu(*parts: dict[str, Any]) -> int:
    return round(sum(float(p["cpu"]) for p in parts))


def expected_rss(*parts: dict[str, Any]) -> int:
    return max(int(p["rss_kib"]) for p in parts) * 1024


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_master_and_three_sub_tasks_in_any_order_give_one_job(order: tuple[int, ...]) -> None:
    parts = [MASTER, *SUBS]
    lines = [acct(**parts[i]) for i in order]
    records, stats = run(lines)
    assert stats.errors == 0 and stats.records == 1
    (record,) = records
    assert record["local_job_id"] == "77"
    # Summed as floats, rounded once: 12.4 + 3500.4 + 3499.4 + 3498.4 = 10510.6 -> 10511
    # (10510 if each line were rounded first).
    assert record["cpu_seconds"] == expected_cpu(*parts) == 10511
    assert record["memory_max_bytes"] == expected_rss(*parts) == 3_500_000 * 1024
    # Wall, times, slots, state and exit status are the master's.
    assert record["wall_seconds"] == 3600
    assert record["start_time"] == epoch_iso(T0) and record["end_time"] == epoch_iso(T0 + 3600)
    assert record["cores"] == 8
    assert record["state"] == "COMPLETED" and record["exit_code"] == 0
    hosts = record["node_list"].split(",")
    assert hosts[0] == "n1" and sorted(hosts) == ["n1", "n2", "n3"] and record["nodes"] == 3
    assert record["job_name"] == "mpi.sh" and record["batch_system"] == "sge"


def test_interleaved_jobs_array_tasks_and_a_serial_job_between() -> None:
    a_master = dict(job=10, host="a1", start=T0, end=T0 + 100, cpu=1.0, rss_kib=10)
    a_subs = [
        dict(
            job=10,
            host=f"a{i}",
            start=T0 + 1,
            end=T0 + 99,
            cpu=50.0 + i,
            rss_kib=100 * i,
            pe_taskid=f"1.a{i}",
        )
        for i in (2, 3)
    ]
    b_master = dict(job=20, host="b1", start=T0 + 10, end=T0 + 200, cpu=2.0, rss_kib=5000, task=4)
    b_subs = [
        dict(
            job=20, host="b2", start=T0 + 11, end=T0 + 190, cpu=170.25, rss_kib=20, pe_taskid="1.b2", task=4
        ),
        dict(
            job=20, host="b3", start=T0 + 12, end=T0 + 195, cpu=180.25, rss_kib=30, pe_taskid="1.b3", task=4
        ),
    ]
    # Same job number, another array task: a job of its own, whose sub-task must not join task 4.
    c_sub = dict(
        job=20, host="c9", start=T0 + 13, end=T0 + 150, cpu=99.0, rss_kib=1, pe_taskid="1.c9", task=5
    )
    c_master = dict(job=20, host="c8", start=T0 + 12, end=T0 + 160, cpu=1.0, rss_kib=2, task=5)
    serial = dict(job=30, host="s1", start=T0, end=T0 + 50, cpu=40.0, rss_kib=7, granted_pe="NONE", slots=1)
    lines = [
        acct(**b_subs[0]),
        acct(**a_subs[0]),
        acct(**c_sub),
        acct(**serial),
        acct(**a_master),
        acct(**b_master),
        acct(**a_subs[1]),
        acct(**c_master),
        acct(**b_subs[1]),
    ]
    records, stats = run(lines)
    assert stats.errors == 0 and stats.records == 4
    # In the order of each job's first line.
    assert [r["local_job_id"] for r in records] == ["20.4", "10", "20.5", "30"]
    by_id = {r["local_job_id"]: r for r in records}
    a, b, c, s = by_id["10"], by_id["20.4"], by_id["20.5"], by_id["30"]
    assert a["cpu_seconds"] == expected_cpu(a_master, *a_subs) == 106
    assert a["memory_max_bytes"] == expected_rss(a_master, *a_subs) == 300 * 1024
    assert a["node_list"] == "a1,a2,a3" and a["wall_seconds"] == 100
    assert b["cpu_seconds"] == expected_cpu(b_master, *b_subs) == 352
    assert b["memory_max_bytes"] == expected_rss(b_master, *b_subs) == 5000 * 1024
    assert b["node_list"] == "b1,b2,b3" and (b["array_job_id"], b["array_index"]) == ("20", 4)
    assert b["start_time"] == epoch_iso(T0 + 10) and b["wall_seconds"] == 190
    assert c["cpu_seconds"] == 100 and c["node_list"] == "c8,c9" and c["array_index"] == 5
    assert s["cpu_seconds"] == 40 and s["node_list"] == "s1" and s["nodes"] == 1


def test_sub_tasks_without_a_master_are_emitted_once_marked_no_master() -> None:
    lines = [acct(**sub) for sub in SUBS]
    records, stats = run(lines)
    (record,) = records
    assert stats.errors == 0 and stats.records == 1 and stats.warnings == 1
    assert record["state"] == sge.NO_MASTER == "NO_MASTER"
    assert "exit_code" not in record
    assert record["cpu_seconds"] == expected_cpu(*SUBS) == 10498
    assert record["memory_max_bytes"] == expected_rss(*SUBS)
    # The span of the sub-tasks: earliest start, latest end.
    assert record["start_time"] == epoch_iso(T0 + 5) and record["end_time"] == epoch_iso(T0 + 3592)
    assert record["wall_seconds"] == 3587
    assert record["cores"] == 8  # the sub-task line's slots: the job's total
    assert record["node_list"] == "n1,n2,n3" and record["nodes"] == 3


def test_a_repeated_sub_task_line_counts_once() -> None:
    lines = [acct(**SUBS[0]), acct(**MASTER), acct(**SUBS[0]), acct(**SUBS[1]), acct(**SUBS[0])]
    records, stats = run(lines)
    (record,) = records
    assert stats.errors == 0 and stats.warnings == 2
    assert record["cpu_seconds"] == expected_cpu(MASTER, SUBS[0], SUBS[1]) == 7012
    assert record["node_list"] == "n1,n2"


def test_a_rerun_job_is_two_runs_each_with_its_own_sub_tasks() -> None:
    later = 4000
    run2_master = {**MASTER, "start": T0 + later, "end": T0 + later + 600, "cpu": 5.0}
    run2_sub = {**SUBS[1], "start": T0 + later + 1, "end": T0 + later + 590, "cpu": 580.0}
    lines = [acct(**p) for p in (SUBS[0], MASTER, SUBS[1], run2_sub, run2_master)]
    records, stats = run(lines)
    assert stats.errors == 0
    first, second = records
    assert first["cpu_seconds"] == expected_cpu(SUBS[0], MASTER, SUBS[1])
    assert first["end_time"] == epoch_iso(T0 + 3600)
    assert second["cpu_seconds"] == expected_cpu(run2_master, run2_sub) == 585
    assert second["end_time"] == epoch_iso(T0 + later + 600) and second["wall_seconds"] == 600


def _serial(n: int) -> list[str]:
    return [
        acct(job=1000 + i, host="s", start=T0, end=T0 + 10, cpu=1.0, rss_kib=1, granted_pe="NONE", slots=1)
        for i in range(n)
    ]


def test_window_a_late_sub_task_is_an_error_never_a_second_record() -> None:
    # Within the window the sub-task joins its master...
    records, stats = run([acct(**MASTER), *_serial(5), acct(**SUBS[0])], window="6")
    assert stats.errors == 0 and len(records) == 6
    assert records[0]["cpu_seconds"] == expected_cpu(MASTER, SUBS[0])
    # ...beyond it the job was emitted already: the late line is a counted error with its line number.
    records, stats = run([acct(**MASTER), *_serial(6), acct(**SUBS[0])], window="6")
    assert [r["local_job_id"] for r in records].count("77") == 1 and len(records) == 7
    assert records[0]["cpu_seconds"] == expected_cpu(MASTER)
    assert stats.errors == 1 and stats.problems[0][1] == 8 and "sge.window" in stats.problems[0][2]


def test_window_a_late_master_after_its_orphan_sub_tasks_is_an_error() -> None:
    lines = [acct(**SUBS[0]), *_serial(3), acct(**MASTER)]
    records, stats = run(lines, window="2")
    orphan = [r for r in records if r["local_job_id"] == "77"]
    assert len(orphan) == 1 and orphan[0]["state"] == "NO_MASTER"
    assert stats.errors == 1 and stats.problems[0][1] == 5


def test_streams_with_bounded_holding() -> None:
    """Records come out while the input is still being read: nothing waits for the end of the file."""
    window = 50
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for n in range(100_000):
            consumed += 1
            job = dict(job=n, host="h", start=T0, end=T0 + 10, cpu=1.0, rss_kib=1)
            yield acct(**job)
            consumed += 1
            yield acct(**{**job, "host": "g", "pe_taskid": "1.g", "cpu": 2.0})

    ctx = make_ctx(window=str(window))
    parsed = sge.parse(lines(), ctx)
    for count, record in enumerate(parsed, 1):
        assert record["cpu_seconds"] == 3
        # The job read `window` lines ago is out by now: at most window + 2 lines are held.
        assert consumed <= 2 * count + window + 2
        if count == 1000:
            break
    assert ctx.stats.errors == 0


def test_bad_window_option() -> None:
    with pytest.raises(ValueError):
        run([acct(**MASTER)], window="0")
