"""People, their linked identities and grants, and the credentials they sign in with.

Identities say which usage records are a person's: an X.509 DN or a federated subject (matched
against `global_user`), or a login at a site (matched against `local_user` of that site). Each link
holds for a validity interval, so a login name that a site gives to someone else later is not
merged with its first owner. Two links of the same name may not overlap in time.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tally.domain.control import ControlError

Role = Literal["user", "project_manager", "vo_manager", "site_manager", "finance", "admin"]
ROLES: tuple[Role, ...] = ("user", "project_manager", "vo_manager", "site_manager", "finance", "admin")
#: The usage dimension a scoped role's scope names; user is scoped to the person themselves,
#: finance and admin to everything.
SCOPE_DIMENSION: dict[str, str] = {"project_manager": "project", "vo_manager": "vo", "site_manager": "site"}
UNSCOPED: frozenset[str] = frozenset({"finance", "admin"})

IdentityKind = Literal["oidc", "x509", "local"]
IDENTITY_KINDS: tuple[IdentityKind, ...] = ("oidc", "x509", "local")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MAX_TEXT = 1024


class PeopleError(ControlError):
    """A people request that cannot be carried out (unknown person, overlapping link, ...)."""


class PeopleNotFoundError(PeopleError):
    """No such person, grant, identity or token (or not one the caller may see)."""


class PeopleConflictError(PeopleError):
    """The change contradicts what is stored (an email taken, a link overlapping another)."""


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class Identity:
    """`namespace` is the issuer (oidc), empty (x509), or the site (local); `value` the subject,
    the DN or the login. Valid from `valid_from` (inclusive) to `valid_to` (exclusive, None: open)."""

    identity_id: str
    person_id: str
    kind: IdentityKind
    namespace: str
    value: str
    valid_from: datetime
    valid_to: datetime | None = None

    @property
    def match_key(self) -> tuple[str, str, str]:
        """What usage records are matched on: a global id (DN or subject) wherever it was used,
        or a login at one site. Two links with one match key may not overlap in time."""
        if self.kind == "local":
            return ("local", self.namespace, self.value)
        return ("global", "", self.value)

    def overlaps(self, other: Identity) -> bool:
        ends = self.valid_to or datetime.max.replace(tzinfo=self.valid_from.tzinfo)
        other_ends = other.valid_to or datetime.max.replace(tzinfo=other.valid_from.tzinfo)
        return self.valid_from < other_ends and other.valid_from < ends

    def holds_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True)
class Grant:
    """(role, scope): scope is a project, VO or site for the scoped roles, the person's own id for
    `user`, and empty for finance and admin."""

    grant_id: str
    person_id: str
    role: Role
    scope: str
    created_at: datetime
    created_by: str

    @property
    def dimension(self) -> str | None:
        if self.role == "user":
            return "user"
        return SCOPE_DIMENSION.get(self.role)


@dataclass(frozen=True)
class AuditEvent:
    event_id: str
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    session_id: str
    person_id: str
    secret_hash: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AccessToken:
    """A personal access token: a subset of its person's grants (by id), until it expires."""

    token_id: str
    person_id: str
    name: str
    secret_hash: str
    grant_ids: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class PersonPrincipal:
    """A person calling the API, with the grants this credential carries (a token's subset)."""

    person: Person
    grants: tuple[Grant, ...]
    via: Literal["session", "token", "oidc"]
    session: Session | None = None
    token_id: str | None = None

    @property
    def actor(self) -> str:
        return f"person:{self.person.person_id}"

    def roles(self) -> set[str]:
        return {g.role for g in self.grants}

    def scopes_of(self, role: str) -> set[str]:
        return {g.scope for g in self.grants if g.role == role}


def check_text(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise PeopleError(f"{what} must be 1 to {MAX_TEXT} printable characters")
    return value


def check_email(value: str) -> str:
    value = value.strip().lower()
    if not EMAIL.match(value):
        raise PeopleError(f"{value!r} is not an email address")
    return value


def check_grant(role: str, scope: str | None, person_id: str) -> tuple[Role, str]:
    """The stored (role, scope) of a requested grant."""
    for known in ROLES:
        if known == role:
            if known in UNSCOPED:
                if scope:
                    raise PeopleError(f"the {role} role takes no scope")
                return known, ""
            if known == "user":
                if scope and scope != person_id:
                    raise PeopleError("the user role is scoped to the person themselves: give no scope")
                return known, person_id
            if not scope:
                raise PeopleError(f"the {role} role needs a scope (the {SCOPE_DIMENSION[known]})")
            return known, check_text(scope, "scope")
    raise PeopleError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
