"""GET /v1/reconciliation: the invoice verifier's latest findings, for finance and admins (every
account), site managers and billing:read keys (their site's cloud accounts)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems
from tally.api.deps import ReconciliationAccess, ServicesDep
from tally.api.problems import Problem
from tally.findings.service import MAX_ROWS, FindingsQuery
from tally.query.engine import QueryError

router = APIRouter(tags=["billing"])


class FindingOut(BaseModel):
    run_id: str
    kind: str
    provider: str
    account: str | None
    resource_id: str | None
    instance_id: str | None
    day: date | None
    billing_period: str
    billed_hours: float | None
    measured_hours: float | None
    cpu_hours: float | None
    vcpus: int | None
    cost: Decimal | None
    effective_cost: Decimal | None
    flagged_cost: Decimal | None
    currency: str | None
    verdict: str
    detail: str | None
    judged_at: datetime


class FindingsOut(BaseModel):
    rows: list[FindingOut]
    truncated: bool


@router.get(
    "/reconciliation",
    response_model=FindingsOut,
    responses=problems(401, 403, 422, 502),
    summary="The verifier's findings (latest run of each period): money as exact decimal strings",
)
async def reconciliation(
    svc: ServicesDep,
    access: ReconciliationAccess,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")] = None,
    kind: Annotated[Literal["instance_day", "invoice"] | None, Query()] = None,
    verdict: Annotated[list[str] | None, Query(max_length=50, description="only these verdicts")] = None,
    include_ok: Annotated[bool, Query(description="also the rows judged ok")] = False,
    site: Annotated[str | None, Query(max_length=256, description="only this site's accounts")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 1_000,
) -> FindingsOut:
    fence = access.fence
    fence.check_requested("site", [site] if site else [])
    sites = None if fence.everything else sorted(fence.sites())
    if site is not None:
        sites = [site] if sites is None or site in sites else []
    if verdict and any(len(v) > 64 for v in verdict):
        raise Problem(422, "Invalid request", "a verdict is at most 64 characters")
    query = FindingsQuery(period, kind, tuple(verdict or ()), include_ok, limit)
    try:
        found = await run_in_threadpool(svc.reconciliation_findings.read, query, sites)
    except QueryError as error:
        raise Problem(502, "Query failed", str(error)) from error
    return FindingsOut(rows=[FindingOut.model_validate(r) for r in found.rows], truncated=found.truncated)
