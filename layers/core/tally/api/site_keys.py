"""GET and POST /v1/sites/{site}/keys, DELETE /v1/sites/{site}/keys/{key_id}: a site's API keys,
managed by its site managers and by admins with the rules of `tally keys` (tally.site_keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems
from tally.api.deps import Access, KeysAccess, ServicesDep
from tally.api.json_body import json_object
from tally.api.problems import Problem, forbidden
from tally.domain.control import SCOPES, ApiKey, ControlError
from tally.site_keys.service import MAX_RESOURCES

router = APIRouter(tags=["sites"])
SiteName = Annotated[str, Path(max_length=256, description="the site")]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the key's id")]
MAX_BODY_BYTES = 64 * 1024
SHAPE = '{"resources": [string, ...], "scopes": [string, ...]} (both optional)'


class KeyIn(BaseModel):
    model_config = {"extra": "forbid"}

    resources: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=MAX_RESOURCES, description="restrict the key to these resources"
    )
    scopes: list[str] | None = Field(
        default=None,
        max_length=len(SCOPES),
        description=f"of {', '.join(SCOPES)}; none: the agent defaults",
    )


class KeyOut(BaseModel):
    key_id: str
    site: str
    resources: list[str]
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(
            key_id=k.key_id,
            site=k.site,
            resources=list(k.resources),
            scopes=list(k.effective_scopes),
            created_at=k.created_at,
            revoked_at=k.revoked_at,
        )


class NewKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, never stored")


def _check_site(access: Access, site: str) -> None:
    if not access.fence.allows_site(site):
        raise forbidden(f"no grant of this caller manages the keys of site {site!r}")


@router.get(
    "/sites/{site}/keys",
    response_model=list[KeyOut],
    responses=problems(401, 403, 404, 422),
    summary="A site's API keys (ids and metadata; keys themselves are never stored)",
)
async def list_keys(site: SiteName, svc: ServicesDep, access: KeysAccess) -> list[KeyOut]:
    _check_site(access, site)
    keys = await run_in_threadpool(svc.site_keys.list, site)
    return [KeyOut.of(k) for k in keys]


@router.post(
    "/sites/{site}/keys",
    status_code=201,
    response_model=NewKeyOut,
    responses=problems(400, 401, 403, 404, 413, 415, 422),
    summary="Create a key of the site: the answer holds it, once",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": KeyIn.model_json_schema()}},
        }
    },
)
async def create_key(site: SiteName, request: Request, svc: ServicesDep, access: KeysAccess) -> NewKeyOut:
    _check_site(access, site)
    try:
        body = KeyIn.model_validate(await json_object(request, MAX_BODY_BYTES, SHAPE))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Problem(422, "Invalid key request", f"{where}: {first['msg']}") from error
    scopes = tuple(body.scopes) if body.scopes is not None else None
    try:
        new = await run_in_threadpool(svc.site_keys.create, site, tuple(body.resources), scopes, access.actor)
    except ControlError as error:
        raise Problem(422, "Invalid key request", str(error)) from error
    return NewKeyOut(**KeyOut.of(new.record).model_dump(), key=new.plain)


@router.delete(
    "/sites/{site}/keys/{key_id}",
    status_code=204,
    responses=problems(401, 403, 404, 409, 422),
    summary="Revoke a key of the site: it stops working at once",
)
async def revoke_key(site: SiteName, key_id: KeyId, svc: ServicesDep, access: KeysAccess) -> Response:
    _check_site(access, site)
    await run_in_threadpool(svc.site_keys.revoke, site, key_id, access.actor)
    return Response(status_code=204)
