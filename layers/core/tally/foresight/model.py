"""Allocations: a project's amount of a unit on some resources (or all) for a period.

Units are normalised core-hours per benchmark and GPU-hours, each read from the jobs report metric
of the same meaning, so an allocation's `used` is the number a report gives; or money in one
currency, whose use is the project's priced usage (`usage_priced`: each record at the tariff valid
at its time, as invoices price it) in that currency.
Periods are whole UTC days: `start` inclusive, `end` exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from tally.domain.control import ControlError, validate_site_name
from tally.money.currencies import check_currency


class AllocationUnit(StrEnum):
    HEPSCORE23_CORE_HOURS = "hepscore23_core_hours"
    HS06_CORE_HOURS = "hs06_core_hours"
    GPU_HOURS = "gpu_hours"
    MONEY = "money"


#: The jobs report metric each unit is measured by (tally.reports.catalog.JOBS).
UNIT_METRIC: dict[AllocationUnit, str] = {
    AllocationUnit.HEPSCORE23_CORE_HOURS: "normalised_core_hours_hepscore23",
    AllocationUnit.HS06_CORE_HOURS: "normalised_core_hours_hs06",
    AllocationUnit.GPU_HOURS: "gpu_hours",
}

MAX_RESOURCES = 100
MAX_TEXT = 256
MAX_PERIOD_DAYS = 3660  # ten years: a period longer than that is a typing error
MAX_AMOUNT = Decimal("1e15")
#: Amounts are kept to a millionth of the unit, as report figures are (EXACT_PLACES).
MIN_AMOUNT = Decimal("0.000001")
ALLOCATION_ID = re.compile(r"^al-[0-9a-f]{12}$")


class AllocationError(ControlError):
    """An allocation request that cannot be carried out (bad values: 422)."""


class AllocationForbiddenError(AllocationError):
    """The caller's grants do not reach this change (403)."""


class AllocationNotFoundError(AllocationError):
    """No such allocation, or none the caller may see (404)."""


@dataclass(frozen=True, order=True)
class ResourceRef:
    """A resource at a site, or every resource of the site (`resource` None)."""

    site: str
    resource: str | None = None

    def covers(self, site: str, resource: str) -> bool:
        return site == self.site and (self.resource is None or resource == self.resource)

    def label(self) -> str:
        return self.site if self.resource is None else f"{self.site}/{self.resource}"


@dataclass(frozen=True)
class Allocation:
    allocation_id: str
    project: str
    #: Empty: the project's usage on every resource of every site.
    resources: tuple[ResourceRef, ...]
    unit: AllocationUnit
    amount: Decimal
    start: date
    end: date
    created_at: datetime
    created_by: str
    note: str = ""
    #: The currency of a money allocation (None for the other units).
    currency: str | None = None

    @property
    def sites(self) -> set[str]:
        return {r.site for r in self.resources}

    def covers(self, site: str, resource: str) -> bool:
        return not self.resources or any(r.covers(site, resource) for r in self.resources)

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def check_text(value: str, what: str, allow_empty: bool = False) -> str:
    value = value.strip()
    if (not value and not allow_empty) or len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise AllocationError(f"{what} must be {0 if allow_empty else 1} to {MAX_TEXT} printable characters")
    return value


def check_amount(value: Decimal | str | int | float) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise AllocationError(f"amount {value!r} is not a number") from error
    if not amount.is_finite() or amount < MIN_AMOUNT or amount > MAX_AMOUNT:
        raise AllocationError(f"amount must be a finite number from {MIN_AMOUNT} to {MAX_AMOUNT:,.0f}")
    return amount


def check_unit_currency(unit: AllocationUnit, currency: str | None) -> str | None:
    """A money allocation names its currency; the other units none."""
    if unit is AllocationUnit.MONEY:
        if currency is None:
            raise AllocationError("a money allocation names its currency (e.g. EUR)")
        try:
            return check_currency(currency)
        except ValueError as error:
            raise AllocationError(str(error)) from error
    if currency is not None:
        raise AllocationError(f"an allocation in {unit.value} has no currency")
    return None


def check_period(start: date, end: date) -> tuple[date, date]:
    if end <= start:
        raise AllocationError("the period's end (exclusive) must be after its start")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise AllocationError(f"a period is at most {MAX_PERIOD_DAYS} days")
    return start, end


def check_resources(refs: list[ResourceRef]) -> tuple[ResourceRef, ...]:
    if len(refs) > MAX_RESOURCES:
        raise AllocationError(f"an allocation names at most {MAX_RESOURCES} resources")
    out: list[ResourceRef] = []
    for ref in refs:
        try:
            site = validate_site_name(ref.site)
        except ControlError as error:
            raise AllocationError(str(error)) from error
        resource = None if ref.resource is None else check_text(ref.resource, "a resource name")
        out.append(ResourceRef(site, resource))
    if len(set(out)) != len(out):
        raise AllocationError("a resource is named twice")
    for ref in out:  # a whole site and one of its resources: the resource adds nothing
        if ref.resource is not None and ResourceRef(ref.site) in out:
            raise AllocationError(f"{ref.label()} is named beside all of {ref.site}: name one of them")
    return tuple(sorted(out))


def parse_resource(text: str) -> ResourceRef:
    """`SITE` (every resource of the site) or `SITE/RESOURCE`."""
    site, _, resource = text.partition("/")
    return ResourceRef(site, resource or None)
