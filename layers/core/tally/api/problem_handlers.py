"""RFC 9457 problem+json answers for every request refused as a whole."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tally.api.problems import Problem
from tally.billing import BillingImportError
from tally.domain.errors import (
    Conflict,
    ForeignSite,
    MalformedBody,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    RequestRefused,
    TooLarge,
    Unsupported,
    Unusable,
)
from tally.services.billing import BillingOwnershipError, BillingStoreError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("tally.api")
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def problem_response(
    problem: Problem, request: Request, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if problem.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tally"'
    if problem.status == 429 and "retry_after" in problem.extra:
        headers["Retry-After"] = str(problem.extra["retry_after"])
    return JSONResponse(
        problem.as_dict(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


#: The answer to each refusal the services raise: (status, title), as the API has always given them.
_REFUSALS: tuple[tuple[type[RequestRefused], int, str], ...] = (
    (TooLarge, 413, "Request too large"),
    (NotAuthenticated, 401, "Unauthorized"),
    (ForeignSite, 403, "Forbidden"),
    (MalformedBody, 400, "Malformed request body"),
    (NotAllowed, 403, "Forbidden"),
    (Unusable, 422, "Unusable batch"),
    (Unsupported, 415, "Unsupported media type"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
)


def problem_for(error: RequestRefused | BillingImportError | BillingStoreError) -> Problem:
    """The RFC 9457 problem answering a refusal raised below the API."""
    if isinstance(error, BillingOwnershipError):
        return Problem(403, "Forbidden", str(error))
    if isinstance(error, BillingImportError | BillingStoreError):
        return Problem(422, "Unusable billing file", str(error), code=error.code)
    for kind, status, title in _REFUSALS:
        if isinstance(error, kind):
            return Problem(status, title, error.detail)
    return Problem(400, "Refused", error.detail)


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first matching route's)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestRefused | BillingImportError | BillingStoreError)
        return problem_response(problem_for(exc), request)

    for refusal in (RequestRefused, BillingImportError, BillingStoreError):
        app.add_exception_handler(refusal, _refused)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(Problem(422, "Invalid request", detail, errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {400: "Malformed request body", 404: "Not found", 405: "Method not allowed"}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem_response(
            Problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail)),
            request,
            headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            Problem(500, "Internal error", "the server failed; the request can be retried as is"), request
        )
