"""GET /v1/reports/{kind}: OLAP-style reports over the views, fenced to the caller's site."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tally.api.contract import problems
from tally.api.deps import ServicesDep, UsageAccess
from tally.api.problems import Problem
from tally.kinds.spec import IDENTIFIER
from tally.kinds.tables import report_kind, table_def
from tally.query.ddl import TableDef
from tally.query.engine import QueryError
from tally.reports.catalog import KINDS, Kind
from tally.reports.fence import report_fence
from tally.reports.output import MEDIA_TYPES, Format, render
from tally.reports.run import run_report
from tally.reports.spec import MAX_LIMIT, OTHER, ReportError, make_spec
from tally.services.container import Services

router = APIRouter(tags=["reports"])
CUSTOM_PREFIX = "custom_"


@dataclass(frozen=True)
class CustomReport:
    catalog: Kind
    table: TableDef


RESERVED = {"group_by", "metrics", "from", "to", "format", "order_by", "limit"}


def _custom_kind(kind: str, svc: Services) -> CustomReport | None:
    """A custom kind's report (`custom_<name>`), when one of that name is defined."""
    name = kind.removeprefix(CUSTOM_PREFIX)
    if not kind.startswith(CUSTOM_PREFIX) or not IDENTIFIER.match(name):
        return None
    definition = svc.kinds.get(name)
    return CustomReport(report_kind(definition), table_def(definition)) if definition else None


def invalid(detail: str) -> Problem:
    return Problem(422, "Invalid report request", detail)


@router.get(
    "/v1/reports/{kind}",
    summary="Aggregate usage by any allow-listed dimensions; filter by dimension=value query parameters",
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}, **problems(401, 403, 404, 422, 502)},
)
def get_report(
    kind: str,
    request: Request,
    svc: ServicesDep,
    access: UsageAccess,
    date_from: Annotated[str, Query(alias="from", description="inclusive: YYYY-MM-DD or date-time, UTC")],
    date_to: Annotated[str, Query(alias="to", description="exclusive: YYYY-MM-DD or date-time, UTC")],
    group_by: Annotated[list[str] | None, Query(description="dimensions, comma-separated")] = None,
    metrics: Annotated[list[str] | None, Query(description="metrics, comma-separated")] = None,
    format: Annotated[Format, Query(description="json, csv or xlsx")] = "json",
    order_by: Annotated[
        str | None,
        Query(description="a metric or dimension, optionally :asc or :desc (metrics default to :desc)"),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_LIMIT,
            description="top-N: keep the first N by order_by (default: the first metric); the rest "
            f"are summed in one row labelled {OTHER!r} (per time bucket when grouped by time)",
        ),
    ] = None,
) -> Response:
    custom = _custom_kind(kind, svc)
    if kind not in KINDS and custom is None:
        raise Problem(404, "Not found", f"no report kind {kind!r}; choose one of {', '.join(KINDS)}")
    filters: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in RESERVED:
            filters.setdefault(name, []).append(value)
    for dimension in ("site", "project", "vo", "user"):
        access.fence.check_requested(dimension, filters.get(dimension, []))
    try:
        spec = make_spec(
            kind,
            group_by or [],
            metrics or [],
            date_from,
            date_to,
            filters,
            order_by=order_by,
            limit=limit,
            custom=custom.catalog if custom else None,
        )
    except ReportError as error:
        raise invalid(str(error)) from error
    spec = replace(
        spec,
        fence=report_fence(access.fence, spec.kind, spec.catalog, "user" in [*spec.group_by, *spec.filters]),
    )
    try:
        engine = svc.engine
        if custom is not None:
            engine.register_table(custom.table)
        result = run_report(engine, spec)
    except QueryError as error:
        raise Problem(502, "Query failed", str(error)) from error
    headers = {}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{kind}-report.{format}"'
    return Response(render(result, format), media_type=MEDIA_TYPES[format], headers=headers)
