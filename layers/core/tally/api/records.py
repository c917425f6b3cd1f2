"""POST /v1/records/{kind}: a batch of usage records in, partitioned Parquet out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems, records_body
from tally.api.deps import RecordsWriter, ServicesDep
from tally.api.models import IngestResponse
from tally.domain.records import KINDS, RecordKind
from tally.observability import note_batch
from tally.services.body import check_utf8, decompress, media_type, split_lines
from tally.services.problems import not_found, too_large
from tally.settings import Settings

router = APIRouter(prefix="/v1", tags=["records"])

MAX_RECORDS = Settings.model_fields["max_records_per_batch"].default


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it passes `limit` bytes (before it is all in memory)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(f"body is {declared} bytes, more than the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"body is more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
    svc: ServicesDep,
    who: RecordsWriter,
    kind: Annotated[str, Path(description="The record kind", json_schema_extra={"enum": list(KINDS)})],
    # Content-Type is declared by the request body's media types, and gzip in its description (an
    # encoding of the body, not a parameter of the operation): neither is a parameter of its own.
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    content_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    if kind not in KINDS:
        raise not_found(f"unknown record kind {kind!r}: use one of {', '.join(KINDS)}")
    media = media_type(content_type)
    settings = svc.settings
    raw = await read_capped(request, settings.max_body_bytes)

    def work() -> IngestResponse:
        body = decompress(raw, content_encoding, settings.max_decompressed_bytes)
        check_utf8(body)
        lines = split_lines(media, body, settings.max_records_per_batch)
        result = svc.ingest.ingest(_kind(kind), lines, who)
        return IngestResponse.model_validate(result, from_attributes=True)

    answer = await run_in_threadpool(work)
    note_batch(request.scope, answer.__dict__)
    # Already a validated IngestResponse: serialised once here, not validated and encoded again.
    return Response(answer.model_dump_json(), media_type="application/json")


def _kind(kind: str) -> RecordKind:
    for known in KINDS:
        if known == kind:
            return known
    raise not_found(f"unknown record kind {kind!r}")
