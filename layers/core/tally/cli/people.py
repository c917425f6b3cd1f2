"""`tally people`: people, their grants and identity links, local passwords and the audit log.

The command line acts as the operator (it holds the control store): every change is audited as
`cli:<login>`. Passwords are read from a hidden prompt or, for scripts, one line on stdin.
"""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from tally.cli.common import fail, out, print_json, services
from tally.people.model import ROLES

app = typer.Typer(help="Manage people, grants, identity links and local accounts.", no_args_is_help=True)
ROLE_HELP = f"ROLE or ROLE:SCOPE (repeatable); roles: {', '.join(ROLES)}"


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12+ characters): ")
    if getpass.getpass("Again: ") != first:
        fail("the passwords differ")
    return first


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name}: {text!r} is not an ISO date or date-time")
    if value.tzinfo is None:
        fail(f"{name}: give the offset (e.g. 2026-03-01T00:00:00Z)")
    return value


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Display name.")],
    email: Annotated[str, typer.Option("--email", help="Email (the local sign-in name).")],
    role: Annotated[list[str] | None, typer.Option("--role", help=ROLE_HELP)] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No local account (sign-in through a provider only).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the person as JSON.")] = False,
) -> None:
    """Add a person (by default with a local account and password) and grant them roles."""
    svc = services()
    grants = [(r.partition(":")[0], r.partition(":")[2] or None) for r in role or []]
    password = None if no_password else _password(password_stdin)
    person = svc.people.add_person(name, email, _actor(), password=password)
    made = [svc.people.add_grant(person.person_id, r, s, _actor()) for r, s in grants]
    if as_json:
        print_json(
            {
                "person_id": person.person_id,
                "name": person.name,
                "email": person.email,
                "grants": [{"grant_id": g.grant_id, "role": g.role, "scope": g.scope} for g in made],
            }
        )
    else:
        out.print(f"person {person.person_id} ({person.email}) added")


@app.command("list")
def list_people(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List people with their grants."""
    svc = services()
    rows = [
        {
            "person_id": p.person_id,
            "name": p.name,
            "email": p.email,
            "grants": [
                f"{g.role}:{g.scope}" if g.scope else g.role
                for g in svc.people.store.list_grants(p.person_id)
            ],
        }
        for p in svc.people.store.list_people()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("person", "name", "email", "grants")
    for r in rows:
        table.add_row(str(r["person_id"]), str(r["name"]), str(r["email"]), ", ".join(r["grants"]))
    out.print(table)


@app.command("show")
def show(person_id: Annotated[str, typer.Argument()]) -> None:
    """One person with their grants and identity links (JSON)."""
    svc = services()
    p = svc.people.person(person_id)
    print_json(
        {
            "person_id": p.person_id,
            "name": p.name,
            "email": p.email,
            "grants": [
                {"grant_id": g.grant_id, "role": g.role, "scope": g.scope}
                for g in svc.people.store.list_grants(person_id)
            ],
            "identities": [
                {
                    "identity_id": i.identity_id,
                    "kind": i.kind,
                    "namespace": i.namespace,
                    "value": i.value,
                    "valid_from": i.valid_from.isoformat(),
                    "valid_to": i.valid_to.isoformat() if i.valid_to else None,
                }
                for i in svc.people.store.list_identities(person_id)
            ],
        }
    )


@app.command("grant")
def grant(
    person_id: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Argument(help=f"One of {', '.join(ROLES)}.")],
    scope: Annotated[str | None, typer.Option("--scope", help="The project, VO or site.")] = None,
) -> None:
    """Grant a role in a scope."""
    made = services().people.add_grant(person_id, role, scope, _actor())
    out.print(f"grant {made.grant_id} ({made.role}{':' + made.scope if made.scope else ''})")


@app.command("ungrant")
def ungrant(grant_id: Annotated[str, typer.Argument()]) -> None:
    """Take a grant away."""
    services().people.remove_grant(grant_id, _actor())
    out.print(f"grant {grant_id} removed")


@app.command("link")
def link(
    person_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option("--kind", help="local (a login at a site), x509 (a DN) or oidc.")],
    value: Annotated[str, typer.Option("--value", help="The login, DN or subject.")],
    namespace: Annotated[str, typer.Option("--at", help="The site (local) or issuer (oidc).")] = "",
    valid_from: Annotated[str | None, typer.Option("--from", help="ISO date-time (default: always).")] = None,
    valid_to: Annotated[str | None, typer.Option("--to", help="ISO date-time, exclusive.")] = None,
) -> None:
    """Link an identity: the person's usage records are those it matches in its interval."""
    item = services().people.link_identity(
        person_id, kind, namespace, value, _actor(), _when(valid_from, "--from"), _when(valid_to, "--to")
    )
    out.print(f"identity {item.identity_id} linked")


@app.command("unlink")
def unlink(
    identity_id: Annotated[str, typer.Argument()],
    at: Annotated[str, typer.Option("--at", help="ISO date-time the link ends (exclusive).")],
) -> None:
    """End an identity link (the login passes to someone else after it)."""
    end = _when(at, "--at")
    assert end is not None
    services().people.end_identity(identity_id, end, _actor())
    out.print(f"identity {identity_id} ends at {end.isoformat()}")


@app.command("passwd")
def passwd(
    person_id: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Set a person's local password."""
    services().people.set_password(person_id, _password(password_stdin), _actor())
    out.print(f"password of {person_id} set")


@app.command("audit")
def audit(
    target: Annotated[str | None, typer.Option("--person", help="Only changes to this person.")] = None,
) -> None:
    """The audit log (JSON), oldest first."""
    events = services().people.store.list_audit()
    print_json(
        [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
            }
            for e in events
            if target is None or e.target == target
        ]
    )
