"""Single sign-on wired to people: a provider's sign-in becomes a Tally session, a provider's
access token a person's principal.

A provider subject is a person through an identity link (kind `oidc`, namespace the issuer, value
the subject). An unlinked subject is refused, or, with `auto_provision`, becomes a new person with
that link and no grants. Nothing here logs or stores a token, a code or a secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from tally.auth.login_cookie import PendingLogin, seal, unseal
from tally.auth.oidc.config import OidcConfig
from tally.auth.oidc.errors import OidcError
from tally.auth.return_to import safe_return_to
from tally.auth.sso_settings import SsoSettings
from tally.people.model import PeopleConflictError, PeopleError, Person, PersonPrincipal, Session
from tally.people.service import PeopleService
from tally.people.store import Documents

if TYPE_CHECKING:
    from tally.auth.oidc.client import OidcClient
    from tally.auth.oidc.tokens import VerifiedToken

#: Control-store collections: the cookie-sealing key, and the states of finished sign-ins.
KEYS, USED_STATES = "sso_keys", "sso_used_states"
_ERROR_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Status = Literal[400, 401, 403, 502]
#: Refusals that are the provider's outage, not the token's fault.
PROVIDER_DOWN = frozenset({"discovery_failed", "insecure_endpoint"})


class SsoError(Exception):
    """A refused sign-in or token: `status` (400 a broken or replayed sign-in, 401 the provider's
    answer or token failed its checks, 403 a valid identity Tally does not let in, 502 the
    provider cannot be reached) and a message that holds no secret."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status: Status = status


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: a provider's token, never a site key or a personal token."""
    return token.count(".") == 2 and not token.startswith(("tly_", "tlp_"))


class SsoService:
    def __init__(
        self,
        config: OidcConfig,
        settings: SsoSettings,
        people: PeopleService,
        docs: Documents,
        client: OidcClient | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.people = people
        self.docs = docs
        if client is None:
            from tally.auth.oidc.client import OidcClient  # joserfc loads only where SSO is used

            client = OidcClient(config)
        self.client = client
        self._key: bytes | None = None

    # -- the sealing key: one per deployment, kept in the control store -------------------------
    def _sealing_key(self) -> bytes:
        if self._key is None:
            self.docs.put_doc(KEYS, "login-cookie", {"key": secrets.token_hex(32)}, create_only=True)
            doc = self.docs.get_doc(KEYS, "login-cookie")
            assert doc is not None
            self._key = bytes.fromhex(str(doc["key"]))
        return self._key

    # -- the browser sign-in ---------------------------------------------------------------------
    def begin(self, return_to: str | None, now: datetime | None = None) -> tuple[str, str]:
        """(the provider's authorisation URL, the login cookie's value). ValueError for an unsafe
        `return_to`; OidcError when the provider cannot be reached."""
        target = safe_return_to(return_to)
        start = self.client.begin_login()
        expires = (now or datetime.now(UTC)) + timedelta(seconds=self.settings.login_ttl_seconds)
        pending = PendingLogin(start.state, start.nonce, start.code_verifier, target, expires)
        return start.url, seal(self._sealing_key(), pending)

    def finish(
        self, cookie: str | None, params: dict[str, str], now: datetime | None = None
    ) -> tuple[Session, str, str]:
        """The callback: (the new session, its cookie value, where to send the browser)."""
        from tally.auth.oidc.client import LoginStart
        from tally.auth.oidc.tokens import same

        now = now or datetime.now(UTC)
        pending = unseal(self._sealing_key(), cookie, now) if cookie else None
        if pending is None:
            raise SsoError(
                400, "no sign-in is in progress in this browser (or it expired): start at /v1/auth/oidc/login"
            )
        state = params.get("state") or ""
        if not same(state, pending.state):
            raise SsoError(400, "the callback's state is not this browser's sign-in")
        self._mark_used(state, pending.expires_at)
        error = params.get("error")
        if error is not None:
            label = error if _ERROR_LABEL.match(error) else "error"
            raise SsoError(401, f"the provider did not sign you in ({label})")
        expected = LoginStart("", pending.state, pending.nonce, pending.code_verifier)
        try:
            tokens = self.client.finish_login(
                code=params.get("code") or "", state=state, expected=expected, iss=params.get("iss")
            )
        except OidcError as exc:
            status: Status = 502 if exc.reason in PROVIDER_DOWN else 401
            raise SsoError(status, f"the sign-in failed: {exc.reason} ({exc.detail})") from None
        person = self.person_of(tokens.claims)
        session, value = self.people.open_session(person.person_id, f"oidc:{self.config.issuer}", now)
        return session, value, pending.return_to

    def _mark_used(self, state: str, expires_at: datetime) -> None:
        """Each state completes once. A marker is needed only while its login cookie could still
        be presented, so it expires with the cookie (the control store drops it then)."""
        digest = hashlib.sha256(state.encode()).hexdigest()
        marker = {"expires_at": expires_at.timestamp()}
        if not self.docs.put_doc(USED_STATES, digest, marker, create_only=True, expires_at=expires_at):
            raise SsoError(400, "this sign-in was completed already: a callback cannot be replayed")

    def logout_url(self) -> str | None:
        """The provider's RP-initiated logout, or None when it offers none (Cognito)."""
        return self.client.logout_url(None, self.post_logout_redirect_uri)

    @property
    def post_logout_redirect_uri(self) -> str:
        if self.settings.post_logout_redirect_uri:
            return self.settings.post_logout_redirect_uri
        parts = urlsplit(self.config.redirect_uri)
        return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))

    # -- access tokens ---------------------------------------------------------------------------
    def bearer_principal(self, token: str) -> PersonPrincipal:
        """The person a provider's access token speaks for (401 when refused, 403 unlinked)."""
        try:
            claims = self.client.verify_access_token(token)
        except OidcError as exc:
            if exc.reason in PROVIDER_DOWN:  # not the token's fault: say so, not "sign in again"
                raise SsoError(502, f"the OpenID provider's keys cannot be fetched: {exc.detail}") from None
            raise SsoError(401, f"the access token is refused: {exc.reason} ({exc.detail})") from None
        return self.people.principal_of(self.person_of(claims), via="oidc")

    # -- identity -> person ----------------------------------------------------------------------
    def person_of(self, claims: VerifiedToken, now: datetime | None = None) -> Person:
        now = now or datetime.now(UTC)
        person = self.people.person_of_identity("oidc", claims.issuer, claims.subject, now)
        if person is not None:
            return person
        if not self.settings.auto_provision:
            raise SsoError(
                403,
                f"the identity {claims.subject!r} of {claims.issuer} is not linked to a person of "
                "Tally: an admin links it (`tally people link PERSON --kind oidc --namespace ISSUER "
                "--value SUBJECT`)",
            )
        return self._provision(claims, now)

    def _provision(self, claims: VerifiedToken, now: datetime) -> Person:
        email = claims.email
        if email is None or claims.claims.get("email_verified") is False:
            raise SsoError(
                403,
                "the provider gave no verified email for this new identity: an admin links it to a person",
            )
        actor = "sso:auto-provision"
        try:
            person = self.people.add_person(claims.name or email, email, actor)
        except PeopleConflictError:
            linked = self.people.person_of_identity("oidc", claims.issuer, claims.subject, now)
            if linked is not None:  # another request of this identity provisioned it just now
                return linked
            raise SsoError(
                403,
                "a person with this email exists already: an admin links this identity to them "
                "(Tally never joins an identity to an account by email alone)",
            ) from None
        except PeopleError as exc:
            raise SsoError(403, f"cannot create a person for this identity: {exc}") from None
        try:
            self.people.link_identity(person.person_id, "oidc", claims.issuer, claims.subject, actor)
        except PeopleConflictError:
            # Another request linked the subject first: theirs stands.
            linked = self.people.person_of_identity("oidc", claims.issuer, claims.subject, now)
            if linked is None:
                raise
            return linked
        return person
