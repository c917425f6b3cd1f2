"""A delivered report as a file: CSV and Excel as the reports API writes them, or a PDF with a
title, the period, a table of the rows and a totals line (ReportLab, as invoices use).

Totals are given for additive metrics only (sums and counts): a sum of averages or ratios would
be a wrong figure. Kinds grouped by currency get one totals line per currency.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from tally.reports.output import to_csv, to_xlsx
from tally.reports.run import ReportResult
from tally.subscriptions.model import Format

MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class Document:
    filename: str
    media_type: str
    data: bytes
    rows: int


def additive(result: ReportResult, metric: str) -> bool:
    m = result.spec.catalog.metrics[metric]
    return m.divisor is not None or m.sql.strip().lower().startswith(("sum(", "count("))


def totals(result: ReportResult) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Totals of the additive metrics, per value of the kind's always-grouped dimensions."""
    keys = tuple(d for d in result.spec.catalog.always_grouped if d in result.spec.group_by)
    metrics = [m for m in result.spec.metrics if additive(result, m)]
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in result.table.to_pylist():
        group = tuple(str(row[k]) for k in keys)
        sums = out.setdefault(group, dict.fromkeys(metrics, 0))
        for m in metrics:
            if row[m] is not None:
                sums[m] += row[m]
    return sorted(out.items())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def period_text(start: datetime, end: datetime) -> str:
    last = (end - timedelta(days=1)).date()
    return f"{start.date().isoformat()} to {last.isoformat()} (UTC)"


def to_pdf(result: ReportResult, title: str, period: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="Tally",
        invariant=True,
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    names = [n for n, _ in result.columns]
    dims = len(result.spec.group_by)
    rows = result.table.to_pylist()
    body: list[list[object]] = [
        [Paragraph(escape(_cell(r[n])), small) for n in names[:dims]] + [_cell(r[n]) for n in names[dims:]]
        for r in rows
    ]
    keys = [d for d in result.spec.catalog.always_grouped if d in result.spec.group_by]
    total_rows: list[list[object]] = []
    for group, sums in totals(result):
        line: list[object] = [""] * len(names)
        line[0] = "Total"
        for key, value in zip(keys, group, strict=True):
            line[names.index(key)] = value
        for metric, value in sums.items():
            line[names.index(metric)] = _cell(value)
        total_rows.append(line)
    width = doc.width / max(1, len(names))
    table = Table([names, *body, *total_rows], colWidths=[width] * len(names), repeatRows=1)
    n = len(body)
    style = [
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ALIGN", (dims, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if total_rows:
        style += [
            ("LINEABOVE", (0, n + 1), (-1, n + 1), 0.6, colors.black),
            ("FONTNAME", (0, n + 1), (-1, -1), "Helvetica-Bold"),
        ]
    table.setStyle(TableStyle(style))
    story: list[object] = [
        Paragraph(escape(title), styles["Title"]),
        Paragraph(escape(f"{result.spec.kind} report, {period}"), styles["BodyText"]),
        Spacer(1, 5 * mm),
        table if rows else Paragraph("No usage in this period within your grants.", styles["BodyText"]),
    ]
    doc.build(story)
    return buffer.getvalue()


def render(
    result: ReportResult, fmt: Format, title: str, start: datetime, end: datetime, slug: str
) -> Document:
    if fmt == "csv":
        data = to_csv(result)
    elif fmt == "xlsx":
        data = to_xlsx(result)
    else:
        data = to_pdf(result, title, period_text(start, end))
    return Document(f"{slug}.{fmt}", MEDIA_TYPES[fmt], data, result.table.num_rows)
