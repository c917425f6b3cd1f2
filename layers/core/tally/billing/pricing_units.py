"""Azure UnitOfMeasure -> (pricing block size, distinct unit), from the FinOps toolkit's PricingUnits.csv.

Azure prices some meters per block ("100 Hours", "10K"): Quantity and UnitPrice are per block.
The table ships with the package (data/finopstoolkit_PricingUnits.csv, MIT, see data/NOTICE.md).
Units missing from the table are parsed as "<number> <unit>" when they have that shape.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources

_LEADING_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMB]?)\s*(.*)$")
_SUFFIX = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}


@cache
def pricing_units() -> dict[str, tuple[Decimal, str]]:
    text = (
        resources.files("tally.billing")
        .joinpath("data/finopstoolkit_PricingUnits.csv")
        .read_text("utf-8-sig")
    )
    table: dict[str, tuple[Decimal, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        try:
            size = Decimal(row["PricingBlockSize"])
        except (InvalidOperation, KeyError):
            continue
        table[row["UnitOfMeasure"].strip().lower()] = (size, row["DistinctUnits"].strip())
    return table


def parse_unit(unit_of_measure: str) -> tuple[Decimal, str] | None:
    """("100 Hours") -> (Decimal(100), "Hours"); None when the text says nothing usable."""
    known = pricing_units().get(unit_of_measure.strip().lower())
    if known is not None:
        return known
    match = _LEADING_NUMBER.match(unit_of_measure)
    if match is None:
        return None
    size = Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    unit = match.group(3).strip() or "Units"
    if size <= 0:
        return None
    return size, unit
