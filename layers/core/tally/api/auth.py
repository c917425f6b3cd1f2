"""Sign-in for local accounts (a session cookie), who the caller is, and personal access tokens.

The session cookie is HttpOnly (no script reads it), Secure (HTTPS only; browsers treat
http://localhost as secure), SameSite=Strict, scoped to /v1 and expiring with the session. Requests
that change anything with it must echo the session's CSRF token (X-CSRF-Token), which the sign-in
answer and GET /v1/me carry. Failed sign-ins are throttled per account (429 with Retry-After).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response
from starlette.concurrency import run_in_threadpool

from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems
from tally.api.deps import PersonDep, ServicesDep
from tally.api.people_models import GrantOut, LoginIn, LoginOut, Me, NewToken, PersonOut, TokenIn, TokenOut
from tally.api.problems import Problem, forbidden, unauthorized
from tally.auth.credentials import SESSION_COOKIE
from tally.people.model import PeopleError, Session
from tally.people.service import LoginThrottledError

router = APIRouter(route_class=CappedBodyRoute)


def set_session_cookie(response: Response, session: Session, cookie: str) -> None:
    """The session cookie, however the person signed in (password or provider)."""
    max_age = int((session.expires_at - datetime.now(UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=max_age, path="/v1", secure=True, httponly=True, samesite="strict"
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/v1", secure=True, httponly=True, samesite="strict")


@router.post(
    "/auth/login",
    response_model=LoginOut,
    responses=problems(400, 401, 403, 422, 429),
    tags=["auth"],
    summary="Sign in with a local account's email and password: sets the session cookie",
)
async def login(body: Annotated[LoginIn, Body()], svc: ServicesDep, response: Response) -> LoginOut:
    try:
        session, cookie = await run_in_threadpool(svc.people.login, body.email, body.password)
    except LoginThrottledError as error:
        raise Problem(429, "Too many requests", str(error), retry_after=error.retry_after) from error
    except PeopleError as error:
        raise unauthorized(str(error)) from error
    set_session_cookie(response, session, cookie)
    return LoginOut(person_id=session.person_id, csrf_token=session.csrf_token, expires_at=session.expires_at)


@router.post(
    "/auth/logout",
    status_code=204,
    responses=problems(401, 403, 422),
    tags=["auth"],
    summary="End the session",
)
async def logout(who: PersonDep, svc: ServicesDep) -> Response:
    if who.session is None:
        raise forbidden("signing out ends a browser session: revoke a token with DELETE /v1/tokens/{id}")
    svc.people.logout(who.session)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get(
    "/me", response_model=Me, responses=problems(401, 403, 422), tags=["auth"], summary="Who is calling"
)
async def me(who: PersonDep) -> Me:
    return Me(
        person=PersonOut.of(who.person),
        grants=[GrantOut.of(g) for g in who.grants],
        via=who.via,
        csrf_token=who.session.csrf_token if who.session else None,
    )


@router.get(
    "/tokens",
    response_model=list[TokenOut],
    responses=problems(401, 403, 422),
    tags=["auth"],
    summary="My tokens",
)
async def list_tokens(who: PersonDep, svc: ServicesDep) -> list[TokenOut]:
    return [TokenOut.of(t) for t in svc.people.store.list_tokens(who.person.person_id)]


@router.post(
    "/tokens",
    status_code=201,
    response_model=NewToken,
    responses=problems(400, 401, 403, 422),
    tags=["auth"],
    summary="Create a personal access token with an expiry and a subset of my grants",
)
async def create_token(body: Annotated[TokenIn, Body()], who: PersonDep, svc: ServicesDep) -> NewToken:
    try:
        token, plain = svc.people.create_token(who, body.name, body.days, body.grant_ids)
    except PeopleError as error:
        raise Problem(422, "Invalid token request", str(error)) from error
    return NewToken(**TokenOut.of(token).model_dump(), token=plain)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    tags=["auth"],
    summary="Revoke a token",
)
async def revoke_token(token_id: str, who: PersonDep, svc: ServicesDep) -> Response:
    try:
        svc.people.revoke_token(who, token_id)
    except PeopleError as error:
        raise Problem(404, "Not found", str(error)) from error
    return Response(status_code=204)
