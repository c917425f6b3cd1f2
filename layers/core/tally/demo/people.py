"""The demo's people: one per role, each with a local account, linked to identities that occur in
the demo data, their credentials in `var/demo-people.json` (mode 0600) so a newcomer can sign in
as each role."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tally.demo.generator import CLUSTERS
from tally.services.container import Services

PEOPLE_FILE = "demo-people.json"
#: Logins and scopes that the demo generator uses (tally.demo.generator: USERS, PROJECTS, VOS).
DEMO_USER = "asmith"
DEMO_PROJECT = "climate-ensemble"
DEMO_VO = "atlas"
DEMO_VO_DN = "/DC=org/DC=example/OU=People/CN=atlasprd001"
HPC_SITES = tuple(dict.fromkeys(c.site for c in CLUSTERS if c.infrastructure == "hpc"))
DEMO_SITE = HPC_SITES[0]


def demo_people_path(svc: Services) -> Path:
    return svc.settings.resolved_home / PEOPLE_FILE


def create_demo_people(svc: Services) -> list[dict[str, object]]:
    """Create the six demo people and write their credentials; return what was written."""
    plan: list[tuple[str, str | None, list[tuple[str, str, str]]]] = [
        ("user", None, [("local", site, DEMO_USER) for site in HPC_SITES]),
        ("project_manager", DEMO_PROJECT, []),
        ("vo_manager", DEMO_VO, [("x509", "", DEMO_VO_DN)]),
        ("site_manager", DEMO_SITE, []),
        ("finance", None, []),
        ("admin", None, []),
    ]
    written: list[dict[str, object]] = []
    for role, scope, identities in plan:
        password = secrets.token_urlsafe(18)
        email = f"{role.replace('_', '-')}@demo.tally.invalid"
        person = svc.people.add_person(f"Demo {role.replace('_', ' ')}", email, "demo", password=password)
        svc.people.add_grant(person.person_id, role, scope, "demo")
        for kind, namespace, value in identities:
            svc.people.link_identity(person.person_id, kind, namespace, value, "demo")
        written.append(
            {
                "role": role,
                "scope": scope,
                "person_id": person.person_id,
                "email": email,
                "password": password,
                "identities": [{"kind": k, "namespace": n, "value": v} for k, n, v in identities],
            }
        )
    path = demo_people_path(svc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(written, indent=2) + "\n")
    return written
