"""People data in the control store, as small JSON documents per collection.

The control stores (SQLite locally, DynamoDB on AWS) hold them through the four `Documents`
methods; this module maps them to the model. The audit collection is append-only: the store
writes it only with `create_only`, and both adapters refuse to change or delete an audit document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from tally.domain.control import parse_utc_text, utc_text
from tally.people.model import (
    AccessToken,
    AuditEvent,
    Grant,
    Identity,
    IdentityKind,
    Person,
    Role,
    Session,
)

AUDIT = "audit"


class Documents(Protocol):
    def put_doc(
        self,
        collection: str,
        doc_id: str,
        doc: dict[str, Any],
        create_only: bool = False,
        expires_at: datetime | None = None,
    ) -> bool:
        """Store the document; with `create_only`, only if there is none under that id (True if stored).
        With `expires_at`, the document is gone from that time on (tally.domain.ports.ControlStore)."""

    def get_doc(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    def list_docs(self, collection: str) -> list[dict[str, Any]]:
        """All documents of a collection, in id order."""

    def delete_doc(self, collection: str, doc_id: str) -> bool: ...


def _time(value: object) -> datetime:
    parsed = parse_utc_text(str(value))
    assert parsed is not None
    return parsed


def _maybe_time(value: object) -> datetime | None:
    return None if value is None else _time(value)


def _opt(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


class PeopleStore:
    def __init__(self, docs: Documents) -> None:
        self.docs = docs

    # -- people -----------------------------------------------------------------------------------
    def add_person(self, person: Person) -> bool:
        doc = {"name": person.name, "email": person.email, "created_at": utc_text(person.created_at)}
        return self.docs.put_doc("people", person.person_id, doc, create_only=True)

    def get_person(self, person_id: str) -> Person | None:
        doc = self.docs.get_doc("people", person_id)
        return None if doc is None else self._person(person_id, doc)

    def list_people(self) -> list[Person]:
        return [self._person(d["_id"], d) for d in self.docs.list_docs("people")]

    @staticmethod
    def _person(person_id: str, doc: dict[str, Any]) -> Person:
        return Person(person_id, doc["name"], doc["email"], _time(doc["created_at"]))

    # -- local accounts: email -> person and password hash ------------------------------------
    def claim_email(self, email: str, person_id: str) -> bool:
        return self.docs.put_doc("emails", email, {"person_id": person_id}, create_only=True)

    def person_of_email(self, email: str) -> str | None:
        doc = self.docs.get_doc("emails", email)
        return None if doc is None else str(doc["person_id"])

    def set_password(self, person_id: str, password_hash: str) -> None:
        self.docs.put_doc("passwords", person_id, {"hash": password_hash})

    def password_hash(self, person_id: str) -> str | None:
        doc = self.docs.get_doc("passwords", person_id)
        return None if doc is None else str(doc["hash"])

    # -- identities -----------------------------------------------------------------------------
    def put_identity(self, identity: Identity) -> None:
        doc = {
            "person_id": identity.person_id,
            "kind": identity.kind,
            "namespace": identity.namespace,
            "value": identity.value,
            "valid_from": utc_text(identity.valid_from),
            "valid_to": _opt(identity.valid_to),
        }
        self.docs.put_doc("identities", identity.identity_id, doc)

    def list_identities(self, person_id: str | None = None) -> list[Identity]:
        out = [
            Identity(
                d["_id"],
                d["person_id"],
                cast(IdentityKind, d["kind"]),
                d["namespace"],
                d["value"],
                _time(d["valid_from"]),
                _maybe_time(d["valid_to"]),
            )
            for d in self.docs.list_docs("identities")
        ]
        return [i for i in out if person_id is None or i.person_id == person_id]

    # -- grants --------------------------------------------------------------------------------------
    def add_grant(self, grant: Grant) -> None:
        doc = {
            "person_id": grant.person_id,
            "role": grant.role,
            "scope": grant.scope,
            "created_at": utc_text(grant.created_at),
            "created_by": grant.created_by,
        }
        self.docs.put_doc("grants", grant.grant_id, doc, create_only=True)

    def list_grants(self, person_id: str | None = None) -> list[Grant]:
        out = [
            Grant(
                d["_id"],
                d["person_id"],
                cast(Role, d["role"]),
                d["scope"],
                _time(d["created_at"]),
                d["created_by"],
            )
            for d in self.docs.list_docs("grants")
        ]
        return [g for g in out if person_id is None or g.person_id == person_id]

    def delete_grant(self, grant_id: str) -> bool:
        return self.docs.delete_doc("grants", grant_id)

    # -- the audit log (append only) ---------------------------------------------------------------
    def append_audit(self, event: AuditEvent) -> None:
        doc = {
            "event_id": event.event_id,
            "at": utc_text(event.at),
            "actor": event.actor,
            "action": event.action,
            "target": event.target,
            "detail": event.detail,
        }
        # The id leads with the time, so the collection's id order is the order of events.
        if not self.docs.put_doc(AUDIT, f"{utc_text(event.at)}#{event.event_id}", doc, create_only=True):
            raise RuntimeError(f"audit event {event.event_id} exists already")

    def list_audit(self) -> list[AuditEvent]:
        return [
            AuditEvent(d["event_id"], _time(d["at"]), d["actor"], d["action"], d["target"], d["detail"])
            for d in self.docs.list_docs(AUDIT)
        ]

    # -- sessions ------------------------------------------------------------------------------------
    def put_session(self, session: Session) -> None:
        doc = {
            "person_id": session.person_id,
            "secret_hash": session.secret_hash,
            "csrf_token": session.csrf_token,
            "created_at": utc_text(session.created_at),
            "expires_at": utc_text(session.expires_at),
        }
        # A session never ended by its person is dropped by the store once it expires.
        self.docs.put_doc(
            "sessions", session.session_id, doc, create_only=True, expires_at=session.expires_at
        )

    def get_session(self, session_id: str) -> Session | None:
        d = self.docs.get_doc("sessions", session_id)
        if d is None:
            return None
        return Session(
            session_id,
            d["person_id"],
            d["secret_hash"],
            d["csrf_token"],
            _time(d["created_at"]),
            _time(d["expires_at"]),
        )

    def delete_session(self, session_id: str) -> bool:
        return self.docs.delete_doc("sessions", session_id)

    # -- personal access tokens -------------------------------------------------------------------
    def put_token(self, token: AccessToken) -> None:
        doc = {
            "person_id": token.person_id,
            "name": token.name,
            "secret_hash": token.secret_hash,
            "grant_ids": list(token.grant_ids),
            "created_at": utc_text(token.created_at),
            "expires_at": utc_text(token.expires_at),
            "revoked_at": _opt(token.revoked_at),
        }
        self.docs.put_doc("tokens", token.token_id, doc)

    def get_token(self, token_id: str) -> AccessToken | None:
        d = self.docs.get_doc("tokens", token_id)
        return None if d is None else self._token(token_id, d)

    def list_tokens(self, person_id: str) -> list[AccessToken]:
        out = [self._token(d["_id"], d) for d in self.docs.list_docs("tokens")]
        return [t for t in out if t.person_id == person_id]

    @staticmethod
    def _token(token_id: str, d: dict[str, Any]) -> AccessToken:
        return AccessToken(
            token_id,
            d["person_id"],
            d["name"],
            d["secret_hash"],
            tuple(d["grant_ids"]),
            _time(d["created_at"]),
            _time(d["expires_at"]),
            _maybe_time(d["revoked_at"]),
        )

    # -- login throttling: recent failures per account name -----------------------------------
    def login_failures(self, name_digest: str) -> list[float]:
        d = self.docs.get_doc("login_failures", name_digest)
        return [] if d is None else [float(t) for t in d["at"]]

    def set_login_failures(self, name_digest: str, times: list[float]) -> None:
        if times:
            self.docs.put_doc("login_failures", name_digest, {"at": times})
        else:
            self.docs.delete_doc("login_failures", name_digest)
