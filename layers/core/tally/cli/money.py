"""`tally tariffs ...` (the price list) and `tally invoices ...` (issue, list, show, download, credit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from tally.cli.common import fail, out, print_json, services
from tally.money.invoices import EVERY_INVOICE
from tally.money.render import render
from tally.money.tariffs import UNITS, Tariff

tariffs_app = typer.Typer(help="The price list invoices are priced with.", no_args_is_help=True)
invoices_app = typer.Typer(help="Invoices and credit notes per project and month.", no_args_is_help=True)


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
) -> None:
    """Create or replace a tariff."""
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
    stored, created = services().money.tariffs.put(tariff)
    print_json(stored.model_dump(mode="json"))
    out.print(f"{'created' if created else 'replaced'} tariff {stored.tariff_id}", highlight=False)


@tariffs_app.command("list")
def list_tariffs(site: Annotated[str | None, typer.Option(help="only this site")] = None) -> None:
    """Print the price list as JSON."""
    sites = frozenset({site}) if site else None
    print_json([t.model_dump(mode="json") for t in services().money.tariffs.list_tariffs(sites)])


@tariffs_app.command("show")
def show_tariff(tariff_id: str) -> None:
    """Print one tariff as JSON."""
    print_json(services().money.tariffs.get(tariff_id).model_dump(mode="json"))


@tariffs_app.command("remove")
def remove_tariff(tariff_id: str) -> None:
    """Remove a tariff (issued invoices keep the rates they were issued with)."""
    services().money.tariffs.remove(tariff_id)
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
) -> None:
    """Issue the invoice of a project's month and print it as JSON."""
    svc = services()
    if person is not None and svc.people.store.get_person(person) is None:
        fail(f"no person {person!r}: see `tally people list`")
    invoice = svc.money.issue(svc.engine, project, period, project_class, user, person_id=person)
    print_json(invoice.model_dump(mode="json"))


@invoices_app.command("list")
def list_invoices() -> None:
    """Print every invoice and credit note (without lines) as JSON."""
    print_json(
        [
            i.model_dump(mode="json", exclude={"lines", "issuer_address"})
            for i in services().money.visible(EVERY_INVOICE)
        ]
    )


@invoices_app.command("show")
def show(number: str) -> None:
    """Print one invoice as JSON."""
    print_json(services().money.find(number, EVERY_INVOICE).model_dump(mode="json"))


@invoices_app.command("download")
def download(
    number: str,
    fmt: Annotated[str, typer.Option("--format", help="pdf, csv or xlsx")] = "pdf",
    output: Annotated[Path | None, typer.Option("-o", help="file to write (default NUMBER.FORMAT)")] = None,
) -> None:
    """Write an invoice as PDF, CSV or Excel."""
    if fmt not in ("pdf", "csv", "xlsx"):
        fail(f"--format is pdf, csv or xlsx, not {fmt!r}")
    invoice = services().money.find(number, EVERY_INVOICE)
    path = output or Path(f"{invoice.number}.{fmt}")
    path.write_bytes(render(invoice, fmt))  # type: ignore[arg-type]
    out.print(f"wrote {path}", highlight=False)


@invoices_app.command("credit")
def credit(number: str) -> None:
    """Cancel an invoice with a credit note and issue its correction from today's usage and tariffs."""
    svc = services()
    note, fixed = svc.money.credit(svc.engine, number)
    print_json(
        {
            "credit_note": note.model_dump(mode="json"),
            "invoice": fixed.model_dump(mode="json") if fixed else None,
        }
    )
