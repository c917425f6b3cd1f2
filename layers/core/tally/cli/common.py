"""Helpers shared by the command modules: settings, services, output."""

from __future__ import annotations

import sys
from typing import NoReturn

import orjson
from rich.console import Console
from rich.markup import escape

from tally.services.container import Services

out = Console()
err = Console(stderr=True)


def services() -> Services:
    """The container of this command's process (one command runs per process)."""
    return Services.from_env()


def fail(message: str, code: int = 1) -> NoReturn:
    # The message is text, not markup: `[...]` in it (SQL, node lists) must print as written.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
