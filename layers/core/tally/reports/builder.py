"""A ReportSpec as one Athena SQL statement with `?` placeholders and its parameter list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tally.query.engine import Param
from tally.query.sql_files import get_file
from tally.reports.catalog import TIME_DIMENSIONS
from tally.reports.spec import OTHER, ReportSpec


@dataclass(frozen=True)
class BuiltQuery:
    sql: str
    params: list[Param]
    columns: list[str]


def build_query(spec: ReportSpec) -> BuiltQuery:
    kind = spec.catalog
    used = set(spec.group_by) | set(spec.filters)
    if kind.enriched_base and used & kind.enriched:
        base_name = kind.enriched_base
    elif kind.joined_base and set(spec.metrics) & kind.joined:
        base_name = kind.joined_base
    else:
        base_name = kind.base
    base = (kind.base_sql or get_file("reports", base_name).text).strip().rstrip(";")
    expressions = {
        name: TIME_DIMENSIONS[name] if name in TIME_DIMENSIONS else kind.dimensions[name]
        for name in spec.group_by
    }
    metrics = [f'{kind.metrics[m].sql} AS "{m}"' for m in spec.metrics]

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
    if spec.fence is not None:
        alternatives = [f"{column} IN ({', '.join('?' for _ in values)})" for column, values in spec.fence]
        where.append("(" + " OR ".join(alternatives) + ")" if alternatives else "1 = 0")
        params += [v for _, values in spec.fence for v in values]
    rows = f"SELECT *\nFROM (\n{base}\n) AS report_base\nWHERE " + " AND ".join(where)
    if spec.limit is not None:
        sql = _top(spec, rows, expressions, metrics)
    else:
        select = [f'{e} AS "{n}"' for n, e in expressions.items()] + metrics
        sql = f"WITH report_rows AS (\n{rows}\n)\nSELECT " + ", ".join(select) + "\nFROM report_rows"
        if expressions:
            sql += "\nGROUP BY " + ", ".join(expressions.values())
        order = [str(i + 1) for i in range(len(expressions))]
        if spec.order_by is not None:
            position = [*spec.group_by, *spec.metrics].index(spec.order_by) + 1
            first = f"{position} {'DESC' if spec.descending else 'ASC'} NULLS LAST"
            order = [first, *(o for o in order if o != str(position))]
        if order:
            sql += "\nORDER BY " + ", ".join(order)
    return BuiltQuery(sql, params, [*spec.group_by, *spec.metrics])


def _top(spec: ReportSpec, rows: str, expressions: dict[str, str], metrics: list[str]) -> str:
    """The top `limit` combinations of the non-time dimensions by order_by over the whole range,
    each split by the time dimension if any, then one row per time bucket for all the others.

    Every metric is aggregated again from the rows (not from the top rows' figures), so ratios,
    means and distinct counts of the OTHER row are right too. A real value equal to OTHER stays a
    row of its own: rows are grouped by their rank as well as their labels.
    """
    assert spec.limit is not None and spec.order_by is not None
    kind = spec.catalog
    ranked = [n for n in spec.group_by if n not in TIME_DIMENSIONS]
    keys = [f'{expressions[n]} AS "rank_{i}"' for i, n in enumerate(ranked)]
    if spec.order_by in kind.metrics:
        order_expression = kind.metrics[spec.order_by].sql
    else:
        order_expression = expressions[spec.order_by]
    direction = "DESC" if spec.descending else "ASC"
    tie_break = ", ".join(f"{expressions[n]} ASC NULLS LAST" for n in ranked)
    window = f"ORDER BY {order_expression} {direction} NULLS LAST, {tie_break}"
    ranking = (
        f"SELECT {', '.join(keys)},\n"
        f"  row_number() OVER ({window}) AS report_rank\n"
        f"FROM report_rows\nGROUP BY {', '.join(expressions[n] for n in ranked)}"
    )
    top = f"report_ranking.report_rank <= {int(spec.limit)}"
    select: list[str] = []
    group: list[str] = []
    for name, expression in expressions.items():
        if name in TIME_DIMENSIONS:
            labelled = expression
        else:
            other = "NULL" if name in kind.boolean_dimensions else f"'{OTHER}'"
            labelled = f"CASE WHEN {top} THEN {expression} ELSE {other} END"
        select.append(f'{labelled} AS "{name}"')
        group.append(labelled)
    group.append(f"CASE WHEN {top} THEN report_ranking.report_rank END")
    join = " AND ".join(
        f'{expressions[n]} IS NOT DISTINCT FROM report_ranking."rank_{i}"' for i, n in enumerate(ranked)
    )
    order = [f"CASE WHEN {top} THEN report_ranking.report_rank END NULLS LAST"]
    order += [expressions[n] for n in spec.group_by if n in TIME_DIMENSIONS]
    return (
        f"WITH report_rows AS (\n{rows}\n),\nreport_ranking AS (\n{ranking}\n)\n"
        f"SELECT {', '.join([*select, *metrics])}\n"
        f"FROM report_rows\nJOIN report_ranking ON {join}\n"
        f"GROUP BY {', '.join(group)}\nORDER BY {', '.join(order)}"
    )
