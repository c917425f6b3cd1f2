"""`tally report KIND --group-by ... --from ... --to ...`: the reports of the API, from the shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tally.cli.common import services
from tally.cli.query import print_table
from tally.reports.output import render
from tally.reports.run import run_report
from tally.reports.spec import OTHER, ReportError, make_spec


def report(
    kind: Annotated[str, typer.Argument(help="jobs, vms, storage or accelerators")],
    date_from: Annotated[str, typer.Option("--from", help="inclusive: YYYY-MM-DD or ISO date-time (UTC)")],
    date_to: Annotated[str, typer.Option("--to", help="exclusive: YYYY-MM-DD or ISO date-time (UTC)")],
    group_by: Annotated[list[str] | None, typer.Option("--group-by", "-g", help="dimensions")] = None,
    metrics: Annotated[list[str] | None, typer.Option("--metric", "-m", help="metrics")] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", "-w", help="DIMENSION=VALUE, repeatable")
    ] = None,
    order_by: Annotated[
        str | None,
        typer.Option("--order-by", help="a metric or dimension, optionally :asc or :desc"),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help=f"keep the top N by --order-by; the rest as one {OTHER!r} row"),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, xlsx or json")] = "table",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write to this file")] = None,
) -> None:
    """Aggregate usage by allow-listed dimensions and metrics over a time range."""
    filters: dict[str, list[str]] = {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ReportError(f"--where takes DIMENSION=VALUE, got {item!r}")
        filters.setdefault(name.strip(), []).append(value)
    spec = make_spec(
        kind, group_by or [], metrics or [], date_from, date_to, filters, order_by=order_by, limit=limit
    )
    result = run_report(services().engine, spec)
    if fmt == "table" and output is None:
        print_table(result.table, "table")
        return
    if fmt == "table":
        fmt = "csv"
    if fmt not in ("csv", "xlsx", "json"):
        raise ReportError("--format is one of table, csv, xlsx, json")
    data = render(result, fmt)  # type: ignore[arg-type]
    if output is not None:
        output.write_bytes(data)
    elif fmt == "xlsx":
        raise ReportError("an Excel report needs -o FILE")
    else:
        sys.stdout.buffer.write(data + (b"\n" if fmt == "json" else b""))
