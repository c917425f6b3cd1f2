"""GET /v1/sync-state: how far the server has a source, so an agent sends only what is missing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems
from tally.api.deps import RecordsWriter, ServicesDep
from tally.api.models import SyncStateResponse
from tally.api.problems import forbidden, not_found
from tally.domain.records import KINDS

router = APIRouter(prefix="/v1", tags=["records"])


@router.get("/sync-state", response_model=SyncStateResponse, responses=problems(401, 403, 404, 422))
async def sync_state(
    svc: ServicesDep,
    who: RecordsWriter,
    resource: Annotated[str, Query(min_length=1, max_length=256)],
    kind: Annotated[str, Query(json_schema_extra={"enum": list(KINDS)})] = "jobs",
) -> SyncStateResponse:
    if kind not in KINDS:
        raise not_found(f"unknown record kind {kind!r}: use one of {', '.join(KINDS)}")
    if who.resources and resource not in who.resources:
        raise forbidden(f"this key cannot read resource {resource!r}")
    state = await run_in_threadpool(svc.control.get_sync, who.site, kind, resource)
    return SyncStateResponse.model_validate(state, from_attributes=True)
