"""Daily usage of a unit, read through the jobs report (so every figure is a report's figure)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal

from tally.foresight.model import UNIT_METRIC, Allocation, AllocationUnit
from tally.query.engine import QueryEngine
from tally.reports.run import run_report
from tally.reports.spec import ReportSpec

Clauses = tuple[tuple[str, tuple[str, ...]], ...]
#: (site, resource) -> day -> usage
DailyBySeries = dict[tuple[str, str], dict[date, Decimal]]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def daily_by_resource(
    engine: QueryEngine,
    unit: AllocationUnit,
    start: datetime,
    end: datetime,
    filters: dict[str, tuple[str, ...]] | None = None,
    fence: Clauses | None = None,
) -> DailyBySeries:
    """The unit's usage per (site, resource) and day of the jobs ending in [start, end)."""
    metric = UNIT_METRIC[unit]
    spec = ReportSpec("jobs", ("day", "site", "resource"), (metric,), start, end, filters or {}, fence=fence)
    table = run_report(engine, spec).table
    out: DailyBySeries = defaultdict(dict)
    for day, site, resource, value in zip(
        table.column("day").to_pylist(),
        table.column("site").to_pylist(),
        table.column("resource").to_pylist(),
        table.column(metric).to_pylist(),
        strict=True,
    ):
        if value is not None:
            out[(site, resource)][day] = value
    return out


def allocation_daily(
    engine: QueryEngine, allocation: Allocation, start: date, end: date
) -> dict[date, Decimal]:
    """The allocation's project's usage on its resources, per day of [start, end) (days with none
    are left out). The report filters on the project and the sites; pairs of site and resource are
    picked here, as a report cannot filter on pairs."""
    if allocation.unit is AllocationUnit.MONEY:
        return _money_daily(engine, allocation, start, end)
    filters: dict[str, tuple[str, ...]] = {"project": (allocation.project,)}
    if allocation.resources:
        filters["site"] = tuple(sorted(allocation.sites))
    series = daily_by_resource(engine, allocation.unit, midnight(start), midnight(end), filters)
    out: dict[date, Decimal] = defaultdict(Decimal)
    for (site, resource), days in series.items():
        if allocation.covers(site, resource):
            for day, value in days.items():
                out[day] += value
    return dict(out)


def _money_daily(engine: QueryEngine, allocation: Allocation, start: date, end: date) -> dict[date, Decimal]:
    """A money allocation's use per day: the project's usage priced as invoices price it."""
    from tally.money.pricing import priced_by_day  # the money package loads with its first use

    assert allocation.currency is not None
    priced = priced_by_day(engine, allocation.project, allocation.currency, start, end, allocation.sites)
    out: dict[date, Decimal] = defaultdict(Decimal)
    for (day, site, resource), amount in priced.items():
        if allocation.covers(site, resource):
            out[day] += amount
    return dict(out)
