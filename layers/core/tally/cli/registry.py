"""`tally registry ...`: list, add and remove resource benchmarks, application rules, VO mappings
and carbon intensities; changes are audited as `cli:<login>`."""

from __future__ import annotations

import getpass
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError

from tally.cli.common import out, print_json, services
from tally.registry.entries import ENTRY_TYPES, Entry, RegistryKind

app = typer.Typer(help="The normalisation registry the views join.", no_args_is_help=True)


@app.command("list")
def list_entries(
    kind: Annotated[str, typer.Argument(help="resources, applications, vo_mapping or carbon_intensity")],
    site: Annotated[str | None, typer.Option(help="only this site")] = None,
) -> None:
    """Print the entries of one kind as JSON."""
    entries = services().registry.list_entries(_kind(kind), site)
    print_json([e.model_dump(mode="json") for e in entries])


@app.command("add")
def add(
    kind: Annotated[str, typer.Argument(help="resources, applications, vo_mapping or carbon_intensity")],
    entry: Annotated[str, typer.Argument(help='the entry as JSON, e.g. \'{"site": "a", ...}\'')],
) -> None:
    """Add one entry (checked against the others: no overlapping validity, no duplicate rule)."""
    registry_kind = _kind(kind)
    model = parse_entry(registry_kind, entry)
    svc = services()
    stored = svc.registry.add(registry_kind, model)
    svc.people.audit(_actor(), "registry.add", stored.entry_id, kind=registry_kind, site=stored.site)
    out.print(f"added {kind} entry {stored.entry_id}")


@app.command("remove")
def remove(
    kind: Annotated[str, typer.Argument(help="resources, applications, vo_mapping or carbon_intensity")],
    entry_id: Annotated[str, typer.Argument()],
) -> None:
    """Remove one entry by id."""
    registry_kind = _kind(kind)
    svc = services()
    stored = svc.registry.get(registry_kind, entry_id)
    svc.registry.delete(registry_kind, entry_id)
    svc.people.audit(_actor(), "registry.delete", entry_id, kind=registry_kind, site=stored.site)
    out.print(f"removed {kind} entry {entry_id}")


def parse_entry(kind: RegistryKind, text: str) -> Entry:
    """The entry the JSON text describes, or a ValueError saying in one line what is wrong."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"the {kind} entry is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"the {kind} entry must be a JSON object ({{...}}), not {type(data).__name__}")
    try:
        return ENTRY_TYPES[kind].model_validate(data)
    except ValidationError as error:
        raise ValueError(f"the {kind} entry is not valid: {describe(error)}") from error


def describe(error: ValidationError) -> str:
    """Pydantic's errors as `field: message; field: message` (no URLs, no input echo)."""
    parts = []
    for item in error.errors(include_url=False):
        field = ".".join(str(p) for p in item["loc"])
        parts.append(f"{field}: {item['msg']}" if field else str(item["msg"]))
    return "; ".join(parts)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _kind(kind: str) -> RegistryKind:
    if kind not in ENTRY_TYPES:
        raise ValueError(f"unknown registry kind {kind!r}; choose one of {', '.join(ENTRY_TYPES)}")
    return kind
