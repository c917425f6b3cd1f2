"""The demo's people: one per role, their credentials in var/demo-people.json, each able to sign in
and see what their role allows of the demo data (the user their own jobs, linked through logins
that occur in the data)."""

from __future__ import annotations

import json
import stat
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tally.api.app import create_app
from tally.demo.loader import demo_records, load_demo
from tally.demo.people import DEMO_USER, HPC_SITES
from tally.people.model import ROLES
from tally.services.container import Services
from tests.support.deployments import local_settings
from tests.support.servers import running_app

NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)
JOBS = 600


def test_every_role_signs_in_and_the_user_sees_exactly_their_jobs(tmp_path: Path) -> None:
    app = create_app(local_settings(tmp_path / "home"))
    svc: Services = app.state.services
    load_demo(svc, jobs=JOBS, months=2, now=NOW)
    path = svc.settings.resolved_home / "demo-people.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    people = {p["role"]: p for p in json.loads(path.read_text())}
    assert sorted(people) == sorted(ROLES)
    # The user's jobs, counted from the generated records: their login at the HPC sites.
    mine = Counter(
        str(r["site"])
        for r in demo_records(NOW, JOBS, 2)["jobs"]
        if r["local_user"] == DEMO_USER and r["site"] in HPC_SITES
    )
    assert mine, "the demo data holds jobs of the demo user"
    with running_app(app) as url:
        for role, person in people.items():
            with httpx.Client(base_url=url) as http:
                signed = http.post(
                    "/v1/auth/login", json={"email": person["email"], "password": person["password"]}
                )
                assert signed.status_code == 200, (role, signed.text)
                cookie = signed.headers["set-cookie"].split(";")[0]
                me = http.get("/v1/me", headers={"Cookie": cookie}).json()
                assert [(g["role"], g["scope"] or None) for g in me["grants"]] == [
                    (role, person["scope"] if role != "user" else person["person_id"])
                ]
                if role == "user":
                    report = http.get(
                        "/v1/reports/jobs",
                        params={
                            "from": "2026-09-01",
                            "to": "2026-12-01",
                            "group_by": "site,user",
                            "metrics": "jobs",
                        },
                        headers={"Cookie": cookie},
                    )
                    assert report.status_code == 200, report.text
                    assert {r["site"]: r["jobs"] for r in report.json()["rows"]} == dict(mine)
                    assert {r["user"] for r in report.json()["rows"]} == {person["person_id"]}
