"""`tally-agent parse` over real files: quota reports file by file, `--fields` for every source that
has a layout, and an input in which nothing is recognised exits 4 naming the expected format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tally.domain.records import AcceleratorRecord, StorageRecord
from tally_agent import cli

DATA = Path(__file__).parent / "data"
GIB = 1024**3


def parse(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    code = cli.main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


# -- 6. quota reports -------------------------------------------------------------------------------
def test_a_row_longer_than_its_header_is_a_counted_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    report = tmp_path / "quota.csv"
    report.write_text(
        "share,path,owner,used,quota\n"
        "home,/home/alice,alice,1G,10G\n"
        "home,/home/bob,bob,2G,10G,surplus\n"
        "home,/home/carol,carol,3G,10G\n"
    )
    code, records, err = parse(capsys, "quota", str(report))
    assert code == 3
    assert [(r["owner"], r["used_bytes"]) for r in records] == [("alice", 1 * GIB), ("carol", 3 * GIB)]
    assert "records=2" in err and "errors=1" in err
    assert "storage line 3: " in caplog.text and "6 fields, the header has 5" in caplog.text


def test_every_file_has_its_own_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "a.csv"
    first.write_text("owner,used,files\nalice,1G,10\nbob,2G,20\n")
    second = tmp_path / "b.csv"  # another column order, and a header only
    second.write_text("used,owner\n4G,carol\n")
    third = tmp_path / "c.csv"
    third.write_text("owner,used\n")
    code, records, err = parse(capsys, "quota", str(first), str(second), str(third))
    assert code == 0 and "errors=0" in err
    assert [(r["owner"], r["used_bytes"], r.get("file_count")) for r in records] == [
        ("alice", 1 * GIB, 10),
        ("bob", 2 * GIB, 20),
        ("carol", 4 * GIB, None),
    ]
    for record in records:
        StorageRecord.model_validate(record)


def test_quota_fields_name_the_columns_of_a_headerless_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "quota.csv"
    report.write_text("alice,/home/alice,1.5G\nbob,/home/bob,512M\n")
    code, records, _ = parse(capsys, "quota", "--fields", "owner,path,used", str(report))
    assert code == 0
    assert [(r["owner"], r["path"], r["used_bytes"]) for r in records] == [
        ("alice", "/home/alice", 3 * GIB // 2),
        ("bob", "/home/bob", 512 * 1024**2),
    ]


# -- 5. --fields for gpu (and refused where the layout is fixed) -------------------------------------
def test_parse_gpu_honours_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "sacct.txt"
    dump.write_text(
        "77|COMPLETED|2024-01-01T00:00:00|2024-01-01T00:10:00|00:10:00|2|00:15:00|gres/gpu:a100=2,gres/gpu=2\n"
        "78|COMPLETED|2024-01-01T00:00:00|2024-01-01T01:00:00|01:00:00|2|00:15:00|cpu=2\n"
    )
    fields = "JobID,State,Start,End,Elapsed,NCPUS,TotalCPU,AllocTRES"
    code, records, _ = parse(capsys, "gpu", "--fields", fields, str(dump))
    assert code == 0
    assert [(r["associated_id"], r["count"], r["model"], r["allocated_seconds"]) for r in records] == [
        ("77", 2, "a100", 600)
    ]
    AcceleratorRecord.model_validate(records[0])
    # The same through the source option.
    code, again, _ = parse(capsys, "gpu", "-o", f"gpu.fields={fields}", str(dump))
    assert (code, again) == (0, records)


@pytest.mark.parametrize(
    "source", ["pbs", "sge", "lsf", "htcondor", "star", "xdmod-storage", "openstack-events"]
)
def test_fields_for_a_fixed_layout_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, _, err = parse(capsys, source, "--fields", "a,b", str(empty))
    assert code == 1 and f"{source} takes no --fields" in err


def test_gpu_fields_with_a_batch_system_of_fixed_layout_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, _, err = parse(capsys, "gpu", "--batch-system", "pbs", "--fields", "a,b", str(empty))
    assert code == 1 and "fixed layout" in err


# -- 9/10. XDMoD storage in the old sources, and nothing recognised ------------------------------------
def test_xdmod_storage_in_star_or_quota_is_not_silently_empty(capsys: pytest.CaptureFixture[str]) -> None:
    xdmod = str(DATA / "xdmod-storage" / "2024-05-01.json")
    code, records, err = parse(capsys, "star", xdmod)
    assert (code, records) == (4, [])
    assert "nothing in 49 non-blank lines was recognised" in err and "StAR XML" in err
    code, records, err = parse(capsys, "quota", xdmod)  # used to raise AttributeError
    assert (code, records) == (4, []) and "expected a CSV quota report" in err
    code, records, _ = parse(capsys, "xdmod-storage", xdmod)
    assert code == 0 and len(records) == 4


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("slurm", "sacct --parsable2"),
        ("pbs", "PBS/Torque accounting"),
        ("sge", "SGE/UGE"),
        ("lsf", "lsb.acct"),
        ("htcondor", "condor_history"),
        ("xdmod-storage", "Open XDMoD storage JSON"),
        ("openstack-events", "Nova notifications"),
    ],
)
def test_nothing_recognised_exits_4_and_names_the_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, expected: str
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("Dear operator,\nthis is not an accounting file.\n")
    code, records, err = parse(capsys, source, str(text))
    assert (code, records) == (4, [])
    assert f"{source}: nothing in 2 non-blank lines was recognised; expected" in err and expected in err


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("slurm", "JobID|State|Start|End\n"),  # a header and no job: nothing to do, not an error
        ("slurm", "1|PENDING|Unknown|Unknown\n"),  # pending only: skipped
        ("xdmod-storage", "[]\n"),
        (
            "openstack-events",
            '{"event_type": "compute.instance.create.start", "timestamp": "2024-05-01 00:00:00"}\n',
        ),
    ],
)
def test_recognised_but_empty_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, text: str
) -> None:
    path = tmp_path / "input.txt"
    path.write_text(text)
    extra = ["--fields", "JobID,State,Start,End"] if text.startswith("1|") else []
    code, records, _ = parse(capsys, source, *extra, str(path))
    assert (code, records) == (0, [])


def test_an_empty_file_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    code, records, _ = parse(capsys, "slurm", str(path))
    assert (code, records) == (0, [])
