"""The pieces of a browser sign-in that need no provider: the sealed login cookie, the safe return
path, and the used-state markers (each state completes once; old markers are swept)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tally.auth.login_cookie import PendingLogin, seal, unseal
from tally.auth.oidc import OidcConfig
from tally.auth.return_to import safe_return_to
from tally.auth.sso import USED_STATES, SsoError
from tally.services.container import Services
from tests.support.deployments import local_settings

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


def test_a_state_completes_once_and_old_markers_are_swept(tmp_path: Path) -> None:
    config = OidcConfig(issuer="https://idp.example", client_id="tally", redirect_uri="https://t.example/cb")
    svc = Services(local_settings(tmp_path / "home", oidc=config))
    sso = svc.sso
    assert sso is not None
    ttl = timedelta(seconds=sso.settings.login_ttl_seconds)
    sso._mark_used("first", NOW + ttl, NOW)
    with pytest.raises(SsoError) as refused:
        sso._mark_used("first", NOW + ttl, NOW + timedelta(seconds=5))
    assert refused.value.status == 400
    marker = hashlib.sha256(b"first").hexdigest()
    assert [d["_id"] for d in svc.control.list_docs(USED_STATES)] == [marker]
    # A lifetime later the first marker's cookie has expired: the next sign-in sweeps it.
    later = NOW + ttl + timedelta(seconds=1)
    sso._mark_used("second", later + ttl, later)
    assert [d["_id"] for d in svc.control.list_docs(USED_STATES)] == [hashlib.sha256(b"second").hexdigest()]


def test_the_section_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tally.settings import Settings

    assert Settings().sso.auto_provision is False  # the default: unlinked subjects are refused
    monkeypatch.setenv("TALLY_SSO", '{"auto_provision": true, "login_ttl_seconds": 120}')
    read = Settings().sso
    assert (read.auto_provision, read.login_ttl_seconds) == (True, 120)
    monkeypatch.setenv("TALLY_SSO", '{"post_logout_redirect_uri": "http://tally.example/"}')
    with pytest.raises(ValueError, match="https"):
        Settings()
