"""`tally query "SQL"`: any Athena SQL over the warehouse tables and views (DuckDB locally)."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from typing import Annotated, Literal

import orjson
import pyarrow as pa
import typer
from rich.table import Column, Table

from tally.cli.common import out, services
from tally.query.config import open_engine
from tally.query.engine import QueryError


def print_table(table: pa.Table, fmt: Literal["table", "csv", "json"]) -> None:
    rows = table.to_pylist()
    if fmt == "json":
        sys.stdout.write(
            orjson.dumps(rows, default=_exact, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC).decode()
            + "\n"
        )
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(table.column_names)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row.values()])
    else:
        numeric = [pa.types.is_floating(f.type) or pa.types.is_integer(f.type) for f in table.schema]
        view = Table(
            *(
                Column(n, justify="right" if num else "left")
                for n, num in zip(table.column_names, numeric, strict=True)
            )
        )
        for row in rows:
            view.add_row(*(_cell(v) for v in row.values()))
        out.print(view)


def _exact(value: object) -> str:
    """JSON for what orjson does not know: money (Decimal) as an exact string, never a float."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _cell(value: object) -> str:
    """A value as a person reads it on screen: floats rounded, thousands grouped (csv/json keep all)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def query(
    sql: Annotated[str, typer.Argument(help="one Athena (Trino) SELECT over tables and views")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run SQL on the configured engine (DuckDB locally, Athena in AWS mode) and print the result."""
    if fmt not in ("table", "csv", "json"):
        raise ValueError("--format is one of table, csv, json")
    try:
        result = open_engine(services().settings).query(sql)
    except QueryError as error:
        raise ValueError(str(error)) from error
    print_table(result.table, fmt)  # type: ignore[arg-type]
