"""GET /v1/records/{kind} and GET /v1/records/{kind}/{record_id}: the records behind a report's
figure, paged by an opaque cursor, fenced by the caller's grants (tally.listing)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from tally.api.contract import problems
from tally.api.deps import ServicesDep, UsageAccess
from tally.api.problems import Problem
from tally.listing.catalog import DEFAULT_PAGE, LISTINGS, MAX_PAGE
from tally.listing.service import InvalidListing, Page, parse_request
from tally.query.engine import QueryError


class _ListedKind(Convertor[str]):
    """A listed kind only, so /v1/records/custom/{name} (another route's path) never matches the
    record detail's path and a method check there names that route's methods only."""

    regex = "|".join(LISTINGS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("listed_kind", _ListedKind())
router = APIRouter(tags=["records"])
KIND = Path(description="The record kind", json_schema_extra={"enum": list(LISTINGS)})


class RecordPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="records, each with its record_id")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


def _refused(error: InvalidListing) -> Problem:
    return Problem(422, "Invalid listing request", error.detail)


@router.get(
    "/records/{kind}",
    response_model=RecordPage,
    responses=problems(401, 403, 404, 422, 502),
    summary="List records (filters: any report dimension as dimension=value, repeatable)",
    description=(
        "The records of a time range, sorted by `sort` then by their identity, so pages never "
        "split ties. A user reads their own records, a project or VO manager their community's, a "
        "site manager their site's, an admin all; finance reads usage in aggregate only (reports). "
        "A site key reads its site's with reports:read."
    ),
)
async def list_records(
    kind: Annotated[str, KIND],
    request: Request,
    svc: ServicesDep,
    access: UsageAccess,
    date_from: Annotated[str, Query(alias="from", description="inclusive: YYYY-MM-DD or date-time, UTC")],
    date_to: Annotated[str, Query(alias="to", description="exclusive: YYYY-MM-DD or date-time, UTC")],
    sort: Annotated[
        str | None,
        Query(
            max_length=100, description="a field, optionally :asc or :desc (default: the time, newest first)"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="records per page")] = DEFAULT_PAGE,
    cursor: Annotated[
        str | None,
        Query(max_length=8192, pattern=r"^[A-Za-z0-9_-]+$", description="next_cursor of the page before"),
    ] = None,
) -> RecordPage:
    def work() -> Page:
        wanted = parse_request(kind, request.query_params.multi_items())
        return svc.record_listing.page(wanted, access.fence)

    try:
        page = await run_in_threadpool(work)
    except InvalidListing as error:
        raise _refused(error) from error
    except QueryError as error:
        raise Problem(502, "Query failed", str(error)) from error
    return RecordPage(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/records/{kind:listed_kind}/{record_id}",
    responses=problems(401, 403, 404, 422, 502),
    summary="One record in full (a job: times, cores, memory, state, exit code, nodes, normalisation)",
)
async def get_record(
    kind: Annotated[str, KIND],
    record_id: Annotated[
        # base64url, as the listing writes it: a URL of other characters may exceed the server's
        # request-line limit before the route could refuse it
        str, Path(max_length=8192, pattern=r"^[A-Za-z0-9_-]+$", description="a record_id from a listing")
    ],
    svc: ServicesDep,
    access: UsageAccess,
) -> dict[str, Any]:
    try:
        return await run_in_threadpool(svc.record_listing.get, kind, record_id, access.fence)
    except QueryError as error:
        raise Problem(502, "Query failed", str(error)) from error
