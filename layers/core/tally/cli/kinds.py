"""`tally kinds define|list|show`: custom record kinds, as PUT/GET /v1/kinds/{name} keep them.

Run on the server's machine a command acts as its operator. With `--token` (or TALLY_TOKEN) it
acts as the person whose personal access token that is, through the one authorisation point: a
site manager defines kinds for their site, an admin for any; other grants are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from tally.api.problems import Problem
from tally.cli.common import fail, out, print_json, services
from tally.domain.errors import RequestRefused
from tally.kinds.access import defining_site
from tally.kinds.spec import KindSpec, check_kind_name
from tally.people.authz import Action, Fence, authorise
from tally.services.container import Services

app = typer.Typer(help="Define and list custom record kinds.", no_args_is_help=True)


@app.command("define")
def define(
    name: Annotated[str, typer.Argument(help="The kind's name (lower-case letters, digits, `_`).")],
    file: Annotated[
        Path, typer.Option("--file", help="The definition as JSON (as PUT /v1/kinds/{name} takes).")
    ],
    site: Annotated[
        str | None,
        typer.Option(
            "--site",
            help="The defining site (must exist); only it may change the kind. Default: the kind's "
            "site, or the only site the token's person manages.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="TALLY_TOKEN",
            help="act as this personal access token's person (default: operator)",
        ),
    ] = None,
) -> None:
    svc = services()
    check_kind_name(name)
    existing = svc.kinds.get(name)
    try:
        site = defining_site(_fence(svc, token), site, existing.owner_site if existing else None)
    except RequestRefused as refused:
        fail(refused.detail)
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
    try:
        definition, created = svc.kinds.define(name, spec, site)
    except RequestRefused as refused:
        fail(refused.detail)
    what = (
        "defined"
        if created
        else "unchanged"
        if definition.version == 1
        else f"now version {definition.version}"
    )
    out.print(f"kind {name}: {what}; records go to POST /v1/records/custom/{name}", highlight=False)


def _fence(svc: Services, token: str | None) -> Fence:
    """The operator's fence (everything) or the token's person's for defining kinds; refusals exit 1."""
    if token is None:
        return Fence(everything=True)
    person = svc.people.token_principal(token)
    if person is None:
        fail("the personal access token is not valid, has expired or was revoked")
    try:
        return authorise(person, Action.REGISTRY_WRITE)
    except Problem as refused:
        fail(refused.detail)


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
