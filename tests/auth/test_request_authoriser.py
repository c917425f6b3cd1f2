"""The people's routes' request authoriser, as Lambda runs it: functions/people_authoriser loaded
with an AWS-style environment and called with API Gateway's payload 2.0 authoriser events (built
as the API Gateway developer guide documents them) against a real control store (SQLite, and
DynamoDB on moto's server), and against a real OpenID provider for provider tokens.

Expected verdicts come from what each test did (who was added, which token revoked, which cookie
altered), and are checked against the API itself: a credential the authoriser admits is one
GET /v1/me answers 200 for, through the real app on loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tally.api.app import create_app
from tally.people.model import Person
from tally.services.container import Services
from tally.settings import Settings
from tests.auth.helpers import access_claims, forge, portal, signed_in
from tests.support.lambdas import ACCOUNT, REGION, LambdaContext, load_function
from tests.support.openid_provider import API, OpenIdProvider
from tests.support.openid_provider import Person as ProviderAccount
from tests.support.servers import running_app

PASSWORD = "correct horse battery staple"
CONTEXT = LambdaContext("tally-people-authoriser")


def authoriser_event(
    headers: dict[str, Any] | None = None, cookies: list[str] | None = None, path: str = "/v1/me"
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) REQUEST authoriser event, shaped as API Gateway sends it:
    lower-case header names, the Cookie header split into `cookies`."""
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abcdef123/$default/GET{path}",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abcdef123.execute-api.eu-west-1.amazonaws.com", **(headers or {})},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abcdef123",
            "domainName": "abcdef123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abcdef123",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "tally-test",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"GET {path}",
            "stage": "$default",
            "time": "02/Dec/2026:07:00:00 +0000",
            "timeEpoch": 1_796_194_800_000,
        },
    }
    if cookies is not None:
        event["cookies"] = cookies
    return event


@dataclass
class Authoriser:
    function: ModuleType
    services: Services
    admin: Person

    def __call__(self, event: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.function.handler(event, CONTEXT)
        return answer

    def admits(self, event: Any) -> str | None:
        """The person id the authoriser admits the event as (None: refused)."""
        answer = self(event)
        assert set(answer) <= {"isAuthorized", "context"} and isinstance(answer["isAuthorized"], bool)
        if not answer["isAuthorized"]:
            assert "context" not in answer
            return None
        context = answer["context"]
        assert all(isinstance(v, str) for v in context.values())  # API Gateway's simple context
        person_id: str = context["person_id"]
        return person_id


def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch, oidc: dict[str, Any] | None) -> None:
    """The variables the template gives the function, for this test's stores."""
    if settings.mode == "local":
        values = {"TALLY_MODE": "local", "TALLY_HOME": str(settings.home)}
    else:
        values = {
            "TALLY_MODE": "aws",
            "TALLY_WAREHOUSE_URI": str(settings.warehouse_uri),
            "TALLY_CONTROL_TABLE": str(settings.control_table),
            "TALLY_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
            "TALLY_DYNAMODB_ENDPOINT_URL": str(settings.dynamodb_endpoint_url),
        }
    if oidc is not None:
        values["TALLY_OIDC"] = json.dumps(oidc)
    else:
        monkeypatch.delenv("TALLY_OIDC", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def loaded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, oidc: dict[str, Any] | None = None
) -> Authoriser:
    environment(settings, monkeypatch, oidc)
    function = load_function("people_authoriser")
    svc: Services = function.services
    admin = svc.people.add_person("Ada", "ada@example.org", "test", password=PASSWORD)
    svc.people.add_grant(admin.person_id, "admin", None, "test")
    return Authoriser(function, svc, admin)


@pytest.fixture
def authoriser(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Authoriser:
    return loaded(settings, monkeypatch)


@pytest.fixture
def api(authoriser: Authoriser) -> Iterator[httpx.Client]:
    """The real API over the same stores, to ask it what it makes of a credential."""
    with running_app(create_app(authoriser.services.settings)) as url, httpx.Client(base_url=url) as http:
        yield http


def api_admits(api: httpx.Client, headers: dict[str, str]) -> str | None:
    answer = api.get("/v1/me", headers=headers)
    assert answer.status_code in (200, 401, 403), answer.text
    return str(answer.json()["person"]["person_id"]) if answer.status_code == 200 else None


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- personal access tokens and session cookies -----------------------------------------------------


def test_a_personal_token_is_admitted_until_it_is_revoked(authoriser: Authoriser, api: httpx.Client) -> None:
    people = authoriser.services.people
    who = people.principal_of(authoriser.admin, via="session")
    token, plain = people.create_token(who, "notebook", days=7)
    assert authoriser.admits(authoriser_event(bearer(plain))) == authoriser.admin.person_id
    assert authoriser(authoriser_event(bearer(plain)))["context"]["via"] == "token"
    tampered = plain[:-1] + ("A" if plain[-1] != "A" else "B")
    unknown = f"tlp_{'0' * 16}_{plain.rsplit('_', 1)[1]}"
    for refused in (tampered, unknown, plain + "x"):
        assert authoriser.admits(authoriser_event(bearer(refused))) is None, refused
    assert api_admits(api, bearer(plain)) == authoriser.admin.person_id
    people.revoke_token(who, token.token_id)
    assert authoriser.admits(authoriser_event(bearer(plain))) is None
    assert api_admits(api, bearer(plain)) is None


def test_a_session_cookie_is_admitted_until_it_is_tampered_with_or_ended(
    authoriser: Authoriser, api: httpx.Client
) -> None:
    people = authoriser.services.people
    session, cookie = people.login("ada@example.org", PASSWORD)
    admitted = authoriser_event(cookies=["theme=dark", f"tally_session={cookie}"])
    assert authoriser.admits(admitted) == authoriser.admin.person_id
    assert authoriser(admitted)["context"]["via"] == "session"
    # A Cookie header left in the headers (as a test client or another front sends it) reads the same.
    assert (
        authoriser.admits(authoriser_event({"cookie": f"tally_session={cookie}"}))
        == authoriser.admin.person_id
    )
    assert api_admits(api, {"cookie": f"tally_session={cookie}"}) == authoriser.admin.person_id
    session_id, _, secret = cookie.partition(".")
    for altered in (
        f"{session_id}.{secret[:-2]}xx",
        f"{'f' * 32}.{secret}",
        session_id,
        "",
        f"{cookie}; tally_session=other",
    ):
        assert authoriser.admits(authoriser_event(cookies=[f"tally_session={altered}"])) is None, altered
    assert authoriser.admits(authoriser_event(cookies=[f"other_cookie={cookie}"])) is None
    people.logout(session)
    assert authoriser.admits(admitted) is None
    assert api_admits(api, {"cookie": f"tally_session={cookie}"}) is None


def test_the_authorization_header_decides_as_in_the_api_when_both_are_sent(
    authoriser: Authoriser, api: httpx.Client
) -> None:
    people = authoriser.services.people
    _session, cookie = people.login("ada@example.org", PASSWORD)
    key = authoriser.services.create_key  # a site key: valid, but no people's route takes one
    authoriser.services.add_site("SITE-A")
    site_key = key("SITE-A").plain
    both = {"authorization": f"Bearer {site_key}", "cookie": f"tally_session={cookie}"}
    assert authoriser.admits(authoriser_event(both)) is None
    assert api_admits(api, both) is None  # the API reads the key and refuses it here too
    assert authoriser.admits(authoriser_event(bearer(site_key))) is None


JUNK_HEADERS: list[Any] = [
    {},
    {"authorization": ""},
    {"authorization": "Bearer"},
    {"authorization": "Bearer "},
    {"authorization": "Basic YWRhOnB3"},
    {"authorization": "Bearer tlp_"},
    {"authorization": "Bearer tlp_zz_zz"},
    {"authorization": "Bearer a.b.c"},
    {"authorization": "Bearer \x00\x01.\xff.é"},
    {"authorization": "Bearer " + "tlp_" + "a" * 100_000},
    {"authorization": "Bearer " + "a." * 50_000 + "a"},
    {"authorization": None},
    {"authorization": 12},
    {"authorization": ["Bearer x"]},
    {"cookie": "tally_session=" + "a" * 100_000},
    {"cookie": "tally_session"},
    {"cookie": ";;;=;=="},
    {"cookie": None},
]


@pytest.mark.parametrize("headers", JUNK_HEADERS, ids=lambda h: repr(h)[:40])
def test_no_credential_junk_and_oversized_headers_are_refused(authoriser: Authoriser, headers: Any) -> None:
    assert authoriser.admits(authoriser_event(headers)) is None


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "Bearer x",
        {},
        {"headers": None},
        {"headers": "authorization: Bearer x"},
        {"headers": {}, "cookies": "tally_session=x"},
        {"headers": {}, "cookies": [None, 3, {"tally_session": "x"}]},
        {"headers": {}, "cookies": ["tally_session=" + "b" * 20_000]},
    ],
    ids=lambda e: repr(e)[:40],
)
def test_a_malformed_event_is_refused_not_a_crash(authoriser: Authoriser, event: Any) -> None:
    assert authoriser.admits(event) is None


def test_an_oversized_header_is_refused_without_reading_the_store(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    authoriser = loaded(settings, monkeypatch)
    people = authoriser.services.people
    token, plain = people.create_token(people.principal_of(authoriser.admin), "n", days=1)
    reads: list[str] = []
    store = people.store
    original = store.get_token

    def counting(token_id: str) -> Any:
        reads.append(token_id)
        return original(token_id)

    monkeypatch.setattr(store, "get_token", counting)
    assert authoriser.admits(authoriser_event(bearer(plain + " " + "x" * 9000))) is None
    assert reads == []
    assert authoriser.admits(authoriser_event(bearer(plain))) == authoriser.admin.person_id
    assert reads == [token.token_id]


# -- the provider's access tokens --------------------------------------------------------------------


@pytest.fixture
def with_provider(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, provider: OpenIdProvider
) -> Iterator[tuple[Authoriser, httpx.Client]]:
    oidc = {
        "issuer": provider.issuer,
        "client_id": "tally-portal",
        "redirect_uri": "https://tally.test/v1/auth/oidc/callback",
        "audience": API,
    }
    authoriser = loaded(settings, monkeypatch, oidc)
    people = authoriser.services.people
    people.link_identity(authoriser.admin.person_id, "oidc", provider.issuer, "alice", "test")
    with running_app(create_app(authoriser.services.settings)) as url, httpx.Client(base_url=url) as http:
        yield authoriser, http


def test_a_providers_access_token_is_admitted_only_when_valid_and_linked(
    with_provider: tuple[Authoriser, httpx.Client], provider: OpenIdProvider, alice: ProviderAccount
) -> None:
    authoriser, api = with_provider
    key = provider.keys[0]
    now = int(time.time())
    issued = signed_in(portal(provider), alice).access_token  # from the provider's own sign-in
    valid = forge(key, access_claims(provider.issuer))
    assert authoriser.admits(authoriser_event(bearer(issued))) == authoriser.admin.person_id
    assert authoriser(authoriser_event(bearer(valid)))["context"] == {
        "person_id": authoriser.admin.person_id,
        "via": "oidc",
    }
    refused = {
        "expired": forge(key, access_claims(provider.issuer, iat=now - 900, exp=now - 600)),
        "wrong_audience": forge(key, access_claims(provider.issuer, aud="https://other.test/api")),
        "other_issuer": forge(key, access_claims("https://idp.other.test")),
        "unlinked_subject": forge(key, access_claims(provider.issuer, sub="nobody-here")),
        "no_signature": valid.rsplit(".", 1)[0] + ".",
        "tampered": valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB"),
    }
    for name, token in refused.items():
        assert authoriser.admits(authoriser_event(bearer(token))) is None, name
    # The API agrees on every one of them.
    for token in (issued, valid, *refused.values()):
        expected = authoriser.admits(authoriser_event(bearer(token)))
        assert api_admits(api, bearer(token)) == expected


def test_a_provider_token_is_refused_where_no_provider_is_configured(
    authoriser: Authoriser, tmp_path: Path
) -> None:
    from tests.support.openid_provider import new_signing_key

    token = forge(new_signing_key(), access_claims("https://idp.example"))
    assert authoriser.services.sso is None
    assert authoriser.admits(authoriser_event(bearer(token))) is None
