"""Custom record kinds: PUT/GET /v1/kinds/{name} (definitions), POST /v1/records/custom/{name}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from tally.api.body import NDJSON_TYPES, check_utf8, decompress, media_type, read_capped, split_lines
from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems
from tally.api.deps import RecordsWriter, RegistryReadAccess, RegistryWriteAccess, ServicesDep
from tally.api.models import IngestResponse
from tally.api.problems import not_found, unprocessable
from tally.kinds.access import defining_site
from tally.kinds.spec import IDENTIFIER, KindDefinition, KindSpec, check_kind_name

router = APIRouter(prefix="/v1", tags=["kinds"], route_class=CappedBodyRoute)

KindName = Annotated[
    str,
    Path(
        description="The kind's name: a lower-case letter, then lower-case letters, digits or `_` "
        "(not an SQL keyword nor a built-in table's name).",
        pattern=IDENTIFIER.pattern,
    ),
]


def _records_body() -> dict[str, Any]:
    # A custom kind's record is flat: each field a string, number, boolean or null (a time is a string).
    scalar = {"type": ["string", "number", "boolean", "null"]}
    record = {"type": "object", "required": ["site", "resource"], "additionalProperties": scalar}
    records = {"type": "array", "minItems": 1, "items": record}
    return {
        "requestBody": {
            "required": True,
            "description": "Records of the kind: `site`, `resource` and the fields of its definition.",
            "content": {m: {"schema": records} for m in ("application/json", *sorted(NDJSON_TYPES))},
        }
    }


def _name(name: str) -> str:
    try:
        return check_kind_name(name)
    except ValueError as exc:
        raise unprocessable(str(exc)) from exc


@router.put(
    "/kinds/{name}",
    response_model=KindDefinition,
    responses={**problems(400, 401, 403, 409, 422), 201: {"description": "Defined (first version)."}},
    summary="Define a custom record kind, or evolve it",
    description=(
        "A kind's fields (type, unit, description, required), identity, event time and partition "
        "span. Once defined, it may gain fields that are not required (records stored before read "
        "them as NULL) and change descriptions and units; changing a field's type, removing one, or "
        "changing the identity, event time or partition is refused (409). Only the defining site may "
        "change a kind: a key of that site (`registry:write`), its site manager, or an admin."
    ),
)
def put_kind(
    name: KindName,
    spec: KindSpec,
    svc: ServicesDep,
    access: RegistryWriteAccess,
    response: Response,
    site: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=256,
            description="The defining site (a person's grant must reach it); default: the key's "
            "site, the existing kind's site, or the only site the caller manages.",
        ),
    ] = None,
) -> KindDefinition:
    kind = _name(name)
    existing = svc.kinds.get(kind)
    owner = defining_site(access.fence, site, existing.owner_site if existing else None)
    if existing is None and svc.control.get_site(owner) is None:
        raise unprocessable(f"no site named {owner!r}")
    definition, created = svc.kinds.define(kind, spec, owner)
    response.status_code = 201 if created else 200
    return definition


@router.get(
    "/kinds",
    response_model=list[KindDefinition],
    responses=problems(401, 403, 422),
    summary="List the custom record kinds",
)
def list_kinds(svc: ServicesDep, access: RegistryReadAccess) -> list[KindDefinition]:
    return svc.kinds.definitions()


@router.get(
    "/kinds/{name}",
    response_model=KindDefinition,
    responses=problems(401, 403, 404, 422),
    summary="Show one custom record kind",
)
def get_kind(name: KindName, svc: ServicesDep, access: RegistryReadAccess) -> KindDefinition:
    definition = svc.kinds.get(_name(name))
    if definition is None:
        raise not_found(f"no custom kind named {name!r}")
    return definition


@router.post(
    "/records/custom/{name}",
    response_model=IngestResponse,
    responses=problems(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_records_body(),
    summary="Post a batch of records of a custom kind",
    description=(
        "As POST /v1/records/{kind}: a JSON array or NDJSON, optionally gzip; each record must "
        "satisfy the kind's definition (site, resource and its fields; unknown fields refused). "
        "Posting the same batch again writes nothing new."
    ),
)
async def post_custom(
    request: Request,
    name: KindName,
    svc: ServicesDep,
    who: RecordsWriter,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    content_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    kind = _name(name)
    media = media_type(content_type)
    settings = svc.settings
    raw = await read_capped(request, settings.max_body_bytes)

    def work() -> IngestResponse:
        body = decompress(raw, content_encoding, settings.max_decompressed_bytes)
        check_utf8(body)
        lines = split_lines(media, body, settings.max_records_per_batch)
        result = svc.kinds.ingest(kind, lines, who)
        return IngestResponse.model_validate(result, from_attributes=True)

    answer = await run_in_threadpool(work)
    return Response(answer.model_dump_json(), media_type="application/json")
