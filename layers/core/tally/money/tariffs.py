"""Tariffs: the rate of one unit of one resource (optionally for one project class) over a validity
interval [valid_from, valid_to), in one currency. Pure domain: no storage here.

One price at a time: tariffs sharing a resource, unit, GPU model and project class may not overlap
in time, whatever their currency or benchmark (a core-hour tariff names the benchmark its hours are
normalised with, and two benchmarks at once would bill the same job twice).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tally.money.currencies import check_currency
from tally.registry.entries import EntryTime, Note, OptText, Text

Unit = Literal["core_hour", "gpu_hour", "vm_vcpu_hour", "vm_gb_hour", "storage_tb_month"]
UNITS: tuple[Unit, ...] = ("core_hour", "gpu_hour", "vm_vcpu_hour", "vm_gb_hour", "storage_tb_month")
UNIT_LABELS: dict[Unit, str] = {
    "core_hour": "normalised core-hour",
    "gpu_hour": "GPU-hour",
    "vm_vcpu_hour": "VM vCPU-hour",
    "vm_gb_hour": "VM memory GB-hour",
    "storage_tb_month": "storage TB-month",
}
#: Rates are stored as decimal(38,18): at most 18 places, and 20 digits before the point.
RATE_PLACES = 18
MAX_RATE = Decimal(10) ** 12
TariffId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
TS = pa.timestamp("us", tz="UTC")
RATE_TYPE = pa.decimal128(38, RATE_PLACES)


class TariffError(ValueError):
    """A tariff, or a set of tariffs, the price list cannot hold."""


def _rate(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("a rate must be a finite decimal number")
    if value.as_tuple().exponent < -RATE_PLACES:  # type: ignore[operator]
        raise ValueError(f"a rate has at most {RATE_PLACES} decimal places")
    return value


Rate = Annotated[Decimal, Field(ge=0, le=MAX_RATE, allow_inf_nan=False), AfterValidator(_rate)]
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(check_currency)]


class Tariff(BaseModel):
    """`tariff_id` is the caller's name for it (PUT /v1/tariffs/{id}); `updated_at` is the store's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arrow_schema: ClassVar[pa.Schema] = pa.schema(
        [
            ("tariff_id", pa.string()),
            ("site", pa.string()),
            ("resource", pa.string()),
            ("unit", pa.string()),
            ("benchmark", pa.string()),
            ("gpu_model", pa.string()),
            ("project_class", pa.string()),
            ("rate", RATE_TYPE),
            ("currency", pa.string()),
            ("valid_from", TS),
            ("valid_to", TS),
            ("note", pa.string()),
            ("updated_at", TS),
        ]
    )

    tariff_id: TariffId
    site: Text
    resource: Text
    unit: Unit
    benchmark: Literal["HEPscore23", "HS06"] | None = None
    gpu_model: OptText = None
    project_class: Annotated[str | None, Field(default=None, min_length=1, max_length=64)] = None
    rate: Rate
    currency: Currency
    valid_from: EntryTime
    valid_to: EntryTime | None = None
    note: Note = None
    updated_at: EntryTime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Tariff:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if (self.unit == "core_hour") != (self.benchmark is not None):
            raise ValueError("a core_hour tariff names its benchmark (HEPscore23 or HS06); others none")
        if (self.unit == "gpu_hour") != (self.gpu_model is not None):
            raise ValueError("a gpu_hour tariff names its gpu_model; other units none")
        return self

    def price_key(self) -> tuple[object, ...]:
        return (self.site, self.resource, self.unit, self.gpu_model, self.project_class)

    def overlaps(self, other: Tariff) -> bool:
        if self.price_key() != other.price_key():
            return False
        end = self.valid_to or datetime.max.replace(tzinfo=self.valid_from.tzinfo)
        other_end = other.valid_to or datetime.max.replace(tzinfo=other.valid_from.tzinfo)
        return self.valid_from < other_end and other.valid_from < end

    def row(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.arrow_schema.names}


def check_tariffs(tariffs: list[Tariff]) -> None:
    """Raise TariffError unless the tariffs can stand together (unique ids, one price at a time)."""
    ids: set[str] = set()
    for tariff in tariffs:
        if tariff.tariff_id in ids:
            raise TariffError(f"tariff id {tariff.tariff_id!r} is used twice")
        ids.add(tariff.tariff_id)
    by_key: dict[tuple[object, ...], list[Tariff]] = {}
    for tariff in tariffs:
        by_key.setdefault(tariff.price_key(), []).append(tariff)
    for group in by_key.values():
        group.sort(key=lambda t: t.valid_from)
        for first, second in itertools.pairwise(group):
            if first.overlaps(second):
                raise TariffError(
                    f"tariffs {first.tariff_id} and {second.tariff_id} price {first.unit} of "
                    f"{first.site}/{first.resource} over overlapping intervals: end one before the "
                    "other starts"
                )
