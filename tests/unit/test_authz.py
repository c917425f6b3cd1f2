"""The one authorisation point on its own: fences of keys and of combined grants, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest

from tally.api.problems import Problem
from tally.people.authz import Action, Fence, authorise
from tally.people.model import Grant, Person, PersonPrincipal, Role
from tally.services.ingest import Principal

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ME = Person("p-me", "Me", "me@example.org", NOW)


def person(*grants: tuple[str, str]) -> PersonPrincipal:
    held = tuple(
        Grant(f"g-{n}", ME.person_id, cast(Role, role), scope, NOW, "test")
        for n, (role, scope) in enumerate(grants)
    )
    return PersonPrincipal(ME, held, "token")


def test_a_key_is_fenced_to_its_site_for_the_scopes_it_holds() -> None:
    key = Principal("SITE-A", "k1", (), frozenset({"reports:read"}))
    assert authorise(key, Action.USAGE_READ) == Fence(clauses=(("site", ("SITE-A",)),))
    for action in (Action.BILLING_READ, Action.REGISTRY_READ, Action.PEOPLE_MANAGE, Action.AUDIT_READ):
        with pytest.raises(Problem) as refused:
            authorise(key, action)
        assert refused.value.status == 403


def test_grants_add_up_and_a_request_outside_all_of_them_is_refused() -> None:
    fence = authorise(
        person(("user", "p-me"), ("project_manager", "p1"), ("vo_manager", "atlas")), Action.USAGE_READ
    )
    assert fence.clauses == (("project", ("p1",)), ("user", ("p-me",)), ("vo", ("atlas",)))
    # Several dimensions: a request for project p2 may still hold the person's own jobs (200).
    fence.check_requested("project", ["p2"])
    single = authorise(person(("site_manager", "A"), ("site_manager", "B")), Action.USAGE_READ)
    assert single.clauses == (("site", ("A", "B")),)
    single.check_requested("site", ["B"])
    with pytest.raises(Problem) as refused:
        single.check_requested("site", ["C"])
    assert refused.value.status == 403 and "'C'" in refused.value.detail


def test_finance_reads_everything_in_aggregate_and_admin_everything() -> None:
    finance = authorise(person(("finance", "")), Action.USAGE_READ)
    assert finance.everything and finance.aggregated
    assert authorise(person(("finance", "")), Action.BILLING_READ) == Fence(everything=True)
    assert authorise(person(("admin", "")), Action.USAGE_READ) == Fence(everything=True)
    with pytest.raises(Problem):
        authorise(person(("finance", "")), Action.REGISTRY_READ)


def test_no_grant_no_read() -> None:
    for action in Action:
        with pytest.raises(Problem) as refused:
            authorise(person(), action)
        assert refused.value.status == 403
    with pytest.raises(Problem):
        authorise(person(("vo_manager", "atlas")), Action.BILLING_READ)
