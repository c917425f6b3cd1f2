"""The browser sign-in against a real OpenID provider: code flow with PKCE, refresh, logout.

The test drives the provider's own login and consent pages over HTTP as a person would, and checks
what the library returns against values it works out itself (the PKCE challenge from the
verifier, the claims decoded from the tokens, the accounts the provider was given).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import ssl
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tally.auth.oidc import HttpResponse, OidcClient, OidcError, StdlibTransport
from tally.serving.certificates import ensure_self_signed
from tests.auth.helpers import (
    SCOPES,
    Clock,
    Recorder,
    config_for,
    header_of,
    payload_of,
    portal,
    sign_in,
    signed_in,
)
from tests.support.openid_provider import (
    ACCOUNTS,
    API,
    API_SCOPE,
    OTHER_APP,
    POST_LOGOUT_URI,
    REDIRECT_URI,
    Account,
    OpenIdProvider,
    Person,
    running_provider,
)


def test_code_flow_with_pkce_signs_a_person_in(provider: OpenIdProvider, alice: Person, clock: Clock) -> None:
    client = portal(provider, clock)
    start, callback = sign_in(client, alice)

    # The authorisation request: code flow, our client, S256 over the verifier kept back.
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}
    expected_challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(start.code_verifier.encode()).digest()).rstrip(b"=").decode()
    )
    assert start.url.startswith(f"{provider.issuer}/auth?")
    assert query["response_type"] == "code" and query["client_id"] == "tally-portal"
    assert query["code_challenge"] == expected_challenge and query["code_challenge_method"] == "S256"
    assert query["state"] == start.state and query["nonce"] == start.nonce
    assert query["scope"].split() == list(SCOPES) and query["redirect_uri"] == REDIRECT_URI
    assert "code_verifier" not in query and start.code_verifier not in start.url
    assert len({start.state, start.nonce, start.code_verifier}) == 3 and len(start.code_verifier) >= 43
    # The provider sent the browser back with our state and its issuer (RFC 9207).
    assert callback["state"] == start.state and callback["iss"] == provider.issuer

    tokens = client.finish_login(
        code=callback["code"], state=callback["state"], expected=start, iss=callback["iss"]
    )
    assert tokens.id_token is not None and tokens.refresh_token
    id_claims = payload_of(tokens.id_token)
    assert id_claims["nonce"] == start.nonce and id_claims["aud"] == "tally-portal"
    alice_account = ACCOUNTS[0]
    assert tokens.claims.subject == alice_account.login == id_claims["sub"]
    assert tokens.claims.email == alice_account.email and tokens.claims.name == alice_account.name
    assert tokens.claims.issuer == provider.issuer and tokens.claims.audience == ("tally-portal",)
    assert tokens.claims.claims["email_verified"] is True

    # The access token is a JWT for the API (RFC 9068), and the library verifies it.
    access = payload_of(tokens.access_token)
    assert header_of(tokens.access_token)["typ"] == "at+jwt"
    assert access["aud"] == API and access["exp"] - access["iat"] == 600
    verified = client.verify_access_token(tokens.access_token)
    assert verified.subject == "alice" and verified.issuer == provider.issuer
    assert verified.audience == (API,) and verified.scopes == {API_SCOPE}
    assert verified.expires_at.timestamp() == access["exp"]
    assert abs((tokens.expires_at - clock()).total_seconds() - 600) < 5  # from expires_in


def test_the_code_is_spent_once_and_only_with_its_verifier(provider: OpenIdProvider, alice: Person) -> None:
    client = portal(provider)
    start, callback = sign_in(client, alice)
    with pytest.raises(OidcError) as wrong_verifier:
        client.finish_login(
            code=callback["code"],
            state=callback["state"],
            expected=dataclasses.replace(start, code_verifier="x" * 64),
        )
    assert wrong_verifier.value.reason == "token_request_failed"
    assert "invalid_grant" in wrong_verifier.value.detail
    # A failed PKCE check consumes the code at this provider (as RFC 6749 10.5 allows); a fresh
    # sign-in works, and its code cannot be redeemed twice.
    start, callback = sign_in(client, alice)
    client.finish_login(code=callback["code"], state=callback["state"], expected=start)
    with pytest.raises(OidcError) as replay:
        client.finish_login(code=callback["code"], state=callback["state"], expected=start)
    assert replay.value.reason == "token_request_failed"


def test_a_foreign_state_is_refused_before_the_code_is_redeemed(
    provider: OpenIdProvider, alice: Person
) -> None:
    client = portal(provider)
    start, callback = sign_in(client, alice)
    other = client.begin_login()
    with pytest.raises(OidcError) as refused:
        client.finish_login(code=callback["code"], state=callback["state"], expected=other)
    assert refused.value.reason == "state_mismatch"
    with pytest.raises(OidcError) as mixed_up:
        client.finish_login(
            code=callback["code"], state=callback["state"], expected=start, iss="https://evil.test"
        )
    assert mixed_up.value.reason == "wrong_issuer"
    # Neither refusal spent the code: the right sign-in still completes with it.
    tokens = client.finish_login(code=callback["code"], state=callback["state"], expected=start)
    assert tokens.claims.subject == "alice"


def test_an_id_token_without_this_sign_ins_nonce_is_refused(provider: OpenIdProvider, alice: Person) -> None:
    client = portal(provider)
    start, callback = sign_in(client, alice)
    with pytest.raises(OidcError) as refused:
        client.finish_login(
            code=callback["code"],
            state=callback["state"],
            expected=dataclasses.replace(start, nonce="replayed"),
        )
    assert refused.value.reason == "nonce_mismatch"


def test_a_wrong_password_gets_the_login_page_again(provider: OpenIdProvider) -> None:
    intruder = Person(Account("alice", "guessed", "", ""))
    try:
        start = portal(provider).begin_login()
        visit = intruder.walk(start.url, stop_at=REDIRECT_URI, max_steps=3)
    except AssertionError:
        visit = None
    finally:
        intruder.close()
    assert visit is not None and visit.page is not None
    assert visit.page.status_code == 401 and "Wrong login or password" in visit.page.text


def test_refresh_gives_new_tokens_and_rotates_the_refresh_token(
    provider: OpenIdProvider, alice: Person
) -> None:
    client = portal(provider)
    first = signed_in(client, alice)
    assert first.refresh_token is not None
    refreshed = client.refresh(first.refresh_token, subject="alice")
    assert refreshed.access_token != first.access_token
    assert payload_of(refreshed.access_token)["jti"] != payload_of(first.access_token)["jti"]
    assert client.verify_access_token(refreshed.access_token).subject == "alice"
    assert refreshed.claims.subject == "alice" and refreshed.claims.email == ACCOUNTS[0].email
    # A public client's refresh token is rotated: the new one works...
    assert refreshed.refresh_token is not None and refreshed.refresh_token != first.refresh_token
    again = client.refresh(refreshed.refresh_token)
    assert again.claims.subject == "alice" and again.refresh_token is not None
    # ...tokens for someone other than the caller names are refused...
    with pytest.raises(OidcError) as someone_else:
        client.refresh(again.refresh_token, subject="bob")
    assert someone_else.value.reason == "subject_mismatch"
    # ...and the old one is spent.
    with pytest.raises(OidcError) as spent:
        client.refresh(first.refresh_token)
    assert spent.value.reason == "token_request_failed"


def test_a_confidential_client_authenticates_with_its_secret(provider: OpenIdProvider, alice: Person) -> None:
    other = OidcClient(config_for(provider, OTHER_APP))
    tokens = signed_in(other, alice)
    assert tokens.claims.audience == (OTHER_APP.client_id,)
    wrong = OidcClient(config_for(provider, OTHER_APP).model_copy(update={"client_secret": None}))
    start, callback = sign_in(wrong, alice)
    with pytest.raises(OidcError) as refused:
        wrong.finish_login(code=callback["code"], state=callback["state"], expected=start)
    assert refused.value.reason == "token_request_failed"


def test_logout_ends_the_session_at_the_provider(provider: OpenIdProvider) -> None:
    bob = Person(ACCOUNTS[1])
    try:
        client = portal(provider)
        tokens = signed_in(client, bob)
        assert tokens.id_token is not None
        # Signed in: another sign-in asks only for consent (offline_access), not for a password.
        before = bob.walk(client.begin_login().url, stop_at=REDIRECT_URI, answer=False)
        assert before.page is not None and 'name="password"' not in before.page.text

        url = client.logout_url(tokens.id_token, POST_LOGOUT_URI)
        assert url is not None
        discovered = client.metadata().end_session_endpoint
        assert discovered == f"{provider.issuer}/session/end" and url.startswith(discovered + "?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query == {
            "client_id": "tally-portal",
            "id_token_hint": tokens.id_token,
            "post_logout_redirect_uri": POST_LOGOUT_URI,
        }
        # The provider asks to confirm, then sends the browser to the post-logout URI.
        visit = bob.walk(url, stop_at=POST_LOGOUT_URI)
        assert visit.callback == {}
        after = bob.walk(client.begin_login().url, stop_at=REDIRECT_URI, answer=False)
        assert after.page is not None and 'name="password"' in after.page.text
    finally:
        bob.close()


def test_no_logout_url_without_an_end_session_endpoint(provider: OpenIdProvider) -> None:
    def without_end_session(url: str, response: HttpResponse) -> HttpResponse:
        if not url.endswith("/.well-known/openid-configuration"):
            return response
        document = json.loads(response.body)
        del document["end_session_endpoint"]  # as Cognito's discovery document has none
        return dataclasses.replace(response, body=json.dumps(document).encode())

    client = OidcClient(config_for(provider), http=Recorder(without_end_session))
    assert client.logout_url("hint", POST_LOGOUT_URI) is None
    assert client.metadata().token_endpoint == f"{provider.issuer}/token"


def test_sign_in_over_https_trusts_only_the_configured_roots(node: Path, tmp_path: Path) -> None:
    tls = ensure_self_signed(tmp_path / "tls", ["127.0.0.1"])
    trusting = ssl.create_default_context(cafile=str(tls.ca))
    with running_provider(tmp_path / "provider", node, tls=(tls.cert, tls.key)) as secure:
        assert secure.issuer.startswith("https://127.0.0.1:")
        client = OidcClient(config_for(secure), http=StdlibTransport(trusting))
        carol = Person(ACCOUNTS[0], verify=trusting)
        try:
            tokens = signed_in(client, carol)
        finally:
            carol.close()
        assert client.verify_access_token(tokens.access_token).subject == "alice"
        # With the system's roots only, the self-signed provider is not trusted.
        untrusting = OidcClient(config_for(secure))
        with pytest.raises(OidcError) as refused:
            untrusting.metadata()
        assert (
            refused.value.reason == "discovery_failed" and "CERTIFICATE_VERIFY_FAILED" in refused.value.detail
        )


def test_tokens_expiry_comes_from_expires_in(provider: OpenIdProvider, alice: Person, clock: Clock) -> None:
    clock.advance(-30)  # the library's clock, not the provider's: expires_at follows the former
    tokens = signed_in(portal(provider, clock), alice)
    assert abs((tokens.expires_at - (clock() + timedelta(seconds=600))).total_seconds()) < 5
