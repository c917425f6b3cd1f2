"""Faults the agent and server survive, proven end to end: 20,000 jobs from two agents (real
`tally-agent run` processes, cron-like, with overlapping runs on the same spool) go through a
fault-injecting proxy to a real `tally serve` process that is SIGKILLed and restarted at random
points. The proxy answers 500 and 503, drops requests before the server sees them and drops
answers after the server stored the batch. Afterwards every job is in `jobs_dedup` exactly once,
nothing was rejected or refused, and both spools are empty. Seeded; the faults are counted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tally.query.open_engine import open_engine
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.fault_proxy import FaultPlan, fault_proxy
from tests.support.paths import AGENTS
from tests.support.serve_process import TallyServe, free_port

pytestmark = [pytest.mark.functional, pytest.mark.slow]

SEED = int(os.environ.get("TALLY_FAULT_SEED", "20261201"))
JOBS_PER_AGENT = 10_000
RESOURCES = ("cluster1", "cluster2")
CHAOS_SECONDS = 55.0  # at least, then faults stop once every kind was met, and the agents drain
# Bounds on waiting for what the test waits on, not expectations of speed: on a loaded machine a
# process start, a run or the fault mix takes longer, and the test waits for it rather than failing.
RUN_TIMEOUT = 600.0  # one `tally-agent run`
CHAOS_CEILING = 900.0  # faults go on until each kind was met, at most this long
CALM_CEILING = 900.0  # cron runs in the calm until the spools are empty, at most this long
HEADER = "JobID|JobName|User|Account|Submit|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|State"
FAKE_SACCT = "import sys\nsys.stdout.write(open(sys.argv[1]).read())\n"


@dataclass
class Feed:
    """The sacct output one agent sees, growing between runs (written atomically)."""

    path: Path
    offset: int  # job ids of this agent start here, so the two resources' ids differ
    written: int = 0
    lines: list[str] = field(default_factory=list)

    def grow(self, count: int, base: datetime) -> None:
        for n in range(self.written, min(JOBS_PER_AGENT, self.written + count)):
            end = base + timedelta(seconds=n)
            start = end - timedelta(minutes=20)
            s, e = start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")
            self.lines.append(
                f"{self.offset + n}|j{n}|u{n % 13}|p{n % 3}|{s}|{s}|{e}|00:20:00|00:15:00|1|1|COMPLETED"
            )
        self.written = min(JOBS_PER_AGENT, self.written + count)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join([HEADER, *self.lines]) + "\n")
        tmp.replace(self.path)


def agent_config(tmp: Path, name: str, proxy_port: int, key_file: Path, resource: str, feed: Path) -> Path:
    fake = tmp / "fake_sacct.py"
    fake.write_text(FAKE_SACCT)
    config = tmp / f"{name}.ini"
    config.write_text(
        "[tally]\n"
        f"server = http://127.0.0.1:{proxy_port}\napi_key_file = {key_file}\n"
        f"site = FAULT-SITE\nresource = {resource}\nspool_dir = {tmp / ('spool-' + name)}\n"
        "batch_system = slurm\ngpu = no\nattempts = 8\nretry_delay = 0\nretry_base_seconds = 0\n"
        "timeout = 10\nmax_batch_records = 40\noverlap_seconds = 30\nfirst_run_days = 100000\n"
        f"[slurm]\nsacct = {sys.executable} {fake} {feed}\n"
    )
    return config


def run_agent(config: Path) -> tuple[int, dict[str, int], str]:
    done = subprocess.run(
        [sys.executable, "-m", "tally_agent", "run", "--config", str(config), "--json"],
        env={**os.environ, "PYTHONPATH": str(AGENTS)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def test_every_record_exactly_once_through_kills_and_faults(tmp_path: Path) -> None:
    began = time.monotonic()
    home = tmp_path / "home"
    svc = Services(local_settings(home))
    svc.add_site("FAULT-SITE")
    key_file = tmp_path / "key"
    key_file.write_text(svc.create_key("FAULT-SITE").plain + "\n")
    servers = [TallyServe(home, free_port())]  # the last one is the server agents reach
    # Most requests fail (faults are cheap; every forward costs the server work), and a run posts a
    # batch up to 8 times, so runs go on through faults instead of ending at the first ones.
    plan = FaultPlan(answer_500=0.15, answer_503=0.15, drop_request=0.15, drop_answer=0.15, seed=SEED)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    feeds = [Feed(tmp_path / f"sacct-{r}.txt", offset=(i + 1) * 1_000_000) for i, r in enumerate(RESOURCES)]
    exits: Counter[str] = Counter()
    failures: list[str] = []  # an assertion in a thread would not fail the test: collected here
    lock = threading.Lock()
    kills = 0
    stop_chaos = threading.Event()
    servers[0].start(timeout=RUN_TIMEOUT)

    def killer() -> None:
        """SIGKILL the server at random points; its successor on the same TALLY_HOME is started
        while it still serves (a start takes seconds here), so the agents meet kills, not outages."""
        nonlocal kills
        chooser = random.Random(SEED + 1)
        while not stop_chaos.is_set():
            successor = TallyServe(home, free_port())
            try:
                successor.start(timeout=RUN_TIMEOUT)
            except RuntimeError as error:
                with lock:
                    failures.append(f"a successor server did not start: {error}")
                return
            if stop_chaos.wait(chooser.uniform(0.2, 2.0)):
                successor.stop()
                break
            servers[-1].stop(signal.SIGKILL)
            kills += 1
            if chooser.random() < 0.3:
                time.sleep(chooser.uniform(0.2, 1.5))  # sometimes nothing answers for a while
            servers.append(successor)

    with fault_proxy(lambda: servers[-1].port, plan) as proxy_port:
        configs = [
            agent_config(tmp_path, f"agent{i}", proxy_port, key_file, r, feeds[i].path)
            for i, r in enumerate(RESOURCES)
        ]

        def agent_loop(i: int) -> None:
            chooser = random.Random(SEED + 10 + i)
            while not stop_chaos.is_set():
                feeds[i].grow(chooser.randint(700, 1100), base)
                # Now and then cron starts the next run before this one ended: the same spool twice.
                twin = None
                if chooser.random() < 0.2:
                    twin = subprocess.Popen(
                        [sys.executable, "-m", "tally_agent", "run", "--config", str(configs[i])],
                        env={**os.environ, "PYTHONPATH": str(AGENTS)},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                code, _, err = run_agent(configs[i])
                twin_code = twin.wait(timeout=RUN_TIMEOUT) if twin is not None else None
                with lock:
                    exits[f"run exit {code}"] += 1
                    if twin_code is not None:
                        exits[f"overlapping run exit {twin_code}"] += 1
                    if code not in (0, 75) or twin_code not in (None, 0, 75):
                        failures.append(f"agent {i} exited {code}/{twin_code}: {err[-2000:]}")

        threads = [threading.Thread(target=agent_loop, args=(i,)) for i in range(len(RESOURCES))]
        chaos = threading.Thread(target=killer)
        for thread in [*threads, chaos]:
            thread.start()

        def every_fault_met() -> bool:
            """What the assertions below require of the chaos, so it lasts until it was met."""
            with lock:
                overlapped = any(k.startswith("overlapping") for k in exits)
                tried_later = exits["run exit 75"] > 0
            return (
                kills >= 2
                and plan.injected >= 300
                and plan.counts["drop_answer"] > 0
                and plan.counts["server_down"] > 0
                and tried_later
                and overlapped
            )

        # Faults for CHAOS_SECONDS (less once both feeds are complete), and until every kind of
        # fault was met: a slow machine gets fewer runs and kills per second, not fewer in all.
        deadline, ceiling = began + CHAOS_SECONDS, began + CHAOS_CEILING
        while time.monotonic() < ceiling and not failures:
            complete = all(f.written == JOBS_PER_AGENT for f in feeds)
            if (complete or time.monotonic() >= deadline) and every_fault_met():
                break
            time.sleep(0.2)
        stop_chaos.set()
        for thread in [*threads, chaos]:
            thread.join(timeout=2 * RUN_TIMEOUT)
            assert not thread.is_alive(), "an agent loop or the killer did not end"
        assert not failures, failures[0]
        # Calm: the server up, no faults; every feed complete; cron runs until nothing is left.
        plan.enabled = False
        calm = time.monotonic()
        reports = []
        for i, feed in enumerate(feeds):
            feed.grow(JOBS_PER_AGENT, base)
            # Runs until one ends with nothing pending (a run that times out posting exits 75).
            while True:
                code, report, err = run_agent(configs[i])
                if (
                    code == 0 and report.get("pending_batches") == 0
                ) or time.monotonic() > calm + CALM_CEILING:
                    break
            assert code == 0 and report["pending_batches"] == 0, err[-2000:]
            reports.append(report)
    servers[-1].stop()

    counts = dict(plan.counts)
    injected = plan.injected + kills
    print(
        f"\nfault injection (seed {SEED}): {injected} faults = {kills} SIGKILLs of the server + "
        f"{plan.injected} proxy faults { ({k: counts.get(k, 0) for k in sorted(counts)}) }; "
        f"agent runs {dict(exits)}; {calm - began:.1f} s of faults, {time.monotonic() - calm:.1f} s calm"
    )
    assert kills >= 2 and plan.injected >= 300
    assert plan.counts["drop_answer"] > 0 and plan.counts["server_down"] > 0
    assert exits["run exit 75"] > 0 and any(k.startswith("overlapping") for k in exits)

    # Every job exactly once in the deduplicated view, nothing else; nothing rejected; spools empty.
    engine = open_engine(local_settings(home))
    rows = engine.query(
        "SELECT resource, local_job_id, count(*) AS n FROM jobs_dedup GROUP BY resource, local_job_id"
    ).table.to_pylist()
    seen = {(row["resource"], str(row["local_job_id"])) for row in rows}
    expected = {
        (r, str(f.offset + n)) for r, f in zip(RESOURCES, feeds, strict=True) for n in range(JOBS_PER_AGENT)
    }
    assert len(expected) == 20_000
    assert max(row["n"] for row in rows) == 1
    assert seen == expected, (len(seen - expected), len(expected - seen))
    raw = engine.query("SELECT count(*) AS n FROM jobs").table.column("n").to_pylist()[0]
    assert raw >= 20_000  # resent records may be stored twice physically; the view keeps one
    assert not list((home / "warehouse" / "quarantine").rglob("*.ndjson"))  # nothing was rejected
    for i in range(len(RESOURCES)):
        spool = tmp_path / f"spool-agent{i}"
        assert not list((spool / "outbox").rglob("*.ndjson.gz"))
        assert not (spool / "refused").exists() or not list((spool / "refused").rglob("*.gz"))
