"""Local accounts over real HTTP: sign-in sets a hardened session cookie, unsafe methods need the
CSRF token, sessions expire, sign-in is throttled, personal access tokens carry a subset of grants
and stop working when revoked or expired. The store runs on SQLite and on moto's DynamoDB."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tally.api.app import create_app
from tally.people.model import PeopleError
from tally.people.passwords import hash_password
from tally.services.container import Services
from tally.settings import Settings
from tests.support.servers import running_app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, Services]]:
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    admin = svc.people.add_person("Ada", "ada@example.org", "test", password=PASSWORD)
    svc.people.add_grant(admin.person_id, "admin", None, "test")
    svc.people.add_grant(admin.person_id, "site_manager", "SITE-A", "test")
    with running_app(app) as url:
        yield url, svc


def _login(url: str, email: str = "ada@example.org", password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{url}/v1/auth/login", json={"email": email, "password": password})


def test_sign_in_sets_a_hardened_cookie_and_unsafe_methods_need_the_csrf_token(
    served: tuple[str, Services],
) -> None:
    url, svc = served
    answer = _login(url)
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= flags
    assert "samesite=strict" in cookie.lower() and "path=/v1" in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    csrf = answer.json()["csrf_token"]
    jar = {"Cookie": f"tally_session={value}"}
    body = {"name": "Bo", "email": "bo@example.org"}
    with httpx.Client(base_url=url, headers=jar) as http:
        me = http.get("/v1/me")
        forged = http.post("/v1/people", json=body)
        wrong = http.post("/v1/people", json=body, headers={"X-CSRF-Token": csrf[:-1] + "x"})
        made = http.post("/v1/people", json=body, headers={"X-CSRF-Token": csrf})
        out_without = http.post("/v1/auth/logout")
        out = http.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        after = http.get("/v1/me")
    assert me.status_code == 200 and me.json()["via"] == "session" and me.json()["csrf_token"] == csrf
    assert forged.status_code == 403 and wrong.status_code == 403
    assert forged.headers["content-type"] == "application/problem+json"
    assert made.status_code == 201 and made.json()["email"] == "bo@example.org"
    assert out_without.status_code == 403 and out.status_code == 204
    assert after.status_code == 401  # the session is gone from the store
    assert {p.email for p in svc.people.store.list_people()} == {"ada@example.org", "bo@example.org"}


def test_a_session_past_its_expiry_is_gone_from_the_store_unread(served: tuple[str, Services]) -> None:
    _url, svc = served
    long_ago = datetime.now(UTC) - timedelta(days=2)
    session, cookie = svc.people.login("ada@example.org", PASSWORD, now=long_ago)
    assert session.expires_at < datetime.now(UTC)
    assert svc.people.store.get_session(session.session_id) is None  # no logout needed
    assert svc.people.session_principal(cookie) is None
    live, _cookie = svc.people.login("ada@example.org", PASSWORD)
    assert svc.people.store.get_session(live.session_id) == live


def test_sessions_expire(served: tuple[str, Services]) -> None:
    _url, svc = served
    session, cookie = svc.people.login("ada@example.org", PASSWORD)
    assert svc.people.session_principal(cookie) is not None
    later = session.expires_at + timedelta(seconds=1)
    assert svc.people.session_principal(cookie, now=later) is None
    assert svc.people.store.get_session(session.session_id) is None  # dropped on its first late use
    assert svc.people.session_principal(cookie[:-2] + "xx") is None


def test_sign_in_is_throttled_per_account_and_says_nothing_about_which_part_was_wrong(
    served: tuple[str, Services], caplog: pytest.LogCaptureFixture
) -> None:
    url, svc = served
    caplog.set_level(logging.DEBUG, logger="tally")  # Tally's own logs (request lines included)
    limit = svc.settings.people.login_failures
    unknown = _login(url, email="nobody@example.org")
    wrong = [_login(url, password=f"wrong password {n}") for n in range(limit)]
    throttled = _login(url)  # the right password, but too late
    assert unknown.status_code == 401 and unknown.json()["detail"] == wrong[0].json()["detail"]
    assert [w.status_code for w in wrong] == [401] * limit
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert throttled.headers["content-type"] == "application/problem+json"
    # Another account is not throttled by these failures.
    svc.people.add_person("Bo", "bo@example.org", "test", password=PASSWORD)
    assert _login(url, email="bo@example.org").status_code == 200
    # No password, hash or session secret reaches the logs.
    stored = svc.people.store.password_hash(svc.people.store.person_of_email("ada@example.org") or "")
    assert stored is not None and stored.startswith("$argon2id$")
    for secret in (PASSWORD, stored, "wrong password 0"):
        assert secret not in caplog.text
    assert PASSWORD not in str(svc.people.store.list_audit())


def test_tokens_carry_a_subset_of_grants_and_stop_when_revoked_or_expired(
    served: tuple[str, Services],
) -> None:
    url, svc = served
    person_id = svc.people.store.person_of_email("ada@example.org")
    assert person_id is not None
    grants = {g.role: g.grant_id for g in svc.people.store.list_grants(person_id)}
    session, cookie = svc.people.login("ada@example.org", PASSWORD)
    jar = {"Cookie": f"tally_session={cookie}", "X-CSRF-Token": session.csrf_token}
    with httpx.Client(base_url=url, headers=jar) as http:
        made = http.post(
            "/v1/tokens", json={"name": "notebook", "days": 7, "grant_ids": [grants["site_manager"]]}
        )
        too_long = http.post("/v1/tokens", json={"name": "x", "days": 10_000})
    assert made.status_code == 201 and too_long.status_code == 422
    token = made.json()["token"]
    assert made.json()["grant_ids"] == [grants["site_manager"]]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        me = http.get("/v1/me").json()
        audit = http.get("/v1/audit")  # admin only: this token carries site_manager alone
        listed = http.get("/v1/tokens").json()
        revoked = http.delete(f"/v1/tokens/{made.json()['token_id']}")
        after = http.get("/v1/me")
    assert [g["role"] for g in me["grants"]] == ["site_manager"] and me["via"] == "token"
    assert audit.status_code == 403
    assert [t["token_id"] for t in listed] == [made.json()["token_id"]] and "token" not in listed[0]
    assert revoked.status_code == 204 and after.status_code == 401
    # Expired: a token one second past its end is refused.
    stored, plain = svc.people.create_token(svc.people.principal_of(svc.people.person(person_id)), "short", 1)
    assert svc.people.token_principal(plain) is not None
    assert svc.people.token_principal(plain, now=stored.expires_at + timedelta(seconds=1)) is None
    # A grant taken from the person is gone from their tokens too.
    svc.people.remove_grant(grants["admin"], "test")
    principal = svc.people.token_principal(plain)
    assert principal is not None and principal.roles() == {"site_manager"}
    actions = [e.action for e in svc.people.store.list_audit()]
    assert actions.count("token.create") == 2 and "token.revoke" in actions and "grant.remove" in actions


def test_the_audit_log_is_append_only_in_the_store(settings: Settings) -> None:
    svc = Services(settings)
    svc.people.add_person("Ada", "ada@example.org", "test")
    [event] = svc.people.store.list_audit()
    key = next(iter(d["_id"] for d in svc.control.list_docs("audit")))
    with pytest.raises(Exception, match="append-only"):
        svc.control.put_doc("audit", key, {"forged": True})
    with pytest.raises(Exception, match="append-only"):
        svc.control.delete_doc("audit", key)
    assert svc.control.put_doc("audit", key, {"forged": True}, create_only=True) is False
    assert svc.people.store.list_audit() == [event]


def test_passwords_are_checked(settings: Settings) -> None:
    svc = Services(settings)
    with pytest.raises(PeopleError, match="12"):
        svc.people.add_person("Ada", "ada@example.org", "test", password="short")
    assert svc.people.store.list_people() == []  # nothing stored for a refused password
    person = svc.people.add_person("Ada", "ada@example.org", "test", password=PASSWORD)
    with pytest.raises(PeopleError):
        svc.people.add_person("Ada again", "ADA@example.org", "test")
    assert svc.people.store.person_of_email("ada@example.org") == person.person_id
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # salted
