"""Rendering without ReportLab (the Lambda layer has none): a clear error, which the API answers 501."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tally.money.invoices import Invoice, Line
from tally.money.render import PdfUnavailableError, render

LINE = Line(
    site="SITE-A",
    resource="cluster1",
    unit="core_hour",
    benchmark="HS06",
    tariff_id="t",
    currency="JPY",
    quantity=Decimal("3.000000"),
    rate=Decimal("7"),
    amount=Decimal("21"),
    records=1,
)
INVOICE = Invoice(
    number="INV-000001",
    issuer="Example Lab & Co <x>",
    project="p",
    period="2026-03",
    period_start=date(2026, 3, 1),
    period_end=date(2026, 4, 1),
    issue_date=date(2026, 4, 2),
    issued_at=datetime(2026, 4, 2, tzinfo=UTC),
    lines=[LINE],
    totals={"JPY": Decimal("21")},
)


def test_pdf_without_reportlab_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "reportlab.platypus", None)
    with pytest.raises(PdfUnavailableError, match=r"\.csv or \.xlsx"):
        render(INVOICE, "pdf")
    assert b"JPY,21" in render(INVOICE, "csv")


def test_pdf_is_deterministic_and_escapes_markup() -> None:
    first, second = render(INVOICE, "pdf"), render(INVOICE, "pdf")
    assert first == second and first.startswith(b"%PDF-")
