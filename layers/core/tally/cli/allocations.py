"""`tally allocations ...`, `tally fairshare` and `tally forecast`: allocations with their status,
fair share and usage forecasts from the shell. The command line acts as the operator (it holds the
control store): it sees every allocation, and changes are audited as `cli:<login>`."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from tally.api.foresight_models import AllocationOut, AllocationStatusOut, UsageForecastOut, fairshare_row
from tally.cli.common import fail, out, print_json, services
from tally.foresight.fairshare import DIMENSIONS, UNIT_COLUMNS, FairshareSpec
from tally.foresight.model import AllocationUnit, parse_resource
from tally.foresight.service import AllocationIn
from tally.people.authz import Fence
from tally.reports.spec import parse_time

app = typer.Typer(
    help="Allocations: a project's amount of a unit on resources for a period.", no_args_is_help=True
)
OPERATOR = Fence(everything=True)
UNITS = ", ".join(u.value for u in AllocationUnit)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{name}: {text!r} is not a date (YYYY-MM-DD)")


def _unit(text: str) -> AllocationUnit:
    try:
        return AllocationUnit(text)
    except ValueError:
        fail(f"unit {text!r}: use one of {UNITS}")


def _body(
    project: str,
    unit: str,
    amount: str,
    start: str,
    end: str,
    resource: list[str] | None,
    note: str,
    currency: str | None = None,
) -> AllocationIn:
    refs = tuple(parse_resource(r) for r in resource or [])
    return AllocationIn(
        project,
        refs,
        _unit(unit),
        Decimal(amount),
        _day(start, "--start"),
        _day(end, "--end"),
        note,
        currency,
    )


Currency = Annotated[str | None, typer.Option("--currency", help="a money allocation's currency, e.g. EUR")]


Resources = Annotated[
    list[str] | None,
    typer.Option("--resource", help="SITE or SITE/RESOURCE, repeatable; none: every resource"),
]


@app.command("add")
def add(
    project: Annotated[str, typer.Argument(help="The project (account) of the jobs.")],
    unit: Annotated[str, typer.Option("--unit", help=UNITS)],
    amount: Annotated[str, typer.Option("--amount", help="in the unit, e.g. 250000")],
    start: Annotated[str, typer.Option("--start", help="first day, YYYY-MM-DD (UTC)")],
    end: Annotated[str, typer.Option("--end", help="the day after the last, YYYY-MM-DD")],
    resource: Resources = None,
    note: Annotated[str, typer.Option("--note")] = "",
    currency: Currency = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the allocation as JSON.")] = False,
) -> None:
    """Give a project an allocation."""
    made = services().foresight.create(
        _body(project, unit, amount, start, end, resource, note, currency), OPERATOR, _actor()
    )
    if as_json:
        print_json(AllocationOut.of(made).model_dump(mode="json"))
    else:
        out.print(f"allocation {made.allocation_id} added")


@app.command("change")
def change(
    allocation_id: Annotated[str, typer.Argument()],
    project: Annotated[str, typer.Option("--project")],
    unit: Annotated[str, typer.Option("--unit", help=UNITS)],
    amount: Annotated[str, typer.Option("--amount")],
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
    resource: Resources = None,
    note: Annotated[str, typer.Option("--note")] = "",
    currency: Currency = None,
) -> None:
    """Replace an allocation's terms (all of them, as given)."""
    body = _body(project, unit, amount, start, end, resource, note, currency)
    services().foresight.replace(allocation_id, body, OPERATOR, _actor())
    out.print(f"allocation {allocation_id} changed")


@app.command("list")
def list_allocations(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every allocation."""
    allocations = services().foresight.store.list()
    if as_json:
        print_json([AllocationOut.of(a).model_dump(mode="json") for a in allocations])
        return
    table = Table("allocation", "project", "resources", "unit", "amount", "period")
    for a in allocations:
        resources = ", ".join(r.label() for r in a.resources) or "all"
        period = f"{a.start} .. {a.end - timedelta(days=1)}"
        table.add_row(a.allocation_id, a.project, resources, a.unit.value, f"{a.amount:,}", period)
    out.print(table)


@app.command("status")
def status(allocation_id: Annotated[str, typer.Argument()]) -> None:
    """Used, remaining, burn rates and the forecast to the period's end (JSON)."""
    foresight = services().foresight
    print_json(
        AllocationStatusOut.of(
            foresight.allocation_status(foresight.visible_one(OPERATOR, allocation_id))
        ).model_dump(mode="json")
    )


@app.command("remove")
def remove(allocation_id: Annotated[str, typer.Argument()]) -> None:
    """Remove an allocation."""
    services().foresight.delete(allocation_id, OPERATOR, _actor())
    out.print(f"allocation {allocation_id} removed")


def fairshare(
    group_by: Annotated[
        list[str] | None, typer.Option("--group-by", "-g", help=", ".join(DIMENSIONS))
    ] = None,
    unit: Annotated[str, typer.Option("--unit", help=", ".join(UNIT_COLUMNS))] = "normalised_core_hours",
    half_life_days: Annotated[float | None, typer.Option("--half-life-days", min=0.001)] = None,
    at: Annotated[str | None, typer.Option("--at", help="age usage to this instant (default now)")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="oldest job end (default ten half-lives)")
    ] = None,
) -> None:
    """Fair share: usage decayed by the half-life (Slurm's decay), per project and user by default."""
    svc = services()
    settings = svc.settings.foresight
    names = [n.strip() for g in group_by or ["project,user"] for n in g.split(",") if n.strip()]
    if any(n not in DIMENSIONS for n in names) or len(set(names)) != len(names):
        fail(f"--group-by takes distinct names of {', '.join(DIMENSIONS)}")
    if unit not in UNIT_COLUMNS:
        fail(f"--unit is one of {', '.join(UNIT_COLUMNS)}")
    half_life = half_life_days or settings.half_life_days
    at_time = parse_time(at, "--at") if at else datetime.now(UTC)
    start = (
        parse_time(since, "--since")
        if since
        else at_time - timedelta(days=half_life * settings.fairshare_half_lives)
    )
    spec = FairshareSpec(tuple(names), unit, at_time, half_life, start, {}, None)
    print_json([fairshare_row(r) for r in svc.foresight.fairshare(spec)])


def forecast(
    unit: Annotated[str, typer.Option("--unit", help=UNITS)] = AllocationUnit.HEPSCORE23_CORE_HOURS.value,
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default next month)")] = None,
) -> None:
    """Capacity planning: each site and resource's forecast use in a coming month (JSON)."""
    chosen = _unit(unit)
    today = datetime.now(UTC).date()
    wanted = (
        _day(f"{month}-01", "--month")
        if month
        else (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    )
    rows = services().foresight.usage_forecast(chosen, wanted, None)
    print_json([UsageForecastOut.of(r, chosen).model_dump(mode="json") for r in rows])
