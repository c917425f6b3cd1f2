"""GET /v1/ingest/health: per resource, the last records received, records per day over the last
14 days, the resources gone quiet, and the quarantine's counts and reasons, of the caller's sites."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems
from tally.api.deps import IngestReadAccess, ServicesDep
from tally.api.problems import Problem
from tally.query.engine import QueryError

router = APIRouter(tags=["records"])


class ResourceHealthOut(BaseModel):
    site: str
    kind: str
    resource: str
    last_received_at: datetime
    latest_event_time: datetime | None
    records_per_day: list[int]
    hours_since_last: float
    quiet: bool


class ReasonOut(BaseModel):
    field: str | None
    message: str
    count: int


class QuarantinedOut(BaseModel):
    site: str | None
    kind: str
    records: int
    reasons: list[ReasonOut]


class IngestHealthOut(BaseModel):
    generated_at: datetime
    quiet_hours: int
    days: list[date]
    resources: list[ResourceHealthOut]
    quiet: list[ResourceHealthOut]
    quarantine: list[QuarantinedOut]


@router.get(
    "/ingest/health",
    response_model=IngestHealthOut,
    responses=problems(401, 403, 422, 502),
    summary="Ingest health per resource: last records, records per day, quiet agents, quarantine reasons",
)
async def ingest_health(
    svc: ServicesDep,
    access: IngestReadAccess,
    site: Annotated[list[str] | None, Query(max_length=100)] = None,
    quiet_hours: Annotated[
        int | None, Query(ge=1, le=24 * 90, description="quiet after this many hours without records")
    ] = None,
) -> IngestHealthOut:
    fence = access.fence
    fence.check_requested("site", site or [])
    sites = None if fence.everything else sorted(fence.sites())
    if site:
        sites = sorted(set(site) if sites is None else set(site) & set(sites))
    try:
        health = await run_in_threadpool(svc.ingest_health.health, sites, quiet_hours)
    except QueryError as error:
        raise Problem(502, "Query failed", str(error)) from error
    resources = [ResourceHealthOut.model_validate(r, from_attributes=True) for r in health.resources]
    return IngestHealthOut(
        generated_at=health.generated_at,
        quiet_hours=health.quiet_hours,
        days=health.days,
        resources=resources,
        quiet=[r for r in resources if r.quiet],
        quarantine=[QuarantinedOut.model_validate(q, from_attributes=True) for q in health.quarantine],
    )
