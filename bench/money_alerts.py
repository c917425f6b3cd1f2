"""The alerts part of bench/money.py: the idle and stuck VM rules over 2,000 VMs sampled every
15 minutes, beside a bare DuckDB aggregation of the same rows, in one run.

A week of samples (the idle rule's default look-back: 2,000 x 672 = 1.34 million rows) is written
straight to the warehouse as the ingest lays it out (one Parquet file per day). Planted: every
tenth VM idle for the last 30 hours, every fiftieth flat at 99 % with no traffic for the last 12.
Timed: `AlertsService.run` (both rules, their queries through the engine, the alerts stored in
SQLite), and DuckDB reading the same Parquet files for the per-VM busy share and idle streak —
the core of the same work, with no views, no parameters and no alert bookkeeping.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from tally.alerts.model import RuleInput
from tally.domain.schema import stored_schema
from tally.people.authz import Fence
from tally.services.container import Services
from tally.settings import Settings

SAMPLE_SECONDS = 900
NOW = datetime(2026, 3, 31, tzinfo=UTC)


def samples(vms: int, days: int) -> pa.Table:
    per_vm = days * 86_400 // SAMPLE_SECONDS
    n = vms * per_vm
    vm = np.repeat(np.arange(vms), per_vm)
    step = np.tile(np.arange(per_vm), vms)
    start_us = int((NOW - timedelta(days=days)).timestamp() * 1e6) + step * SAMPLE_SECONDS * 1_000_000
    recent = step >= per_vm - 30 * 4  # the last 30 hours
    last12 = step >= per_vm - 12 * 4
    rng = np.random.default_rng(7)
    busy = rng.uniform(0.2, 0.9, n)
    idle = (vm % 10 == 3) & recent
    stuck = (vm % 50 == 7) & last12
    busy = np.where(idle, 0.01, np.where(stuck, 0.99, busy))
    net = np.where(stuck, 0, rng.integers(1_000_000, 50_000_000, n))
    vcpus = 4
    ts = pa.timestamp("us", tz="UTC")
    ids = pa.array([f"i-{i:06x}" for i in range(vms)]).take(pa.array(vm))
    columns: dict[str, Any] = {
        "site": pa.array(["CLOUD"] * n),
        "resource": pa.array(["os1"] * n),
        "provider": pa.array(["aws"] * n),
        "account": pa.array(["111122223333"] * n),
        "instance_id": ids,
        "interval_start": pa.array(start_us, ts),
        "interval_end": pa.array(start_us + SAMPLE_SECONDS * 1_000_000, ts),
        "uptime_seconds": pa.array(np.full(n, 86_400 * 30)),
        "cpu_busy_seconds": pa.array(busy * SAMPLE_SECONDS * vcpus),
        "cpu_idle_seconds": pa.array((1 - busy) * SAMPLE_SECONDS * vcpus),
        "vcpus": pa.array(np.full(n, vcpus)),
        "net_rx_bytes": pa.array(net),
        "net_tx_bytes": pa.array(net // 2),
        "ingested_at": pa.array(np.full(n, int(NOW.timestamp() * 1e6)), ts),
        "batch_id": pa.array(["bench"] * n),
    }
    schema = stored_schema("vms")
    return pa.table(
        {f.name: columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema},
        schema=schema,
    )


BARE = """
WITH s AS (
  SELECT provider, account, instance_id, interval_start, interval_end,
    cpu_busy_seconds * 100.0 / (epoch(interval_end) - epoch(interval_start)) / vcpus AS busy
  FROM read_parquet('{root}/vms/*/*.parquet')
),
v AS (
  SELECT provider, account, instance_id, max(CASE WHEN busy >= 5 THEN interval_end END) AS busy_until
  FROM s GROUP BY ALL
)
SELECT count(*) FROM (
  SELECT s.instance_id, sum(epoch(s.interval_end) - epoch(s.interval_start)) AS idle_seconds
  FROM s JOIN v USING (provider, account, instance_id)
  WHERE v.busy_until IS NULL OR s.interval_start >= v.busy_until
  GROUP BY ALL HAVING sum(epoch(s.interval_end) - epoch(s.interval_start)) >= 24 * 3600
)
"""


def run(vms: int = 2000, days: int = 7) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        svc = Services(Settings(mode="local", home=home))
        svc.add_site("CLOUD")
        table = samples(vms, days)
        started = time.perf_counter()
        svc.warehouse.write_partitioned("vms", table, "interval_start", "bench")
        written = time.perf_counter() - started
        everything = Fence(everything=True)
        for rule in (
            {"kind": "idle_vm", "params": {"hours": 24}},
            {"kind": "stuck_vm", "params": {"hours": 6}},
        ):
            svc.alerts.add_rule(RuleInput.model_validate(rule), everything, "bench")
        svc.engine.query("SELECT 1")  # the views load once per engine, not per run
        started = time.perf_counter()
        first = svc.alerts.run(NOW)
        evaluated = time.perf_counter() - started
        started = time.perf_counter()
        second = svc.alerts.run(NOW)
        again = time.perf_counter() - started
        started = time.perf_counter()
        [(bare_idle,)] = duckdb.execute(BARE.format(root=svc.settings.local_warehouse)).fetchall()
        bare = time.perf_counter() - started
        kinds = [a.kind for a in svc.alerts.list_alerts(everything)]
        assert first.rule_errors == {}, first.rule_errors
        assert kinds.count("idle_vm") == vms // 10 == bare_idle, (kinds.count("idle_vm"), bare_idle)
        assert kinds.count("stuck_vm") == len([i for i in range(vms) if i % 50 == 7])
        assert second.fired == [] and second.refreshed == len(kinds)
        return {
            "vms": vms,
            "samples": table.num_rows,
            "write_seconds": round(written, 2),
            "alerts_fired": len(first.fired),
            "evaluation_seconds": round(evaluated, 2),
            "second_run_seconds": round(again, 2),
            "bare_duckdb_idle_seconds": round(bare, 2),
        }
