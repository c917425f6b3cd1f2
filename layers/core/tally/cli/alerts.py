"""`tally alerts run|list|ack` and `tally alerts rules add|list|show|remove`: the alerts, as the
operator (every site) sees them; /v1/alerts serves the same within a caller's grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError

from tally.alerts.kinds import RULE_KINDS
from tally.alerts.kinds.base import InvalidParamsError
from tally.alerts.model import AlertError, AlertRule, RuleInput, alert_json
from tally.api.alerts_models import RuleOut
from tally.cli.common import fail, print_json, services
from tally.people.authz import Fence

app = typer.Typer(help="Alert rules, their evaluation and the alerts they fired.", no_args_is_help=True)
rules = typer.Typer(help="Add, list, show and remove alert rules.", no_args_is_help=True)
app.add_typer(rules, name="rules")
OPERATOR = Fence(everything=True)


def _rule_json(rule: AlertRule) -> dict[str, object]:
    return RuleOut.of(rule).model_dump(mode="json")


@app.command("run")
def run(
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluate as of this UTC time (ISO 8601); default now.")
    ] = None,
) -> None:
    """Evaluate every enabled rule once: fire new conditions, resolve those gone, deliver both."""
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--at {at!r} is not an ISO 8601 time")
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    print_json(services().alerts.run(when).as_dict())


@app.command("list")
def list_alerts(
    state: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    kind: Annotated[str | None, typer.Option(help="A rule kind.")] = None,
    site: Annotated[str | None, typer.Option(help="A site.")] = None,
) -> None:
    """The alerts, newest first, as JSON."""
    if state not in (None, "open", "resolved"):
        fail("--state is open or resolved")
    alerts = services().alerts.list_alerts(OPERATOR, state=state, kind=kind, site=site)  # type: ignore[arg-type]
    print_json([alert_json(a) for a in alerts])


@app.command("ack")
def acknowledge(alert_id: Annotated[str, typer.Argument(help="The alert's id (a-...).")]) -> None:
    try:
        print_json(alert_json(services().alerts.acknowledge(alert_id, OPERATOR, "cli")))
    except AlertError as error:
        fail(str(error))


@rules.command("add")
def add(
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(sorted(RULE_KINDS))}.")],
    name: Annotated[str, typer.Option(help="A label for people.")] = "",
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    resource: Annotated[str | None, typer.Option(help="Only this resource (of --site).")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    params: Annotated[
        str, typer.Option(help="The kind's parameters as a JSON object, e.g. '{\"hours\": 12}'.")
    ] = "{}",
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it switched off.")] = False,
) -> None:
    try:
        given = RuleInput.model_validate(
            {
                "kind": kind,
                "name": name,
                "scope": {"site": site, "resource": resource, "project": project},
                "params": orjson.loads(params),
                "enabled": not disabled,
            }
        )
        rule = services().alerts.add_rule(given, OPERATOR, "cli")
    except orjson.JSONDecodeError:
        fail("--params is not a JSON object")
    except ValidationError as error:
        fail("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()))
    except InvalidParamsError as error:
        fail(f"{error}: " + "; ".join(f"{e['field']}: {e['message']}" for e in error.errors))
    except AlertError as error:
        fail(str(error))
    print_json(_rule_json(rule))


@rules.command("list")
def list_rules() -> None:
    print_json([_rule_json(r) for r in services().alerts.list_rules(OPERATOR)])


@rules.command("show")
def show(rule_id: Annotated[str, typer.Argument(help="The rule's id (r-...).")]) -> None:
    try:
        print_json(_rule_json(services().alerts.get_rule(rule_id, OPERATOR)))
    except AlertError as error:
        fail(str(error))


@rules.command("remove")
def remove(rule_id: Annotated[str, typer.Argument(help="The rule's id (r-...).")]) -> None:
    try:
        services().alerts.delete_rule(rule_id, OPERATOR)
    except AlertError as error:
        fail(str(error))
    typer.echo(f"removed {rule_id}; its open alerts resolve at the next run")
