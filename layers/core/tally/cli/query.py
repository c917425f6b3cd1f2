"""`tally query "SQL"`: any Athena SQL over the warehouse tables and views (DuckDB locally)."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from typing import Annotated, Literal

import orjson
import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Column, Table

from tally.cli.common import err, out, services
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
        view, needed = fitted_table(table, out.width)
        if needed <= out.width:
            out.print(view)
        else:
            # Wider than the terminal only when the numbers alone do not fit: never cut a number.
            Console(width=needed, force_terminal=out.is_terminal).print(view)
            err.print("the table is wider than the terminal; --format csv prints every column in full")


_TEXT_FLOOR = 8  # text columns fold down to this many characters before numbers would have to


def fitted_table(table: pa.Table, width: int) -> tuple[Table, int]:
    """A rich table for `width` characters: headers wrap at their underscores, numbers never wrap
    or shorten, text columns fold when space runs out. Also the width it needs (at most `width`
    when it fits)."""
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    headers = [name.replace("_", " ") for name in table.column_names]
    numeric = [_is_number(f.type) for f in table.schema]
    natural = [
        max(max((len(r[i]) for r in rows), default=0), *(len(w) for w in headers[i].split(" ")))
        for i in range(len(headers))
    ]
    widths = list(natural)
    available = width - (3 * len(widths) + 1)
    while sum(widths) > available:
        text = [i for i, w in enumerate(widths) if not numeric[i] and w > min(_TEXT_FLOOR, natural[i])]
        if not text:
            break
        widest = max(text, key=lambda i: widths[i])
        widths[widest] -= 1
    columns = [
        Column(h, justify="right" if n else "left", width=w, overflow="fold")
        for h, n, w in zip(headers, numeric, widths, strict=True)
    ]
    view = Table(*columns)
    for row in rows:
        view.add_row(*row)
    return view, sum(widths) + 3 * len(widths) + 1


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind))


def _exact(value: object) -> str:
    """JSON for what orjson does not know: money (Decimal) as an exact string, never a float."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _cell(value: object) -> str:
    """A value as a person reads it on screen: floats rounded, thousands grouped (csv/json keep all)."""
    if value is None:
        return ""
    if isinstance(value, (float, Decimal)):
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
        result = services().engine.query(sql)
    except QueryError as error:
        raise ValueError(str(error)) from error
    print_table(result.table, fmt)  # type: ignore[arg-type]
