"""Access tokens as the API sees them: each way a token can be wrong is refused with its reason.

Tokens come from the real provider (signed in over HTTP) or are forged here with the provider's
own signing key (the fixture made it), so every claim check runs against the provider's real
JWKS; strangers' keys, `none` and HS256 tokens are built by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tally.auth.oidc import OidcClient, OidcError
from tests.auth.helpers import (
    Clock,
    Recorder,
    access_claims,
    b64url,
    config_for,
    forge,
    payload_of,
    portal,
    signed_in,
)
from tests.support.openid_provider import (
    ACCOUNTS,
    API,
    OTHER_API,
    OTHER_APP,
    SHORT_LIVED,
    OpenIdProvider,
    Person,
    new_signing_key,
)


def reason(client: OidcClient, token: str) -> str:
    with pytest.raises(OidcError) as refused:
        client.verify_access_token(token)
    return refused.value.reason


def test_key_rotation_is_followed_with_one_rate_limited_refetch(
    own_provider: OpenIdProvider, clock: Clock
) -> None:
    recorder = Recorder()
    client = OidcClient(
        config_for(own_provider, jwks_ttl_seconds=300, jwks_refetch_interval_seconds=60),
        http=recorder,
        clock=clock,
    )
    old_key = own_provider.keys[0]
    alice = Person(ACCOUNTS[0])
    before = signed_in(client, alice).access_token
    assert payload_of(before)["sub"] == "alice"
    assert client.verify_access_token(before).subject == "alice"
    assert recorder.count("/jwks") == 1

    # The provider rotates: a new key signs, the old one is still published for a while.
    new_key = new_signing_key()
    own_provider.restart([new_key, old_key])
    alice.close()
    alice = Person(ACCOUNTS[0])  # the provider's sessions did not survive its restart
    after = signed_in(client, alice).access_token
    alice.close()
    assert after.split(".")[0] != before.split(".")[0]  # another kid in the header
    assert client.verify_access_token(after).subject == "alice"  # unknown kid -> one refetch
    assert recorder.count("/jwks") == 2
    assert client.verify_access_token(before).subject == "alice"  # still published, no fetch
    assert recorder.count("/jwks") == 2

    # A kid nobody publishes: refused, and within the rate limit it costs no fetch at all.
    stranger = new_signing_key("made-up")
    for _ in range(5):
        assert reason(client, forge(stranger, access_claims(own_provider.issuer))) == "unknown_key"
    assert recorder.count("/jwks") == 2
    clock.advance(61)  # past the refetch interval: one more look, still unknown
    assert reason(client, forge(stranger, access_claims(own_provider.issuer))) == "unknown_key"
    assert recorder.count("/jwks") == 3

    # The old key is withdrawn; once the cached JWKS expires, its tokens are refused.
    own_provider.restart([new_key])
    assert client.verify_access_token(before).subject == "alice"  # cached keys, younger than 300 s
    clock.advance(300)
    assert reason(client, before) == "unknown_key"
    assert client.verify_access_token(after).subject == "alice"
    assert recorder.count("/jwks") == 4


def test_an_expired_token_is_refused(provider: OpenIdProvider, alice: Person, clock: Clock) -> None:
    strict = OidcClient(config_for(provider, SHORT_LIVED, leeway_seconds=0))
    token = signed_in(strict, alice).access_token
    claims = payload_of(token)
    assert claims["exp"] - claims["iat"] == 1  # the provider's one-second access tokens
    # Really expired: wait for the provider's own expiry to pass (at most two seconds).
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.05)
    assert reason(strict, token) == "expired"
    # With the default leeway, a token a few seconds past its expiry still passes, and then not.
    lenient = OidcClient(config_for(provider, SHORT_LIVED), clock=clock)
    assert lenient.config.leeway_seconds == 60
    clock.offset = datetime.fromtimestamp(claims["exp"] + 59, UTC) - datetime.now(UTC)
    assert lenient.verify_access_token(token).subject == "alice"
    clock.offset = datetime.fromtimestamp(claims["exp"] + 60, UTC) - datetime.now(UTC)
    assert reason(lenient, token) == "expired"


def test_a_token_from_another_issuer_is_refused_without_fetching_anything(
    provider: OpenIdProvider, other_provider: OpenIdProvider, alice: Person
) -> None:
    elsewhere = OidcClient(config_for(other_provider))
    foreign = signed_in(elsewhere, alice).access_token
    assert payload_of(foreign)["iss"] == other_provider.issuer and payload_of(foreign)["aud"] == API
    recorder = Recorder()
    client = OidcClient(config_for(provider), http=recorder)
    assert reason(client, foreign) == "wrong_issuer"
    assert recorder.urls == []  # neither discovery nor JWKS was fetched for it
    # Signed with our issuer's own key but naming another issuer: refused all the same.
    own_key_foreign_iss = forge(provider.keys[0], access_claims(provider.issuer, iss=other_provider.issuer))
    assert reason(client, own_key_foreign_iss) == "wrong_issuer"
    # And the other issuer's key with our issuer's name: the key is not among ours.
    assert reason(client, forge(other_provider.keys[0], access_claims(provider.issuer))) == "unknown_key"


def test_a_token_for_another_audience_is_refused(provider: OpenIdProvider, alice: Person) -> None:
    other = OidcClient(config_for(provider, OTHER_APP))
    tokens = signed_in(other, alice)
    assert payload_of(tokens.access_token)["aud"] == OTHER_API
    assert other.verify_access_token(tokens.access_token).audience == (OTHER_API,)
    client = portal(provider)
    assert reason(client, tokens.access_token) == "wrong_audience"
    # The other application's ID token is not ours either, as an ID token or as an access token.
    assert tokens.id_token is not None
    with pytest.raises(OidcError) as not_ours:
        client.verify_id_token(tokens.id_token, nonce=None)
    assert not_ours.value.reason == "wrong_audience"
    assert reason(client, tokens.id_token) == "wrong_token_type"


def test_an_id_token_is_not_an_access_token(provider: OpenIdProvider, alice: Person) -> None:
    client = portal(provider)
    tokens = signed_in(client, alice)
    assert tokens.id_token is not None
    assert reason(client, tokens.id_token) == "wrong_token_type"
    # Nor the other way round.
    with pytest.raises(OidcError) as refused:
        client.verify_id_token(tokens.access_token, nonce=None)
    assert refused.value.reason == "wrong_token_type"


def test_a_tampered_token_is_refused(provider: OpenIdProvider, alice: Person) -> None:
    client = portal(provider)
    token = signed_in(client, alice).access_token
    header, payload, signature = token.split(".")
    claims = payload_of(token)

    as_bob = b64url(json.dumps({**claims, "sub": "bob"}).encode())
    assert reason(client, f"{header}.{as_bob}.{signature}") == "bad_signature"
    longer = b64url(json.dumps({**claims, "exp": claims["exp"] + 86400}).encode())
    assert reason(client, f"{header}.{longer}.{signature}") == "bad_signature"
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert reason(client, f"{header}.{payload}.{flipped}") == "bad_signature"
    assert reason(client, f"{header}.{payload}.") == "invalid_token"
    assert reason(client, f"{header}.{payload}") == "invalid_token"
    assert reason(client, f"{header}.{payload}.{signature}!") == "bad_signature"
    assert reason(client, f"{header}.{payload}*.{signature}") == "invalid_token"
    assert reason(client, "a.b.c.d.e") == "invalid_token"  # the shape of a JWE
    assert reason(client, "x" * 20_000) == "invalid_token"
    assert client.verify_access_token(token).subject == "alice"  # the original still verifies


def test_none_and_hmac_tokens_are_refused_whatever_they_claim(provider: OpenIdProvider) -> None:
    client = portal(provider)
    claims = b64url(json.dumps(access_claims(provider.issuer)).encode())
    unsigned = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    assert reason(client, f"{unsigned}.{claims}.") == "invalid_token"
    assert reason(client, f"{unsigned}.{claims}.e30") == "disallowed_algorithm"
    # The classic confusion: HS256 "signed" with the issuer's public key as the HMAC secret.
    private = provider.keys[0].raw_value
    assert isinstance(private, rsa.RSAPrivateKey)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        header = b64url(json.dumps({"alg": alg, "typ": "at+jwt", "kid": provider.keys[0].kid}).encode())
        mac = hmac.new(public_pem, f"{header}.{claims}".encode(), digest).digest()
        assert reason(client, f"{header}.{claims}.{b64url(mac)}") == "disallowed_algorithm"
    # An allowed algorithm that does not fit the key named (ES256 with the RSA key's kid).
    ec_header = b64url(json.dumps({"alg": "ES256", "kid": provider.keys[0].kid}).encode())
    assert reason(client, f"{ec_header}.{claims}.{b64url(b'x' * 64)}") == "unknown_key"
    # Narrowing the allow-list refuses the provider's own RS256.
    narrow = OidcClient(config_for(provider, allowed_algorithms=("ES256",)))
    assert reason(narrow, forge(provider.keys[0], access_claims(provider.issuer))) == "disallowed_algorithm"


def test_claims_are_checked_on_tokens_signed_by_the_issuer(provider: OpenIdProvider, clock: Clock) -> None:
    client = portal(provider, clock)
    key = provider.keys[0]
    now = int(datetime.now(UTC).timestamp())

    def refused(**changes: object) -> str:
        return reason(client, forge(key, access_claims(provider.issuer, **changes)))

    assert client.verify_access_token(forge(key, access_claims(provider.issuer))).scopes == {"tally"}
    assert refused(exp=now - 61) == "expired"

    def accepted(**changes: object) -> str:
        return client.verify_access_token(forge(key, access_claims(provider.issuer, **changes))).subject

    assert accepted(exp=now - 30) == "alice"
    assert refused(nbf=now + 120) == "not_yet_valid"
    assert refused(iat=now + 120) == "not_yet_valid"
    assert accepted(nbf=now + 30) == "alice"
    assert refused(exp=None) == "missing_claim"
    assert refused(sub=None) == "missing_claim"
    assert refused(exp="tomorrow") == "invalid_token"
    assert refused(exp=True) == "invalid_token"
    assert refused(exp=1e300) == "invalid_token"
    assert refused(aud="https://tally.test/api/") == "wrong_audience"
    assert refused(aud=None) == "wrong_audience"  # client_id names the portal, not the API
    assert refused(nonce="abc") == "wrong_token_type"
    assert refused(token_use="id") == "wrong_token_type"
    assert reason(client, forge(key, access_claims(provider.issuer), typ="JWT+id")) == "wrong_token_type"
    pointing = forge(key, access_claims(provider.issuer), jku="https://evil.test/jwks")
    assert reason(client, pointing) == "invalid_token"
    crit = b64url(json.dumps({"alg": "RS256", "kid": key.kid, "crit": ["exp"], "exp": 1}).encode())
    body = b64url(json.dumps(access_claims(provider.issuer)).encode())
    assert reason(client, f"{crit}.{body}.{b64url(b'x' * 256)}") == "invalid_token"
    duplicate = b64url(b'{"sub": "alice", "sub": "bob"}')
    header = forge(key, access_claims(provider.issuer)).split(".")[0]
    assert reason(client, f"{header}.{duplicate}.xx") == "invalid_token"


def test_a_list_audience_and_a_cognito_style_client_id(provider: OpenIdProvider) -> None:
    key = provider.keys[0]
    client = portal(provider)
    listed = forge(
        key, access_claims(provider.issuer, aud=["https://other.test/api", "https://tally.test/api"])
    )
    assert client.verify_access_token(listed).audience == ("https://other.test/api", "https://tally.test/api")
    # Cognito's access tokens: no aud, the app client in client_id, scopes space-separated, no typ.
    cognito = OidcClient(config_for(provider, audience=None))
    assert cognito.config.expected_audience == "tally-portal"
    claims = access_claims(provider.issuer, aud=None, scope="openid email", token_use="access")
    token = forge(key, claims, typ=None)
    verified = cognito.verify_access_token(token)
    assert verified.audience == () and verified.scopes == {"openid", "email"}
    stranger = forge(key, access_claims(provider.issuer, aud=None, client_id="someone-else"), typ=None)
    assert reason(cognito, stranger) == "wrong_audience"
    # scp as a list (some providers), and a kid-less token when one key fits.
    scp = forge(key, access_claims(provider.issuer, scope=None, scp=["a", "b"]), kid=None)
    assert client.verify_access_token(scp).scopes == {"a", "b"}
