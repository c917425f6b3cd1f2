"""Shared paths and independent readers for the billing-import tests.

The helpers here read the raw files with the csv module and decimal.Decimal only: they are the
independent oracle the importer's totals are compared with.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, require_shared_data

DATA = SHARED_DATA / "billing"
QUANTUM = Decimal("1e-10")


def require_data() -> Path:
    return require_shared_data() / "billing"


@pytest.fixture
def data_dir() -> Path:
    return require_data()


def raw_rows(path: Path) -> list[dict[str, str]]:
    """Data rows as dicts (utf-8-sig drops the BOM); short rows are padded with empty strings."""
    text = path.read_text("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return [dict(zip(header, row + [""] * (len(header) - len(row)), strict=False)) for row in reader if row]


def money(text: str | None) -> Decimal:
    """A raw money string as the importer must read it: blank/NULL -> 0, '$1,000.00 ' -> 1000.00."""
    if text is None:
        return Decimal(0)
    cleaned = text.strip().replace("$", "").replace(",", "")
    if cleaned in ("", "NULL", "null"):
        return Decimal(0)
    return Decimal(cleaned).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
