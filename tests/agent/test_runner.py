"""Delivery against a scripted stdlib HTTPS server on 127.0.0.1: refused batches, 408/429 retries,
the run lock, and the backoff schedule (seeded RNG, injected clock)."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import pytest

from tally_agent import cli, spool
from tally_agent.lock import RunLock
from tally_agent.runner import EXIT_PENDING, Agent, import_files
from tests.agent.fake_tally import Fake, config_for

HEADER = "JobID|JobName|User|Group|Account|Partition|QOS|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|State"


def sacct_dump(count: int) -> str:
    rows = [HEADER]
    for n in range(count):
        rows.append(
            f"{100 + n}|j|u|g|p|batch|normal|2024-03-01T09:00:00|2024-03-01T10:00:00|"
            f"2024-03-01T11:{n:02d}:00|01:{n:02d}:00|00:10:00|1|1|COMPLETED"
        )
    return "\n".join(rows) + "\n"


def history(tmp_path: Path, count: int = 3) -> str:
    path = tmp_path / "sacct.txt"
    path.write_text(sacct_dump(count))
    return str(path)


def outbox(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "spool" / "outbox").rglob("*.ndjson.gz"))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_refused_batches_move_aside_with_the_reason_and_are_never_resent(
    tmp_path: Path, fake: Fake, certs: dict[str, Path], status: int
) -> None:
    fake.statuses = [status]
    fake.reason = {"title": "Unprocessable", "detail": f"batch broke rule {status}"}
    config = config_for(tmp_path, fake, certs, attempts=3)
    report = import_files(config, "slurm", [history(tmp_path)])
    assert (report.refused_batches, report.sent_batches, report.pending_batches) == (1, 0, 0)
    assert len(fake.posts) == 1  # a refusal is final: no second attempt within the run
    refused = sorted((tmp_path / "spool" / "refused" / "jobs").iterdir())
    assert [p.name.endswith(".ndjson.gz") for p in refused] == [True, False]
    assert refused[0].read_bytes() == fake.posts[0][1]  # the exact body, kept for a person to inspect
    reason = json.loads(refused[1].read_text())
    assert reason == {"reason": f"{status} Unprocessable: batch broke rule {status}"}
    assert refused[1].name == refused[0].name + ".reason.json"
    assert outbox(tmp_path) == []
    # Later runs send only what is new; the refused batch stays where it is.
    agent = Agent(config)
    assert agent.flush() is True
    assert len(fake.posts) == 1 and refused[0].exists()


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_stay_spooled_and_go_out_next_run(
    tmp_path: Path, fake: Fake, certs: dict[str, Path], status: int
) -> None:
    fake.statuses = [status]
    config = config_for(tmp_path, fake, certs)
    report = import_files(config, "slurm", [history(tmp_path, 4)])
    assert (report.sent_batches, report.refused_batches, report.pending_batches) == (0, 0, 1)
    assert [p.parent.name for p in outbox(tmp_path)] == ["jobs"]
    assert not (tmp_path / "spool" / "refused").exists()
    backoff = json.loads((tmp_path / "spool" / "backoff.json").read_text())
    assert backoff["failures"] == 1
    # The next run (no backoff: base 0) posts the same bytes again, and the server takes them.
    agent = Agent(config)
    assert agent.flush() is True
    assert len(fake.posts) == 2 and fake.posts[0] == fake.posts[1]
    assert agent.report.accepted == 4 and outbox(tmp_path) == []
    assert not (tmp_path / "spool" / "backoff.json").exists()


def test_retryable_answers_are_retried_within_a_run(
    tmp_path: Path, fake: Fake, certs: dict[str, Path]
) -> None:
    fake.statuses = [429, 408]
    config = config_for(tmp_path, fake, certs, attempts=3)
    report = import_files(config, "slurm", [history(tmp_path, 2)])
    assert (report.sent_batches, report.accepted, report.pending_batches) == (1, 2, 0)
    assert len(fake.posts) == 3 and len({body for _, body in fake.posts}) == 1


def test_a_held_lock_stops_a_second_run_which_sends_nothing(
    tmp_path: Path, fake: Fake, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ini = tmp_path / "agent.ini"
    sacct = tmp_path / "fake_sacct.py"
    sacct.write_text(f"import sys\nsys.stdout.write({sacct_dump(2)!r})\n")
    ini.write_text(
        f"[tally]\nserver = {fake.url}\napi_key = k\nsite = TEST-SITE\nresource = cluster1\n"
        f"ca_bundle = {certs['ca']}\nspool_dir = {tmp_path / 'spool'}\nattempts = 1\n"
        "first_run_days = 100000\n"
        f"[slurm]\nsacct = {sys.executable} {sacct}\n"
    )
    with RunLock(tmp_path / "spool" / "tally-agent.lock"):
        assert cli.main(["run", "--config", str(ini)]) == EXIT_PENDING == 75
        assert cli.main(["import", "slurm", "--config", str(ini), history(tmp_path)]) == 75
        assert "held by another tally-agent run" in capsys.readouterr().err
        assert fake.posts == [] and fake.gets == []
        assert outbox(tmp_path) == []
    # Once the lock is free the same run goes through.
    assert cli.main(["run", "--config", str(ini), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accepted"] == 2 and len(fake.posts) == 1 and len(fake.gets) == 1


def test_backoff_delay_is_exponential_with_bounded_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the jitter factor pinned (random() = 0.5 -> x0.75) the schedule is exact.
    monkeypatch.setattr(random, "random", lambda: 0.5)
    assert [spool.delay_for(n, 300.0, 3600.0) for n in range(1, 7)] == [225, 450, 900, 1800, 2700, 2700]
    monkeypatch.setattr(random, "random", lambda: 0.0)
    assert spool.delay_for(3, 10.0, 1000.0) == 20.0  # 40 x 0.5
    assert spool.delay_for(1, 0.0, 1000.0) == 0.0
    monkeypatch.undo()
    # A seeded RNG: the same draws as an independent generator with the same seed.
    random.seed(20240301)
    delays = [spool.delay_for(n, 60.0, 1800.0) for n in range(1, 41)]
    reference = random.Random(20240301)
    assert delays == [min(1800.0, 60.0 * 2 ** (n - 1)) * (0.5 + reference.random() / 2) for n in range(1, 41)]
    for n, delay in enumerate(delays, 1):
        plain = min(1800.0, 60.0 * 2 ** (n - 1))
        assert 0.5 * plain <= delay < plain <= 1800.0  # never more than the cap
    assert len(set(delays)) == len(delays)  # jitter: no two runs retry in lock step


def test_backoff_between_runs_uses_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    monkeypatch.setattr(random, "random", lambda: 0.5)
    backoff = spool.Backoff(tmp_path / "backoff.json", 300.0, 1000.0)
    assert backoff.wait_left() == 0.0
    # random() pinned at 0.5: each delay is 0.75 x min(cap, 300 x 2^(n-1)).
    assert [backoff.failed() for _ in range(4)] == [225.0, 450.0, 750.0, 750.0]
    assert json.loads((tmp_path / "backoff.json").read_text()) == {"failures": 4, "next_attempt": 1_000_750.0}
    clock[0] += 400
    assert backoff.wait_left() == 350.0
    clock[0] += 350
    assert backoff.wait_left() == 0.0
    backoff.succeeded()
    assert backoff.wait_left() == 0.0 and not (tmp_path / "backoff.json").exists()


def test_a_run_backing_off_posts_nothing_unless_forced(
    tmp_path: Path, fake: Fake, certs: dict[str, Path]
) -> None:
    fake.statuses = [503]
    config = config_for(tmp_path, fake, certs, retry_base_seconds=3600.0)
    report = import_files(config, "slurm", [history(tmp_path)])
    assert report.pending_batches == 1 and len(fake.posts) == 1
    waiting = Agent(config)
    assert waiting.flush() is False
    assert "backing off" in waiting.report.skipped_sending and len(fake.posts) == 1
    forced = Agent(config)
    assert forced.flush(force=True) is True
    assert len(fake.posts) == 2 and outbox(tmp_path) == []
