"""`tally reconcile --period YYYY-MM`: the invoice verifier on the local warehouse, with a summary."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from tally.cli.common import fail, out, print_json, services
from tally.services.reconcile import ReconcileService

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def reconcile(
    period: Annotated[str, typer.Option("--period", help="Billing period to verify, YYYY-MM.")],
    now: Annotated[
        str | None, typer.Option(help="Judge as if it were this UTC time (ISO 8601); default: now.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Compare billed instance-hours with measured hours and write the verdicts and reports."""
    if not _PERIOD.match(period):
        fail(f"--period must be YYYY-MM, got {period!r}")
    when = datetime.now(UTC)
    if now is not None:
        when = datetime.fromisoformat(now.replace("Z", "+00:00"))
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    svc = services()
    summary = ReconcileService.from_env(svc.warehouse, svc.settings).run(period, when)
    if as_json:
        # Money as decimal text and days as ISO dates, never floats.
        print_json(json.loads(json.dumps({**summary.as_dict(), "findings": summary.findings}, default=str)))
        return
    if not summary.run_id:
        out.print(f"No closed day in {period} yet (settle time); nothing judged.")
        return
    out.print(
        f"Period {period}: days {summary.first_day} to {summary.last_day}, run {summary.run_id}, "
        f"{summary.instance_days} instance-days"
    )
    table = Table("verdict", "instance-days", title="Instance-days")
    for verdict, count in sorted(summary.counts.items()):
        table.add_row(verdict, str(count))
    out.print(table)
    if summary.findings:
        findings = Table(title="Findings")
        for name in ("day", "provider", "instance", "verdict", "billed h", "measured h", "detail"):
            findings.add_column(name, overflow="fold")
        for row in summary.findings[:40]:
            findings.add_row(
                str(row["day"]),
                str(row["provider"]),
                str(row["instance_id"] or row["resource_id"]),
                str(row["verdict"]),
                "" if row["billed_hours"] is None else f"{row['billed_hours']:.2f}",
                "" if row["measured_hours"] is None else f"{row['measured_hours']:.2f}",
                str(row["detail"] or ""),
            )
        out.print(findings)
    for key in summary.report_keys:
        out.print(f"report: {svc.warehouse.uri}/{key}")
