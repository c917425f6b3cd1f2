"""XDMoD storage and OpenStack notifications go through `import` (spool, HTTPS) and, written by the
real ingest service, are reported by the same views as agent-measured records."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tally.domain.record_lines import RecordLines
from tally.domain.records import RecordKind
from tally.domain.schema import stored_schema
from tally.query.duckdb_engine import DuckDbEngine
from tally.services.container import Services
from tally.services.ingest import Principal
from tally.settings import Settings
from tally_agent.inputs import FileLines
from tally_agent.runner import import_files
from tally_agent.sources import openstack_events, xdmod_storage
from tests.agent.fake_tally import Fake, config_for
from tests.agent.parsing import make_ctx

DATA = Path(__file__).parent / "data"
STORAGE_FILES = [str(p) for p in sorted((DATA / "xdmod-storage").glob("*.json"))]
EVENTS = str(DATA / "openstack" / "nova-notifications-2024-05.ndjson")
CMP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


def posted(server: Fake, kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path, body in server.posts:
        if path == f"/v1/records/{kind}":
            out += [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    return out


def test_import_sends_xdmod_storage_and_openstack_sessions(
    tmp_path: Path,
    fake: Fake,
    certs: dict[str, Path],
) -> None:
    config = config_for(tmp_path, fake, certs)
    report = import_files(config, "xdmod-storage", STORAGE_FILES)
    assert (report.spooled_records, report.accepted, report.pending_batches, report.parse_errors) == (
        7,
        7,
        0,
        0,
    )
    assert {(r["storage_system"], r["storage_share"]) for r in posted(fake, "storage")} == {
        ("nfs", "/home"),
        ("nfs", "/projects"),
        ("lustre", "/scratch"),
    }
    report = import_files(config, "openstack-events", [EVENTS])
    assert (report.spooled_records, report.accepted, report.pending_batches) == (45, 45, 0)
    assert {r["measurement"] for r in posted(fake, "vms")} == {"events"}


def test_import_of_an_unrecognised_file_fails_and_sends_nothing(
    tmp_path: Path,
    fake: Fake,
    certs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tally_agent import cli

    config_path = tmp_path / "agent.json"
    config = {
        "server": fake.url,
        "api_key": "k",
        "site": "S",
        "resource": "R",
        "ca_bundle": str(certs["ca"]),
        "spool_dir": str(tmp_path / "spool"),
    }
    config_path.write_text(json.dumps(config))
    code = cli.main(["import", "star", "--config", str(config_path), STORAGE_FILES[0]])
    assert code == 4 and "expected EMI StAR XML" in capsys.readouterr().err
    assert fake.posts == []


def ingest(services: Services, kind: RecordKind, rows: list[dict[str, Any]]) -> None:
    body = b"\n".join(orjson.dumps(r) for r in rows)
    now = datetime(2024, 6, 2, tzinfo=UTC)
    result = services.ingest.ingest(
        kind, RecordLines(body, len(rows)), Principal("TEST-SITE", "test"), now=now
    )
    assert result.rejected == 0, result


def test_the_same_views_report_event_derived_vms_and_xdmod_storage(tmp_path: Path) -> None:
    settings = Settings(mode="local", home=tmp_path)
    services = Services(settings)
    services.add_site("TEST-SITE")
    vms = list(openstack_events.parse(FileLines([EVENTS]), make_ctx()))
    storage = list(xdmod_storage.parse(FileLines(STORAGE_FILES), make_ctx()))
    ingest(services, "vms", vms)
    ingest(services, "storage", storage)
    engine = DuckDbEngine(settings.local_warehouse)
    days = engine.query(
        "SELECT day, instance_type, measurement, samples, vcpus, measured_hours, vcpu_hours, cpu_busy_hours "
        f"FROM vms_instance_days WHERE instance_id = '{CMP}' ORDER BY day, first_seen"
    ).table.to_pylist()
    # The resize day: 10 h 05 min at 4 vCPUs (m1.large), 13 h 55 min at 8 (m1.xlarge); one row each
    # (the view groups by instance type).
    resize = [r for r in days if r["day"] == date(2024, 5, 15)]
    assert [(r["instance_type"], r["samples"], r["vcpus"], r["measurement"]) for r in resize] == [
        ("m1.large", 1, 4, "events"),
        ("m1.xlarge", 1, 8, "events"),
    ]
    assert [r["measured_hours"] for r in resize] == pytest.approx([10 + 5 / 60, 13 + 55 / 60])
    assert [r["vcpu_hours"] for r in resize] == pytest.approx([4 * (10 + 5 / 60), 8 * (13 + 55 / 60)])
    assert {r["cpu_busy_hours"] for r in resize} == {0.0}
    by_day = {r["day"]: r for r in days}
    assert date(2024, 5, 20) not in by_day  # suspended all day
    assert by_day[date(2024, 5, 21)]["vcpu_hours"] == pytest.approx(8 * 12)
    total = engine.query("SELECT sum(vcpu_hours) AS h FROM vms_instance_days").table.to_pylist()[0]["h"]
    web = 82.5 + 99
    compute = 4 * (346 + 5 / 60) + 8 * (109 + 55 / 60) + 8 * 252
    gpu = 16 * 72
    assert total == pytest.approx(web + compute + gpu)
    used = engine.query(
        "SELECT storage_system, storage_share, CAST(CAST(end_time AS DATE) AS VARCHAR) AS dt, "
        "sum(used_bytes) AS used "
        "FROM storage_dedup GROUP BY 1, 2, 3 ORDER BY 3, 1, 2"
    ).table.to_pylist()
    assert [(r["storage_system"], r["storage_share"], r["dt"], r["used"]) for r in used] == [
        ("lustre", "/scratch", "2024-05-01", 3 * 1024**4),
        ("nfs", "/home", "2024-05-01", 22548578304 + 1024**3),
        ("nfs", "/projects", "2024-05-01", 5 * 1024**4 // 2),
        ("lustre", "/scratch", "2024-05-02", 0),
        ("nfs", "/home", "2024-05-02", 22600000000),
        ("nfs", "/projects", "2024-05-02", 2750000000000),
    ]


def test_files_written_before_a_contract_column_existed_still_query(tmp_path: Path) -> None:
    settings = Settings(mode="local", home=tmp_path)
    services = Services(settings)
    services.add_site("TEST-SITE")
    # An older vms file: every column but `measurement`.
    schema = stored_schema("vms")
    old = pa.schema([f for f in schema if f.name != "measurement"])
    row = {
        "site": "TEST-SITE",
        "resource": "R",
        "provider": "aws",
        "account": "1",
        "instance_id": "i-1",
        "interval_start": datetime(2024, 5, 1, tzinfo=UTC),
        "interval_end": datetime(2024, 5, 1, 0, 15, tzinfo=UTC),
        "uptime_seconds": 900,
        "cpu_busy_seconds": 450.0,
        "vcpus": 2,
        "ingested_at": datetime(2024, 5, 2, tzinfo=UTC),
        "batch_id": "b1",
    }
    table = pa.Table.from_pylist([row], schema=old)
    folder = Path(settings.local_warehouse) / "vms" / "dt=2024-05-01"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "b1.parquet")
    engine = DuckDbEngine(settings.local_warehouse)
    (day,) = engine.query("SELECT measurement, vcpu_hours FROM vms_instance_days").table.to_pylist()
    assert day == {"measurement": "agent", "vcpu_hours": pytest.approx(0.5)}
