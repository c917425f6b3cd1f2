"""Allocations (/v1/allocations), usage forecasts for capacity planning (/v1/forecasts/usage) and
fair share (/v1/fairshare). Every route asks the one authorisation point for the caller's fence:
allocations through allocations:read / allocations:manage, forecasts and fair share through
usage:read (the reports' fence, bound into their SQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool

from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems
from tally.api.deps import Access, ServicesDep, UsageAccess, authorised
from tally.api.foresight_models import (
    AllocationBody,
    AllocationOut,
    AllocationStatusOut,
    FairshareOut,
    UsageForecastOut,
    fairshare_row,
)
from tally.api.problems import Problem, forbidden, not_found
from tally.foresight.fairshare import DIMENSIONS, UNIT_COLUMNS, FairshareSpec
from tally.foresight.forecast import ForecastLibraryMissingError
from tally.foresight.model import (
    ALLOCATION_ID,
    AllocationError,
    AllocationForbiddenError,
    AllocationNotFoundError,
    AllocationUnit,
)
from tally.people.authz import Action
from tally.query.engine import QueryError
from tally.reports.catalog import JOBS
from tally.reports.fence import report_fence
from tally.reports.spec import MAX_FILTER_VALUES, MAX_VALUE_LENGTH, ReportError, parse_time

router = APIRouter(tags=["foresight"], route_class=CappedBodyRoute)
MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_VALUE_LENGTH)]
Filter = Annotated[
    list[FilterValue] | None,
    Query(max_length=MAX_FILTER_VALUES, description="keep rows with one of these values (repeatable)"),
]
ReadAccess = Annotated[Access, Depends(authorised(Action.ALLOCATIONS_READ))]
ManageAccess = Annotated[Access, Depends(authorised(Action.ALLOCATIONS_MANAGE))]
T = TypeVar("T")


def invalid(detail: str) -> Problem:
    return Problem(422, "Invalid foresight request", detail)


async def guarded(work: Callable[[], T]) -> T:
    """Run a store- or engine-touching step off the event loop, answering its errors as problems."""

    def run() -> T:
        try:
            return work()
        except ForecastLibraryMissingError as error:
            raise Problem(503, "Forecasts unavailable", str(error)) from error
        except AllocationNotFoundError as error:
            raise not_found(str(error)) from error
        except AllocationForbiddenError as error:
            raise forbidden(str(error)) from error
        except AllocationError as error:
            raise invalid(str(error)) from error
        except QueryError as error:
            raise Problem(502, "Query failed", str(error)) from error

    return await run_in_threadpool(run)


def _checked_id(allocation_id: str) -> str:
    if not ALLOCATION_ID.match(allocation_id):
        raise not_found(f"no allocation {allocation_id[:40]!r}")
    return allocation_id


@router.get(
    "/v1/allocations",
    response_model=list[AllocationOut],
    responses=problems(401, 403, 422, 502),
    summary="Allocations the caller may see",
)
async def list_allocations(svc: ServicesDep, access: ReadAccess) -> list[AllocationOut]:
    foresight = svc.foresight
    return await guarded(
        lambda: [AllocationOut.of(a) for a in foresight.visible(access.fence, foresight.store.list())]
    )


@router.post(
    "/v1/allocations",
    status_code=201,
    response_model=AllocationOut,
    responses=problems(400, 401, 403, 422),
    summary="Give a project an amount of a unit on some resources (or all) for a period",
)
async def create_allocation(
    body: Annotated[AllocationBody, Body()], svc: ServicesDep, access: ManageAccess
) -> AllocationOut:
    foresight = svc.foresight
    return await guarded(lambda: AllocationOut.of(foresight.create(body.model(), access.fence, access.actor)))


@router.get(
    "/v1/allocations/{allocation_id}",
    response_model=AllocationOut,
    responses=problems(401, 403, 404, 422, 502),
    summary="One allocation",
)
async def get_allocation(allocation_id: str, svc: ServicesDep, access: ReadAccess) -> AllocationOut:
    foresight = svc.foresight
    checked = _checked_id(allocation_id)
    return await guarded(lambda: AllocationOut.of(foresight.visible_one(access.fence, checked)))


@router.put(
    "/v1/allocations/{allocation_id}",
    response_model=AllocationOut,
    responses=problems(400, 401, 403, 404, 422),
    summary="Change an allocation (the whole of it)",
)
async def replace_allocation(
    allocation_id: str, body: Annotated[AllocationBody, Body()], svc: ServicesDep, access: ManageAccess
) -> AllocationOut:
    foresight = svc.foresight
    checked = _checked_id(allocation_id)
    return await guarded(
        lambda: AllocationOut.of(foresight.replace(checked, body.model(), access.fence, access.actor))
    )


@router.delete(
    "/v1/allocations/{allocation_id}",
    status_code=204,
    response_class=Response,
    responses=problems(401, 403, 404, 422),
    summary="Remove an allocation",
)
async def delete_allocation(allocation_id: str, svc: ServicesDep, access: ManageAccess) -> Response:
    foresight = svc.foresight
    checked = _checked_id(allocation_id)
    await guarded(lambda: foresight.delete(checked, access.fence, access.actor))
    return Response(status_code=204)


@router.get(
    "/v1/allocations/{allocation_id}/status",
    response_model=AllocationStatusOut,
    responses=problems(401, 403, 404, 422, 502),
    summary="Used, remaining, burn rates and the forecast to the period's end with prediction intervals",
)
async def allocation_status(allocation_id: str, svc: ServicesDep, access: ReadAccess) -> AllocationStatusOut:
    foresight = svc.foresight
    checked = _checked_id(allocation_id)

    def work() -> AllocationStatusOut:
        return AllocationStatusOut.of(
            foresight.allocation_status(foresight.visible_one(access.fence, checked))
        )

    return await guarded(work)


def _month(text: str | None) -> date:
    today = datetime.now(UTC).date()
    if text is None:
        return (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    try:
        if not MONTH.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(f"{text}-01")
    except ValueError as error:
        raise invalid(f"month {text[:20]!r} is not YYYY-MM") from error


@router.get(
    "/v1/forecasts/usage",
    response_model=list[UsageForecastOut],
    responses=problems(401, 403, 422, 502, 503),
    summary="Capacity planning: each site and resource's forecast use in a coming month",
)
async def usage_forecast(
    svc: ServicesDep,
    access: UsageAccess,
    unit: Annotated[AllocationUnit, Query()] = AllocationUnit.HEPSCORE23_CORE_HOURS,
    month: Annotated[str | None, Query(description="YYYY-MM; default: next month", max_length=7)] = None,
) -> list[UsageForecastOut]:
    wanted = _month(month)
    fence = report_fence(access.fence, "jobs", JOBS, by_person=False)
    foresight = svc.foresight
    return await guarded(
        lambda: [UsageForecastOut.of(f, unit) for f in foresight.usage_forecast(unit, wanted, fence)]
    )


@router.get(
    "/v1/fairshare",
    response_model=FairshareOut,
    responses=problems(400, 401, 403, 422, 502, 503),
    summary="Fair share: usage decayed by a half-life (Slurm's decay), per project and user",
)
async def fairshare(
    svc: ServicesDep,
    access: UsageAccess,
    group_by: Annotated[
        list[str] | None, Query(description=f"comma-separated, of {', '.join(DIMENSIONS)}")
    ] = None,
    unit: Annotated[str, Query(description=", ".join(UNIT_COLUMNS))] = "normalised_core_hours",
    half_life_days: Annotated[float | None, Query(gt=0, le=3650)] = None,
    at: Annotated[
        str | None, Query(description="the instant usage is aged to; default now", max_length=40)
    ] = None,
    since: Annotated[
        str | None,
        Query(description="oldest job end counted; default `at` less ten half-lives", max_length=40),
    ] = None,
    site: Filter = None,
    resource: Filter = None,
    project: Filter = None,
    vo: Filter = None,
    user: Filter = None,
) -> FairshareOut:
    settings = svc.settings.foresight
    names = [n.strip() for item in group_by or ["project,user"] for n in item.split(",") if n.strip()]
    if not names or any(n not in DIMENSIONS for n in names) or len(set(names)) != len(names):
        raise invalid(f"group_by takes distinct names of {', '.join(DIMENSIONS)}")
    if unit not in UNIT_COLUMNS:
        raise invalid(f"unit is one of {', '.join(UNIT_COLUMNS)}")
    half_life = half_life_days or settings.half_life_days
    try:
        at_time = parse_time(at, "at") if at else datetime.now(UTC)
        start = (
            parse_time(since, "since")
            if since
            else at_time - timedelta(days=half_life * settings.fairshare_half_lives)
        )
    except (ReportError, OverflowError) as error:
        raise invalid(str(error)) from error
    if start >= at_time:
        raise invalid("`since` must be before `at`")
    filters: dict[str, tuple[str, ...]] = {}
    for name, values in (
        ("site", site),
        ("resource", resource),
        ("project", project),
        ("vo", vo),
        ("user", user),
    ):
        if values:
            filters[name] = tuple(values)
    for dimension in ("site", "project", "vo", "user"):
        access.fence.check_requested(dimension, list(filters.get(dimension, ())))
    fence = report_fence(access.fence, "jobs", JOBS, by_person="user" in [*names, *filters])
    spec = FairshareSpec(tuple(names), unit, at_time, half_life, start, filters, fence)
    foresight = svc.foresight
    rows = await guarded(lambda: foresight.fairshare(spec))
    return FairshareOut(
        at=at_time,
        half_life_days=half_life,
        unit=unit,
        since=start,
        group_by=names,
        rows=[fairshare_row(r) for r in rows],
    )
