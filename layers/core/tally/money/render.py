"""An invoice as a printable PDF (ReportLab), as CSV and as an Excel workbook (xlsxwriter).

ReportLab is imported when a PDF is asked for: on AWS it comes from the API function's documents
layer (infra/build.py), so the core layer stays within its size budget and no other function loads
it; a deployment that lacks it answers PDF downloads with PdfUnavailableError (CSV and Excel still
work).

Every format shows the same figures, as the stored document holds them: no figure is recomputed
here, so a download of an old invoice prints what was issued.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Literal

from tally.money.invoices import Invoice
from tally.money.tariffs import UNIT_LABELS

Format = Literal["pdf", "csv", "xlsx"]
MEDIA_TYPES: dict[Format, str] = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COLUMNS = ("site", "resource", "unit", "detail", "tariff", "quantity", "rate", "currency", "amount")


def title(invoice: Invoice) -> str:
    return "Credit note" if invoice.kind == "credit_note" else "Invoice"


def _rows(invoice: Invoice) -> list[list[str]]:
    return [
        [
            line.site,
            line.resource,
            UNIT_LABELS[line.unit],
            line.benchmark or line.gpu_model or "",
            line.tariff_id,
            _text(line.quantity),
            _text(line.rate),
            line.currency,
            _text(line.amount),
        ]
        for line in invoice.lines
    ]


def _text(value: Decimal) -> str:
    return format(value, "f")


def _header(invoice: Invoice) -> list[tuple[str, str]]:
    fields = [
        ("Number", invoice.number),
        ("Issue date", invoice.issue_date.isoformat()),
        ("Period", f"{invoice.period} ({invoice.period_start} to {invoice.period_end}, end exclusive)"),
        ("Project", invoice.project),
    ]
    if invoice.user:
        fields.append(("User", invoice.user))
    if invoice.project_class:
        fields.append(("Price list", invoice.project_class))
    if invoice.credits:
        fields.append(("Cancels invoice", invoice.credits))
    if invoice.corrects:
        fields.append(("Corrects invoice", invoice.corrects))
    return fields


def to_csv(invoice: Invoice) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["number", "kind", "issue_date", "period", "project", "user", *COLUMNS])
    meta = [
        invoice.number,
        invoice.kind,
        invoice.issue_date.isoformat(),
        invoice.period,
        invoice.project,
        invoice.user or "",
    ]
    for row in _rows(invoice):
        writer.writerow([*meta, *row])
    for currency, total in invoice.totals.items():
        writer.writerow([*meta, "", "", "total", "", "", "", "", currency, _text(total)])
    return buffer.getvalue().encode()


def to_xlsx(invoice: Invoice) -> bytes:
    buffer = io.BytesIO()
    import xlsxwriter  # loaded for the first workbook, not at start

    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(invoice.number)
    bold = book.add_format({"bold": True})
    sheet.write(0, 0, f"{title(invoice)} {invoice.number}", bold)
    sheet.write(1, 0, invoice.issuer)
    row = 3
    for name, value in _header(invoice):
        sheet.write(row, 0, name, bold)
        sheet.write(row, 1, value)
        row += 1
    row += 1
    for col, name in enumerate(COLUMNS):
        sheet.write(row, col, name, bold)
    for line_row in _rows(invoice):
        row += 1
        for col, value in enumerate(line_row):
            # Numbers as numbers for the spreadsheet, from their exact decimal text.
            if COLUMNS[col] in ("quantity", "rate", "amount"):
                sheet.write_number(row, col, float(value))
            else:
                sheet.write_string(row, col, value)
    row += 2
    for currency, total in invoice.totals.items():
        sheet.write(row, 6, "total", bold)
        sheet.write(row, 7, currency, bold)
        sheet.write_number(row, 8, float(total), bold)
        row += 1
    sheet.set_column(0, 1, 16)
    sheet.set_column(2, 4, 22)
    sheet.set_column(5, 8, 14)
    book.close()
    return buffer.getvalue()


class PdfUnavailableError(RuntimeError):
    """ReportLab is not installed where this runs."""


def to_pdf(invoice: Invoice) -> bytes:
    try:
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError as error:
        raise PdfUnavailableError(
            "PDF rendering needs ReportLab, which this deployment lacks: download .csv or .xlsx"
        ) from error
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{title(invoice)} {invoice.number}",
        author=invoice.issuer,
        invariant=True,  # the same document gives the same bytes (no creation time, fixed id)
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    story: list[object] = [
        Paragraph(_escape(invoice.issuer), styles["Title"]),
    ]
    if invoice.issuer_address:
        story.append(Paragraph(_escape(invoice.issuer_address).replace("\n", "<br/>"), styles["BodyText"]))
    story += [
        Spacer(1, 6 * mm),
        Paragraph(f"{title(invoice)} {invoice.number}", styles["Heading1"]),
        Table(
            [[name, _escape(value)] for name, value in _header(invoice)],
            colWidths=[40 * mm, 140 * mm],
            style=TableStyle([("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold")]),
        ),
        Spacer(1, 6 * mm),
    ]
    head = ["Site", "Resource", "Unit", "Detail", "Tariff", "Quantity", "Rate", "Cur.", "Amount"]
    # Text cells wrap (Paragraphs); figures stay plain strings, which the table right-aligns.
    body = [[Paragraph(_escape(cell), small) for cell in row[:5]] + row[5:] for row in _rows(invoice)]
    totals = [["", "", "", "", "", "", "Total", c, _text(t)] for c, t in invoice.totals.items()]
    table = Table(
        [head, *body, *totals],
        colWidths=[w * mm for w in (20, 22, 26, 24, 20, 20, 18, 12, 18)],
        repeatRows=1,
    )
    n = len(body)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("ALIGN", (5, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (0, n + 1), (-1, n + 1), 0.6, colors.black),
                ("FONTNAME", (0, n + 1), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    story += [table, Spacer(1, 8 * mm)]
    story.append(
        Paragraph(
            "Quantities come from Tally's usage views, each record priced at the tariff valid at its "
            "time; amounts are quantity x rate rounded to the currency's minor unit.",
            small,
        )
    )
    doc.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(invoice: Invoice, fmt: Format) -> bytes:
    if fmt == "pdf":
        return to_pdf(invoice)
    if fmt == "csv":
        return to_csv(invoice)
    return to_xlsx(invoice)
