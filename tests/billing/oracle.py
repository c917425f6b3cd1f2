"""Independent readers for the billing-import tests: the raw files read with the csv module and
decimal.Decimal only, the oracle the importer's totals are compared with."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path


def raw_rows(path: Path) -> list[dict[str, str]]:
    """Data rows as dicts (utf-8-sig drops the BOM); short rows are padded with empty strings."""
    text = path.read_text("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return [dict(zip(header, row + [""] * (len(header) - len(row)), strict=False)) for row in reader if row]


def money(text: str | None) -> Decimal:
    """A raw money string, every digit kept: blank/NULL -> 0, '$1,000.00 ' -> 1000.00, '1.6E-7' exact."""
    if text is None:
        return Decimal(0)
    cleaned = text.strip().replace("$", "").replace(",", "")
    if cleaned in ("", "NULL", "null"):
        return Decimal(0)
    return Decimal(cleaned)


def exact_value(row: dict[str, object], column: str) -> Decimal:
    """An imported amount with every digit the provider wrote (x_exact_amounts where it was rounded)."""
    extra = row.get("x_exact_amounts")
    if isinstance(extra, str):
        exact = json.loads(extra)
        if column in exact:
            return Decimal(exact[column])
    value = row[column]
    assert isinstance(value, Decimal), (column, value)
    return value
