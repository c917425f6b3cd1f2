"""The people service: people, identity links, grants, sign-in, sessions and personal access tokens,
every change written to the audit log.

Secrets (session cookies, tokens) are random 256-bit values stored as salted HMACs (as site keys
are) and compared in constant time; passwords are argon2 hashes. Neither appears in the audit log.
Identity links are also written, whole, to the warehouse table `people_identities`, which the
reports join to attribute usage to people (view person_usage).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import pyarrow as pa

from tally.domain.control import hash_secret
from tally.domain.ports import Leases, Warehouse
from tally.people.audit import AuditLog
from tally.people.model import (
    IDENTITY_KINDS,
    AccessToken,
    Grant,
    Identity,
    PeopleConflictError,
    PeopleError,
    PeopleNotFoundError,
    Person,
    PersonPrincipal,
    Session,
    check_email,
    check_grant,
    check_text,
    new_id,
)
from tally.people.passwords import hash_password, verify_password
from tally.people.settings import PeopleSettings
from tally.people.store import PeopleStore

IDENTITIES_KEY = "people/identities/identities.parquet"
TOKEN_PREFIX = "tlp"  # noqa: S105 (the prefix of a token, not a secret)
_TOKEN = re.compile(r"^tlp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_SESSION = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
_TS = pa.timestamp("us", tz="UTC")
IDENTITY_SCHEMA = pa.schema(
    [
        ("identity_id", pa.string()),
        ("person_id", pa.string()),
        ("kind", pa.string()),
        ("namespace", pa.string()),
        ("value", pa.string()),
        ("valid_from", _TS),
        ("valid_to", _TS),
    ]
)
LINK_LEASE_SECONDS = 30.0


class LoginThrottledError(PeopleError):
    """Too many failed sign-ins for this account: try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after} s")
        self.retry_after = retry_after


def as_utc(value: datetime, name: str) -> datetime:
    """An instant in UTC (a time without an offset is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # e.g. 9999-12-31T23:59:59-01:00
        raise PeopleError(f"{name} lies outside the years 1 to 9999 in UTC") from error


def secret_ok(item_id: str, secret: str, stored: str) -> bool:
    """Constant-time check of a secret against its salted HMAC (`s1$salt$digest`)."""
    _, _, rest = stored.partition("$")
    salt_hex, _, _ = rest.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(stored, hash_secret(item_id, secret, salt))


class PeopleService:
    def __init__(
        self, store: PeopleStore, warehouse: Warehouse, leases: Leases, settings: PeopleSettings
    ) -> None:
        self.store = store
        self.warehouse = warehouse
        self.leases = leases
        self.settings = settings
        self._lock = threading.Lock()

    # -- audit ---------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, **detail: object) -> None:
        AuditLog(self.store)(actor, action, target, **detail)

    # -- people ---------------------------------------------------------------------------------------
    def person(self, person_id: str) -> Person:
        person = self.store.get_person(person_id)
        if person is None:
            raise PeopleNotFoundError(f"no person {person_id!r}")
        return person

    def add_person(self, name: str, email: str, actor: str, password: str | None = None) -> Person:
        person = Person(new_id("p"), check_text(name, "name"), check_email(email), datetime.now(UTC))
        hashed = hash_password(password) if password is not None else None
        if not self.store.claim_email(person.email, person.person_id):
            raise PeopleConflictError(f"a person with the email {person.email!r} exists already")
        self.store.add_person(person)
        if hashed is not None:
            self.store.set_password(person.person_id, hashed)
        self.audit(actor, "person.add", person.person_id, name=person.name, email=person.email)
        return person

    def set_password(self, person_id: str, password: str, actor: str) -> None:
        self.person(person_id)
        self.store.set_password(person_id, hash_password(password))
        self.audit(actor, "password.set", person_id)

    # -- identities --------------------------------------------------------------------------------
    @contextmanager
    def _linking(self) -> Iterator[None]:
        """Serialise link changes (the overlap check and the snapshot) across processes."""
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + 10
        with self._lock:
            while not self.leases.acquire_lock(
                "people/identities", holder, datetime.now(UTC), LINK_LEASE_SECONDS
            ):
                if time.monotonic() > deadline:
                    raise PeopleError("identity links are being changed by another request: try again")
                time.sleep(0.05)
            try:
                yield
            finally:
                self.leases.release_lock("people/identities", holder)

    def link_identity(
        self,
        person_id: str,
        kind: str,
        namespace: str,
        value: str,
        actor: str,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> Identity:
        self.person(person_id)
        known = next((k for k in IDENTITY_KINDS if k == kind), None)
        if known is None:
            raise PeopleError(f"unknown identity kind {kind!r}: use one of {', '.join(IDENTITY_KINDS)}")
        if known == "x509":
            namespace = ""
        elif not namespace.strip():
            what = "the issuer" if known == "oidc" else "the site"
            raise PeopleError(f"a {known} identity needs {what}")
        start = as_utc(valid_from, "valid_from") if valid_from else datetime(1970, 1, 1, tzinfo=UTC)
        end = as_utc(valid_to, "valid_to") if valid_to else None
        if end is not None and end <= start:
            raise PeopleError("valid_to must be after valid_from")
        ns = check_text(namespace, "namespace") if namespace else ""
        identity = Identity(new_id("i"), person_id, known, ns, check_text(value, "value"), start, end)
        with self._linking():
            for other in self.store.list_identities():
                if other.match_key == identity.match_key and other.overlaps(identity):
                    raise PeopleConflictError(
                        f"{value!r} is linked to {other.person_id} from {other.valid_from:%Y-%m-%d} "
                        f"{'on' if other.valid_to is None else f'to {other.valid_to:%Y-%m-%d}'}: "
                        "links of one name may not overlap in time (end the other link first)"
                    )
            self.store.put_identity(identity)
            self._write_snapshot()
        self.audit(
            actor,
            "identity.link",
            person_id,
            identity_id=identity.identity_id,
            kind=known,
            namespace=ns,
            value=identity.value,
            valid_from=start.isoformat(),
            valid_to=end.isoformat() if end else None,
        )
        return identity

    def identity(self, identity_id: str) -> Identity:
        for item in self.store.list_identities():
            if item.identity_id == identity_id:
                return item
        raise PeopleNotFoundError(f"no identity {identity_id!r}")

    def end_identity(self, identity_id: str, at: datetime, actor: str) -> Identity:
        """Close a link at `at` (a login handed to someone else from then on)."""
        with self._linking():
            item = self.identity(identity_id)
            at = as_utc(at, "the end")
            if at <= item.valid_from or (item.valid_to is not None and at >= item.valid_to):
                raise PeopleError("the end must lie inside the link's validity")
            ended = replace(item, valid_to=at)
            self.store.put_identity(ended)
            self._write_snapshot()
        self.audit(actor, "identity.end", item.person_id, identity_id=identity_id, valid_to=at.isoformat())
        return ended

    def _write_snapshot(self) -> None:
        rows = [
            {
                "identity_id": i.identity_id,
                "person_id": i.person_id,
                "kind": i.kind,
                "namespace": i.namespace,
                "value": i.value,
                "valid_from": i.valid_from,
                "valid_to": i.valid_to,
            }
            for i in sorted(self.store.list_identities(), key=lambda i: i.identity_id)
        ]
        self.warehouse.write_parquet(IDENTITIES_KEY, pa.Table.from_pylist(rows, schema=IDENTITY_SCHEMA))

    def person_of_identity(self, kind: str, namespace: str, value: str, at: datetime) -> Person | None:
        for item in self.store.list_identities():
            if (item.kind, item.namespace, item.value) == (kind, namespace, value) and item.holds_at(at):
                return self.store.get_person(item.person_id)
        return None

    # -- grants -------------------------------------------------------------------------------------
    def _grant(self, person_id: str, role: str, scope: str | None, actor: str) -> Grant:
        checked_role, checked_scope = check_grant(role, scope, person_id)
        for held in self.store.list_grants(person_id):
            if (held.role, held.scope) == (checked_role, checked_scope):
                return held
        grant = Grant(new_id("g"), person_id, checked_role, checked_scope, datetime.now(UTC), actor)
        self.store.add_grant(grant)
        self.audit(actor, "grant.add", person_id, grant_id=grant.grant_id, role=grant.role, scope=grant.scope)
        return grant

    def add_grant(self, person_id: str, role: str, scope: str | None, actor: str) -> Grant:
        self.person(person_id)
        return self._grant(person_id, role, scope, actor)

    def grant(self, grant_id: str) -> Grant:
        for held in self.store.list_grants():
            if held.grant_id == grant_id:
                return held
        raise PeopleNotFoundError(f"no grant {grant_id!r}")

    def remove_grant(self, grant_id: str, actor: str) -> Grant:
        held = self.grant(grant_id)
        if not self.store.delete_grant(grant_id):
            raise PeopleNotFoundError(f"no grant {grant_id!r}")
        self.audit(actor, "grant.remove", held.person_id, grant_id=grant_id, role=held.role, scope=held.scope)
        return held

    # -- sign-in and sessions ---------------------------------------------------------------------
    def login(self, email: str, password: str, now: datetime | None = None) -> tuple[Session, str]:
        """A new session and its cookie value, or PeopleError (one message for every failure)."""
        now = now or datetime.now(UTC)
        name = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        window = self.settings.login_window_seconds
        recent = [t for t in self.store.login_failures(name) if t > now.timestamp() - window]
        if len(recent) >= self.settings.login_failures:
            raise LoginThrottledError(int(min(recent) + window - now.timestamp()) + 1)
        person_id = self.store.person_of_email(email.strip().lower())
        stored = self.store.password_hash(person_id) if person_id else None
        if person_id is None or not verify_password(stored, password):
            self.store.set_login_failures(name, [*recent, now.timestamp()])
            raise PeopleError("the email or the password is not right")
        self.store.set_login_failures(name, [])
        return self.open_session(person_id, "password", now)

    def open_session(self, person_id: str, method: str, now: datetime | None = None) -> tuple[Session, str]:
        """A new browser session for a person who proved who they are by `method` (a password,
        or a provider's sign-in), and its cookie value."""
        now = now or datetime.now(UTC)
        session_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
        session = Session(
            session_id,
            person_id,
            hash_secret(session_id, secret),
            secrets.token_urlsafe(32),
            now,
            now + timedelta(hours=self.settings.session_hours),
        )
        self.store.put_session(session)
        self.audit(f"person:{person_id}", "session.start", person_id, session_id=session_id, method=method)
        return session, f"{session_id}.{secret}"

    def session_principal(self, cookie: str, now: datetime | None = None) -> PersonPrincipal | None:
        match = _SESSION.match(cookie)
        session = self.store.get_session(match.group(1)) if match else None
        if (
            match is None
            or session is None
            or not secret_ok(session.session_id, match.group(2), session.secret_hash)
        ):
            return None
        if (now or datetime.now(UTC)) >= session.expires_at:
            self.store.delete_session(session.session_id)
            return None
        person = self.store.get_person(session.person_id)
        if person is None:
            return None
        return PersonPrincipal(
            person, tuple(self.store.list_grants(person.person_id)), "session", session=session
        )

    def logout(self, session: Session) -> None:
        self.store.delete_session(session.session_id)
        self.audit(
            f"person:{session.person_id}", "session.end", session.person_id, session_id=session.session_id
        )

    def principal_of(
        self, person: Person, via: Literal["session", "token", "oidc"] = "oidc"
    ) -> PersonPrincipal:
        """A person with all their grants (a provider's access token carries no subset)."""
        return PersonPrincipal(person, tuple(self.store.list_grants(person.person_id)), via)

    # -- personal access tokens ---------------------------------------------------------------------
    def create_token(
        self, who: PersonPrincipal, name: str, days: int, grant_ids: list[str] | None = None
    ) -> tuple[AccessToken, str]:
        if not 1 <= days <= self.settings.token_max_days:
            raise PeopleError(f"a token lives 1 to {self.settings.token_max_days} days")
        held = {g.grant_id for g in who.grants}
        chosen = tuple(sorted(held if grant_ids is None else set(grant_ids)))
        extra = set(chosen) - held
        if extra:
            raise PeopleError(f"grant {sorted(extra)[0]!r} is not one this caller holds")
        if not chosen:
            raise PeopleError("a token needs at least one grant")
        now = datetime.now(UTC)
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        token = AccessToken(
            token_id,
            who.person.person_id,
            check_text(name, "name"),
            hash_secret(token_id, secret),
            chosen,
            now,
            now + timedelta(days=days),
        )
        self.store.put_token(token)
        self.audit(who.actor, "token.create", who.person.person_id, token_id=token_id, grants=list(chosen))
        return token, f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def revoke_token(self, who: PersonPrincipal, token_id: str) -> AccessToken:
        token = self.store.get_token(token_id)
        if token is None or token.person_id != who.person.person_id:
            raise PeopleNotFoundError(f"no token {token_id!r}")
        if token.revoked_at is None:
            token = replace(token, revoked_at=datetime.now(UTC))
            self.store.put_token(token)
            self.audit(who.actor, "token.revoke", token.person_id, token_id=token_id)
        return token

    def token_principal(self, plain: str, now: datetime | None = None) -> PersonPrincipal | None:
        match = _TOKEN.match(plain)
        token = self.store.get_token(match.group(1)) if match else None
        if match is None or token is None or not secret_ok(token.token_id, match.group(2), token.secret_hash):
            return None
        if token.revoked_at is not None or (now or datetime.now(UTC)) >= token.expires_at:
            return None
        person = self.store.get_person(token.person_id)
        if person is None:
            return None
        # The person's grants now, narrowed to the token's: a grant taken away is gone from it too.
        grants = tuple(g for g in self.store.list_grants(person.person_id) if g.grant_id in token.grant_ids)
        return PersonPrincipal(person, grants, "token", token_id=token.token_id)


def is_person_token(plain: str) -> bool:
    return plain.startswith(f"{TOKEN_PREFIX}_")
