"""History from tools sites already run: Open XDMoD storage JSON and OpenStack Nova notifications.

The fixtures under data/ follow the public formats (XDMoD's storage input format; Nova's legacy
`compute.instance.*` and versioned `instance.*` notifications, one in its oslo.messaging envelope).
Expected numbers are worked out by hand from the event times written below.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tally.domain.records import StorageRecord, VmRecord
from tally_agent.inputs import FileLines
from tally_agent.sources import openstack_events, xdmod_storage
from tests.agent.parsing import make_ctx, parse_all

DATA = Path(__file__).parent / "data"
STORAGE_FILES = sorted((DATA / "xdmod-storage").glob("*.json"))
EVENTS = DATA / "openstack" / "nova-notifications-2024-05.ndjson"
GIB, TIB, MIB = 1024**3, 1024**4, 1024**2
HOUR = 3600

WEB = "3b1f9a52-8c4d-4e6f-9a1b-2c3d4e5f6a70"
CMP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
GPU = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
P1, P2 = "6f70656e737461636b2070726f6a31", "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def seconds(start: str, end: str) -> int:
    return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


# -- Open XDMoD storage ------------------------------------------------------------------------------
def test_xdmod_storage_files_import_as_storage_records() -> None:
    ctx = make_ctx()
    records = list(xdmod_storage.parse(FileLines(map(str, STORAGE_FILES)), ctx))
    assert ctx.stats.errors == 0 and len(records) == 4 + 3
    for record in records:
        StorageRecord.model_validate(record)
    home = records[0]
    assert home == {
        "site": "TEST-SITE",
        "storage_system": "nfs",
        "storage_share": "/home",
        "storage_media": "disk",
        "path": "/home",
        "owner": "jdoe",
        "project": "pi_smith",
        "end_time": "2024-05-01T00:00:00Z",
        "file_count": 120345,
        "used_bytes": 22548578304,  # physical
        "logical_used_bytes": 20 * GIB,
        "allocated_bytes": 50 * GIB,  # the soft threshold
    }
    projects = records[2]
    assert (projects["allocated_bytes"], projects["used_bytes"]) == (10 * TIB, 5 * TIB // 2)  # hard: no soft
    scratch = records[3]  # no physical_usage, no quota
    assert scratch["used_bytes"] == scratch["logical_used_bytes"] == 3 * TIB
    assert "allocated_bytes" not in scratch
    # Several file systems and days: used bytes per (system, share, day), from the raw files.
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for record in records:
        totals[(record["storage_system"], record["storage_share"], record["end_time"][:10])] += record[
            "used_bytes"
        ]
    assert totals == {
        ("nfs", "/home", "2024-05-01"): 22548578304 + 1 * GIB,
        ("nfs", "/projects", "2024-05-01"): 5 * TIB // 2,
        ("lustre", "/scratch", "2024-05-01"): 3 * TIB,
        ("nfs", "/home", "2024-05-02"): 22600000000,
        ("nfs", "/projects", "2024-05-02"): 2750000000000,
        ("lustre", "/scratch", "2024-05-02"): 0,
    }


def test_xdmod_storage_option_names_the_storage_system_and_ndjson_is_read_too() -> None:
    ctx = make_ctx(storage_system="cluster1")
    lines = [
        '{"resource": "nfs", "mountpoint": "/home", "user": "u", "pi": "p", "dt": "2024-05-03T00:00:00Z",'
        ' "file_count": 1, "logical_usage": 10}\n',
        '{"resource": "nfs", "mountpoint": "/home", "user": "v", "pi": "p",'
        ' "dt": "2024-05-03T00:00:00+00:00", "file_count": 2, "logical_usage": 20, "physical_usage": 30}\n',
    ]
    records = parse_all(xdmod_storage.parse, lines, ctx)
    assert [(r["storage_system"], r["owner"], r["used_bytes"]) for r in records] == [
        ("cluster1", "u", 10),
        ("cluster1", "v", 30),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"mountpoint": "/home"}, "without resource"),
        ({"logical_usage": -1}, "logical_usage"),
        ({"file_count": "12"}, "file_count"),
        ({"physical_usage": 1.5}, "physical_usage"),
        ({"dt": "yesterday"}, "yesterday"),
        ({"user": 7}, "user"),
    ],
)
def test_bad_xdmod_entries_are_counted_errors(entry: dict[str, Any], message: str) -> None:
    good = {
        "resource": "nfs",
        "mountpoint": "/home",
        "user": "jdoe",
        "pi": "pi",
        "dt": "2024-05-01T00:00:00Z",
        "file_count": 1,
        "logical_usage": 1,
    }
    bad = {**good, **entry}
    if entry == {"mountpoint": "/home"}:
        del bad["resource"]
    ctx = make_ctx()
    text = json.dumps([good, bad, good], indent=4)
    records = parse_all(xdmod_storage.parse, text.splitlines(keepends=True), ctx)
    assert len(records) == 2 and ctx.stats.errors == 1
    assert message in ctx.stats.problems[0][2]
    assert ctx.stats.problems[0][1] == 11  # the line where the bad object starts (4-space indent)


def test_broken_json_is_an_error_and_reading_goes_on() -> None:
    ctx = make_ctx()
    good = (
        '{"resource": "nfs", "mountpoint": "/h", "user": "u", "pi": "p", "dt": "2024-05-01T00:00:00Z", '
        '"file_count": 1, "logical_usage": 5}\n'
    )
    records = parse_all(xdmod_storage.parse, [good, '{"resource": "nfs", "mount\n', good, "[1, 2\n"], ctx)
    # Line 2 is broken; line 4 holds two values that are no storage objects and never closes.
    assert len(records) == 2 and ctx.stats.errors == 4
    assert [p[1] for p in ctx.stats.problems] == [2, 4, 4, 4]
    assert "unfinished JSON list" in ctx.stats.problems[-1][2]


# -- OpenStack notifications -------------------------------------------------------------------------
def parse_events(lines: list[str]) -> tuple[list[dict[str, Any]], Any]:
    ctx = make_ctx()
    records = parse_all(openstack_events.parse, lines, ctx)
    for record in records:
        VmRecord.model_validate(record)
    return records, ctx


def event_lines() -> list[str]:
    return EVENTS.read_text(encoding="utf-8").splitlines(keepends=True)


def vcpu_seconds(records: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in records:
        out[r["instance_id"]] += seconds(r["interval_start"][:-1], r["interval_end"][:-1]) * r["vcpus"]
    return dict(out)


def test_sessions_with_power_cycles_and_a_resize_over_a_month() -> None:
    records, ctx = parse_events(event_lines())
    assert ctx.stats.errors == 0
    assert vcpu_seconds(records) == {
        # web-01, m1.small (1 vCPU): created 05-02 08:00, off 05-05 18:30, on 05-06 09:00,
        # deleted (shut down) 05-10 12:00.
        WEB: 1 * ((3 * 24 + 10) * HOUR + 30 * 60) + 1 * ((4 * 24 + 3) * HOUR),
        # compute-02: m1.large (4) from 05-01 00:00 to the resize at 05-15 10:05, then m1.xlarge (8)
        # until suspended 05-20 00:00; resumed 05-21 12:00, running at the last event (06-01 00:00).
        CMP: 4 * ((14 * 24 + 10) * HOUR + 5 * 60)
        + 8 * ((4 * 24 + 13) * HOUR + 55 * 60)
        + 8 * (10 * 24 + 12) * HOUR,
        # gpu-box, g1.4xlarge (16): running when the input begins (05-01 00:00) until off 05-03 06:00;
        # on 05-08 00:00, paused 12:00; unpaused 05-09 00:00, shut down 06:00.
        GPU: 16 * (54 + 12 + 6) * HOUR,
    }
    # One record per VM and UTC day piece.
    per_vm: dict[str, int] = defaultdict(int)
    for r in records:
        per_vm[r["instance_id"]] += 1
    assert dict(per_vm) == {WEB: 4 + 5, CMP: 15 + 5 + 11, GPU: 3 + 1 + 1}
    assert {r["measurement"] for r in records} == {"events"} and {r["cpu_busy_seconds"] for r in records} == {
        0.0
    }
    summary = ctx.stats.summary()
    assert (summary["resizes"], summary["sessions_from_input_start"], summary["warnings"]) == (1, 1, 1)


def test_the_resize_day_is_split_at_the_new_flavour() -> None:
    records, _ = parse_events(event_lines())
    day = [r for r in records if r["instance_id"] == CMP and r["interval_start"].startswith("2024-05-15")]
    assert [
        (r["interval_start"], r["interval_end"], r["vcpus"], r["memory_bytes"], r["instance_type"])
        for r in day
    ] == [
        ("2024-05-15T00:00:00Z", "2024-05-15T10:05:00Z", 4, 8192 * MIB, "m1.large"),
        ("2024-05-15T10:05:00Z", "2024-05-16T00:00:00Z", 8, 16384 * MIB, "m1.xlarge"),
    ]
    # Identity and who: project (tenant) and user, name, image, uptime since the session began.
    (later,) = [
        r for r in records if r["instance_id"] == CMP and r["interval_start"] == "2024-05-16T00:00:00Z"
    ]
    assert (later["provider"], later["account"], later["project"], later["vm_name"]) == (
        "openstack",
        P1,
        P1,
        "compute-02",
    )
    assert later["global_user"] == "1f2e3d4c5b6a79880716253443526170"
    assert later["image_id"] == "155d900f-4e14-4e4c-a73d-069cbf4541e6"
    assert (later["boot_time"], later["uptime_seconds"]) == ("2024-05-01T00:00:00Z", 16 * 86400)
    # Suspended from 05-20 00:00 to 05-21 12:00: no interval there.
    starts = {r["interval_start"] for r in records if r["instance_id"] == CMP}
    assert "2024-05-20T00:00:00Z" not in starts and "2024-05-21T12:00:00Z" in starts
    (last,) = [
        r for r in records if r["instance_id"] == CMP and r["interval_start"] == "2024-05-31T00:00:00Z"
    ]
    assert (last["interval_end"], last["boot_time"], last["uptime_seconds"]) == (
        "2024-06-01T00:00:00Z",
        "2024-05-21T12:00:00Z",
        (10 * 24 + 12) * HOUR,
    )


def test_versioned_notifications_and_the_oslo_envelope() -> None:
    records, _ = parse_events(event_lines())
    gpu = [r for r in records if r["instance_id"] == GPU]
    assert {(r["account"], r["instance_type"], r["vcpus"], r["memory_bytes"]) for r in gpu} == {
        (P2, "g1.4xlarge", 16, 65536 * MIB)
    }
    web_first = min((r for r in records if r["instance_id"] == WEB), key=lambda r: r["interval_start"])
    assert web_first["interval_start"] == "2024-05-02T08:00:00Z"  # the create.end in its envelope


def test_arrival_order_and_json_array_give_the_same_sessions() -> None:
    lines = event_lines()
    expected, _ = parse_events(lines)
    shuffled = list(lines)
    random.Random(11).shuffle(shuffled)
    again, _ = parse_events(shuffled)
    key = lambda r: (r["instance_id"], r["interval_start"])  # noqa: E731
    assert sorted(again, key=key) == sorted(expected, key=key)
    as_array = "[\n" + ",\n".join(line.strip() for line in lines) + "\n]\n"
    from_array, _ = parse_events(as_array.splitlines(keepends=True))
    assert sorted(from_array, key=key) == sorted(expected, key=key)


def test_bad_notifications_are_counted_errors() -> None:
    start: dict[str, Any] = {
        "event_type": "compute.instance.create.end",
        "timestamp": "2024-05-01 00:00:00.000000",
        "payload": {"tenant_id": "t", "user_id": "u", "instance_id": "i-1", "vcpus": 2, "memory_mb": 1024},
    }
    stop = {**start, "event_type": "compute.instance.delete.end", "timestamp": "2024-05-01 06:00:00"}
    lines = [
        json.dumps(start) + "\n",
        "not json\n",
        json.dumps({**start, "payload": {**start["payload"], "vcpus": 0}}) + "\n",
        json.dumps({**start, "timestamp": "soon"}) + "\n",
        json.dumps({"payload": {}}) + "\n",
        json.dumps(stop) + "\n",
    ]
    records, ctx = parse_events(lines)
    assert ctx.stats.errors == 4 and [p[1] for p in ctx.stats.problems] == [2, 3, 4, 5]
    assert [(r["interval_start"], r["interval_end"], r["vcpus"]) for r in records] == [
        ("2024-05-01T00:00:00Z", "2024-05-01T06:00:00Z", 2)
    ]


def test_a_stop_without_a_start_counts_from_the_input_start_with_a_warning() -> None:
    first = {
        "event_type": "compute.instance.create.end",
        "timestamp": "2024-05-01T00:00:00Z",
        "payload": {"tenant_id": "t", "instance_id": "a", "vcpus": 1},
    }
    off = {
        "event_type": "compute.instance.power_off.end",
        "timestamp": "2024-05-01T02:00:00Z",
        "payload": {"tenant_id": "t", "instance_id": "b", "vcpus": 2, "state": "stopped"},
    }
    records, ctx = parse_events([json.dumps(first) + "\n", json.dumps(off) + "\n"])
    assert [(r["instance_id"], r["interval_start"], r["interval_end"]) for r in records] == [
        ("b", "2024-05-01T00:00:00Z", "2024-05-01T02:00:00Z"),
        # `a` is still running at the last event: cut there.
        ("a", "2024-05-01T00:00:00Z", "2024-05-01T02:00:00Z"),
    ]
    assert ctx.stats.warnings == 1
