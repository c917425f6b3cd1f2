"""Every agent parser on the project's own hand-written fixtures (tests/fixtures/batch, records).

These run on a clone alone; test_apel_fixtures.py and test_xdmod_fixtures.py repeat the checks on
the shared real logs. Expected values are worked out by hand from the fixture text (comments give
the arithmetic), never from the parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tally.domain.records import AcceleratorRecord, JobRecord, StorageRecord
from tally_agent.sources import gpu, grid_identity, htcondor, lsf, pbs, sge, storage
from tests.agent.parsing import make_ctx, parse_all
from tests.support.paths import FIXTURES

BATCH = FIXTURES / "batch"
RECORDS = FIXTURES / "records"


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def valid_jobs(records: list[dict[str, Any]]) -> None:
    for record in records:
        JobRecord.model_validate(record)


def test_pbs_torque_end_records_ranges_arrays_and_bad_lines() -> None:
    ctx = make_ctx()
    records = parse_all(pbs.parse, lines(BATCH / "pbs_torque.log"), ctx)
    valid_jobs(records)
    hmc, scan, pro, no_exec_host = records
    # start=1767603600 (09:00Z), end=1767610807: 7207 s; cput 15:58:40 = 57520 s.
    assert (hmc["local_job_id"], hmc["local_user"], hmc["local_group"], hmc["queue"]) == (
        "4410",
        "alice",
        "physics",
        "long",
    )
    assert (hmc["start_time"], hmc["end_time"]) == ("2026-01-05T09:00:00Z", "2026-01-05T11:00:07Z")
    assert (hmc["wall_seconds"], hmc["cpu_seconds"]) == (7207, 57520)
    # exec_host node01/0-3+node02/0-3: eight slots on two nodes.
    assert (hmc["cores"], hmc["nodes"], hmc["node_list"]) == (8, 2, "node01,node02")
    assert hmc["memory_max_bytes"] == 3145728 * 1024 and hmc["memory_requested_bytes"] == 16 * 1024**3
    assert (hmc["state"], hmc["exit_code"], hmc["batch_system"]) == ("COMPLETED", 0, "torque")
    # An array element `4411[3]`; Exit_status 271 = 256 + SIGTERM: killed.
    assert (scan["local_job_id"], scan["array_job_id"], scan["array_index"]) == ("4411[3]", "4411", 3)
    assert (scan["cpu_seconds"], scan["memory_max_bytes"], scan["state"]) == (1750, 512000 * 1024, "KILLED")
    # PBS Pro: `g01/0*48` and resources_used.ncpus=48 are 48 cores; ngpus=4; the default project is none.
    assert (pro["batch_system"], pro["cores"], pro["nodes"], pro["gpus"], pro.get("project")) == (
        "pbspro",
        48,
        1,
        4,
        None,
    )
    # 47:00:00 CPU; `12.27M` is 12.27 MiB (floored to bytes); 190gb requested.
    assert (pro["cpu_seconds"], pro["memory_max_bytes"]) == (47 * 3600, int(12.27 * 1024 * 1024))
    assert pro["memory_requested_bytes"] == 190 * 1024**3
    # Torque without exec_host: cores from Resource_List.nodes=1:ppn=28; 27:10:00 CPU.
    assert (no_exec_host["cores"], no_exec_host["nodes"], no_exec_host["cpu_seconds"]) == (28, 1, 97800)
    assert "node_list" not in no_exec_host and no_exec_host["wall_seconds"] == 3600
    # The S (start) and A (abort) records are skipped; 4412 ends before it starts: an error on line 4.
    assert (ctx.stats.lines, ctx.stats.records, ctx.stats.skipped, ctx.stats.errors) == (7, 4, 2, 1)
    assert ctx.stats.problems[0][1] == 4


def test_htcondor_history_trailing_pipe_scale_factor_and_reversed_times() -> None:
    ctx = make_ctx()
    first, scaled = parse_all(htcondor.parse, lines(BATCH / "htcondor_history.txt"), ctx)
    valid_jobs([first, scaled])
    assert first["local_job_id"] == "schedd01.tally.example#812.0#1767225600"
    assert (first["start_time"], first["end_time"]) == ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    # user 3400 + sys 100 CPU seconds; RSS 2097152 KiB; RequestCpus 4.
    assert (first["wall_seconds"], first["cpu_seconds"], first["cores"]) == (3600, 3500, 4)
    assert first["memory_max_bytes"] == 2 * 1024**3
    # The 11th column scales times: 1800 * 1.25 and (1700 + 20) * 1.25.
    assert (scaled["wall_seconds"], scaled["cpu_seconds"]) == (2250, 2150)
    assert ctx.stats.errors == 1 and ctx.stats.problems[0][1] == 3


def test_lsf_job_finish_hosts_arrays_exit_codes_and_skipped_events() -> None:
    ctx = make_ctx()
    parallel, element, utf8 = parse_all(lsf.parse, lines(BATCH / "lsf_lsb.acct"), ctx)
    valid_jobs([parallel, element, utf8])
    # 4*node017 4*node018: eight cores on two hosts; utime 20000.5 + stime 1599.5.
    assert (parallel["local_job_id"], parallel["cores"], parallel["nodes"]) == ("5001", 8, 2)
    assert parallel["node_list"] == "node017,node018" and parallel["project"] == "lattice"
    assert (parallel["wall_seconds"], parallel["cpu_seconds"]) == (1767229200 - 1767222600, 21600)
    assert parallel["memory_max_bytes"] == 2097152 * 1024 and parallel["state"] == "COMPLETED"
    # idx 7 of sweep[1-10]; jStatus 32 (EXIT) and exitStatus 256: exit code 1.
    assert (element["local_job_id"], element["array_job_id"], element["array_index"]) == (
        "5002[7]",
        "5002",
        7,
    )
    assert (element["state"], element["exit_code"], element["cpu_seconds"]) == ("FAILED", 1, 890)
    # UTF-8 names; a quoted command spanning two lines is one event; a host listed twice is two slots.
    assert (utf8["local_job_id"], utf8["local_user"], utf8["job_name"]) == ("5004", "émile", "aàb")
    assert (utf8["cores"], utf8["nodes"], utf8["node_list"], utf8["wall_seconds"]) == (2, 1, "node030", 600)
    # JOB_START is another event; 5003 finished without ever starting. Six physical lines, five events.
    assert (ctx.stats.lines, ctx.stats.records, ctx.stats.skipped, ctx.stats.errors) == (6, 3, 2, 0)


def test_uge_millisecond_times_own_maxrss_gpus_and_array_task() -> None:
    ctx = make_ctx()
    sim, task = parse_all(sge.parse, lines(BATCH / "uge_accounting"), ctx)
    valid_jobs([sim, task])
    assert sim["batch_system"] == task["batch_system"] == "uge"  # millisecond times, recognised by size
    # 1767600060250 ms is 08:01:00.25Z; 1767607260750 ms is 10:01:00.75Z.
    assert (sim["start_time"], sim["end_time"]) == ("2026-01-05T08:01:00Z", "2026-01-05T10:01:01Z")
    assert (sim["wall_seconds"], sim["cpu_seconds"], sim["cores"], sim["gpus"]) == (7200, 7151, 4, 1)
    assert sim["memory_max_bytes"] == 3221225472  # UGE's maxrss column (bytes), not ru_maxrss
    # Task 17 of an array; UGE maxrss 0 falls back to ru_maxrss 400000 KiB; exit 1 is a failure.
    assert (task["local_job_id"], task["array_index"], task["project"]) == ("3900102.17", 17, "chem_dft")
    assert (task["memory_max_bytes"], task["state"], task["exit_code"]) == (400000 * 1024, "FAILED", 1)
    assert ctx.stats.errors == 0 and ctx.stats.records == 2


def test_blah_identities_and_their_join_onto_jobs() -> None:
    identities = parse_all(grid_identity.parse, lines(BATCH / "blah_cream.log"))
    assert [(i["vo"], i["vo_group"], i["vo_role"]) for i in identities] == [
        ("atlas", "/atlas/uk", "Role=production"),
        ("atlas", "/atlas", None),  # Role=NULL is no role
        ("cms", "/cms", None),
    ]
    assert identities[0]["timestamp"] == "2026-01-05T09:59:30Z"
    assert identities[0]["global_user"] == "/DC=org/DC=example/OU=People/CN=Alice Example 1234"
    assert identities[0]["lrms_id"] == "4410.pbs01.tally.example"
    join = grid_identity.IdentityJoin(identities)
    alice = join.apply({"local_job_id": "4410", "site": "S"})
    assert (alice["vo"], alice["vo_group"], alice["vo_role"], alice["infrastructure"]) == (
        "atlas",
        "/atlas/uk",
        "Role=production",
        "grid",
    )
    assert (
        join.apply({"local_job_id": "4411"})["global_user"] == "/DC=org/DC=example/OU=People/CN=Bob Example"
    )
    assert "vo" not in join.apply({"local_job_id": "4412"})


def test_star_storage_records() -> None:
    ctx = make_ctx()
    disk, tape = parse_all(storage.parse_star, lines(RECORDS / "star_storage.xml"), ctx)
    for record in (disk, tape):
        StorageRecord.model_validate(record)
    assert (disk["storage_system"], disk["storage_share"], disk["storage_media"]) == (
        "se01.tally.example",
        "ATLASDATADISK",
        "disk",
    )
    assert (disk["vo"], disk["vo_group"], disk["file_count"]) == ("atlas", "uk", 120453)
    assert (disk["used_bytes"], disk["logical_used_bytes"]) == (351843720888320, 349000000000000)
    assert (disk["start_time"], disk["end_time"]) == ("2026-01-31T00:00:00Z", "2026-01-31T23:59:00Z")
    assert disk["record_id"] == "se01.tally.example/atlas/disk/20260131"
    assert (tape["storage_media"], tape["vo"], tape["used_bytes"]) == ("tape", "cms", 9 * 10**12)
    assert "logical_used_bytes" not in tape and "vo_group" not in tape
    assert ctx.stats.errors == 0


def test_apel_accelerator_message() -> None:
    (record,) = parse_all(gpu.parse_apel_message, lines(RECORDS / "accelerator_message.json"))
    AcceleratorRecord.model_validate(record)
    assert (record["vendor"], record["model"], record["count"]) == ("NVIDIA", "NVIDIA A100-SXM4-40GB", 2)
    # MeasurementMonth 2 of 2026: the whole of February.
    assert (record["interval_start"], record["interval_end"]) == (
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    )
    assert (record["allocated_seconds"], record["active_seconds"]) == (2419200, 1209600)
    assert (record["associated_kind"], record["associated_id"]) == (
        "vm",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    )
    assert record["vo"] == "biomed"  # from the FQAN /biomed/Role=NULL/Capability=NULL
