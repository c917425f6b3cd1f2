"""`tally keys`: API keys. A key belongs to one site, optionally to some of its resources, and holds
scopes that say what it may do (see tally.domain.control)."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from tally.cli.common import out, print_json, services
from tally.domain.control import DEFAULT_SCOPES, SCOPES

app = typer.Typer(help="Manage API keys (stored hashed; the key is shown once).", no_args_is_help=True)


@app.command("create")
def create(
    site: Annotated[str, typer.Option("--site", help="The site the key writes for.")],
    resource: Annotated[
        list[str] | None, typer.Option("--resource", help="Restrict the key to this resource (repeatable).")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help=f"Grant this scope (repeatable): {', '.join(SCOPES)}. Default: "
            f"{', '.join(DEFAULT_SCOPES)}; `--resource billing` alone means billing:write only.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {id, key, site, resources, scopes} as JSON.")
    ] = False,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    scopes = tuple(scope) if scope else None
    new = services().site_keys.create(site, tuple(resource or ()), scopes, f"cli:{getpass.getuser()}")
    if as_json:
        print_json(
            {
                "id": new.record.key_id,
                "key": new.plain,
                "site": site,
                "resources": list(new.record.resources),
                "scopes": list(new.record.scopes),
            }
        )
    else:
        print(new.plain)


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (see `tally keys list`).")]) -> None:
    """Revoke a key: it stops working at once."""
    services().site_keys.revoke(None, key_id, f"cli:{getpass.getuser()}")
    out.print(f"key {key_id} revoked")


@app.command("list")
def list_keys(
    site: Annotated[str | None, typer.Option("--site", help="Only this site's keys.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (ids and metadata only; keys themselves are never stored)."""
    keys = services().control.list_keys(site)
    rows: list[dict[str, Any]] = [
        {
            "id": k.key_id,
            "site": k.site,
            "resources": list(k.resources),
            "scopes": list(k.effective_scopes),
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "site", "resources", "scopes", "created", "status")
    for r in rows:
        status = "revoked" if r["revoked_at"] else "active"
        table.add_row(
            str(r["id"]),
            str(r["site"]),
            ", ".join(r["resources"]) or "all",
            ", ".join(r["scopes"]),
            str(r["created_at"]),
            status,
        )
    out.print(table)
