"""`tally subscriptions list|add|show|remove|run`: scheduled reports as the operator sees them
(every person's); /v1/me/subscriptions serves a person their own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tally.api.subscriptions import SubscriptionOut
from tally.cli.common import fail, print_json, services
from tally.domain.errors import RequestRefused

app = typer.Typer(help="Scheduled reports: saved views delivered weekly or monthly.", no_args_is_help=True)


@app.command("list")
def list_subscriptions(
    person: Annotated[str | None, typer.Option(help="Only this person's (a person id).")] = None,
) -> None:
    """The subscriptions, oldest first, as JSON (with the person each belongs to)."""
    print_json(
        [
            {**SubscriptionOut.of(s).model_dump(mode="json", exclude_none=True), "person_id": s.person_id}
            for s in services().subscriptions.list_subscriptions(person)
        ]
    )


@app.command("add")
def add(
    person: Annotated[str, typer.Option(help="The subscriber (a person id).")],
    view: Annotated[str, typer.Option(help="The name of one of their saved views.")],
    cadence: Annotated[str, typer.Option(help="weekly or monthly.")] = "monthly",
    format: Annotated[str, typer.Option("--format", help="csv, xlsx or pdf.")] = "pdf",
    channel: Annotated[str, typer.Option(help="email or webhook.")] = "email",
    url: Annotated[str | None, typer.Option(help="The webhook's URL (webhook only).")] = None,
) -> None:
    """Subscribe a person's saved view (checked as the API checks it)."""
    try:
        sub = services().subscriptions.create(person, view, cadence, format, channel, url)
    except RequestRefused as error:
        fail(error.detail)
    print_json(SubscriptionOut.of(sub).model_dump(mode="json", exclude_none=True))


@app.command("show")
def show(subscription_id: Annotated[str, typer.Argument(help="The subscription's id (s-...).")]) -> None:
    """One subscription with its deliveries, newest first."""
    svc = services().subscriptions
    try:
        sub = svc.get(subscription_id)
        out = SubscriptionOut.of(sub, svc.deliveries(subscription_id))
    except RequestRefused as error:
        fail(error.detail)
    print_json(out.model_dump(mode="json", exclude_none=True))


@app.command("remove")
def remove(subscription_id: Annotated[str, typer.Argument(help="The subscription's id (s-...).")]) -> None:
    try:
        services().subscriptions.delete(subscription_id)
    except RequestRefused as error:
        fail(error.detail)


@app.command("run")
def run(
    at: Annotated[
        str | None, typer.Option("--at", help="Run as of this UTC time (ISO 8601); default now.")
    ] = None,
) -> None:
    """Deliver every subscription's last ended period not yet delivered (once per period)."""
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--at {at!r} is not an ISO 8601 time")
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    print_json(services().subscriptions.run(when).as_dict())
