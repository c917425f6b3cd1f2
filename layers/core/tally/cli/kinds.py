"""`tally kinds define|list|show`: custom record kinds, as PUT/GET /v1/kinds/{name} keep them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from tally.cli.common import fail, out, print_json, services
from tally.kinds.spec import KindSpec, check_kind_name

app = typer.Typer(help="Define and list custom record kinds.", no_args_is_help=True)


@app.command("define")
def define(
    name: Annotated[str, typer.Argument(help="The kind's name (lower-case letters, digits, `_`).")],
    file: Annotated[
        Path, typer.Option("--file", help="The definition as JSON (as PUT /v1/kinds/{name} takes).")
    ],
    site: Annotated[
        str, typer.Option("--site", help="The defining site (must exist); only it may change the kind.")
    ],
) -> None:
    svc = services()
    check_kind_name(name)
    if svc.control.get_site(site) is None:
        fail(f"no site named {site!r}: create it first with `tally sites add {site}`")
    try:
        spec = KindSpec.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        fail(
            f"{file}: not a valid kind definition: "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(definition)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
        )
    definition, created = svc.kinds.define(name, spec, site)
    what = (
        "defined"
        if created
        else "unchanged"
        if definition.version == 1
        else f"now version {definition.version}"
    )
    out.print(f"kind {name}: {what}; records go to POST /v1/records/custom/{name}", highlight=False)


@app.command("list")
def list_kinds(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    definitions = services().kinds.definitions()
    if as_json:
        print_json([d.model_dump(mode="json") for d in definitions])
        return
    table = Table("name", "owner", "version", "fields", "identity", "event time")
    for d in definitions:
        table.add_row(
            d.name,
            d.owner_site,
            str(d.version),
            str(len(d.spec.fields)),
            ", ".join(d.spec.full_identity()),
            d.spec.event_time,
        )
    out.print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="The kind's name.")]) -> None:
    definition = services().kinds.get(name)
    if definition is None:
        fail(f"no custom kind named {name!r}")
    print_json(definition.model_dump(mode="json"))
