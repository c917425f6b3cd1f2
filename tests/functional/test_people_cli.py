"""`tally people ...` end to end: an admin with a password made on the command line signs in over
HTTP; grants, links and the audit log through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from tally.api.app import create_app
from tests.support.cli import TALLY
from tests.support.deployments import local_settings
from tests.support.servers import running_app

PASSWORD = "a long enough password"


def tally(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home)}
    return subprocess.run(
        [TALLY, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_people_add_makes_an_admin_who_signs_in(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tally(home, "sites", "add", "SITE-A").returncode == 0
    made = tally(
        home,
        "people",
        "add",
        "Ada Admin",
        "--email",
        "ada@example.org",
        "--role",
        "admin",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    person = json.loads(made.stdout)
    assert [g["role"] for g in person["grants"]] == ["admin"]
    short = tally(
        home, "people", "add", "Bo", "--email", "bo@example.org", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1 and "12" in short.stderr
    dup = tally(home, "people", "add", "Ada", "--email", "ADA@example.org", "--no-password")
    assert dup.returncode == 1 and "exists already" in dup.stderr
    bo = json.loads(
        tally(home, "people", "add", "Bo", "--email", "bo@example.org", "--no-password", "--json").stdout
    )
    granted = tally(home, "people", "grant", bo["person_id"], "site_manager", "--scope", "SITE-A")
    assert granted.returncode == 0, granted.stderr
    bad = tally(home, "people", "grant", bo["person_id"], "wizard")
    assert bad.returncode == 1 and "unknown role" in bad.stderr
    linked = tally(
        home, "people", "link", bo["person_id"], "--kind", "local", "--at", "SITE-A", "--value", "bo"
    )
    assert linked.returncode == 0, linked.stderr
    shown = json.loads(tally(home, "people", "show", bo["person_id"]).stdout)
    assert [(i["kind"], i["namespace"], i["value"]) for i in shown["identities"]] == [
        ("local", "SITE-A", "bo")
    ]
    assert [(g["role"], g["scope"]) for g in shown["grants"]] == [("site_manager", "SITE-A")]
    listed = json.loads(tally(home, "people", "list", "--json").stdout)
    assert {p["email"] for p in listed} == {"ada@example.org", "bo@example.org"}
    audit = json.loads(tally(home, "people", "audit").stdout)
    assert [e["action"] for e in audit] == [
        "person.add",
        "grant.add",
        "person.add",
        "grant.add",
        "identity.link",
    ]
    assert all(e["actor"].startswith("cli:") for e in audit) and PASSWORD not in json.dumps(audit)
    with running_app(create_app(local_settings(home))) as url:
        answer = httpx.post(f"{url}/v1/auth/login", json={"email": "ada@example.org", "password": PASSWORD})
    assert answer.status_code == 200 and answer.json()["person_id"] == person["person_id"]
