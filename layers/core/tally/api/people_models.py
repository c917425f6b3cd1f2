"""Request and answer bodies of the people, sign-in and token routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tally.people.model import AccessToken, Grant, Identity, Person


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=1024)
    email: str = Field(min_length=3, max_length=320)
    password: str | None = Field(default=None, description="Makes a local account (12+ characters).")


class PersonOut(BaseModel):
    person_id: str
    name: str
    email: str
    created_at: datetime

    @classmethod
    def of(cls, p: Person) -> PersonOut:
        return cls(person_id=p.person_id, name=p.name, email=p.email, created_at=p.created_at)


class IdentityIn(BaseModel):
    kind: str = Field(description="oidc (issuer + subject), x509 (DN) or local (site + login)")
    namespace: str = Field(default="", max_length=1024, description="the issuer (oidc) or site (local)")
    value: str = Field(min_length=1, max_length=1024, description="the subject, DN or login")
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class IdentityEnd(BaseModel):
    at: datetime = Field(description="the link holds until this instant (exclusive)")


class IdentityOut(BaseModel):
    identity_id: str
    person_id: str
    kind: str
    namespace: str
    value: str
    valid_from: datetime
    valid_to: datetime | None

    @classmethod
    def of(cls, i: Identity) -> IdentityOut:
        return cls(
            identity_id=i.identity_id,
            person_id=i.person_id,
            kind=i.kind,
            namespace=i.namespace,
            value=i.value,
            valid_from=i.valid_from,
            valid_to=i.valid_to,
        )


class GrantIn(BaseModel):
    role: str
    scope: str | None = Field(default=None, max_length=1024)


class GrantOut(BaseModel):
    grant_id: str
    person_id: str
    role: str
    scope: str
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, g: Grant) -> GrantOut:
        return cls(
            grant_id=g.grant_id,
            person_id=g.person_id,
            role=g.role,
            scope=g.scope,
            created_at=g.created_at,
            created_by=g.created_by,
        )


class PersonDetail(PersonOut):
    identities: list[IdentityOut]
    grants: list[GrantOut]


class Me(BaseModel):
    person: PersonOut
    grants: list[GrantOut] = Field(description="the grants this credential carries")
    via: str = Field(description="session, token or oidc")
    csrf_token: str | None = Field(description="for a session: send it as X-CSRF-Token when changing things")


class LoginIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    person_id: str
    csrf_token: str
    expires_at: datetime


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    days: int = Field(ge=1, description="lifetime in days (at most the configured maximum)")
    grant_ids: list[str] | None = Field(
        default=None, description="a subset of the caller's grants; all if absent"
    )


class TokenOut(BaseModel):
    token_id: str
    name: str
    grant_ids: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: AccessToken) -> TokenOut:
        return cls(
            token_id=t.token_id,
            name=t.name,
            grant_ids=list(t.grant_ids),
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
        )


class NewToken(TokenOut):
    token: str = Field(description="shown once: send it as `Authorization: Bearer <token>`")


class AuditOut(BaseModel):
    event_id: str
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, object]


class IngestCountOut(BaseModel):
    site: str
    day: str
    kind: str
    accepted: int
    duplicates: int
    rejected: int
