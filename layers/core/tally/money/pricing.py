"""The priced lines of one project's month, aggregated by the query engine from `usage_priced`."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

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
    lines = []
    for row in engine.query(sql, params).table.to_pylist():
        quantity = quantity_of(float(row["quantity"]))
        rate = Decimal(row["rate"]).normalize()
        if rate == rate.to_integral_value():
            rate = rate.quantize(Decimal(1))
        currency = str(row["currency"])
        lines.append(
            Line(
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
        )
    return lines
