"""GET and POST /v1/me/subscriptions, GET and DELETE /v1/me/subscriptions/{id}: the signed-in
person's scheduled reports (a saved view delivered weekly or monthly) and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tally.api.contract import problems
from tally.api.deps import PersonDep, ServicesDep
from tally.api.json_body import json_object
from tally.api.problems import Problem
from tally.saved_views.model import InvalidView
from tally.subscriptions.model import (
    MAX_BODY_BYTES,
    MAX_URL,
    SUBSCRIPTION_ID,
    Delivery,
    InvalidSubscription,
    Subscription,
)
from tally.subscriptions.report import NotAReport

router = APIRouter(tags=["people"])
SHAPE = (
    '{"view": string, "cadence": "weekly"|"monthly", "format": "csv"|"xlsx"|"pdf", '
    '"channel": "email"|"webhook", "url"?: string}'
)
FIELDS = {"view", "cadence", "format", "channel", "url"}
SubscriptionId = Annotated[
    str, Path(pattern=SUBSCRIPTION_ID.pattern, description="the subscription's id (s- and 12 hex digits)")
]


class SubscriptionIn(BaseModel):
    view: str = Field(description="the name of one of your saved views (an explorer report)")
    cadence: Literal["weekly", "monthly"] = Field(
        description="weekly: Monday to Sunday; monthly: a calendar month (UTC)"
    )
    format: Literal["csv", "xlsx", "pdf"]
    channel: Literal["email", "webhook"] = Field(description="email goes to your address; webhook to url")
    url: str | None = Field(default=None, max_length=MAX_URL, description="the webhook's URL (webhook only)")


class DeliveryOut(BaseModel):
    period: str
    start: datetime
    end: datetime
    state: Literal["sent", "failed", "refused", "given_up"]
    attempts: int
    detail: str
    rows: int | None
    at: datetime

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            period=d.period,
            start=d.start,
            end=d.end,
            state=d.state,
            attempts=d.attempts,
            detail=d.detail,
            rows=d.rows,
            at=d.at,
        )


class SubscriptionOut(BaseModel):
    id: str
    view: str
    cadence: str
    format: str
    channel: str
    url: str | None
    created_at: datetime
    deliveries: list[DeliveryOut] | None = Field(
        default=None, description="newest first (one subscription's read)"
    )

    @classmethod
    def of(cls, s: Subscription, deliveries: list[Delivery] | None = None) -> SubscriptionOut:
        return cls(
            id=s.subscription_id,
            view=s.view,
            cadence=s.cadence,
            format=s.format,
            channel=s.channel,
            url=s.url,
            created_at=s.created_at,
            deliveries=None if deliveries is None else [DeliveryOut.of(d) for d in deliveries],
        )


async def _body(request: Request) -> dict[str, Any]:
    body = await json_object(request, MAX_BODY_BYTES, SHAPE)
    extra = set(body) - FIELDS
    missing = FIELDS - {"url"} - set(body)
    if extra or missing:
        what = f"unknown field {sorted(extra)[0]!r}" if extra else f"missing field {sorted(missing)[0]!r}"
        raise Problem(422, "Invalid subscription", f"{what}: the body is {SHAPE}")
    return body


@router.get(
    "/me/subscriptions",
    response_model=list[SubscriptionOut],
    response_model_exclude_none=True,
    responses=problems(401, 403, 422),
    summary="My scheduled reports",
)
async def list_subscriptions(svc: ServicesDep, who: PersonDep) -> list[SubscriptionOut]:
    subs = await run_in_threadpool(svc.subscriptions.list_subscriptions, who.person.person_id)
    return [SubscriptionOut.of(s) for s in subs]


@router.post(
    "/me/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    response_model_exclude_none=True,
    responses=problems(400, 401, 403, 404, 409, 413, 415, 422),
    summary="Subscribe a saved view to weekly or monthly delivery",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SubscriptionIn.model_json_schema()}},
        }
    },
)
async def create_subscription(request: Request, svc: ServicesDep, who: PersonDep) -> SubscriptionOut:
    body = await _body(request)
    try:
        sub = await run_in_threadpool(
            svc.subscriptions.create,
            who.person.person_id,
            body["view"],
            body["cadence"],
            body["format"],
            body["channel"],
            body.get("url"),
        )
    except (InvalidSubscription, InvalidView, NotAReport) as error:
        raise Problem(422, "Invalid subscription", error.detail) from error
    return SubscriptionOut.of(sub)


@router.get(
    "/me/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    response_model_exclude_none=True,
    responses=problems(401, 403, 404, 422),
    summary="One of my scheduled reports, with its deliveries",
)
async def get_subscription(
    subscription_id: SubscriptionId, svc: ServicesDep, who: PersonDep
) -> SubscriptionOut:
    person = who.person.person_id
    sub = await run_in_threadpool(svc.subscriptions.get, subscription_id, person)
    deliveries = await run_in_threadpool(svc.subscriptions.deliveries, subscription_id, person)
    return SubscriptionOut.of(sub, deliveries)


@router.delete(
    "/me/subscriptions/{subscription_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    summary="Delete a scheduled report",
)
async def delete_subscription(subscription_id: SubscriptionId, svc: ServicesDep, who: PersonDep) -> Response:
    await run_in_threadpool(svc.subscriptions.delete, subscription_id, who.person.person_id)
    return Response(status_code=204)
