"""`tally`: the server-side command line. All local state lives under TALLY_HOME (default ./var).

Command groups live in their own modules, imported only when one of their commands runs (see
tally.cli.lazy): `tally --help` and each command start without importing the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

import typer

from tally.cli.lazy import LazyCommand, LazyTyperGroup

# In the order `tally --help` lists them: the commands, then the groups.
COMMANDS: dict[str, LazyCommand] = {
    "serve": LazyCommand(
        "tally.cli.serve:serve",
        "Run the API server on the local warehouse and control store under TALLY_HOME.",
    ),
    "demo": LazyCommand(
        "tally.cli.serve:demo", "Create demo sites, keys and data (once: refuses when sites exist)."
    ),
    "openapi": LazyCommand("tally.cli.serve:openapi", "Print the OpenAPI document of the HTTP API."),
    "query": LazyCommand(
        "tally.cli.query:query",
        "Run SQL on the configured engine (DuckDB locally, Athena in AWS mode) and print the result.",
    ),
    "report": LazyCommand(
        "tally.cli.report:report", "Aggregate usage by allow-listed dimensions and metrics over a time range."
    ),
    "reconcile": LazyCommand(
        "tally.cli.reconcile:reconcile",
        "Compare billed instance-hours with measured hours and write the verdicts and findings.",
    ),
    "fairshare": LazyCommand(
        "tally.cli.allocations:fairshare",
        "Fair share: usage decayed by the half-life (Slurm's decay), per project and user by default.",
    ),
    "forecast": LazyCommand(
        "tally.cli.allocations:forecast",
        "Capacity planning: each site and resource's forecast use in a coming month (JSON).",
    ),
    "sites": LazyCommand("tally.cli.sites:app", "Manage sites."),
    "keys": LazyCommand("tally.cli.keys:app", "Manage API keys (stored hashed; the key is shown once)."),
    "billing": LazyCommand("tally.cli.billing:app", "Import billing exports (AWS CUR, Azure, GCP, FOCUS)."),
    "registry": LazyCommand("tally.cli.registry:app", "The normalisation registry the views join."),
    "apel": LazyCommand("tally.cli.apel:app", "APEL messages in and out (SSM directory queues)."),
    "logs": LazyCommand(
        "tally.cli.logs:app", "Import raw batch-system accounting logs and BLAH/CREAM grid identity logs."
    ),
    "kinds": LazyCommand("tally.cli.kinds:app", "Define and list custom record kinds."),
    "people": LazyCommand(
        "tally.cli.people:app", "Manage people, grants, identity links and local accounts."
    ),
    "allocations": LazyCommand(
        "tally.cli.allocations:app", "Allocations: a project's amount of a unit on resources for a period."
    ),
    "alerts": LazyCommand("tally.cli.alerts:app", "Alert rules, their evaluation and the alerts they fired."),
    "tariffs": LazyCommand("tally.cli.money:tariffs_app", "The price list invoices are priced with."),
    "invoices": LazyCommand(
        "tally.cli.money:invoices_app", "Invoices and credit notes per project and month."
    ),
    "subscriptions": LazyCommand(
        "tally.cli.subscriptions:app", "Scheduled reports: saved views delivered weekly or monthly."
    ),
}


class TallyGroup(LazyTyperGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="tally",
    help="Tally: usage accounting for research infrastructure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=TallyGroup,
)


@app.callback()
def root() -> None:
    """Every command is a lazy sub-command of this group (typer builds a group from a callback)."""


def main() -> None:
    """Console-script entry: expected failures become one clear line and exit code 1."""
    try:
        _invoke()
        code = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    _leave(code)


def _invoke() -> None:
    try:
        app()
    except Exception as exc:
        # Imported only on failure: the errors' modules are not needed to start.
        from tally.api.problems import Problem
        from tally.cli.common import fail
        from tally.domain.control import ControlError
        from tally.domain.errors import RequestRefused

        if isinstance(exc, (ControlError, Problem, RequestRefused, ValueError, OSError)):
            fail(str(exc))
        raise


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what the interpreter does with a message as the exit code
    return 1


def _leave(code: int) -> NoReturn:
    """Exit once the command is done, output flushed, without the interpreter's teardown: DuckDB's
    and Arrow's native thread pools can abort the process while it tears down (`terminate called
    without an active exception`, duckdb/duckdb#13904, apache/arrow#34314), which would turn a
    finished command's exit status into SIGABRT."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # a reader gone (`| head`), a closed stream
            stream.flush()
    logging.shutdown()
    os._exit(code)
