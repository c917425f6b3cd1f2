"""Attribution of usage to people through identity links with validity intervals: a login reused by
someone else later, the same login name at two sites, a DN used at several sites. Over real HTTP,
reports run on DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tally.api.app import create_app
from tally.people.model import PeopleConflictError
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.records import job
from tests.support.servers import running_app

A, B = "SITE-A", "SITE-B"
HANDOVER = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # job n ends at 2026-03-01 00:00 + n minutes
REPORT = {"from": "2026-03-01", "to": "2026-04-01", "group_by": "user", "metrics": "jobs"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Services, dict[str, str]]]:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    keys = {}
    for site in (A, B):
        svc.add_site(site)
        keys[site] = svc.create_key(site).plain
    with running_app(app) as url:
        for site, records in {
            # "jdoe" at A: 30 jobs before the handover (n = 1..30), 20 after (n = 61..80).
            A: [job(n, site=A, local_user="jdoe") for n in [*range(1, 31), *range(61, 81)]],
            # "jdoe" at B is someone else again; "sam" runs with a DN at both sites.
            B: [job(n, site=B, local_user="jdoe") for n in range(1, 6)]
            + [job(100 + n, site=B, local_user="s1", global_user="/CN=Sam") for n in range(3)],
        }.items():
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[site]}"}) as http:
                assert http.post("/v1/records/jobs", json=records).json()["accepted"] == len(records)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[A]}"}) as http:
            sam_at_a = [job(200 + n, site=A, local_user="sam", global_user="/CN=Sam") for n in range(2)]
            assert http.post("/v1/records/jobs", json=sam_at_a).json()["accepted"] == 2
        yield url, svc, keys


def _admin_token(svc: Services) -> str:
    admin = svc.people.add_person("Root", "root@example.org", "test")
    svc.people.add_grant(admin.person_id, "admin", None, "test")
    return svc.people.create_token(svc.people.principal_of(admin), "t", 1)[1]


def test_a_reused_login_is_two_people_and_a_login_name_at_two_sites_is_not_merged(
    served: tuple[str, Services, dict[str, str]],
) -> None:
    url, svc, _keys = served
    first = svc.people.add_person("First Jdoe", "first@example.org", "test")
    second = svc.people.add_person("Second Jdoe", "second@example.org", "test")
    sam = svc.people.add_person("Sam", "sam@example.org", "test")
    link = svc.people.link_identity(first.person_id, "local", A, "jdoe", "test")
    svc.people.end_identity(link.identity_id, HANDOVER, "test")
    svc.people.link_identity(second.person_id, "local", A, "jdoe", "test", valid_from=HANDOVER)
    svc.people.link_identity(sam.person_id, "x509", "", "/CN=Sam", "test")
    token = _admin_token(svc)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = http.get("/v1/reports/jobs", params=REPORT)
        by_site = http.get("/v1/reports/jobs", params={**REPORT, "group_by": "site,user"})
    assert answer.status_code == 200, answer.text
    assert {r["user"]: r["jobs"] for r in answer.json()["rows"]} == {
        first.person_id: 30,
        second.person_id: 20,
        "jdoe@SITE-B": 5,  # B's jdoe is linked to nobody: not either of A's
        sam.person_id: 5,  # the DN is one person at both sites
    }
    assert {(r["site"], r["user"]): r["jobs"] for r in by_site.json()["rows"]} == {
        (A, first.person_id): 30,
        (A, second.person_id): 20,
        (A, sam.person_id): 2,
        (B, "jdoe@SITE-B"): 5,
        (B, sam.person_id): 3,
    }


def test_links_of_one_name_may_not_overlap(served: tuple[str, Services, dict[str, str]]) -> None:
    _url, svc, _keys = served
    one = svc.people.add_person("One", "one@example.org", "test")
    two = svc.people.add_person("Two", "two@example.org", "test")
    svc.people.link_identity(one.person_id, "local", A, "jdoe", "test", valid_to=HANDOVER)
    with pytest.raises(PeopleConflictError):
        svc.people.link_identity(two.person_id, "local", A, "jdoe", "test")  # from 1970: overlaps
    # The same login at another site, and the same login at A after the first link ended, are free.
    svc.people.link_identity(two.person_id, "local", B, "jdoe", "test")
    svc.people.link_identity(two.person_id, "local", A, "jdoe", "test", valid_from=HANDOVER)
    # A DN is one name wherever it is used (x509 and oidc subjects alike match global_user).
    svc.people.link_identity(one.person_id, "x509", "", "/CN=One", "test")
    with pytest.raises(PeopleConflictError):
        svc.people.link_identity(two.person_id, "oidc", "https://issuer.example", "/CN=One", "test")
    actions = [e.action for e in svc.people.store.list_audit()]
    assert actions.count("identity.link") == 4 and "identity.end" not in actions


def test_a_user_sees_exactly_their_own_jobs_across_a_handover(
    served: tuple[str, Services, dict[str, str]],
) -> None:
    url, svc, _keys = served
    first = svc.people.add_person("First Jdoe", "first@example.org", "test")
    link = svc.people.link_identity(first.person_id, "local", A, "jdoe", "test")
    svc.people.end_identity(link.identity_id, HANDOVER, "test")
    svc.people.add_grant(first.person_id, "user", None, "test")
    token = svc.people.create_token(svc.people.principal_of(first), "mine", 1)[1]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = http.get("/v1/reports/jobs", params={**REPORT, "group_by": "site"})
        vms = http.get("/v1/reports/vms", params={"from": "2026-03-01", "to": "2026-04-01"})
    assert answer.json()["rows"] == [{"site": A, "jobs": 30}]
    assert vms.status_code == 403  # VM usage has no person: a user grant reaches none of it


def test_a_federated_subject_finds_its_person_only_inside_the_link(tmp_path: Path) -> None:
    svc = Services(local_settings(tmp_path / "home"))
    one = svc.people.add_person("One", "one@example.org", "test")
    issuer = "https://checkin.example.org/oidc"
    svc.people.link_identity(one.person_id, "oidc", issuer, "sub-1", "test", valid_to=HANDOVER)
    before, after = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    assert svc.people.person_of_identity("oidc", issuer, "sub-1", before) == one
    assert svc.people.person_of_identity("oidc", issuer, "sub-1", after) is None
    assert svc.people.person_of_identity("oidc", "https://other.example", "sub-1", before) is None


def test_link_times_out_of_range_or_without_an_offset_are_answered(tmp_path: Path) -> None:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    token = _admin_token(svc)
    one = svc.people.add_person("One", "one@example.org", "test")
    with (
        running_app(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        path = f"/v1/people/{one.person_id}/identities"
        late = http.post(
            path, json={"kind": "x509", "value": "/CN=One", "valid_from": "9999-12-31T23:59:59-01:00"}
        )
        naive = http.post(
            path, json={"kind": "local", "namespace": A, "value": "one", "valid_from": "2026-03-01T00:00:00"}
        )
        backwards = http.post(
            path,
            json={
                "kind": "local",
                "namespace": B,
                "value": "one",
                "valid_from": "2026-03-02",
                "valid_to": "2026-03-01",
            },
        )
    assert late.status_code == 422 and "9999" in late.json()["detail"]
    assert naive.status_code == 201 and naive.json()["valid_from"].startswith("2026-03-01T00:00:00")
    assert naive.json()["valid_from"].endswith("Z") or naive.json()["valid_from"].endswith("+00:00")
    assert backwards.status_code == 422


def test_ingest_status_takes_a_day_only(served: tuple[str, Services, dict[str, str]]) -> None:
    url, _svc, keys = served
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[A]}"}) as http:
        answers = {
            q: http.get("/v1/ingest/status", params={"since": q}) for q in ("0", "2026-02-30", "2026-03-01")
        }
    assert answers["0"].status_code == 422 and answers["2026-02-30"].status_code == 422
    [jobs] = answers["2026-03-01"].json()
    assert (jobs["site"], jobs["kind"], jobs["accepted"]) == (A, "jobs", 52)  # 50 of jdoe, 2 of sam
