"""POST /v1/apel: one APEL message (text formats, StAR XML, accelerator JSON; S/MIME-signed or not)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tally.api.body import decompress, read_capped
from tally.api.contract import problems
from tally.api.deps import RecordsWriter, ServicesDep

router = APIRouter(prefix="/v1", tags=["apel"])


class ApelRecordError(BaseModel):
    record: int | None = Field(description="Position of the record in the message (0-based), if known.")
    field: str | None = Field(description="The APEL (or Tally) field at fault, or null for the record.")
    message: str


class ApelImportResponse(BaseModel):
    message_type: str = Field(description="The message header, e.g. `APEL-individual-job-message: v0.4`.")
    kind: str = Field(
        description="The table the records went to (jobs, vms, storage, accelerators, summaries, syncs)."
    )
    site: str
    records: int = Field(description="Records the message holds.")
    bytes: int = Field(description="Size of the message as received.")
    accepted: int
    duplicates: int
    rejected: int = Field(description="Records refused; kept under quarantine/ with field and reason.")
    errors: list[ApelRecordError]
    over_sender_limits: list[str] = Field(
        description=(
            "Sender limits the message exceeded (`records`: over 1,000; `bytes`: over 1 MB): "
            "taken in, and counted."
        )
    )
    kept_aside: dict[str, int] = Field(
        description="Keys Tally has no field for, with how many records carried each."
    )
    signer: str | None = Field(description="The verified S/MIME signer's DN, for a signed message.")
    batch_id: str | None
    replayed: bool = Field(
        description="True when this message had been taken in before and nothing new was written."
    )


@router.post(
    "/apel",
    response_model=ApelImportResponse,
    responses=problems(400, 401, 403, 413, 415, 422),
    summary="Post one APEL message",
    description=(
        "Body: one APEL message as SSM carries it — the text formats (individual job v0.1-v0.4, summary "
        "v0.2/v0.4, normalised summary v0.3/v0.4, sync v0.1, cloud v0.4, cloud summary v0.4), StAR XML or "
        "an `APEL-accelerator-message` JSON document, optionally S/MIME-signed and `Content-Encoding: gzip`. "
        "Records of another site are refused (403); invalid records are quarantined and listed in `errors`."
    ),
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def post_apel(
    request: Request,
    svc: ServicesDep,
    who: RecordsWriter,
    content_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ApelImportResponse:
    settings = svc.settings
    raw = await read_capped(request, settings.max_body_bytes)

    def work() -> ApelImportResponse:
        body = decompress(raw, content_encoding, settings.max_decompressed_bytes)
        result = svc.apel.import_message(body, who)
        return ApelImportResponse.model_validate(result, from_attributes=True)

    return await run_in_threadpool(work)
