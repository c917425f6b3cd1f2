"""`tally`: the server-side command line. All local state lives under TALLY_HOME (default ./var).

Command groups live in their own modules and are registered here.
"""

from __future__ import annotations

import typer

from tally.api.problems import Problem
from tally.cli import allocations, keys, people, serve, sites
from tally.cli.alerts import app as alerts_app
from tally.cli.apel import app as apel_app
from tally.cli.billing import app as billing_app
from tally.cli.common import fail
from tally.cli.kinds import app as kinds_app
from tally.cli.logs import app as logs_app
from tally.cli.money import invoices_app, tariffs_app
from tally.cli.query import query as query_command
from tally.cli.reconcile import reconcile as reconcile_command
from tally.cli.registry import app as registry_app
from tally.cli.report import report as report_command
from tally.cli.subscriptions import app as subscriptions_app
from tally.domain.control import ControlError
from tally.domain.errors import RequestRefused

app = typer.Typer(
    name="tally",
    help="Tally: usage accounting for research infrastructure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(sites.app, name="sites")
app.add_typer(keys.app, name="keys")
app.add_typer(billing_app, name="billing")
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.command("openapi")(serve.openapi)
app.command("query")(query_command)
app.command("report")(report_command)
app.command("reconcile")(reconcile_command)
app.add_typer(registry_app, name="registry")
app.add_typer(apel_app, name="apel")
app.add_typer(logs_app, name="logs")
app.add_typer(kinds_app, name="kinds")
app.add_typer(people.app, name="people")
app.add_typer(allocations.app, name="allocations")
app.command("fairshare")(allocations.fairshare)
app.command("forecast")(allocations.forecast)
app.add_typer(alerts_app, name="alerts")
app.add_typer(tariffs_app, name="tariffs")
app.add_typer(invoices_app, name="invoices")
app.add_typer(subscriptions_app, name="subscriptions")


def main() -> None:
    """Console-script entry: expected failures become one clear line and exit code 1."""
    try:
        app()
    except (ControlError, Problem, RequestRefused, ValueError, OSError) as exc:
        fail(str(exc))
