"""Every APEL message type and version Tally reads, from fixtures written from APEL's documented
formats: what lands in which table, field by field, with units converted and totals by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tally.query.open_engine import open_engine
from tally.services.container import Services
from tests.apel.helpers import SITE, fixture, fresh, who
from tests.support.warehouse import quarantined, rows

T = datetime.fromtimestamp


def _at(epoch: int) -> datetime:
    return T(epoch, UTC)


@pytest.fixture
def svc(tmp_path: Path) -> Services:
    return fresh(tmp_path)


def _by(table: list[dict[str, object]], key: str) -> dict[object, dict[str, object]]:
    return {r[key]: r for r in table}


def test_job_v01_old_key_names_no_space_after_colon_and_nulls(svc: Services) -> None:
    result = svc.apel.import_message(fixture("job_v01.txt"), who())
    assert (result.message_type, result.kind, result.records, result.accepted) == (
        "APEL-individual-job-message: v0.1",
        "jobs",
        2,
        2,
    )
    assert result.kept_aside == {"MemoryVirtual": 1}
    jobs = _by(rows(svc.warehouse, "jobs"), "local_job_id")
    first, second = jobs["1001"], jobs["1002"]
    assert first["resource"] == "ce01.example.org:8443/cream-pbs-atlas"
    assert (first["local_user"], first["global_user"]) == ("atlas001", "/C=UK/O=eScience/CN=alice")
    assert (first["vo"], first["vo_group"], first["vo_role"]) == ("atlas", "/atlas", "Role=production")
    assert (first["wall_seconds"], first["cpu_seconds"], first["cores"], first["nodes"]) == (3600, 3000, 4, 1)
    assert first["start_time"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert first["end_time"] == datetime(2026, 3, 1, 1, tzinfo=UTC)
    assert first["memory_max_bytes"] == 2048 * 1024  # MemoryReal is kB
    assert (first["benchmark_type"], first["benchmark_per_core"]) == ("HS06", 10.5)
    assert (first["infrastructure"], first["state"], first["site"]) == ("grid", "completed", SITE)
    # `none`/`null` are absent; Processors 0 (unknown) counts as one core.
    assert (second["local_user"], second["global_user"], second["cores"]) == (None, None, 1)
    assert (second["vo_role"], second["wall_seconds"]) == ("Role=NULL", 7200)


def test_job_v02_first_fqan_and_si2k(svc: Services) -> None:
    assert svc.apel.import_message(fixture("job_v02.txt"), who()).accepted == 1
    (job,) = rows(svc.warehouse, "jobs")
    assert (job["vo"], job["vo_group"], job["vo_role"]) == ("cms", "/cms/uscms", "Role=pilot")
    assert (job["benchmark_type"], job["benchmark_per_core"]) == ("si2k", 2500.0)


def test_job_v03_explicit_vo_local_infrastructure_batch_system_and_unknown_keys(svc: Services) -> None:
    result = svc.apel.import_message(fixture("job_v03.txt"), who())
    assert result.kept_aside == {"MachineName": 1, "SiteColour": 1}
    (job,) = rows(svc.warehouse, "jobs")
    assert (job["vo"], job["vo_group"], job["vo_role"], job["queue"]) == (
        "lhcb",
        "/lhcb",
        "Role=NULL",
        "long",
    )
    assert (job["infrastructure"], job["batch_system"]) == ("hpc", "slurm")
    assert job["memory_max_bytes"] == 1048576 * 1024 == 2**30
    assert (job["cores"], job["nodes"]) == (8, 2)
    (aside,) = [k for k in svc.warehouse.list_keys("apel_aside") if k.endswith(".ndjson")]
    assert b'"SiteColour":"blue"' in svc.warehouse.get_bytes(aside)


def test_job_v04_service_level_maps_prefer_hepscore23(svc: Services) -> None:
    result = svc.apel.import_message(fixture("job_v04.txt"), who())
    # The last record has no `%%`: read all the same.
    assert (result.records, result.accepted, result.rejected) == (3, 3, 0)
    jobs = _by(rows(svc.warehouse, "jobs"), "local_job_id")
    assert (jobs["4001"]["benchmark_type"], jobs["4001"]["benchmark_per_core"]) == ("HEPscore23", 10.4)
    assert (jobs["4002"]["benchmark_type"], jobs["4002"]["benchmark_per_core"]) == ("HEPscore23", 15.3)
    assert (jobs["4003"]["benchmark_type"], jobs["4003"]["benchmark_per_core"]) == ("HS06", 9.0)
    assert jobs["4001"]["batch_system"] == "htcondor" and jobs["4003"]["batch_system"] == "other"
    assert jobs["4002"]["memory_max_bytes"] == 1_024_000
    assert sum(int(str(j["wall_seconds"])) for j in jobs.values()) == 1000 + 2000 + 500


def test_malformed_job_records_are_quarantined_with_field_and_reason(svc: Services) -> None:
    result = svc.apel.import_message(fixture("bad_job_v04.txt"), who())
    assert (result.records, result.accepted, result.rejected) == (7, 1, 6)
    assert [(e["record"], e["field"]) for e in result.errors] == [
        (1, "WallDuration"),
        (2, "EndTime"),
        (3, "ServiceLevel"),
        (4, None),
        (5, "LocalJobId"),
        (6, None),
    ]
    assert "end_time is before start_time" in str(result.errors[3]["message"])
    kept = quarantined(svc.warehouse, "jobs")
    assert sorted(int(str(q["index"])) for q in kept if q.get("format")) == [1, 2, 3, 5, 6]
    assert any("WallDuration: ten" in str(q["record"]) for q in kept)
    assert len(kept) == 6  # five refused by the APEL reader, one by the record contract
    assert [r["local_job_id"] for r in rows(svc.warehouse, "jobs")] == ["5001"]


def test_summaries_of_every_version(svc: Services) -> None:
    for name in ("summary_v02.txt", "normalised_summary_v03.txt", "normalised_summary_v04.txt"):
        result = svc.apel.import_message(fixture(name), who())
        assert result.kind == "summaries" and result.rejected == 0, result.errors
    table = rows(svc.warehouse, "summaries")
    assert len(table) == 5
    assert {r["month_start"] for r in table} == {datetime(2026, 3, 1, tzinfo=UTC)}  # `Month: 03` too
    atlas = next(r for r in table if r["vo_role"] == "Role=production")
    # v0.2: `Group` is the VO; APEL's repository normalises as WallDuration x ServiceLevel.
    assert (atlas["vo"], atlas["record_count"], atlas["wall_seconds"], atlas["processors"]) == (
        "atlas",
        10,
        36000,
        4,
    )
    assert (atlas["benchmark_type"], atlas["normalised_wall_seconds"], atlas["normalised_cpu_seconds"]) == (
        "HS06",
        360_000.0,
        300_000.0,
    )
    assert atlas["earliest_time"] == _at(1772326800) and atlas["latest_time"] == _at(1774998000)
    cms = next(r for r in table if r["vo"] == "cms")
    assert (cms["vo_group"], cms["benchmark_type"], cms["normalised_wall_seconds"]) == (
        None,
        "si2k",
        4000 * 2500.0,
    )
    lhcb = next(r for r in table if r["vo"] == "lhcb")
    assert (lhcb["benchmark_type"], lhcb["normalised_wall_seconds"], lhcb["infrastructure"]) == (
        "HS06",
        1_036_800.0,
        "APEL-ARC-SLURM",
    )
    v04 = sorted(
        (r for r in table if r["message_type"] == "APEL-normalised-summary-message: v0.4"),
        key=lambda r: int(str(r["processors"])),
    )
    assert [
        (r["benchmark_type"], r["normalised_wall_seconds"], r["normalised_cpu_seconds"]) for r in v04
    ] == [
        ("HEPscore23", 10400.0, 9360.0),
        ("HEPscore23", 30600.0, 27540.0),
    ]
    assert '"HS06": {"cpu": 20340.0, "wall": 22600.0}' in str(v04[1]["extra"])
    assert sum(int(str(r["record_count"])) for r in table) == 10 + 4 + 1 + 1 + 1
    assert sum(int(str(r["wall_seconds"])) for r in table) == 36000 + 4000 + 86400 + 1000 + 2000


def test_malformed_summaries_are_quarantined(svc: Services) -> None:
    result = svc.apel.import_message(fixture("bad_normalised_summary_v04.txt"), who())
    assert (result.accepted, result.rejected) == (1, 4)
    assert [(e["record"], e["field"]) for e in result.errors] == [
        (0, "Month"),
        (1, "NormalisedWallDuration"),
        (2, "EarliestEndTime"),
        (3, "WallDuration"),
    ]
    assert len(quarantined(svc.warehouse, "summaries")) == 4


def test_sync_cloud_and_cloud_summary(svc: Services) -> None:
    for name in ("sync_v01.txt", "cloud_v04.txt", "cloud_summary_v04.txt"):
        assert svc.apel.import_message(fixture(name), who()).rejected == 0
    syncs = {(r["resource"], r["month_start"], r["record_count"]) for r in rows(svc.warehouse, "syncs")}
    march = datetime(2026, 3, 1, tzinfo=UTC)
    assert syncs == {
        ("ce01.example.org:8443/cream-pbs-atlas", march, 2),
        ("ce04.example.org/condor", march, 5),
    }
    vms = _by(rows(svc.warehouse, "vms"), "instance_id")
    running = vms["11111111-2222-3333-4444-555555555555"]
    # EndTime 0: a running VM, its interval so far is StartTime + WallDuration.
    assert (running["interval_start"], running["interval_end"]) == (march, datetime(2026, 3, 2, tzinfo=UTC))
    assert (running["uptime_seconds"], running["cpu_busy_seconds"], running["vcpus"]) == (86400, 160000.0, 2)
    assert running["memory_bytes"] == 4096 * 2**20  # the cloud record's Memory is MB
    assert (running["provider"], running["account"], running["resource"]) == (
        "openstack",
        "project-a",
        "nova.example.org",
    )
    assert (running["vo"], running["state"], running["measurement"]) == ("atlas", "started", "events")
    assert (running["benchmark_type"], running["benchmark_per_core"]) == ("HEPscore23", 12.5)
    ended = vms["66666666-7777-8888-9999-000000000000"]
    assert (ended["interval_end"], ended["vcpus"], ended["provider"], ended["vo"]) == (
        datetime(2026, 3, 1, 1, tzinfo=UTC),
        2,
        "opennebula",
        "vo.example.org",
    )
    clouds = [r for r in rows(svc.warehouse, "summaries") if r["summary_of"] == "vms"]
    assert sorted(int(str(r["wall_seconds"])) for r in clouds) == [3600, 86400]
    started = next(r for r in clouds if r["status"] == "started")
    assert (started["resource"], started["cpu_count"], started["image_id"], started["record_count"]) == (
        "nova.example.org",
        2.0,
        "image-1",
        1,
    )


def test_star_and_accelerator_reuse_the_agents_parsers(svc: Services) -> None:
    star = svc.apel.import_message(fixture("star.xml"), who())
    assert (star.kind, star.accepted, star.message_type) == ("storage", 2, "StAR")
    storage = rows(svc.warehouse, "storage")
    assert sum(int(str(r["used_bytes"])) for r in storage) == 8 * 10**12
    assert {r["vo"] for r in storage} == {"atlas", "cms"}
    gpu = svc.apel.import_message(fixture("accelerator_v01.json"), who())
    assert (gpu.kind, gpu.accepted) == ("accelerators", 1)
    (row,) = rows(svc.warehouse, "accelerators")
    assert (row["count"], row["allocated_seconds"], row["model"], row["associated_kind"]) == (
        2,
        2678400,
        "NVIDIA A100",
        "vm",
    )


def test_the_same_message_twice_writes_nothing_new(svc: Services) -> None:
    first = svc.apel.import_message(fixture("job_v04.txt"), who())
    again = svc.apel.import_message(fixture("job_v04.txt"), who())
    assert (first.replayed, again.replayed, again.batch_id) == (False, True, first.batch_id)
    assert len(rows(svc.warehouse, "jobs")) == 3


def test_views_compare_published_summaries_and_syncs_with_the_jobs_held(svc: Services) -> None:
    for name in (
        "job_v01.txt",
        "job_v02.txt",
        "job_v03.txt",
        "job_v04.txt",
        "bad_job_v04.txt",
        "summary_v02.txt",
        "normalised_summary_v03.txt",
        "normalised_summary_v04.txt",
        "bad_normalised_summary_v04.txt",
        "sync_v01.txt",
    ):
        svc.apel.import_message(fixture(name), who())
    engine = open_engine(svc.settings)
    check = {
        r["month"]: r
        for r in engine.query("SELECT * FROM summaries_vs_jobs ORDER BY month").table.to_pylist()
    }
    # March: published 10+4+1+1+1 jobs; held: 2+1+1+3 from the good files, 1 from the bad one.
    march = check["2026-03"]
    assert (march["published_jobs"], march["held_jobs"], march["jobs_difference"]) == (17, 8, 9)
    assert march["published_wall_seconds"] == 36000 + 4000 + 86400 + 1000 + 2000
    assert march["held_wall_seconds"] == 3600 + 7200 + 100 + 86400 + 1000 + 2000 + 500 + 1000
    assert march["in_sync"] is False
    assert (check["2026-04"]["published_jobs"], check["2026-04"]["held_jobs"]) == (2, 0)
    syncs = {
        r["resource"]: (r["stated_jobs"], r["held_jobs"], r["status"])
        for r in engine.query("SELECT * FROM syncs_vs_jobs").table.to_pylist()
    }
    assert syncs == {
        "ce01.example.org:8443/cream-pbs-atlas": (2, 2, "in sync"),
        "ce04.example.org/condor": (5, 4, "out of sync"),
        "ce02.example.org/sge": (None, 1, "not stated"),
        "ce03.example.org/slurm": (None, 1, "not stated"),
    }


def test_a_star_document_on_one_line_loses_no_record(svc: Services) -> None:
    one_line = fixture("star.xml").replace(b"\n", b"")
    result = svc.apel.import_message(one_line, who())
    assert (result.accepted, result.rejected) == (2, 0)
    assert sum(int(str(r["used_bytes"])) for r in rows(svc.warehouse, "storage")) == 8 * 10**12


def test_a_star_record_without_end_time_is_quarantined(svc: Services) -> None:
    broken = fixture("star.xml").replace(b"<sr:EndTime>2026-03-31T23:00:00Z</sr:EndTime>", b"", 1)
    result = svc.apel.import_message(broken, who())
    assert (result.accepted, result.rejected) == (1, 1)
    assert "EndTime" in str(result.errors[0]["message"])
    (kept,) = quarantined(svc.warehouse, "storage")
    assert kept["format"] == "StAR" and "EndTime" in str(kept["errors"])
