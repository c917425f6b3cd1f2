"""The priced lines of one project's month, aggregated by the query engine from `usage_priced`, and
the same pricing per day (a money allocation's use)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from tally.money.invoices import Line, amount_of, quantity_of
from tally.query.engine import Param, QueryEngine

LINES_SQL = """
SELECT
  site, resource, unit, benchmark, gpu_model, tariff_id, rate, currency,
  sum(quantity) AS quantity, count(*) AS records
FROM usage_priced
WHERE project = ? AND project_class = ? AND used_at >= ? AND used_at < ?{user}{person}
GROUP BY site, resource, unit, benchmark, gpu_model, tariff_id, rate, currency
ORDER BY currency, site, resource, unit, benchmark, gpu_model, tariff_id
"""


def priced_lines(
    engine: QueryEngine,
    project: str,
    start: date,
    end: date,
    project_class: str | None = None,
    user: str | None = None,
    person_id: str | None = None,
) -> list[Line]:
    """One line per site, resource, unit (benchmark, GPU model) and tariff: a tariff change inside
    the month makes two lines, each with the usage of its own interval at its own rate."""
    params: list[Param] = [
        project,
        project_class or "",
        datetime.combine(start, time()),
        datetime.combine(end, time()),
    ]
    sql = LINES_SQL.format(
        user="" if user is None else " AND user_name = ?",
        person="" if person_id is None else " AND person_id = ?",
    )
    if user is not None:
        params.append(user)
    if person_id is not None:
        params.append(person_id)
    return [_line(row) for row in engine.query(sql, params).table.to_pylist()]


PROJECTS_SQL = """
SELECT
  project, site, resource, unit, benchmark, gpu_model, tariff_id, rate, currency,
  sum(quantity) AS quantity, count(*) AS records
FROM usage_priced
WHERE project_class = ? AND used_at >= ? AND used_at < ? AND project IS NOT NULL
GROUP BY project, site, resource, unit, benchmark, gpu_model, tariff_id, rate, currency
ORDER BY project, currency, site, resource, unit, benchmark, gpu_model, tariff_id
"""


def priced_lines_by_project(
    engine: QueryEngine, start: date, end: date, project_class: str | None = None
) -> dict[str, list[Line]]:
    """Every project's lines of [start, end) from one aggregation: the lines `priced_lines` gives
    each project (the same grouping and order), for a month's invoicing run."""
    params: list[Param] = [
        project_class or "",
        datetime.combine(start, time()),
        datetime.combine(end, time()),
    ]
    out: dict[str, list[Line]] = {}
    for row in engine.query(PROJECTS_SQL, params).table.to_pylist():
        out.setdefault(str(row["project"]), []).append(_line(row))
    return out


def _rate(value: Any) -> Decimal:
    rate = Decimal(value).normalize()
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate


def _line(row: dict[str, Any]) -> Line:
    quantity = quantity_of(float(row["quantity"]))
    rate = _rate(row["rate"])
    currency = str(row["currency"])
    return Line(
        site=row["site"],
        resource=row["resource"],
        unit=row["unit"],
        benchmark=row["benchmark"] if row["unit"] == "core_hour" else None,
        gpu_model=row["gpu_model"],
        tariff_id=row["tariff_id"],
        currency=currency,
        quantity=quantity,
        rate=rate,
        amount=amount_of(quantity, rate, currency),
        records=int(row["records"]),
    )


DAILY_SQL = """
SELECT
  CAST(used_at AS DATE) AS day, site, resource, unit, tariff_id, rate, sum(quantity) AS quantity
FROM usage_priced
WHERE project = ? AND project_class = ? AND currency = ? AND used_at >= ? AND used_at < ?{sites}
GROUP BY CAST(used_at AS DATE), site, resource, unit, benchmark, gpu_model, tariff_id, rate
"""
#: (day, site, resource) -> priced amount
DailyAmounts = dict[tuple[date, str, str], Decimal]


def priced_by_day(
    engine: QueryEngine,
    project: str,
    currency: str,
    start: date,
    end: date,
    sites: Collection[str] = (),
    project_class: str | None = None,
) -> DailyAmounts:
    """The project's priced usage in `currency` per UTC day of [start, end), site and resource: each
    record at the tariff valid at its time, as invoice lines price it (quantities to QUANTITY_PLACES
    times the rate). Not rounded to minor units per day: the day's sums add up to the period's use,
    which may differ from an invoice's per-line rounded total by under a minor unit per line."""
    params: list[Param] = [
        project,
        project_class or "",
        currency,
        datetime.combine(start, time()),
        datetime.combine(end, time()),
        *sorted(sites),
    ]
    where = f" AND site IN ({', '.join('?' for _ in sites)})" if sites else ""
    out: DailyAmounts = {}
    for row in engine.query(DAILY_SQL.format(sites=where), params).table.to_pylist():
        key = (row["day"], row["site"], row["resource"])
        amount = quantity_of(float(row["quantity"])) * _rate(row["rate"])
        out[key] = out.get(key, Decimal(0)) + amount
    return out
