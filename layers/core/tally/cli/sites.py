"""`tally sites`: the sites that post usage."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tally.cli.common import out, print_json, services

app = typer.Typer(help="Manage sites.", no_args_is_help=True)


@app.command("add")
def add(name: Annotated[str, typer.Argument(help="Site name, e.g. NORTH-HPC.")]) -> None:
    """Create a site."""
    site = services().add_site(name)
    out.print(f"site {site.name} created")


@app.command("list")
def list_sites(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List sites."""
    sites = services().control.list_sites()
    if as_json:
        print_json([{"name": s.name, "created_at": s.created_at.isoformat()} for s in sites])
        return
    table = Table("site", "created")
    for s in sites:
        table.add_row(s.name, s.created_at.strftime("%Y-%m-%d %H:%M:%SZ"))
    out.print(table)
