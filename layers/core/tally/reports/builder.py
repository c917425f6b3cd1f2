"""A ReportSpec as one Athena SQL statement with `?` placeholders and its parameter list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tally.query.engine import Param
from tally.query.sql_files import get_file
from tally.reports.catalog import TIME_DIMENSIONS
from tally.reports.spec import ReportSpec


@dataclass(frozen=True)
class BuiltQuery:
    sql: str
    params: list[Param]
    columns: list[str]


def build_query(spec: ReportSpec) -> BuiltQuery:
    kind = spec.catalog
    used = set(spec.group_by) | set(spec.filters)
    base_name = kind.enriched_base if kind.enriched_base and used & kind.enriched else kind.base
    base = get_file("reports", base_name).text.strip().rstrip(";")

    select: list[str] = []
    group: list[str] = []
    for name in spec.group_by:
        expression = TIME_DIMENSIONS[name] if name in TIME_DIMENSIONS else kind.dimensions[name]
        select.append(f'{expression} AS "{name}"')
        group.append(expression)
    select += [f'{kind.metrics[m].sql} AS "{m}"' for m in spec.metrics]

    # Partition pruning on dt, then the exact bounds on the event time. dt is YYYY-MM-DD or, for
    # kinds partitioned by month, YYYY-MM; from the start's month to the last day, as text, both
    # forms of every partition that can hold the range compare inside the bounds.
    where = ["dt >= ?", "dt <= ?", "event_time >= ?", "event_time < ?"]
    last_day = (spec.end - timedelta(microseconds=1)).date()
    params: list[Param] = [
        spec.start.date().isoformat()[:7],
        last_day.isoformat(),
        spec.start.replace(tzinfo=None),
        spec.end.replace(tzinfo=None),
    ]
    for name, values in sorted(spec.filters.items()):
        column = kind.dimensions[name]
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        if name in kind.boolean_dimensions:
            params += [v == "true" for v in values]
        else:
            params += list(values)

    sql = "SELECT " + ", ".join(select) + f"\nFROM (\n{base}\n) AS report_rows\nWHERE " + " AND ".join(where)
    if group:
        sql += "\nGROUP BY " + ", ".join(group)
        sql += "\nORDER BY " + ", ".join(str(i + 1) for i in range(len(group)))
    return BuiltQuery(sql, params, [*spec.group_by, *spec.metrics])
