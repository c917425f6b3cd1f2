"""Report results as JSON, CSV or Excel (a real .xlsx with a header and typed cells)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

from tally.reports.run import ReportResult

Format = Literal["json", "csv", "xlsx"]
MEDIA_TYPES: dict[Format, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        # A JSON number with the decimal's own digits, exactly as the CSV writes them.
        return orjson.Fragment(_digits(value))
    return value


def _digits(value: Decimal) -> str:
    return format(value, "f")


def to_json(result: ReportResult) -> dict[str, Any]:
    spec = result.spec
    direction = "desc" if spec.descending else "asc"
    return {
        "kind": spec.kind,
        "from": spec.start.isoformat().replace("+00:00", "Z"),
        "to": spec.end.isoformat().replace("+00:00", "Z"),
        "group_by": list(spec.group_by),
        "filters": {k: list(v) for k, v in spec.filters.items()},
        "order_by": None if spec.order_by is None else f"{spec.order_by}:{direction}",
        "limit": spec.limit,
        "columns": [{"name": n, "type": t} for n, t in result.columns],
        "rows": [{k: _plain(v) for k, v in row.items()} for row in result.table.to_pylist()],
        "engine": result.engine,
        "bytes_scanned": result.bytes_scanned,
    }


def to_csv(result: ReportResult) -> bytes:
    """RFC 4180 CSV: a header, ISO dates, `true`/`false`, numbers as Python writes them, empty = NULL."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _ in result.columns])
    for row in result.table.to_pylist():
        cells = []
        for name, kind in result.columns:
            value = row[name]
            if value is None:
                cells.append("")
            elif kind == "boolean":
                cells.append("true" if value else "false")
            elif kind == "date":
                cells.append(value.isoformat())
            elif isinstance(value, Decimal):
                cells.append(_digits(value))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def to_xlsx(result: ReportResult) -> bytes:
    buffer = io.BytesIO()
    import xlsxwriter  # loaded for the first workbook, not at start

    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    sheet = book.add_worksheet(result.spec.kind[:31])  # Excel's limit on a sheet name
    header = book.add_format({"bold": True, "bottom": 1})
    formats = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "integer": book.add_format({"num_format": "0"}),
        "number": book.add_format({"num_format": "0.000"}),
    }
    for col, (name, _) in enumerate(result.columns):
        sheet.write_string(0, col, name, header)
        sheet.set_column(col, col, max(12, len(name) + 2))
    for r, row in enumerate(result.table.to_pylist(), start=1):
        for col, (name, kind) in enumerate(result.columns):
            value = row[name]
            if value is None:
                sheet.write_blank(r, col, None)
            elif kind == "date":
                sheet.write_datetime(r, col, datetime.combine(value, datetime.min.time()), formats["date"])
            elif kind == "boolean":
                sheet.write_boolean(r, col, bool(value))
            elif kind in ("integer", "number"):
                sheet.write_number(r, col, float(value), formats[kind])
            else:
                sheet.write_string(r, col, str(value))
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def render(result: ReportResult, fmt: Format) -> bytes:
    if fmt == "csv":
        return to_csv(result)
    if fmt == "xlsx":
        return to_xlsx(result)
    return orjson.dumps(to_json(result))
