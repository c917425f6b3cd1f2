"""A typer group whose commands are imported when they are run, not when `tally` starts.

Each command module pulls in what it needs (FastAPI, DuckDB, pyarrow, the services), so importing
them all costs more than a second of CPU on every call. The group knows each command by a
`module:attribute` path and the one line `tally --help` shows for it; a command is imported only
when it is run or its own help is asked for. The line kept here must be the command's own help: a
test checks each against the loaded command.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer import _click as click  # typer's own copy of click, the one its commands are made of
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    target: str  # "package.module:attribute": a typer.Typer (a group) or a command function
    help: str  # the first line of the command's help, as `tally --help` lists it

    def load(self, name: str) -> click.Command:
        module, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module), attribute)
        # Registered on a throwaway root exactly as `add_typer` / `command` on the real root would,
        # so the click command is the one an eager registration builds.
        root = typer.Typer(add_completion=False)
        if isinstance(obj, typer.Typer):
            root.add_typer(obj, name=name)
            group = typer.main.get_command(root)
            assert isinstance(group, TyperGroup)
            command = group.commands[name]
        else:
            root.command(name)(obj)
            command = typer.main.get_command(root)
        return command


class LazyTyperGroup(TyperGroup):
    """Subclass with `lazy` set to the commands in the order `--help` lists them."""

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in self.lazy if name not in eager)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            entry = self.lazy[cmd_name]
            if self._listing:
                # The list in --help needs only the name and the line: nothing is imported.
                return TyperCommand(cmd_name, help=entry.help)
            self.commands[cmd_name] = entry.load(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as error:
            # As TyperGroup suggests, but from every command, not only those imported so far.
            matches = (
                get_close_matches(args[0], self.list_commands(ctx)) if args and self.suggest_commands else []
            )
            if matches:
                error.message = f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def load_all(self) -> None:
        """Import every command (for what enumerates them, such as the documentation checks)."""
        context = click.Context(self)
        for name in self.lazy:
            self.get_command(context, name)
