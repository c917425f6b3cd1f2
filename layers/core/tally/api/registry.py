"""Registry CRUD under /v1/registry/{kind}: a site's key reads and edits only its site's entries, a
site manager those of their sites, an admin all (tally.people.authz decides). Every change is
written to the audit log (`registry.add`, `registry.replace`, `registry.delete`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import ValidationError

from tally.api.capped_route import CappedBodyRoute
from tally.api.contract import problems, registry_body
from tally.api.deps import Access, RegistryReadAccess, RegistryWriteAccess, ServicesDep
from tally.api.problems import Problem, forbidden, not_found
from tally.registry.entries import ENTRY_TYPES, Entry, RegistryError, RegistryKind
from tally.registry.store import (
    RegistryBusyError,
    RegistryNotFoundError,
    RegistryStore,
    RegistryUnknownSiteError,
)
from tally.services.ingest import Principal

router = APIRouter(tags=["registry"], route_class=CappedBodyRoute)


def _entry(kind: RegistryKind, body: dict[str, Any], access: Access) -> Entry:
    sites = access.fence.sites()
    default = next(iter(sites)) if len(sites) == 1 and not access.fence.everything else None
    site = body.get("site", default)
    if not isinstance(site, str) or not access.fence.allows_site(site):
        if isinstance(access.who, Principal):
            raise forbidden(
                f"this key belongs to site {access.who.site!r} and cannot edit entries of {site!r}"
            )
        if site is None:
            raise Problem(422, "Invalid registry entry", "name the entry's site")
        raise forbidden(f"no grant of this caller reaches the registry of site {site!r}")
    data = {k: v for k, v in body.items() if k not in ("entry_id", "updated_at")}
    data["site"] = site
    try:
        return ENTRY_TYPES[kind].model_validate(data)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
            for e in error.errors(include_url=False)
        ]
        detail = f"the {kind} entry is not valid"
        raise Problem(422, "Invalid registry entry", detail, errors=problems) from error


def _dump(entry: Entry) -> dict[str, Any]:
    return entry.model_dump(mode="json")


def _reachable(registry: RegistryStore, kind: RegistryKind, entry_id: str, access: Access) -> Entry:
    """The entry, if the caller's fence reaches its site; else 404 (another site's ids are not told)."""
    entry = registry.get(kind, entry_id)
    if not access.fence.allows_site(entry.site):
        raise RegistryNotFoundError(f"no {kind} entry {entry_id!r}")
    return entry


def _audited(svc: ServicesDep, access: Access, action: str, kind: RegistryKind, entry: Entry) -> None:
    svc.people.audit(access.actor, f"registry.{action}", entry.entry_id, kind=kind, site=entry.site)


def _guard(error: RegistryError) -> Problem:
    if isinstance(error, RegistryNotFoundError):
        return not_found(str(error))
    if isinstance(error, RegistryUnknownSiteError):
        return Problem(422, "Invalid registry entry", str(error))
    if isinstance(error, RegistryBusyError):
        return Problem(503, "Registry busy", str(error))
    return Problem(409, "Registry conflict", str(error))


@router.get(
    "/v1/registry/{kind}",
    responses=problems(401, 403, 422),
    summary="List the caller's site's registry entries",
)
def list_entries(kind: RegistryKind, svc: ServicesDep, access: RegistryReadAccess) -> list[dict[str, Any]]:
    return [_dump(e) for e in svc.registry.list_entries(kind) if access.fence.allows_site(e.site)]


@router.post(
    "/v1/registry/{kind}",
    status_code=201,
    responses=problems(400, 401, 403, 409, 422),
    openapi_extra=registry_body(),
    summary="Add a registry entry for the caller's site",
)
def add_entry(
    kind: RegistryKind, body: Annotated[dict[str, Any], Body()], svc: ServicesDep, access: RegistryWriteAccess
) -> dict[str, Any]:
    entry = _entry(kind, body, access)
    try:
        stored = svc.registry.add(kind, entry)
    except RegistryError as error:
        raise _guard(error) from error
    _audited(svc, access, "add", kind, stored)
    return _dump(stored)


@router.get(
    "/v1/registry/{kind}/{entry_id}", responses=problems(401, 403, 404, 422), summary="One registry entry"
)
def get_entry(
    kind: RegistryKind, entry_id: str, svc: ServicesDep, access: RegistryReadAccess
) -> dict[str, Any]:
    try:
        return _dump(_reachable(svc.registry, kind, entry_id, access))
    except RegistryError as error:
        raise _guard(error) from error


@router.put(
    "/v1/registry/{kind}/{entry_id}",
    responses=problems(400, 401, 403, 404, 409, 422),
    openapi_extra=registry_body(),
    summary="Replace a registry entry",
)
def replace_entry(
    kind: RegistryKind,
    entry_id: str,
    body: Annotated[dict[str, Any], Body()],
    svc: ServicesDep,
    access: RegistryWriteAccess,
) -> dict[str, Any]:
    try:
        stored = _reachable(svc.registry, kind, entry_id, access)
        entry = _entry(kind, {"site": stored.site, **body}, access)
        replaced = svc.registry.replace(kind, entry_id, entry, stored.site)
    except RegistryError as error:
        raise _guard(error) from error
    _audited(svc, access, "replace", kind, replaced)
    return _dump(replaced)


@router.delete(
    "/v1/registry/{kind}/{entry_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    summary="Delete a registry entry",
)
def delete_entry(
    kind: RegistryKind, entry_id: str, svc: ServicesDep, access: RegistryWriteAccess
) -> Response:
    try:
        stored = _reachable(svc.registry, kind, entry_id, access)
        svc.registry.delete(kind, entry_id, stored.site)
    except RegistryError as error:
        raise _guard(error) from error
    _audited(svc, access, "delete", kind, stored)
    return Response(status_code=204)
