"""POST /v1/records/{kind}: a batch of usage records in, partitioned Parquet out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from tally.api.body import parse_body
from tally.api.contract import problems, records_body
from tally.api.deps import RecordsWriter, ServicesDep
from tally.api.models import IngestResponse
from tally.api.problems import not_found
from tally.domain.records import KINDS, RecordKind
from tally.observability import BATCH_STATE, BatchNote
from tally.settings import Settings

router = APIRouter(prefix="/v1", tags=["records"])

MAX_RECORDS = Settings.model_fields["max_records_per_batch"].default


def observed_batch(request: Request) -> BatchNote:
    """Mark the request as a batch for the observability middleware (declared before the key
    check, so a batch refused for its key is counted as refused too)."""
    note = BatchNote(str(request.path_params.get("kind", "")))
    setattr(request.state, BATCH_STATE, note)
    return note


@router.post(
    "/records/{kind}",
    response_model=IngestResponse,
    responses=problems(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=records_body(MAX_RECORDS),
    summary="Post a batch of usage records",
    description=(
        "Body: a JSON array (`application/json`) or one record per line (`application/x-ndjson`), "
        "optionally `Content-Encoding: gzip`. Valid records are written; invalid ones are quarantined "
        "and listed in `errors`. Posting the same batch again writes nothing new."
    ),
)
async def post_records(
    request: Request,
    note: Annotated[BatchNote, Depends(observed_batch)],
    svc: ServicesDep,
    who: RecordsWriter,
    kind: Annotated[str, Path(description="The record kind", json_schema_extra={"enum": list(KINDS)})],
) -> Response:
    # Content-Type and Content-Encoding are read by `parse_body`: the request body's media types
    # declare the one, its description gzip (an encoding of the body, not a parameter of its own).
    if kind not in KINDS:
        raise not_found(f"unknown record kind {kind!r}: use one of {', '.join(KINDS)}")
    settings = svc.settings
    lines = await parse_body(
        request,
        max_body_bytes=settings.max_body_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_records=settings.max_records_per_batch,
    )
    result = await run_in_threadpool(svc.ingest.ingest, _kind(kind), lines, who)
    note.result = result
    answer = IngestResponse.model_validate(result, from_attributes=True)
    # Already a validated IngestResponse: serialised once here, not validated and encoded again.
    return Response(answer.model_dump_json(), media_type="application/json")


def _kind(kind: str) -> RecordKind:
    for known in KINDS:
        if known == kind:
            return known
    raise not_found(f"unknown record kind {kind!r}")
