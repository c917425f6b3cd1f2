"""Alerts under /v1/alerts: listed (and acknowledged) within the caller's grants, rules managed by
admins and by site managers for their sites (tally.people.authz decides; what a caller cannot
reach answers 404, as another site's registry entries do)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from tally.alerts.kinds.base import InvalidParamsError
from tally.alerts.model import NAME, AlertError, AlertNotFoundError, AlertState, RuleInput, alert_json
from tally.alerts.service import AlertForbiddenError, BadCursorError, UnknownSiteError
from tally.api.alerts_models import AlertOut, RuleOut
from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems
from tally.api.deps import AlertsManageAccess, AlertsReadAccess, ServicesDep
from tally.api.problems import Problem, forbidden, not_found

router = APIRouter(tags=["alerts"], route_class=CappedBodyRoute)


def _problem(error: AlertError) -> Problem:
    if isinstance(error, AlertNotFoundError):
        return not_found(str(error))
    if isinstance(error, AlertForbiddenError):
        return forbidden(str(error))
    if isinstance(error, InvalidParamsError):
        return Problem(422, "Invalid alert rule", str(error), errors=error.errors)
    if isinstance(error, UnknownSiteError):
        return Problem(422, "Invalid alert rule", str(error))
    return Problem(409, "Alert conflict", str(error))


NEXT_CURSOR = "Next-Cursor"
PAGE_DEFAULT, PAGE_MAX = 200, 1000


@router.get(
    "/v1/alerts",
    responses={
        200: {
            "description": "A page of alerts, newest first",
            "headers": {
                NEXT_CURSOR: {
                    "description": "pass as `cursor` for the next page; absent on the last",
                    "schema": {"type": "string"},
                }
            },
        },
        **problems(401, 403, 422),
    },
    summary="List the alerts the caller's grants reach, newest first, a page at a time",
)
def list_alerts(
    response: Response,
    svc: ServicesDep,
    access: AlertsReadAccess,
    state: AlertState | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(pattern=NAME)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="the Next-Cursor header of the page before",
        ),
    ] = None,
) -> list[AlertOut]:
    try:
        page = svc.alerts.page_alerts(access.fence, limit, cursor, state=state, kind=kind, site=site)
    except BadCursorError as error:
        raise Problem(422, "Invalid cursor", str(error)) from error
    if page.next_cursor is not None:
        response.headers[NEXT_CURSOR] = page.next_cursor
    return [AlertOut.model_validate(alert_json(a)) for a in page.items]


@router.post(
    "/v1/alerts/{alert_id}/acknowledge",
    responses=problems(401, 403, 404, 422),
    summary="Acknowledge an alert (once; later calls keep the first acknowledgement)",
)
def acknowledge(alert_id: str, svc: ServicesDep, access: AlertsReadAccess) -> AlertOut:
    try:
        alert = svc.alerts.acknowledge(alert_id, access.fence, access.actor)
    except AlertError as error:
        raise _problem(error) from error
    return AlertOut.model_validate(alert_json(alert))


@router.get(
    "/v1/alerts/rules", responses=problems(401, 403, 422), summary="List the alert rules the caller manages"
)
def list_rules(svc: ServicesDep, access: AlertsManageAccess) -> list[RuleOut]:
    return [RuleOut.of(r) for r in svc.alerts.list_rules(access.fence)]


@router.post(
    "/v1/alerts/rules",
    status_code=201,
    responses=problems(400, 401, 403, 422),
    summary=(
        "Add an alert rule (kinds: idle_vm, idle_gpu, stuck_vm, silent_agent, heavy_user, heavy_load, "
        "allocation)"
    ),
)
def add_rule(body: Annotated[RuleInput, Body()], svc: ServicesDep, access: AlertsManageAccess) -> RuleOut:
    try:
        return RuleOut.of(svc.alerts.add_rule(body, access.fence, access.actor))
    except AlertError as error:
        raise _problem(error) from error


@router.get("/v1/alerts/rules/{rule_id}", responses=problems(401, 403, 404, 422), summary="One alert rule")
def get_rule(rule_id: str, svc: ServicesDep, access: AlertsManageAccess) -> RuleOut:
    try:
        return RuleOut.of(svc.alerts.get_rule(rule_id, access.fence))
    except AlertError as error:
        raise _problem(error) from error


@router.put(
    "/v1/alerts/rules/{rule_id}", responses=problems(400, 401, 403, 404, 422), summary="Replace an alert rule"
)
def replace_rule(
    rule_id: str, body: Annotated[RuleInput, Body()], svc: ServicesDep, access: AlertsManageAccess
) -> RuleOut:
    try:
        return RuleOut.of(svc.alerts.replace_rule(rule_id, body, access.fence))
    except AlertError as error:
        raise _problem(error) from error


@router.delete(
    "/v1/alerts/rules/{rule_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    summary="Remove an alert rule (its open alerts resolve at the next evaluation)",
)
def delete_rule(rule_id: str, svc: ServicesDep, access: AlertsManageAccess) -> Response:
    try:
        svc.alerts.delete_rule(rule_id, access.fence)
    except AlertError as error:
        raise _problem(error) from error
    return Response(status_code=204)
