"""`tally registry ...`: list, add and remove resource benchmarks, application rules, VO mappings."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from tally.cli.common import out, print_json, services
from tally.registry.entries import ENTRY_TYPES, RegistryKind

app = typer.Typer(help="The normalisation registry the views join.", no_args_is_help=True)


@app.command("list")
def list_entries(
    kind: Annotated[str, typer.Argument(help="resources, applications or vo_mapping")],
    site: Annotated[str | None, typer.Option(help="only this site")] = None,
) -> None:
    """Print the entries of one kind as JSON."""
    entries = services().registry.list_entries(_kind(kind), site)
    print_json([e.model_dump(mode="json") for e in entries])


@app.command("add")
def add(
    kind: Annotated[str, typer.Argument(help="resources, applications or vo_mapping")],
    entry: Annotated[str, typer.Argument(help='the entry as JSON, e.g. \'{"site": "a", ...}\'')],
) -> None:
    """Add one entry (checked against the others: no overlapping validity, no duplicate rule)."""
    registry_kind = _kind(kind)
    model = ENTRY_TYPES[registry_kind].model_validate(orjson.loads(entry))
    stored = services().registry.add(registry_kind, model)
    out.print(f"added {kind} entry {stored.entry_id}")


@app.command("remove")
def remove(
    kind: Annotated[str, typer.Argument(help="resources, applications or vo_mapping")],
    entry_id: Annotated[str, typer.Argument()],
) -> None:
    """Remove one entry by id."""
    services().registry.delete(_kind(kind), entry_id)
    out.print(f"removed {kind} entry {entry_id}")


def _kind(kind: str) -> RegistryKind:
    if kind not in ENTRY_TYPES:
        raise ValueError(f"unknown registry kind {kind!r}; choose one of {', '.join(ENTRY_TYPES)}")
    return kind
