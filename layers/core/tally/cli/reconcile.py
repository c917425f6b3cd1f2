"""`tally reconcile --period YYYY-MM`: the invoice verifier on the local warehouse, with a summary
finance can read: runs of days with one verdict per instance on one line, each with its cost; the
period's days not settled yet; and whether any bill was imported (`--strict`: exit 2 if none)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tally.cli.common import fail, out, print_json, services

if TYPE_CHECKING:  # the verifier (numpy, the billing tables) loads only for this command
    from tally.reconcile.findings import FindingRun, UnsettledDays
    from tally.services.reconcile import RunSummary

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def reconcile(
    period: Annotated[str, typer.Option("--period", help="Billing period to verify, YYYY-MM.")],
    now: Annotated[
        str | None, typer.Option(help="Judge as if it were this UTC time (ISO 8601); default: now.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 2 when no bill is imported for the period.")
    ] = False,
) -> None:
    """Compare billed instance-hours with measured hours and write the verdicts and findings."""
    if not _PERIOD.match(period):
        fail(f"--period must be YYYY-MM, got {period!r}")
    when = datetime.now(UTC)
    if now is not None:
        try:
            when = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--now must be an ISO 8601 time, got {now!r}")
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    svc = services()
    from tally.reconcile.findings import finding_runs, unsettled_days

    service = svc.reconcile
    billed = any(f"/billing_period={period}/" in f"/{key}" for key in service.billing_keys(period))
    summary = service.run(period, when)
    judged_last = summary.last_day if summary.run_id else None
    pending = unsettled_days(period, judged_last, when, service.config.settle_hours)
    runs = finding_runs(summary.findings)
    if as_json:
        # Money as decimal text and days as ISO dates, never floats.
        document = {
            **summary.as_dict(),
            "bill_imported": billed,
            "unsettled": None if pending is None else pending.as_dict(),
            "finding_runs": [r.as_dict() for r in runs],
            "findings": summary.findings,
        }
        print_json(json.loads(json.dumps(document, default=str)))
    else:
        _print(period, summary, billed, pending, runs, svc.warehouse.uri)
    if strict and not billed:
        raise typer.Exit(2)


def _print(
    period: str,
    summary: RunSummary,
    billed: bool,
    pending: UnsettledDays | None,
    runs: list[FindingRun],
    uri: str,
) -> None:
    if not billed:
        out.print(
            f"No bill is imported for {period}: every measured instance-day reads as not billed. "
            "Import the provider's export with `tally billing import FILE`."
        )
    if summary.run_id:
        out.print(
            f"Period {period}: days {summary.first_day} to {summary.last_day}, run {summary.run_id}, "
            f"{summary.instance_days} instance-days"
        )
    if pending is not None:
        span = (
            str(pending.first_day)
            if pending.first_day == pending.last_day
            else f"{pending.first_day} to {pending.last_day}"
        )
        out.print(
            f"Not yet settled: {span} (judged from {pending.judged_from:%Y-%m-%d %H:%M} UTC on, "
            "once the provider's bill for a day has had time to arrive)"
        )
    if not summary.run_id:
        out.print(f"No closed day in {period} yet; nothing judged.")
        return
    costs: dict[str, dict[str, Decimal]] = {}
    for run in runs:
        if run.kind == "instance_day":
            by_currency = costs.setdefault(run.verdict, {})
            by_currency[run.currency or ""] = by_currency.get(run.currency or "", Decimal(0)) + run.cost
    table = Table("verdict", "instance-days", "cost", title="Instance-days")
    for verdict, count in sorted(summary.counts.items()):
        money = costs.get(verdict, {})
        table.add_row(verdict, str(count), ", ".join(_money(v, c) for c, v in sorted(money.items())))
    out.print(table)
    instance_runs = [r for r in runs if r.kind == "instance_day"]
    if instance_runs:
        findings = Table(title="Needs a look (consecutive days with one verdict on one line)")
        for name in ("provider", "instance", "verdict", "from", "to", "days", "billed h", "measured h"):
            findings.add_column(
                name, overflow="fold", justify="right" if name.endswith(("h", "days")) else "left"
            )
        findings.add_column("cost", justify="right", no_wrap=True)
        findings.add_column("detail", overflow="fold")
        for run in instance_runs:
            findings.add_row(
                run.provider,
                run.resource,
                run.verdict,
                str(run.first_day),
                str(run.last_day),
                str(run.days),
                _hours(run.billed_hours),
                _hours(run.measured_hours),
                _money(run.cost, run.currency),
                run.detail,
            )
        out.print(findings)
    invoices = [r for r in runs if r.kind == "invoice"]
    if invoices:
        bills = Table(title="Invoices")
        for name in ("provider", "invoice", "verdict", "total", "of it needing a look", "detail"):
            bills.add_column(name, overflow="fold", no_wrap=name in ("total", "of it needing a look"))
        for run in invoices:
            flagged = "" if run.flagged_cost is None else _money(run.flagged_cost, run.currency)
            bills.add_row(
                run.provider, run.resource, run.verdict, _money(run.cost, run.currency), flagged, run.detail
            )
        out.print(bills)
    for key in summary.findings_keys:
        out.print(f"findings: {uri}/{key}")


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _money(value: Decimal, currency: str | None) -> str:
    return f"{value:,.2f} {currency or ''}".rstrip()
