"""`tally tariffs ...` (the price list, the cost tag mapping) and `tally invoices ...` (issue, list,
show, download, credit).

Run on the server's machine a command acts as its operator, as every `tally` command does. With
`--token` (or TALLY_TOKEN) it acts as the person whose personal access token that is, through the
one authorisation point: a project manager's `tally invoices list` lists their project's invoices,
and a user without the finance grant cannot issue one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from tally.api.money_access import invoice_reach, tariff_sites
from tally.api.problems import Problem
from tally.cli.common import fail, out, print_json, services
from tally.money.cost_rules import CostAttribution
from tally.money.invoices import Reach
from tally.money.render import render
from tally.money.tariffs import UNITS, Tariff
from tally.people.authz import Action, Fence, authorise
from tally.services.container import Services

tariffs_app = typer.Typer(help="The price list invoices are priced with.", no_args_is_help=True)
invoices_app = typer.Typer(help="Invoices and credit notes per project and month.", no_args_is_help=True)

Token = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="TALLY_TOKEN", help="act as this personal access token's person (default: operator)"
    ),
]


def _fence(svc: Services, token: str | None, action: Action) -> Fence:
    """The operator's (everything) or the token's person's fence for `action`; refusals exit 1."""
    if token is None:
        return Fence(everything=True)
    person = svc.people.token_principal(token)
    if person is None:
        fail("the personal access token is not valid, has expired or was revoked")
    try:
        return authorise(person, action)
    except Problem as refused:
        fail(refused.detail)


def _reach(svc: Services, token: str | None) -> Reach:
    return invoice_reach(_fence(svc, token, Action.INVOICES_READ))


@tariffs_app.command("set")
def set_tariff(
    tariff_id: Annotated[str, typer.Argument(help="the tariff's name, e.g. cluster1-core-2026")],
    site: Annotated[str, typer.Option(help="the resource's site")],
    resource: Annotated[str, typer.Option(help="the resource (a storage system for storage_tb_month)")],
    unit: Annotated[str, typer.Option(help=", ".join(UNITS))],
    rate: Annotated[str, typer.Option(help="the price of one unit, a decimal number")],
    currency: Annotated[str, typer.Option(help="ISO 4217, e.g. EUR")],
    valid_from: Annotated[str, typer.Option("--from", help="ISO 8601 date-time, UTC")],
    valid_to: Annotated[str | None, typer.Option("--to", help="exclusive; none: still valid")] = None,
    benchmark: Annotated[str | None, typer.Option(help="core_hour: HEPscore23 or HS06")] = None,
    gpu_model: Annotated[str | None, typer.Option(help="gpu_hour: the GPU model")] = None,
    project_class: Annotated[str | None, typer.Option(help="a price list of its own, e.g. external")] = None,
    note: Annotated[str | None, typer.Option()] = None,
    token: Token = None,
) -> None:
    """Create or replace a tariff."""
    svc = services()
    _fence(svc, token, Action.MONEY_MANAGE)
    fields: dict[str, Any] = {
        "tariff_id": tariff_id,
        "site": site,
        "resource": resource,
        "unit": unit,
        "rate": rate,
        "currency": currency,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "benchmark": benchmark,
        "gpu_model": gpu_model,
        "project_class": project_class,
        "note": note,
    }
    try:
        tariff = Tariff.model_validate(fields)
    except ValidationError as error:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
    stored, created = svc.money.tariffs.put(tariff)
    print_json(stored.model_dump(mode="json"))
    out.print(f"{'created' if created else 'replaced'} tariff {stored.tariff_id}", highlight=False)


@tariffs_app.command("list")
def list_tariffs(
    site: Annotated[str | None, typer.Option(help="only this site")] = None, token: Token = None
) -> None:
    """Print the price list as JSON."""
    svc = services()
    tariffs = svc.money.tariffs.list_tariffs(tariff_sites(_fence(svc, token, Action.TARIFFS_READ)))
    print_json([t.model_dump(mode="json") for t in tariffs if site is None or t.site == site])


@tariffs_app.command("show")
def show_tariff(tariff_id: str, token: Token = None) -> None:
    """Print one tariff as JSON."""
    svc = services()
    sites = tariff_sites(_fence(svc, token, Action.TARIFFS_READ))
    print_json(svc.money.tariffs.get(tariff_id, sites).model_dump(mode="json"))


@tariffs_app.command("remove")
def remove_tariff(tariff_id: str, token: Token = None) -> None:
    """Remove a tariff (issued invoices keep the rates they were issued with)."""
    svc = services()
    _fence(svc, token, Action.MONEY_MANAGE)
    svc.money.tariffs.remove(tariff_id)
    out.print(f"removed tariff {tariff_id}", highlight=False)


@invoices_app.command("issue")
def issue(
    project: Annotated[str, typer.Argument()],
    period: Annotated[str, typer.Argument(help="the month, YYYY-MM")],
    user: Annotated[str | None, typer.Option(help="only this user's usage")] = None,
    project_class: Annotated[str | None, typer.Option(help="price with this class's tariffs")] = None,
    person: Annotated[
        str | None, typer.Option(help="a per-person invoice: this person id's jobs (they may read it)")
    ] = None,
    token: Token = None,
) -> None:
    """Issue the invoice of a project's month and print it as JSON."""
    svc = services()
    _fence(svc, token, Action.MONEY_MANAGE)
    if person is not None and svc.people.store.get_person(person) is None:
        fail(f"no person {person!r}: see `tally people list`")
    invoice = svc.money.issue(svc.engine, project, period, project_class, user, person_id=person)
    print_json(invoice.model_dump(mode="json"))


@invoices_app.command("list")
def list_invoices(token: Token = None) -> None:
    """Print the invoices and credit notes (without lines) the caller may read as JSON."""
    svc = services()
    reach = _reach(svc, token)
    print_json(
        [i.model_dump(mode="json", exclude={"lines", "issuer_address"}) for i in svc.money.visible(reach)]
    )


@invoices_app.command("show")
def show(number: str, token: Token = None) -> None:
    """Print one invoice as JSON."""
    svc = services()
    print_json(svc.money.find(number, _reach(svc, token)).model_dump(mode="json"))


@invoices_app.command("download")
def download(
    number: str,
    fmt: Annotated[str, typer.Option("--format", help="pdf, csv or xlsx")] = "pdf",
    output: Annotated[Path | None, typer.Option("-o", help="file to write (default NUMBER.FORMAT)")] = None,
    token: Token = None,
) -> None:
    """Write an invoice as PDF, CSV or Excel."""
    if fmt not in ("pdf", "csv", "xlsx"):
        fail(f"--format is pdf, csv or xlsx, not {fmt!r}")
    svc = services()
    invoice = svc.money.find(number, _reach(svc, token))
    path = output or Path(f"{invoice.number}.{fmt}")
    path.write_bytes(render(invoice, fmt))  # type: ignore[arg-type]
    out.print(f"wrote {path}", highlight=False)


@invoices_app.command("credit")
def credit(number: str, token: Token = None) -> None:
    """Cancel an invoice with a credit note and issue its correction from today's usage and tariffs."""
    svc = services()
    _fence(svc, token, Action.MONEY_MANAGE)
    note, fixed = svc.money.credit(svc.engine, number)
    print_json(
        {
            "credit_note": note.model_dump(mode="json"),
            "invoice": fixed.model_dump(mode="json") if fixed else None,
        }
    )


@tariffs_app.command("cost-tags")
def cost_tags(
    key: Annotated[
        list[str] | None, typer.Option("--key", help="a tag key naming the project; repeat, first wins")
    ] = None,
    value: Annotated[list[str] | None, typer.Option("--value", help="TAG_VALUE=PROJECT; repeatable")] = None,
    token: Token = None,
) -> None:
    """Print the tag-to-project mapping of cloud cost; with --key or --value, replace it first."""
    svc = services()
    _fence(svc, token, Action.MONEY_MANAGE)
    if key or value:
        pairs = [v.partition("=") for v in value or []]
        if any(not sep for _, sep, _ in pairs):
            fail("--value takes TAG_VALUE=PROJECT")
        try:
            mapping = CostAttribution(tag_keys=key or [], values={t: p for t, _, p in pairs})
        except ValidationError as error:
            fail("; ".join(e["msg"] for e in error.errors()))
        svc.money.cost_rules.put(mapping)
    print_json(svc.money.cost_rules.get().model_dump(mode="json"))
