"""Fixtures of `shared/data/records/` that apply to the agent, and the grid-identity join.

The APEL summary, sync and cloud messages (`apel_messages.txt`, `egi_cloud_message_v04.txt`) are
aggregates or VM records the agent does not produce, so they do not apply here.
"""

from __future__ import annotations

import re
from pathlib import Path

from tally.domain.records import AcceleratorRecord, StorageRecord
from tally_agent.sources import gpu, grid_identity, storage
from tests.agent.helpers import expected
from tests.agent.parsing import make_ctx, parse_all


def test_star_storage_records(data_dir: Path) -> None:
    path = data_dir / "records" / "apel_star_storage.xml"
    text = path.read_text(encoding="utf-8")
    ctx = make_ctx()
    records = parse_all(storage.parse_star, text.splitlines(keepends=True), ctx)
    assert len(records) == 2 == len(re.findall(r"<sr:StorageUsageRecord[\s>]", text))
    for record in records:
        StorageRecord.model_validate(record)
    first, second = records
    assert first == {
        "site": "TEST-SITE",
        "storage_system": "discordia.desy.de",
        "storage_share": "",
        "storage_media": "disk",
        "path": "",
        "owner": "",
        "group": "cms",
        "vo": "cms",
        "start_time": "2012-10-30T17:10:04Z",
        "end_time": "2012-10-30T17:20:04Z",
        "file_count": 5,
        "used_bytes": 693064064,
        "record_id": "desycerttb_cms_disk_20121030T172004Z",
    }
    assert (second["storage_share"], second["vo"], second["vo_group"]) == (
        "pool-003",
        "binarydataproject.example.org",
        "ukusers",
    )
    assert (second["used_bytes"], second["logical_used_bytes"], second["file_count"]) == (14728, 13617, 42)
    assert second["start_time"] == "2010-10-11T09:31:40Z" and second["end_time"] == "2010-10-12T09:29:42Z"


def test_egi_accelerator_message(data_dir: Path) -> None:
    path = data_dir / "records" / "egi_accelerator_message.json"
    (record,) = parse_all(gpu.parse_apel_message, path.read_text(encoding="utf-8").splitlines(keepends=True))
    AcceleratorRecord.model_validate(record)
    assert record["model"] == "NVIDIA Tesla V100" and record["vendor"] == "NVIDIA"
    assert (record["count"], record["allocated_seconds"], record["active_seconds"]) == (4, 2592000, 2592000)
    assert (record["interval_start"], record["interval_end"]) == (
        "2026-04-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
    )
    assert record["associated_kind"] == "vm" and record["vo"] == "vo.sample.org"


def test_blah_identities(data_dir: Path) -> None:
    """APEL's VORole 'None' (a string) for an FQAN without a role is no role (null) here."""
    spec = expected(data_dir / "batch" / "apel_blah_cream.expected.json")
    identities = parse_all(grid_identity.parse, [c["line"] for c in spec["cases"]])
    for case, identity in zip(spec["cases"], identities, strict=True):
        want = case["expected"]
        assert identity["timestamp"] == want["TimeStamp"]
        assert identity["global_user"] == want["GlobalUserName"]
        assert identity["fqan"] == want["FQAN"]
        assert (identity["vo"], identity["vo_group"]) == (want["VO"], want["VOGroup"])
        assert identity["vo_role"] == (None if want["VORole"] == "None" else want["VORole"])
        assert identity["grid_job_id"] == want["GlobalJobId"] and identity["lrms_id"] == want["LrmsId"]


def test_identity_join_onto_jobs(data_dir: Path) -> None:
    lines = (data_dir / "batch" / "apel_blah_cream.log").read_text(encoding="utf-8").splitlines()
    join = grid_identity.IdentityJoin(parse_all(grid_identity.parse, lines))
    job = join.apply({"local_job_id": "9575064", "site": "S"})
    assert job["global_user"] == "/O=GermanGrid/OU=UniWuppertal/CN=Torsten Harenberg"
    assert (job["vo"], job["vo_group"], job["vo_role"], job["infrastructure"]) == (
        "atlas",
        "/atlas",
        "Role=production",
        "grid",
    )
    other = join.apply({"local_job_id": "9575065"})
    assert "vo" not in other


def test_fqan_forms() -> None:
    assert grid_identity.split_fqan("/atlas/uk/Role=NULL/Capability=NULL") == ("atlas", "/atlas/uk", None)
    assert grid_identity.split_fqan("/cms/Role=pilot") == ("cms", "/cms", "Role=pilot")
    assert grid_identity.split_fqan("") == (None, None, None)


def test_quota_report(tmp_path: Path) -> None:
    lines = [
        "share,path,owner,group,used,quota,files,time\n",
        "home,/home/alice,alice,physics,1.5G,10G,1200,2024-05-01T00:00:00Z\n",
        "scratch,/scratch/bob,bob,chem,bad,,,\n",
    ]
    ctx = make_ctx()
    (record,) = parse_all(storage.parse_quota, lines, ctx)
    StorageRecord.model_validate(record)
    assert (record["used_bytes"], record["allocated_bytes"], record["file_count"]) == (
        int(1.5 * 1024**3),
        10 * 1024**3,
        1200,
    )
    assert ctx.stats.errors == 1 and ctx.stats.problems[0][1] == 3


def test_filesystem_snapshot(tmp_path: Path) -> None:
    (record,) = list(storage.snapshot([str(tmp_path)], make_ctx()))
    StorageRecord.model_validate(record)
    assert record["path"] == str(tmp_path) and record["allocated_bytes"] >= record["used_bytes"] > 0
