"""POST /v1/logs/{source}: a raw accounting file as a site copies it, parsed by the server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tally.api.body import decompress, read_capped
from tally.api.contract import problems
from tally.api.deps import RecordsWriter, ServicesDep
from tally.api.models import IngestResponse
from tally.api.problems import forbidden, not_found, unprocessable, unsupported
from tally.logs.parse import LOG_SOURCES, LogFormatError
from tally.logs.service import LogImportResult
from tally.services.ingest import Principal

router = APIRouter(prefix="/v1", tags=["logs"])

#: Raw logs are text; `application/octet-stream` is what `curl --data-binary` tools often send.
LOG_TYPES = {"text/plain", "application/octet-stream"}
GZIP_MAGIC = b"\x1f\x8b"


class LineProblemOut(BaseModel):
    line: int = Field(description="Line number in the file (1-based).")
    message: str


class LogImportResponse(BaseModel):
    source: str
    kind: str
    site: str
    resource: str
    log_id: str = Field(description="Derived from the source, site, resource and the file's bytes.")
    lines: int = Field(description="Lines read.")
    records: int = Field(description="Records the agent's parser made of them.")
    skipped: int = Field(description="Lines of no interest (running jobs, other events, steps folded).")
    unparsable: int = Field(description="Lines the parser could not read; kept under quarantine/logs/.")
    problems: list[LineProblemOut]
    problems_truncated: bool
    quarantine_key: str | None
    accepted: int
    duplicates: int
    rejected: int
    replayed: bool = Field(description="True when this file had been imported before: nothing new written.")
    batches: list[IngestResponse]


def _body() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": (
                "The accounting file as the batch system wrote it, UTF-8 text, optionally "
                "`Content-Encoding: gzip`. Limits as for records: 4.5 MB as sent, 64 MiB decompressed; "
                "bigger files go through the S3 landing bucket (`logs/` prefix)."
            ),
            "content": {media: {"schema": {"type": "string"}} for media in sorted(LOG_TYPES)},
        }
    }


@router.post(
    "/logs/{source}",
    response_model=LogImportResponse,
    responses=problems(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_body(),
    summary="Post a raw accounting log, parsed by the server",
    description=(
        "Parsed with the site agent's own parser for `source` (the records are those "
        "`tally-agent import` would send), then ingested as an agent's batches: fenced by the key's "
        "site and resources, validated, deduplicated, quarantined. Lines the parser cannot read are "
        "listed in `problems` and quarantined. Posting the same file again writes nothing new. "
        "`blah` (BLAH/CREAM logs) gives `grid_identities` records, which the view jobs_identified "
        "joins to the jobs of the same resource posted without a global user or VO."
    ),
)
async def post_log(
    request: Request,
    svc: ServicesDep,
    who: RecordsWriter,
    source: Annotated[
        str, Path(description="The log's origin", json_schema_extra={"enum": list(LOG_SOURCES)})
    ],
    resource: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=256,
            description="The resource (cluster) the log is from; may be omitted by a key restricted to one.",
        ),
    ] = None,
    fields: Annotated[
        str | None,
        Query(
            max_length=4096,
            description="Slurm only: the sacct --format list of a dump with no header line "
            "(the agent's --fields); default: the header line, else the agent's own layout.",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        Query(max_length=64, description="IANA zone of the log's local times (default UTC)."),
    ] = None,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    content_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    if source not in LOG_SOURCES:
        raise not_found(f"unknown log source {source!r}: use one of {', '.join(LOG_SOURCES)}")
    _check_type(content_type)
    target = _resource(who, resource)
    settings = svc.settings
    raw = await read_capped(request, settings.max_body_bytes)

    def work() -> LogImportResponse:
        # A compressed log copied as is (`--data-binary @accounting.gz`) is read by its gzip magic.
        encoding = content_encoding or ("gzip" if raw[:2] == GZIP_MAGIC else None)
        body = decompress(raw, encoding, settings.max_decompressed_bytes)
        try:
            result = svc.logs.import_log(source, body, who, target, fields, timezone)
        except LogFormatError as exc:
            raise unprocessable(str(exc)) from exc
        return _response(result)

    answer = await run_in_threadpool(work)
    return Response(answer.model_dump_json(), media_type="application/json")


def _check_type(content_type: str | None) -> None:
    media, _, params = (content_type or "text/plain").partition(";")
    if media.strip().lower() not in LOG_TYPES:
        raise unsupported(f"Content-Type {content_type!r} is not accepted: send text/plain (the log as is)")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise unsupported(f"charset {value.strip()!r} is not accepted: logs are read as UTF-8")


def _resource(who: Principal, resource: str | None) -> str:
    if resource is None:
        if len(who.resources) == 1:
            return who.resources[0]
        raise unprocessable("name the log's resource (cluster): ?resource=NAME")
    if who.resources and resource not in who.resources:
        raise forbidden(
            f"this key belongs to site {who.site!r} (resources {', '.join(who.resources)}) and cannot "
            f"write records for resource {resource!r}"
        )
    return resource


def _response(result: LogImportResult) -> LogImportResponse:
    return LogImportResponse(
        source=result.source,
        kind=result.kind,
        site=result.site,
        resource=result.resource,
        log_id=result.log_id,
        lines=result.lines,
        records=result.records,
        skipped=result.skipped,
        unparsable=result.unparsable,
        problems=[LineProblemOut(line=p.line, message=p.message) for p in result.problems],
        problems_truncated=result.problems_truncated,
        quarantine_key=result.quarantine_key,
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=result.rejected,
        replayed=result.replayed,
        batches=[IngestResponse.model_validate(b, from_attributes=True) for b in result.batches],
    )
