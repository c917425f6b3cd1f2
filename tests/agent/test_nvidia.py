"""nvidia-smi accounting and samples: parsing (command and files), attribution to jobs, and the
measured fields of the accelerators records. Expected numbers are worked out by hand here."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tally.domain.records import AcceleratorRecord
from tally_agent.context import ParseStats
from tally_agent.sources import gpu, nvidia
from tests.agent.nvidia_samples import ACCOUNTING, JOB_MAP, MIB, UUID_A, UUID_B, UUID_C


def job(job_id: str, start: datetime, wall: int, gpus: int) -> dict[str, object]:
    return {
        "site": "TEST-SITE",
        "resource": "cluster1",
        "local_job_id": job_id,
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": (start + timedelta(seconds=wall)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": wall,
        "gpus": gpus,
        "gpu_model": "a100",
        "local_user": "alice",
    }


def test_accounting_lines_parse_with_and_without_units() -> None:
    stats = ParseStats()
    apps = list(nvidia.parse_accounted(ACCOUNTING.splitlines(keepends=True), stats))
    assert apps[0] == nvidia.AccountedApp(UUID_A, 4101, "1320221000001", 3000000.0, 20480 * MIB, 50.0, 31.0)
    assert apps[1].max_memory_bytes == 30000 * MIB and apps[1].gpu_utilization == 100.0
    # `--format=csv` without nounits prints the units; [Not Supported] is no value.
    assert apps[3] == nvidia.AccountedApp(UUID_A, 4103, "1320221000001", 1200.0, 512 * MIB, 7.0, None)
    assert len(apps) == 4
    # The header is skipped; the three bad lines are counted with their line numbers.
    assert stats.errors == 3 and [p[1] for p in stats.problems] == [6, 7, 8]
    assert "pid" in stats.problems[0][2] and "5 fields, expected 7" in stats.problems[1][2]
    assert "above 100" in stats.problems[2][2]
    assert stats.lines == 8 and stats.records == 4


def test_samples_parse_node_local_timestamps_iso_and_snapshots() -> None:
    from zoneinfo import ZoneInfo

    stats = ParseStats()
    now = datetime(2024, 7, 1, 12, 0, 30, tzinfo=UTC)
    lines = [
        "timestamp, uuid, utilization.gpu [%], memory.used [MiB]\n",
        f"2024/07/01 14:00:00.250, {UUID_C}, 80, 1024\n",  # Berlin summer time: 12:00 UTC
        f"2024-07-01T12:01:00Z, {UUID_C}, 20 %, 2048 MiB\n",
        f"{UUID_C}, 0, 0\n",  # a snapshot straight from the command: taken `now`
        f"2024/07/01 14:02:00, {UUID_C}, [N/A], 10\n",
        "2024/13/01 14:02:00, GPU-x, 1, 1\n",
    ]
    samples = list(nvidia.parse_samples(lines, stats, ZoneInfo("Europe/Berlin"), now))
    assert [s.time for s in samples] == [
        datetime(2024, 7, 1, 12, 0, 0, 250000, tzinfo=UTC),
        datetime(2024, 7, 1, 12, 1, tzinfo=UTC),
        now,
        datetime(2024, 7, 1, 12, 2, tzinfo=UTC),
    ]
    assert [(s.utilization, s.memory_bytes) for s in samples] == [
        (80.0, 1024 * MIB),
        (20.0, 2048 * MIB),
        (0.0, 0),
        (None, 10 * MIB),
    ]
    assert stats.errors == 1 and stats.problems[0][1] == 6
    # Read from a file (no `now`), a line without a timestamp cannot be placed in time.
    file_stats = ParseStats()
    assert list(nvidia.parse_samples([f"{UUID_C}, 5, 5\n"], file_stats)) == []
    assert file_stats.errors == 1


def test_job_map_lines_and_ambiguous_processes() -> None:
    stats = ParseStats()
    job_map = nvidia.parse_job_map(JOB_MAP.splitlines(keepends=True), stats)
    assert job_map.uuids == {
        "101": {UUID_A.lower(), UUID_B.lower()},
        "202": {UUID_A.lower()},
        "303": {UUID_C.lower()},
    }
    assert job_map.processes[(UUID_A.lower(), 4103)] == {"101"}
    assert stats.errors == 2 and [p[1] for p in stats.problems] == [7, 8]
    app = nvidia.AccountedApp(UUID_A.upper(), 4101, None, 1.0, None, 1.0, None)
    assert job_map.job_of(app) == "101"  # UUIDs compare case-insensitively
    # A PID reused on the same GPU by two jobs cannot be attributed.
    job_map.add("505", [UUID_A], [4101])
    assert job_map.job_of(app) is None


def measurements() -> nvidia.Measurements:
    stats = ParseStats()
    measured = nvidia.Measurements(job_map=nvidia.parse_job_map(JOB_MAP.splitlines(), stats))
    measured.apps = list(nvidia.parse_accounted(ACCOUNTING.splitlines(), stats))
    return measured


def test_accounting_fills_active_time_utilisation_and_memory() -> None:
    start = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    record = gpu.from_job(job("101", start, 3600, 2), measurements())
    assert record is not None
    # GPU A: pid 4101 3000 s at 50 % = 1500 s, pid 4103 1.2 s at 7 % = 0.084 s (pid 5200 is job 202's).
    # GPU B: pid 4102 3600 s at 100 % = 3600 s. Per device: (1500.084 + 3600) / 2.
    assert record["active_seconds"] == 2550
    assert record["utilisation_percent"] == pytest.approx(100 * 5100.084 / 7200, abs=0.01)
    assert record["memory_bytes"] == 20480 * MIB + 30000 * MIB
    assert record["allocated_seconds"] == 3600 and record["count"] == 2
    AcceleratorRecord.model_validate(record)  # the server's contract accepts it

    other = gpu.from_job(job("202", start + timedelta(hours=1), 1200, 1), measurements())
    assert other is not None
    assert (other["active_seconds"], other["utilisation_percent"]) == (540, 45.0)  # 600 s at 90 %


def test_busy_time_is_capped_at_the_allocation() -> None:
    measured = nvidia.Measurements()
    measured.job_map.add("7", [UUID_C], [1, 2])
    # Two processes at once on one GPU, each 100 s at 100 %: the GPU was held 120 s only.
    measured.apps = [nvidia.AccountedApp(UUID_C, pid, None, 100000.0, None, 100.0, None) for pid in (1, 2)]
    fields = measured.measure("7", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), 1, 120)
    assert fields == {"active_seconds": 120, "utilisation_percent": 100.0}


def test_samples_fill_a_job_without_accounting() -> None:
    start = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    lines = [f"{(start - timedelta(seconds=30)).isoformat()}, {UUID_C}, 100, 40000\n"]  # previous job
    utils = [0, 50, 100, 100, 100, 100, 100, 100, 50, 0]
    for minute, util in enumerate(utils):
        moment = start + timedelta(minutes=minute, seconds=15)
        lines.append(f"{moment.strftime('%Y/%m/%d %H:%M:%S.000')}, {UUID_C}, {util}, {1000 + minute}\n")
    lines.append(f"{(start + timedelta(minutes=11)).isoformat()}, {UUID_C}, 100, 50000\n")  # after the job
    stats = ParseStats()
    measured = nvidia.Measurements(job_map=nvidia.parse_job_map(JOB_MAP.splitlines(), stats))
    measured.add_samples(nvidia.parse_samples(lines, stats))
    record = gpu.from_job(job("303", start, 600, 1), measured)
    assert record is not None and stats.errors == 2  # the two bad job-map lines
    # Samples at 10:00:15 .. 10:09:15 each stand for 60 s; the last one until the end (45 s).
    busy = sum(u * 60 for u in utils[:-1]) / 100 + utils[-1] * 45 / 100
    covered = 9 * 60 + 45
    assert busy == 420.0
    assert record["active_seconds"] == 420
    assert record["utilisation_percent"] == pytest.approx(100 * 420 / covered, abs=0.01)
    assert record["memory_bytes"] == 1009 * MIB
    AcceleratorRecord.model_validate(record)


def test_sample_gap_bounds_what_one_sample_stands_for() -> None:
    start = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    measured = nvidia.Measurements(sample_gap=120)
    measured.job_map.add("9", [UUID_C])
    # The sampler stopped after one sample: it stands for 120 s, not the whole hour.
    measured.add_samples([nvidia.Sample(start, UUID_C, 75.0, None)])
    fields = measured.measure("9", start, start + timedelta(hours=1), 1, 3600)
    assert fields == {"active_seconds": 90, "utilisation_percent": 75.0}


def test_unmeasured_jobs_and_values_from_elsewhere_are_left_alone() -> None:
    start = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    measured = measurements()
    plain = gpu.from_job(job("999", start, 100, 1))
    assert plain is not None
    assert gpu.from_job(job("999", start, 100, 1), measured) == plain
    assert "active_seconds" not in plain
    # A job whose GPUs are mapped but were never measured is counted as unattributed.
    assert gpu.from_job(job("303", start, 100, 1), measured) is not None
    assert measured.unattributed == 1
    vm = {**plain, "associated_kind": "vm", "associated_id": "101"}
    assert measured.apply(dict(vm)) == vm
    kept = {**plain, "associated_id": "101", "count": 2, "active_seconds": 5}
    assert measured.apply(dict(kept))["active_seconds"] == 5


FAKE_NVIDIA_SMI = """import sys
args = sys.argv[1:]
open(sys.argv[0] + ".calls", "a").write(" ".join(args) + "\\n")
if args[-1] != "--format=csv,noheader,nounits":
    sys.exit(9)
if args[0].startswith("--query-accounted-apps="):
    print("1320221000001, GPU-aaaa, 77, 60000, 100, 25, 1")
elif args[0] == "--query-gpu=uuid,utilization.gpu,memory.used":
    print("GPU-aaaa, 40, 300")
    print("GPU-bbbb, 0, 0")
elif args[0] == "--query-compute-apps=gpu_uuid,pid":
    print("GPU-aaaa, 77")
    print("GPU-bbbb, 88")
    print("GPU-bbbb, 99")
else:
    sys.exit(3)
"""


@pytest.fixture
def fake_smi(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "nvidia-smi.py"
    script.write_text(FAKE_NVIDIA_SMI)
    return f"{sys.executable} {script}", Path(str(script) + ".calls")


def test_options_read_files_globs_and_the_command(tmp_path: Path, fake_smi: tuple[str, Path]) -> None:
    command, calls = fake_smi
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    (nodes / "n1.csv").write_text(ACCOUNTING)
    (nodes / "n2.csv").write_text(f"x, {UUID_C}, 1, 1000, 1, 100, 1\n")
    (tmp_path / "map").write_text(JOB_MAP + "808 GPU-aaaa 77\n")
    (tmp_path / "samples").write_text(f"2024-07-01T10:00:00Z, {UUID_C}, 10, 1\n")
    now = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
    stats = ParseStats()
    measured = nvidia.from_options(
        {
            "job_map": str(tmp_path / "map"),
            "accounting_files": f"{nodes}/*.csv",
            "samples_files": str(tmp_path / "samples"),
            "nvidia_smi": command,
            "sample_gap": "30",
        },
        stats,
        now=now,
    )
    assert measured is not None and measured.sample_gap == 30.0
    assert len(measured.apps) == 4 + 1 + 1
    assert measured.apps[-1] == nvidia.AccountedApp(
        "GPU-aaaa", 77, "1320221000001", 60000.0, 100 * MIB, 25.0, 1.0
    )
    assert [s.time for s in measured.samples["gpu-aaaa"]] == [now]
    assert [s.time for s in measured.samples[UUID_C.lower()]] == [datetime(2024, 7, 1, 10, tzinfo=UTC)]
    assert calls.read_text().splitlines() == [
        "--query-accounted-apps=gpu_serial,gpu_uuid,pid,time,max_memory_usage,gpu_utilization,"
        "mem_utilization --format=csv,noheader,nounits",
        "--query-gpu=uuid,utilization.gpu,memory.used --format=csv,noheader,nounits",
    ]
    fields = measured.measure("808", now, now + timedelta(minutes=2), 1, 120)
    assert fields == {"active_seconds": 15, "utilisation_percent": 12.5, "memory_bytes": 100 * MIB}
    assert nvidia.from_options({"accounting": "ignored"}, ParseStats()) is None


def test_a_failing_nvidia_smi_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(nvidia.NvidiaError, match="exited with 3"):
        nvidia.run_nvidia_smi(f"{sys.executable} -c 'import sys; sys.exit(3)'", "--query-gpu=uuid")
    with pytest.raises(nvidia.NvidiaError, match="cannot run"):
        nvidia.run_nvidia_smi(str(tmp_path / "no-such-nvidia-smi"), "--query-gpu=uuid")


@pytest.mark.parametrize(
    ("cgroup", "job_id"),
    [
        ("12:devices:/slurm/uid_1000/job_4242/step_0/task_0\n", "4242"),
        ("0::/system.slice/slurmstepd.scope/job_77/step_batch/user/task_0\n", "77"),
        ("0::/pbs_jobs.service/jobid/1234.pbsserver\n", "1234.pbsserver"),
        ("4:cpuset:/torque/5678.torque-server.example.org\n", "5678.torque-server.example.org"),
        ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
        ("0::/system.slice/slurmstepd.scope/job_x/step_0\n", None),
    ],
)
def test_job_of_cgroup(cgroup: str, job_id: str | None) -> None:
    assert nvidia.job_of_cgroup(cgroup) == job_id


def test_map_running_reads_each_process_cgroup(tmp_path: Path, fake_smi: tuple[str, Path]) -> None:
    command, _ = fake_smi
    proc = tmp_path / "proc"
    (proc / "77").mkdir(parents=True)
    (proc / "77" / "cgroup").write_text("0::/system.slice/slurmstepd.scope/job_808/step_0/user/task_0\n")
    (proc / "88").mkdir()
    (proc / "88" / "cgroup").write_text("0::/user.slice/user-0.slice\n")  # not a batch job
    # pid 99 ended between nvidia-smi and reading /proc: skipped
    lines = nvidia.running_map_lines(command, str(proc))
    assert lines == ["808 GPU-aaaa 77\n"]
    job_map = nvidia.parse_job_map(lines, ParseStats())
    assert job_map.processes == {("gpu-aaaa", 77): {"808"}}


def test_module_main_prints_timestamped_samples(
    fake_smi: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command, _ = fake_smi
    monkeypatch.setenv("TALLY_NVIDIA_SMI", command)
    before = datetime.now(UTC).replace(microsecond=0)
    assert nvidia.main(["sample"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(", ", 1)[1] for line in out] == ["GPU-aaaa, 40, 300", "GPU-bbbb, 0, 0"]
    samples = list(nvidia.parse_samples(out, ParseStats()))
    assert len(samples) == 2 and before <= samples[0].time <= datetime.now(UTC)
    assert nvidia.main(["map-running"]) == 0
    assert nvidia.main(["bogus"]) == 2
    monkeypatch.setenv("TALLY_NVIDIA_SMI", f"{sys.executable} -c 'import sys; sys.exit(1)'")
    assert nvidia.main(["sample"]) == 1
    assert "exited with 1" in capsys.readouterr().err


def test_ndjson_of_an_enriched_record_is_json_clean() -> None:
    record = gpu.from_job(job("101", datetime(2024, 7, 1, tzinfo=UTC), 3600, 2), measurements())
    assert json.loads(json.dumps(record)) == record
