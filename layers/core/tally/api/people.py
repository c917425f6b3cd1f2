"""People, identity links, grants and the audit log under /v1/people and /v1/audit.

Admins manage everyone. A site manager manages, at their sites: people linked there (a local login
at the site, or a site-manager grant on it) or not linked anywhere yet, local logins at the site,
and site-manager grants on it (and anyone's `user` grant). Every change is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Query, Response
from starlette.concurrency import run_in_threadpool

from tally.api.auth import router as auth_router
from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems
from tally.api.deps import Access, AuditAccess, PeopleAccess, ServicesDep
from tally.api.ingest_status import router as ingest_router
from tally.api.people_models import (
    AuditOut,
    GrantIn,
    GrantOut,
    IdentityEnd,
    IdentityIn,
    IdentityOut,
    PersonDetail,
    PersonIn,
    PersonOut,
)
from tally.api.problems import Problem, forbidden, not_found
from tally.people.model import PeopleConflictError, PeopleError, PeopleNotFoundError, Person
from tally.people.service import LoginThrottledError, PeopleService

people_routes = APIRouter(tags=["people"], route_class=CappedBodyRoute)
T = TypeVar("T")


def people_problem(error: PeopleError) -> Problem:
    if isinstance(error, PeopleNotFoundError):
        return not_found(str(error))
    if isinstance(error, PeopleConflictError):
        return Problem(409, "Conflict", str(error))
    if isinstance(error, LoginThrottledError):
        return Problem(429, "Too many requests", str(error), retry_after=error.retry_after)
    return Problem(422, "Invalid people request", str(error))


async def guarded(work: Callable[[], T]) -> T:
    """Run a store-touching step off the event loop, answering people errors as problems."""

    def run() -> T:
        try:
            return work()
        except PeopleError as error:
            raise people_problem(error) from error

    return await run_in_threadpool(run)


def _reaches(people: PeopleService, access: Access, person_id: str) -> bool:
    """Whether a manager's fence reaches a person (admins reach everyone)."""
    if access.fence.everything:
        return True
    sites = access.fence.sites()
    identities = people.store.list_identities(person_id)
    grants = [g for g in people.store.list_grants(person_id) if g.role != "user"]
    if any(i.kind == "local" and i.namespace in sites for i in identities):
        return True
    if any(g.role == "site_manager" and g.scope in sites for g in grants):
        return True
    return not identities and not grants  # nobody's yet: a site manager may take them on


def _reachable_person(people: PeopleService, access: Access, person_id: str) -> Person:
    person = people.person(person_id)
    if not _reaches(people, access, person_id):
        raise PeopleNotFoundError(f"no person {person_id!r}")
    return person


def _detail(people: PeopleService, person: Person) -> PersonDetail:
    return PersonDetail(
        **PersonOut.of(person).model_dump(),
        identities=[IdentityOut.of(i) for i in people.store.list_identities(person.person_id)],
        grants=[GrantOut.of(g) for g in people.store.list_grants(person.person_id)],
    )


@people_routes.get(
    "/people",
    response_model=list[PersonOut],
    responses=problems(401, 403, 422),
    summary="People the caller manages",
)
async def list_people(svc: ServicesDep, access: PeopleAccess) -> list[PersonOut]:
    people = svc.people

    def work() -> list[PersonOut]:
        return [PersonOut.of(p) for p in people.store.list_people() if _reaches(people, access, p.person_id)]

    return await guarded(work)


@people_routes.post(
    "/people",
    status_code=201,
    response_model=PersonDetail,
    responses=problems(400, 401, 403, 409, 422),
    summary="Add a person (with a password: a local account)",
)
async def add_person(
    body: Annotated[PersonIn, Body()], svc: ServicesDep, access: PeopleAccess
) -> PersonDetail:
    people = svc.people
    return await guarded(
        lambda: _detail(people, people.add_person(body.name, body.email, access.actor, body.password))
    )


@people_routes.get(
    "/people/{person_id}",
    response_model=PersonDetail,
    responses=problems(401, 403, 404, 422),
    summary="One person",
)
async def get_person(person_id: str, svc: ServicesDep, access: PeopleAccess) -> PersonDetail:
    people = svc.people
    return await guarded(lambda: _detail(people, _reachable_person(people, access, person_id)))


@people_routes.post(
    "/people/{person_id}/identities",
    status_code=201,
    response_model=IdentityOut,
    responses=problems(400, 401, 403, 404, 409, 422),
    summary="Link an identity (OIDC subject, X.509 DN, or a login at a site) for an interval",
)
async def link_identity(
    person_id: str, body: Annotated[IdentityIn, Body()], svc: ServicesDep, access: PeopleAccess
) -> IdentityOut:
    people = svc.people
    if not access.fence.everything and not (
        body.kind == "local" and access.fence.allows_site(body.namespace)
    ):
        raise forbidden("a site manager links only logins at their own sites")

    def work() -> IdentityOut:
        _reachable_person(people, access, person_id)
        identity = people.link_identity(
            person_id, body.kind, body.namespace, body.value, access.actor, body.valid_from, body.valid_to
        )
        return IdentityOut.of(identity)

    return await guarded(work)


@people_routes.post(
    "/people/{person_id}/identities/{identity_id}/end",
    response_model=IdentityOut,
    responses=problems(400, 401, 403, 404, 422),
    summary="End an identity link at an instant (the login passes to someone else after it)",
)
async def end_identity(
    person_id: str,
    identity_id: str,
    body: Annotated[IdentityEnd, Body()],
    svc: ServicesDep,
    access: PeopleAccess,
) -> IdentityOut:
    people = svc.people

    def work() -> IdentityOut:
        _reachable_person(people, access, person_id)
        item = people.identity(identity_id)
        if item.person_id != person_id:
            raise PeopleNotFoundError(f"no identity {identity_id!r} of {person_id!r}")
        if not access.fence.everything and not (
            item.kind == "local" and access.fence.allows_site(item.namespace)
        ):
            raise PeopleNotFoundError(f"no identity {identity_id!r} of {person_id!r}")
        return IdentityOut.of(people.end_identity(identity_id, body.at, access.actor))

    return await guarded(work)


def _may_grant(access: Access, role: str, scope: str | None) -> bool:
    if access.fence.everything:
        return True
    return role == "user" or (
        role == "site_manager" and scope is not None and access.fence.allows_site(scope)
    )


@people_routes.post(
    "/people/{person_id}/grants",
    status_code=201,
    response_model=GrantOut,
    responses=problems(400, 401, 403, 404, 422),
    summary="Grant a role in a scope",
)
async def add_grant(
    person_id: str, body: Annotated[GrantIn, Body()], svc: ServicesDep, access: PeopleAccess
) -> GrantOut:
    people = svc.people
    if not _may_grant(access, body.role, body.scope):
        raise forbidden("a site manager grants only site_manager of their own sites (and user)")

    def work() -> GrantOut:
        _reachable_person(people, access, person_id)
        return GrantOut.of(people.add_grant(person_id, body.role, body.scope, access.actor))

    return await guarded(work)


@people_routes.delete(
    "/people/{person_id}/grants/{grant_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    summary="Take a grant away",
)
async def remove_grant(person_id: str, grant_id: str, svc: ServicesDep, access: PeopleAccess) -> Response:
    people = svc.people

    def work() -> None:
        _reachable_person(people, access, person_id)
        grant = people.grant(grant_id)
        if grant.person_id != person_id or not _may_grant(access, grant.role, grant.scope):
            raise PeopleNotFoundError(f"no grant {grant_id!r} of {person_id!r} this caller manages")
        people.remove_grant(grant_id, access.actor)

    await guarded(work)
    return Response(status_code=204)


@people_routes.get(
    "/audit",
    response_model=list[AuditOut],
    responses=problems(401, 403, 422),
    summary="The audit log of people, identity, grant, session and token changes (admins)",
)
async def audit_log(
    svc: ServicesDep,
    access: AuditAccess,
    target: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditOut]:
    people = svc.people

    def work() -> list[AuditOut]:
        events = [e for e in people.store.list_audit() if target is None or e.target == target]
        return [
            AuditOut(
                event_id=e.event_id, at=e.at, actor=e.actor, action=e.action, target=e.target, detail=e.detail
            )
            for e in events[-limit:]
        ]

    return await guarded(work)


#: Everything under /v1 this package serves, each route with one tag (the docs page lists it once).
router = APIRouter(prefix="/v1")
router.include_router(people_routes)
router.include_router(auth_router)
router.include_router(ingest_router)
