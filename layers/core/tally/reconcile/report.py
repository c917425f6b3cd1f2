"""The finance report of a run: CSV and Excel (typed columns, a header, one sheet per row kind)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import xlsxwriter

#: (column, header, kind) in report order; kind decides the cell type and format.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("day", "Day", "date"),
    ("provider", "Provider", "text"),
    ("account", "Account", "text"),
    ("resource_id", "Resource", "text"),
    ("instance_id", "Agent instance", "text"),
    ("verdict", "Verdict", "text"),
    ("billed_hours", "Billed hours", "hours"),
    ("measured_hours", "Measured hours", "hours"),
    ("cpu_hours", "CPU hours", "hours"),
    ("vcpus", "vCPUs", "int"),
    ("cost", "Cost", "money"),
    ("effective_cost", "Effective cost", "money"),
    ("flagged_cost", "Cost needing a look", "money"),
    ("currency", "Currency", "text"),
    ("detail", "Detail", "text"),
    ("billing_period", "Billing period", "text"),
    ("kind", "Row", "text"),
    ("run_id", "Run", "text"),
)


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "hours":
        return f"{value:.4f}"
    if kind == "money" and isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != 0 else "0"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def report_rows(*tables: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table in tables:
        rows += table.to_pylist()
    return rows


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header, _ in COLUMNS])
    for row in rows:
        writer.writerow([_csv_value(row.get(name), kind) for name, _, kind in COLUMNS])
    return out.getvalue().encode("utf-8")


def to_xlsx(
    instance_days: list[dict[str, Any]], invoices: list[dict[str, Any]], summary: dict[str, int]
) -> bytes:
    """Sheets: Findings (instance-days not ok), Instance days (all), Invoices, Summary."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1})
    formats = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "hours": book.add_format({"num_format": "0.00"}),
        "money": book.add_format({"num_format": "#,##0.00##"}),
        "int": book.add_format({"num_format": "0"}),
    }

    def sheet(name: str, rows: list[dict[str, Any]]) -> None:
        ws = book.add_worksheet(name)
        for col, (_, title, _) in enumerate(COLUMNS):
            ws.write_string(0, col, title, header)
        for r, row in enumerate(rows, start=1):
            for col, (column, _, kind) in enumerate(COLUMNS):
                value = row.get(column)
                if value is None:
                    ws.write_blank(r, col, None)
                    continue
                if kind == "date":
                    ws.write_datetime(r, col, datetime(value.year, value.month, value.day), formats["date"])
                elif kind in ("hours", "money", "int"):
                    ws.write_number(r, col, float(value), formats[kind])
                else:
                    ws.write_string(r, col, str(value))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(rows), 1), len(COLUMNS) - 1)
        ws.set_column(0, 0, 11)
        ws.set_column(1, len(COLUMNS) - 1, 16)

    sheet("Findings", [r for r in instance_days if r["verdict"] != "ok"])
    sheet("Instance days", instance_days)
    sheet("Invoices", invoices)
    ws = book.add_worksheet("Summary")
    ws.write_string(0, 0, "Verdict", header)
    ws.write_string(0, 1, "Instance-days", header)
    for r, (verdict, count) in enumerate(sorted(summary.items()), start=1):
        ws.write_string(r, 0, verdict)
        ws.write_number(r, 1, count, formats["int"])
    book.close()
    return buffer.getvalue()
