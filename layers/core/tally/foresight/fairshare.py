"""Fair share: usage decayed with a half-life, per project and user (or other jobs dimensions).

Slurm's priority/multifactor plugin decays accrued usage by 2^(-age / PriorityDecayHalfLife). Usage
accrues while a job runs, so a job of wall time w ending at age a (before `at`) contributes its usage
U spread evenly over its run, each instant decayed by its own age:

    U / w * integral over [a, a + w] of 2^(-s / h) ds  =  U * 2^(-a / h) * (1 - 2^(-w / h)) * h / (w ln 2)

(U * 2^(-a / h) for w = 0). The query reads the jobs report's base rows (so usage and users are the
reports'), binds every value, and returns raw and decayed hours; `share` is each row's part of the
decayed total of the rows returned (the caller's fence applies first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from tally.query.engine import Param, QueryEngine
from tally.query.sql_files import get_file
from tally.reports.catalog import JOBS

#: The seconds column of the jobs report's base rows each fair-share unit weighs.
UNIT_COLUMNS: dict[str, str] = {
    "core_hours": "core_seconds",
    "normalised_core_hours": "normalised_core_seconds",
    "hepscore23_core_hours": "normalised_hepscore23_seconds",
    "hs06_core_hours": "normalised_hs06_seconds",
    "gpu_hours": "gpu_seconds",
}
DIMENSIONS: tuple[str, ...] = ("site", "resource", "project", "vo", "user")
Clauses = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class FairshareSpec:
    group_by: tuple[str, ...]
    unit: str
    at: datetime  # UTC
    half_life_days: float
    start: datetime  # usage of jobs ending in [start, at)
    filters: dict[str, tuple[str, ...]]
    fence: Clauses | None  # None: every row


@dataclass(frozen=True)
class FairshareRow:
    key: dict[str, str | None]
    usage_hours: float
    decayed_hours: float
    share: float


def fairshare_sql(spec: FairshareSpec) -> tuple[str, list[Param]]:
    base = get_file("reports", JOBS.base).text.strip().rstrip(";")
    column = UNIT_COLUMNS[spec.unit]
    at = spec.at.replace(tzinfo=None)
    params: list[Param] = [at, spec.half_life_days * 86_400.0]
    last_day = (spec.at - timedelta(microseconds=1)).date()
    where = ["dt >= ?", "dt <= ?", "event_time >= ?", "event_time < ?", f"{column} IS NOT NULL"]
    params += [spec.start.date().isoformat()[:7], last_day.isoformat(), spec.start.replace(tzinfo=None), at]
    for name, values in sorted(spec.filters.items()):
        where.append(f"{JOBS.dimensions[name]} IN ({', '.join('?' for _ in values)})")
        params += list(values)
    if spec.fence is not None:
        alternatives = [f"{c} IN ({', '.join('?' for _ in vs)})" for c, vs in spec.fence]
        where.append("(" + " OR ".join(alternatives) + ")" if alternatives else "1 = 0")
        params += [v for _, vs in spec.fence for v in vs]
    dims = [f'{JOBS.dimensions[d]} AS "{d}"' for d in spec.group_by]
    usage = f"CAST({column} AS DOUBLE)"
    # 2^(-x) is written 0.5^x, each division's numerator cast to DOUBLE (Trino divides integers).
    wall = "CAST(wall_seconds AS DOUBLE)"
    half_life = "CAST(p.half_life AS DOUBLE)"
    spread = (
        f"CASE WHEN wall_seconds > 0 THEN (1 - power(0.5, {wall} / {half_life}))"
        f" * CAST({half_life} AS DOUBLE) / ({wall} * {math.log(2)!r}) ELSE 1.0 END"
    )
    age = "CAST(date_diff('second', event_time, p.at_time) AS DOUBLE)"
    decay = f"power(0.5, {age} / {half_life})"
    sql = (
        "WITH fairshare_params AS (SELECT CAST(? AS TIMESTAMP) AS at_time, CAST(? AS DOUBLE) AS half_life),\n"
        f"report_rows AS (\nSELECT *\nFROM (\n{base}\n) AS report_base\nWHERE {' AND '.join(where)}\n)\n"
        f"SELECT {', '.join([*dims, f'sum({usage}) AS usage_seconds'])},\n"
        f"  sum({usage} * {decay} * {spread}) AS decayed_seconds\n"
        "FROM report_rows CROSS JOIN fairshare_params AS p"
    )
    if dims:
        sql += "\nGROUP BY " + ", ".join(JOBS.dimensions[d] for d in spec.group_by)
    return sql, params


def run_fairshare(engine: QueryEngine, spec: FairshareSpec) -> list[FairshareRow]:
    sql, params = fairshare_sql(spec)
    table = engine.query(sql, params).table
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    rows = []
    for i in range(table.num_rows):
        usage, decayed = columns["usage_seconds"][i], columns["decayed_seconds"][i]
        if usage is None:  # no rows at all: the aggregate of nothing
            continue
        key = {d: columns[d][i] for d in spec.group_by}
        rows.append((key, float(usage) / 3600, float(decayed) / 3600))
    total = sum(d for _, _, d in rows)
    out = [FairshareRow(k, u, d, d / total if total > 0 else 0.0) for k, u, d in rows]
    return sorted(out, key=lambda r: (-r.decayed_hours, [str(v) for v in r.key.values()]))
