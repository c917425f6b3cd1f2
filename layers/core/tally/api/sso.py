"""Single sign-on routes: which sign-in methods exist, and the browser's sign-in at the OpenID
provider (authorisation code with PKCE), ending in the same session cookie as a local sign-in.

    GET  /v1/auth/config          public: the methods the portal offers
    GET  /v1/auth/oidc/login      public: to the provider, with a sealed short-lived login cookie
    GET  /v1/auth/oidc/callback   public: the provider's answer -> session cookie -> return_to
    POST /v1/auth/oidc/logout     the session (and its CSRF token): ends it, names the provider's
                                  logout page (RP-initiated logout) when it has one
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, Security
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tally.api import contract
from tally.api.auth import clear_session_cookie, set_session_cookie
from tally.api.contract import problems
from tally.api.deps import PersonDep, ServicesDep
from tally.api.problems import Problem, bad_request, forbidden, not_found, unauthorized
from tally.auth.login_cookie import LOGIN_COOKIE
from tally.auth.oidc.errors import OidcError
from tally.auth.sso import SsoError, SsoService
from tally.observability import logger
from tally.services.container import Services

router = APIRouter(prefix="/v1/auth", tags=["auth"])
LOGIN_PATH = "/v1/auth/oidc"
#: The answers of the browser's steps are never cached, and the callback's URL (which holds the
#: code) is never sent on as a referrer.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class OidcMethod(BaseModel):
    issuer: str
    client_id: str
    login_url: str
    logout_url: str


class AuthConfig(BaseModel):
    """How people sign in here: `password` (POST /v1/auth/login) always, `oidc` with a provider."""

    methods: list[str]
    oidc: OidcMethod | None
    session_hours: float


class LoggedOut(BaseModel):
    #: Where to send the browser to sign out at the provider too, or None (it offers no logout).
    end_session_url: str | None


def _sso(svc: Services) -> SsoService:
    sso = svc.sso
    if sso is None:
        raise not_found("this Tally has no single sign-on provider (TALLY_OIDC is not set)")
    return sso


def _problem(error: SsoError) -> Problem:
    if error.status == 400:
        return Problem(400, "Sign-in refused", str(error))
    if error.status == 403:
        return forbidden(str(error))
    if error.status == 502:
        return Problem(502, "Provider unavailable", str(error))
    return unauthorized(str(error))


@router.get("/config", response_model=AuthConfig, summary="The sign-in methods this Tally offers (public)")
async def auth_config(svc: ServicesDep) -> AuthConfig:
    sso = svc.sso
    oidc = None
    if sso is not None:
        oidc = OidcMethod(
            issuer=sso.config.issuer,
            client_id=sso.config.client_id,
            login_url=f"{LOGIN_PATH}/login",
            logout_url=f"{LOGIN_PATH}/logout",
        )
    methods = ["password", "oidc"] if oidc else ["password"]
    return AuthConfig(methods=methods, oidc=oidc, session_hours=svc.settings.people.session_hours)


@router.get(
    "/oidc/login",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the provider's sign-in page."}, **problems(400, 404, 422, 502)},
    summary="Sign in at the OpenID provider; back at `return_to` (a path of this site) afterwards",
)
async def oidc_login(
    svc: ServicesDep, return_to: Annotated[str | None, Query(max_length=512)] = None
) -> RedirectResponse:
    sso = _sso(svc)
    try:
        url, cookie = await run_in_threadpool(sso.begin, return_to)
    except ValueError as error:
        raise bad_request(f"return_to: {error}") from None
    except OidcError as error:
        logger.warning("oidc provider unavailable", extra={"reason": error.reason, "detail": error.detail})
        raise Problem(
            502, "Provider unavailable", f"the OpenID provider cannot be reached: {error.detail}"
        ) from None
    response = RedirectResponse(url, status_code=302, headers=NO_STORE)
    # Lax, not Strict: the provider sends the browser back with a cross-site top-level GET.
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=sso.settings.login_ttl_seconds,
        path=LOGIN_PATH,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/oidc/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed in: to return_to."}, **problems(400, 401, 403, 404, 502)},
    summary="Where the provider sends the browser back: sets the session cookie",
)
async def oidc_callback(request: Request, svc: ServicesDep) -> Response:
    sso = _sso(svc)
    # Only the parameters of the answer (RFC 6749 4.1.2, RFC 9207), each bounded.
    params = {k: v[:4096] for k, v in request.query_params.items() if k in ("code", "state", "iss", "error")}
    try:
        session, cookie, target = await run_in_threadpool(
            sso.finish, request.cookies.get(LOGIN_COOKIE), params
        )
    except SsoError as error:
        logger.info("oidc sign-in refused", extra={"status": error.status, "detail": str(error)})
        raise _problem(error) from None
    logger.info("oidc sign-in", extra={"person_id": session.person_id, "session_id": session.session_id})
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    set_session_cookie(response, session, cookie)
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH, secure=True, httponly=True, samesite="lax")
    return response


@router.post(
    "/oidc/logout",
    # Called with the session cookie; like every credentialed route it also takes a bearer.
    dependencies=[Security(contract.BEARER)],
    response_model=LoggedOut,
    responses=problems(401, 403, 422, 502),
    summary="End the session; the answer names the provider's logout page, if it has one",
)
async def oidc_logout(who: PersonDep, svc: ServicesDep, response: Response) -> LoggedOut:
    if who.session is None:
        raise forbidden("signing out ends a browser session: revoke a token with DELETE /v1/tokens/{id}")
    session = who.session
    await run_in_threadpool(svc.people.logout, session)
    clear_session_cookie(response)
    sso = svc.sso
    url = None
    if sso is not None:
        try:
            url = await run_in_threadpool(sso.logout_url)
        except OidcError as error:  # the session is over anyway; say so, and why not at the provider
            logger.warning("oidc logout url unavailable", extra={"reason": error.reason})
    return LoggedOut(end_session_url=url)
