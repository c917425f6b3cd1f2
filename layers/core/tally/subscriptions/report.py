"""A saved view as a report request, run for one period within the subscriber's grants now.

The portal saves an explorer view as `{"version": 1, "page": "explore", "search": <query>}`; its
query names the kind, rows and columns (together: the report's grouping), metrics, `f.<dim>`
filters, sort and top-N. The view's own time range is replaced by the delivery's period.

Authorisation is the reports API's: the person's fence for reading usage from the one point
(tally.people.authz), turned into row clauses by tally.reports.fence.report_fence, so a revoked
grant narrows or refuses the next delivery exactly as it would a request to /v1/reports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from tally.api.problems import Problem
from tally.domain.errors import RequestRefused
from tally.people.authz import Action, authorise
from tally.people.model import PersonPrincipal
from tally.query.engine import QueryEngine
from tally.reports.catalog import KINDS
from tally.reports.fence import report_fence
from tally.reports.run import ReportResult, run_report
from tally.reports.spec import ReportError, make_spec

DEFAULT_KIND = "jobs"  # the portal's, when a view names none


class NotAReport(RequestRefused):
    """A saved view that is not an explorer report (422 at subscription, refused at a run)."""


class RefusedByGrants(Exception):  # noqa: N818 (an outcome recorded, not a programming error)
    """The subscriber's grants, as they are now, reach none of the view's report."""


@dataclass(frozen=True)
class ViewQuery:
    kind: str
    group_by: tuple[str, ...]
    metrics: tuple[str, ...]
    filters: dict[str, list[str]]
    order_by: str | None
    limit: int | None


def _names(text: str) -> list[str]:
    return [n for n in (s.strip() for s in text.split(",")) if n]


def view_query(state: dict[str, Any]) -> ViewQuery:
    """The report a saved view shows (NotAReport when it is not an explorer view)."""
    search = state.get("search")
    if state.get("version") != 1 or state.get("page") != "explore" or not isinstance(search, str):
        raise NotAReport("this saved view is not an explorer report, so it cannot be scheduled")
    params = parse_qsl(search, keep_blank_values=False)
    one = {name: value for name, value in reversed(params)}  # the first of each name, as the portal
    kind = one.get("kind", DEFAULT_KIND)
    if kind not in KINDS:
        raise NotAReport(f"the view's report kind {kind[:60]!r} cannot be scheduled")
    group_by = list(dict.fromkeys([*_names(one.get("rows", "")), *_names(one.get("cols", ""))]))
    filters: dict[str, list[str]] = {}
    for name, value in params:
        if name.startswith("f.") and value not in filters.setdefault(name[2:], []):
            filters[name[2:]].append(value)
    limit = None
    if "top" in one:
        if not one["top"].isdigit():
            raise NotAReport(f"the view's top-N {one['top'][:20]!r} is not a number")
        limit = int(one["top"])
    return ViewQuery(
        kind,
        tuple(group_by),
        tuple(dict.fromkeys(_names(one.get("metrics", "")))),
        filters,
        one.get("sort"),
        limit,
    )


def checked(query: ViewQuery) -> ViewQuery:
    """The query, refused (NotAReport) when the reports API would refuse it for any period."""
    try:
        make_spec(
            query.kind,
            list(query.group_by),
            list(query.metrics),
            "2000-01-03",
            "2000-01-10",
            query.filters,
            order_by=query.order_by,
            limit=query.limit,
        )
    except ReportError as error:
        raise NotAReport(f"the view's report is not valid: {error}") from error
    return query


def run_for(
    engine: QueryEngine, query: ViewQuery, who: PersonPrincipal, start: datetime, end: datetime
) -> ReportResult:
    """The report for [start, end) as `who` may see it now (RefusedByGrants when not at all)."""
    try:
        fence = authorise(who, Action.USAGE_READ)
        for dimension in ("site", "project", "vo", "user"):
            fence.check_requested(dimension, query.filters.get(dimension, []))
        spec = make_spec(
            query.kind,
            list(query.group_by),
            list(query.metrics),
            start.isoformat(),
            end.isoformat(),
            query.filters,
            order_by=query.order_by,
            limit=query.limit,
        )
        by_person = "user" in [*spec.group_by, *spec.filters]
        spec = replace(spec, fence=report_fence(fence, spec.kind, spec.catalog, by_person))
    except Problem as refusal:
        raise RefusedByGrants(refusal.detail or refusal.title) from refusal
    except ReportError as error:
        raise NotAReport(f"the view's report is not valid: {error}") from error
    return run_report(engine, spec)
