"""The pieces of a browser sign-in that need no provider: the sealed login cookie, the safe return
path, and the used-state markers (each state completes once; a marker expires with its login)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from tally.auth.login_cookie import PendingLogin, seal, unseal
from tally.auth.oidc import OidcConfig
from tally.auth.return_to import safe_return_to
from tally.auth.sso import USED_STATES, SsoError
from tally.services.container import Services
from tally.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LOGIN = PendingLogin("st" * 20, "no" * 20, "ve" * 40, "/portal?x=1", NOW + timedelta(minutes=10))
KEY = bytes(range(32))


def test_a_sealed_login_opens_only_unaltered_with_its_key_and_before_it_expires() -> None:
    cookie = seal(KEY, LOGIN)
    assert unseal(KEY, cookie, NOW) == LOGIN
    assert unseal(bytes(32), cookie, NOW) is None  # another deployment's key
    body, mac = cookie.split(".")
    assert unseal(KEY, f"{body}x.{mac}", NOW) is None and unseal(KEY, f"{body}.{mac[:-2]}", NOW) is None
    assert unseal(KEY, cookie, LOGIN.expires_at) is None
    for junk in ("", ".", "a.b.c", "x" * 5000, "é.é"):
        assert unseal(KEY, junk, NOW) is None


@pytest.mark.parametrize("target", ["/", "/portal", "/portal/usage?site=A&month=2026-05", "/a/b#c"])
def test_paths_of_this_site_are_safe_return_targets(target: str) -> None:
    assert safe_return_to(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil",
        "javascript:x",
        "portal",
        "/a b",
        "/a\nb",
        "/a\x7f",
        "/" + "a" * 512,
    ],
)
def test_other_sites_and_odd_paths_are_not(target: str) -> None:
    with pytest.raises(ValueError):
        safe_return_to(target)


def test_none_and_empty_return_to_the_root() -> None:
    assert safe_return_to(None) == safe_return_to("") == "/"


def test_a_state_completes_once_and_its_marker_expires_with_the_login(settings: Settings) -> None:
    config = OidcConfig(issuer="https://idp.example", client_id="tally", redirect_uri="https://t.example/cb")
    svc = Services(settings.model_copy(update={"oidc": config}))
    sso = svc.sso
    assert sso is not None
    now = datetime.now(UTC)
    ttl = timedelta(seconds=sso.settings.login_ttl_seconds)
    sso._mark_used("first", now + ttl)
    with pytest.raises(SsoError) as refused:
        sso._mark_used("first", now + ttl)
    assert refused.value.status == 400
    first, old = hashlib.sha256(b"first").hexdigest(), hashlib.sha256(b"old").hexdigest()
    assert [d["_id"] for d in svc.control.list_docs(USED_STATES)] == [first]
    # A marker whose login cookie has expired is gone: not listed, and no obstacle to its state.
    sso._mark_used("old", now - timedelta(seconds=1))
    assert [d["_id"] for d in svc.control.list_docs(USED_STATES)] == [first]
    assert svc.control.get_doc(USED_STATES, old) is None
    sso._mark_used("old", now + ttl)
    assert [d["_id"] for d in svc.control.list_docs(USED_STATES)] == sorted([first, old])
