"""GET /v1/ingest/status: ingest health (records accepted, duplicated and rejected per site, day
and kind) of the sites the caller's fence reaches."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems
from tally.api.deps import IngestReadAccess, ServicesDep
from tally.api.people_models import IngestCountOut
from tally.api.problems import Problem

router = APIRouter()


@router.get(
    "/ingest/status",
    response_model=list[IngestCountOut],
    responses=problems(401, 403, 422),
    tags=["records"],
    summary="Ingest counters per site, day and kind (a key: its site; site managers: theirs; admins: all)",
)
async def ingest_status(
    svc: ServicesDep,
    access: IngestReadAccess,
    site: Annotated[list[str] | None, Query(max_length=100)] = None,
    since: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="first day (UTC), inclusive: YYYY-MM-DD",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> list[IngestCountOut]:
    fence = access.fence
    fence.check_requested("site", site or [])
    try:
        first = date.fromisoformat(since) if since else None
    except ValueError as error:
        raise Problem(422, "Invalid request", f"since: {since!r} is not a day (YYYY-MM-DD)") from error

    def work() -> list[IngestCountOut]:
        known = [s.name for s in svc.control.list_sites()]
        wanted = [s for s in known if fence.allows_site(s) and (not site or s in site)]
        return [
            IngestCountOut(
                site=c.site,
                day=c.day.isoformat(),
                kind=c.kind,
                accepted=c.accepted,
                duplicates=c.duplicates,
                rejected=c.rejected,
            )
            for name in wanted
            for c in svc.control.get_counts(name, first)
        ]

    return await run_in_threadpool(work)
