"""Invoices and credit notes: immutable documents of priced line items (pure domain).

Money is Decimal throughout: a line's quantity is rounded to QUANTITY_PLACES, its amount is
quantity x rate rounded half-up to the currency's minor units, and a total is the sum of its
currency's line amounts (so the printed lines add up to the printed total). A credit note repeats
the lines of the invoice it cancels with quantities and amounts negated, and names that invoice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tally.money.currencies import MINOR_UNITS
from tally.money.tariffs import Unit

QUANTITY_PLACES = 6
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
Kind = Literal["invoice", "credit_note"]


class InvoiceError(ValueError):
    """An invoice that cannot be issued (no priced usage, already credited, ...)."""


class NothingToInvoiceError(InvoiceError):
    """No priced usage in the period (no usage, or none a tariff covers)."""


class InvoiceNotFoundError(InvoiceError):
    """No invoice with that number (or none the caller may see)."""


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str
    resource: str
    unit: Unit
    benchmark: str | None = None
    gpu_model: str | None = None
    tariff_id: str
    currency: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    records: int

    @property
    def description(self) -> str:
        detail = self.benchmark or self.gpu_model
        return f"{self.site} / {self.resource}: {self.unit}" + (f" ({detail})" if detail else "")


class Invoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str
    kind: Kind = "invoice"
    issuer: str
    issuer_address: str = ""
    project: str
    user: str | None = None
    # A per-person invoice: the person whose usage it prices (their job records, resolved through
    # their identity links as person_usage does); that person may read it.
    person_id: str | None = None
    project_class: str | None = None
    period: Annotated[str, Field(pattern=PERIOD.pattern)]
    period_start: date
    period_end: date  # exclusive
    issue_date: date
    issued_at: datetime
    lines: list[Line]
    totals: dict[str, Decimal]
    credits: str | None = None  # a credit note: the invoice it cancels
    corrects: str | None = None  # a corrected invoice: the one it replaces

    @property
    def sites(self) -> frozenset[str]:
        return frozenset(line.site for line in self.lines)


@dataclass(frozen=True)
class Reach:
    """The invoices a caller may read: every one, or those of `projects` and the per-person
    invoices of `persons`."""

    everything: bool = False
    projects: frozenset[str] = frozenset()
    persons: frozenset[str] = frozenset()

    def allows(self, invoice: Invoice) -> bool:
        return (
            self.everything
            or invoice.project in self.projects
            or (invoice.person_id is not None and invoice.person_id in self.persons)
        )


EVERY_INVOICE = Reach(everything=True)


def period_bounds(period: str) -> tuple[date, date]:
    match = PERIOD.match(period)
    if match is None:
        raise InvoiceError(f"period {period!r} is not a month YYYY-MM")
    year, month = int(match[1]), int(match[2])
    if not 2000 <= year <= 9998:
        raise InvoiceError(f"period {period!r} lies outside the years 2000 to 9998")
    start = date(year, month, 1)
    return start, date(year + month // 12, month % 12 + 1, 1)


def quantity_of(value: float) -> Decimal:
    # repr gives the shortest decimal that reads back as the same double: no binary noise.
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-QUANTITY_PLACES), rounding=ROUND_HALF_EVEN)


def amount_of(quantity: Decimal, rate: Decimal, currency: str) -> Decimal:
    return (quantity * rate).quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


def totals_of(lines: list[Line]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        places = Decimal(1).scaleb(-MINOR_UNITS[line.currency])
        totals[line.currency] = (totals.get(line.currency, Decimal(0)) + line.amount).quantize(places)
    return dict(sorted(totals.items()))


def credit_lines(original: Invoice) -> list[Line]:
    return [
        line.model_copy(update={"quantity": -line.quantity, "amount": -line.amount})
        for line in original.lines
    ]


def now_utc() -> datetime:
    return datetime.now(UTC)
