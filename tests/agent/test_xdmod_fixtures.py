"""Open XDMoD shredder inputs parsed and compared value by value with their expected outputs.

XDMoD field -> contract: job_id -> local_job_id, user -> local_user, groupname -> local_group,
queue, jobname -> job_name, account -> project, start/end/ctime (epoch) -> start/end/submit_time,
resources_used_walltime -> wall_seconds, resources_used_cput -> cpu_seconds, resources_used_cpus ->
cores, resources_used_nodes -> nodes, resources_used_mem -> memory_max_bytes, resource_list_mem ->
memory_requested_bytes, node_list, resources_used_gpus -> gpus, exit_status -> exit_code.

Documented overrides:
  X1 `resources_used.mem=12.27M` is 12.27 MiB to us (XDMoD leaves it empty).
  X2 PBS Pro `exec_host=h/0*0` with `resources_used.ncpus=48`: 48 cores (XDMoD reports 2).
  X3 Torque without exec_host: cores from `Resource_List.nodes=1:ppn=28` (XDMoD has no value).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tally_agent.sources import lsf, pbs, sge
from tests.agent.helpers import epoch_iso, expected
from tests.agent.parsing import make_ctx, parse_all

PBS_MAP = {
    "job_id": "local_job_id",
    "user": "local_user",
    "groupname": "local_group",
    "queue": "queue",
    "jobname": "job_name",
    "account": "project",
    "resources_used_walltime": "wall_seconds",
    "resources_used_cput": "cpu_seconds",
    "resources_used_cpus": "cores",
    "resources_used_nodes": "nodes",
    "resources_used_mem": "memory_max_bytes",
    "resource_list_mem": "memory_requested_bytes",
    "node_list": "node_list",
    "resources_used_gpus": "gpus",
}
PBS_OVERRIDES = {("10711", "resources_used_mem"): 12866027, ("3073070", "resources_used_cpus"): 48}


TEXT_FIELDS = ("job_id", "user", "groupname", "queue", "jobname", "account", "node_list")


def _expected_records(path: Path) -> list[dict[str, Any]]:
    """XDMoD's expected output for the SGE, UGE and LSF shredders: a JSON list of records.

    (`expected` reads the PBS output, which is a JSON object keyed by test title.)
    """
    loaded: object = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, list), path
    return loaded


def _as(name: str, value: Any) -> Any:
    if name in TEXT_FIELDS:
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else value


def test_pbs_shredder(data_dir: Path) -> None:
    want = expected(data_dir / "batch" / "shredder__pbs__output__accounting-logs.json")
    with (data_dir / "batch" / "shredder__pbs__input__accounting-logs.log").open(encoding="utf-8") as handle:
        records = parse_all(pbs.parse, handle)
    assert len(records) == len(want) == 9
    compared = 0
    for (title, fields), record in zip(want.items(), records, strict=True):
        for xdmod, ours in PBS_MAP.items():
            if xdmod not in fields:
                continue
            value = PBS_OVERRIDES.get((fields["job_id"], xdmod), _as(xdmod, fields[xdmod]))  # X1, X2
            assert record.get(ours) == value, (title, xdmod)
            compared += 1
        assert record["start_time"] == epoch_iso(int(fields["start"])), title
        assert record["end_time"] == epoch_iso(int(fields["end"])), title
        assert record["submit_time"] == epoch_iso(int(fields["ctime"])), title
        assert record["exit_code"] == int(fields["exit_status"]), title
    assert compared > 100
    assert records[6]["cores"] == 28  # X3


def _sge_check(fields: dict[str, Any], record: dict[str, Any]) -> None:
    assert record["local_job_id"] == fields["job_number"]
    assert record["local_user"] == fields["owner"]
    assert record["local_group"] == fields["groupname"]
    assert record["queue"] == fields["qname"]
    assert record["job_name"] == fields["job_name"]
    assert record["node_list"] == fields["hostname"]
    assert record["cores"] == int(fields["slots"])
    assert record["start_time"] == epoch_iso(int(fields["start_time"]))
    assert record["end_time"] == epoch_iso(int(fields["end_time"]))
    assert record["submit_time"] == epoch_iso(int(fields["submission_time"]))
    assert record["wall_seconds"] == round(float(fields["ru_wallclock"]))
    assert record["cpu_seconds"] == round(float(fields["cpu"]))
    assert record["exit_code"] == int(fields["exit_status"])
    assert record["gpus"] == int(fields.get("resource_list_gpu", 0))


def test_sge_shredder(data_dir: Path) -> None:
    want = _expected_records(data_dir / "batch" / "shredder__sge__output__accounting-logs.json")
    with (data_dir / "batch" / "shredder__sge__input__accounting-logs.log").open(encoding="utf-8") as handle:
        records = parse_all(sge.parse, handle)
    assert len(records) == len(want) == 2
    for fields, record in zip(want, records, strict=True):
        _sge_check(fields, record)
        assert record["memory_max_bytes"] == int(float(fields["ru_maxrss"]) * 1024)
        assert record["batch_system"] == "sge"


def test_uge_shredder_millisecond_timestamps(data_dir: Path) -> None:
    want = _expected_records(data_dir / "batch" / "shredder__uge__output__accounting-logs.json")
    with (data_dir / "batch" / "shredder__uge__input__accounting-logs.log").open(encoding="utf-8") as handle:
        records = parse_all(sge.parse, handle)
    assert len(records) == len(want) == 2
    for fields, record in zip(want, records, strict=True):
        # XDMoD truncates the milliseconds; we round to the nearest second, as APEL does.
        for ours, theirs in (("start_time", "start_time"), ("end_time", "end_time")):
            got = record[ours]
            assert got in (epoch_iso(int(fields[theirs])), epoch_iso(int(fields[theirs]) + 1))
        fields = {**fields, "start_time": 0, "end_time": 0, "submission_time": 0}
        assert record["local_job_id"] == fields["job_number"] and record["cores"] == int(fields["slots"])
        assert record["cpu_seconds"] == round(float(fields["cpu"]))
        assert record["gpus"] == int(fields.get("resource_list_gpu", 0))
        assert record["batch_system"] == "uge"
    assert records[1]["end_time"] == epoch_iso(1652124460)  # 1652124460193 ms
    assert records[1]["memory_max_bytes"] == 668106752  # UGE maxrss column


def test_lsf_shredder(data_dir: Path) -> None:
    want = _expected_records(data_dir / "batch" / "shredder__lsf__output__accounting-logs.json")
    with (data_dir / "batch" / "shredder__lsf__input__accounting-logs.log").open(encoding="utf-8") as handle:
        records = parse_all(lsf.parse, handle)
    assert len(records) == len(want) == 2
    for fields, record in zip(want, records, strict=True):
        assert record["local_job_id"] == fields["job_id"]
        assert record["local_user"] == fields["user_name"]
        assert record["queue"] == fields["queue"]
        assert record["job_name"] == fields["job_name"]
        assert record["project"] == fields["project_name"]
        assert record["start_time"] == epoch_iso(int(fields["start_time"]))
        assert record["end_time"] == epoch_iso(int(fields["event_time"]))
        assert record["submit_time"] == epoch_iso(int(fields["submit_time"]))
        assert record["cpu_seconds"] == round(float(fields["ru_utime"]) + float(fields["ru_stime"]))
        assert record["memory_max_bytes"] == int(fields["max_rmem"]) * 1024
        assert record["node_list"].split(",") == [h.split("*")[-1] for h in fields["exec_hosts"]]
        assert record["nodes"] == len(fields["exec_hosts"])
        assert record["exit_code"] == int(fields["exit_status"])
    # `16*host` entries carry 16 slots each; the second event lists each host twice, one slot each.
    assert records[0]["cores"] == int(want[0]["num_processors"]) == 128
    assert records[1]["cores"] == 8


def test_lsf_utf8_multibyte(data_dir: Path) -> None:
    want = _expected_records(data_dir / "batch" / "shredder__lsf__output__utf8-multibyte-chars.json")
    path = data_dir / "batch" / "shredder__lsf__input__utf8-multibyte-chars.log"
    ctx = make_ctx()
    with path.open(encoding="utf-8") as handle:
        (record,) = parse_all(lsf.parse, handle, ctx)
    assert want == [{"command": "aàb"}]
    assert record["local_job_id"] == "404717" and ctx.stats.errors == 0
    # The command is not part of the contract; the tokenizer must still have read it intact.
    tokens = lsf.tokens(path.read_text(encoding="utf-8"))
    assert "aàb" in tokens
