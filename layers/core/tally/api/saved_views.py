"""GET /v1/me/views, PUT and DELETE /v1/me/views/{name}: the signed-in person's saved views."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tally.api.body import read_capped
from tally.api.contract import problems
from tally.api.deps import PersonDep, ServicesDep
from tally.api.problems import Problem, bad_request, unsupported
from tally.saved_views.model import MAX_BODY_BYTES, MAX_STATE_BYTES, MAX_TITLE, NAME, InvalidView, SavedView

router = APIRouter(tags=["people"])
ViewName = Annotated[str, Path(pattern=NAME.pattern, description="the view's name (letters, digits, . _ -)")]


class SavedViewIn(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    state: dict[str, Any] = Field(
        description=f"the portal's state: any JSON object, at most {MAX_STATE_BYTES} bytes"
    )


class SavedViewOut(BaseModel):
    name: str
    title: str
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, v: SavedView) -> SavedViewOut:
        return cls(
            name=v.name, title=v.title, state=v.state, created_at=v.created_at, updated_at=v.updated_at
        )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object sent, read up to MAX_BODY_BYTES (413 beyond): NaN and Infinity are not JSON."""
    media = (request.headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise unsupported('send the view as application/json: {"title": ..., "state": {...}}')
    raw = await read_capped(request, MAX_BODY_BYTES)
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise bad_request(f"the body is not JSON: {str(error)[:200]}") from error
    if not isinstance(body, dict) or set(body) - {"title", "state"} or not {"title", "state"} <= set(body):
        raise Problem(422, "Invalid view", 'the body is a JSON object {"title": string, "state": object}')
    return body


@router.get(
    "/me/views", response_model=list[SavedViewOut], responses=problems(401, 403), summary="My saved views"
)
async def list_views(svc: ServicesDep, who: PersonDep) -> list[SavedViewOut]:
    views = await run_in_threadpool(svc.saved_views.list, who.person.person_id)
    return [SavedViewOut.of(v) for v in views]


@router.put(
    "/me/views/{name}",
    response_model=SavedViewOut,
    responses={**problems(400, 401, 403, 409, 413, 415, 422), 201: {"description": "Saved (a new view)."}},
    summary="Save a view under a name (replacing one of that name)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SavedViewIn.model_json_schema()}},
        }
    },
)
async def put_view(
    name: ViewName, request: Request, response: Response, svc: ServicesDep, who: PersonDep
) -> SavedViewOut:
    body = await _body(request)
    try:
        view, created = await run_in_threadpool(
            svc.saved_views.put, who.person.person_id, name, body["title"], body["state"]
        )
    except InvalidView as error:
        raise Problem(422, "Invalid view", error.detail) from error
    response.status_code = 201 if created else 200
    return SavedViewOut.of(view)


@router.delete(
    "/me/views/{name}", status_code=204, responses=problems(401, 403, 404, 422), summary="Delete a saved view"
)
async def delete_view(name: ViewName, svc: ServicesDep, who: PersonDep) -> Response:
    await run_in_threadpool(svc.saved_views.delete, who.person.person_id, name)
    return Response(status_code=204)
