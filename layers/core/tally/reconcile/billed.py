"""Billed instance-hours per instance and UTC day, from `billing` rows (FOCUS 1.2 columns).

Counted: Usage lines of a VM instance, priced by the hour (or second), bought on demand, spot,
dedicated, or covered by a savings plan or reservation (`x_purchase_option`). Never counted as
hours: fees, purchases, tax and credits (other charge categories), corrections, AWS savings-plan
negation lines (their cost offsets covered usage, so they join the instance-day's cost but add no
hours), lines of other resources (volumes, addresses), licence meters and non-hour units.

A line whose charge period runs over midnight is shared between the days in proportion to time.
GCP meters cores in vCPU-seconds: such lines (`per_vcpu`) are turned into instance-hours with the
vCPU count the agent measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.focus_schema import PURCHASE_OPTIONS
from tally.reconcile.ids import billed_instance_key, provider_key

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
NEGATION = "SavingsPlanNegation"
#: AWS usage types that are instance-hours (EBS-optimised, address or transfer lines are not).
_AWS_INSTANCE_USAGE = re.compile(r"(?i)BoxUsage|SpotUsage|DedicatedUsage|HeavyUsage")
_LICENCE = re.compile(r"(?i)licen[cs]e")
_PER_VCPU = re.compile(r"(?i)\b(core|vcpu)s?\b")
_QUANTUM = Decimal("1e-18")  # the places of the stored money columns
#: Room for 20 integer digits and 18 places (the default context's 28 digits are too few).
_WIDE = Context(prec=60, rounding=ROUND_HALF_EVEN)


@cache
def hours_per_unit(unit: str | None) -> float:
    """Instance-hours in one unit: 1 for hours, 1/3600 for seconds, 0 for anything else."""
    if not unit:
        return 0.0
    text = unit.strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)?\s*([a-z -]+?)s?", text)
    if not match:
        return 0.0
    block = float(match.group(1)) if match.group(1) else 1.0
    name = match.group(2).strip()
    if name in ("hour", "hr", "h", "instance hour", "instance-hour", "vm hour"):
        return block
    if name in ("second", "sec", "s"):
        return block / 3600
    if name in ("minute", "min"):
        return block / 60
    return 0.0


@dataclass
class BilledDay:
    """What a bill says about one instance on one UTC day (money per currency, exact decimals)."""

    provider: str
    key: str
    day: int  # days since 1970-01-01
    hours: float = 0.0
    vcpu_hours: float = 0.0  # per-vCPU metered hours, divided by the measured vCPUs at the join
    lines: int = 0
    cost: dict[str, Decimal] = field(default_factory=dict)
    effective_cost: dict[str, Decimal] = field(default_factory=dict)
    exact_actual: float = 0.0
    exact_expected: float = 0.0
    cap_actual: float = 0.0
    cap_limit: float = 0.0
    accounts: set[str] = field(default_factory=set)
    resource_ids: set[str] = field(default_factory=set)
    purchase_options: set[str] = field(default_factory=set)
    #: (billing_account_id, invoice_id, currency) -> billed cost of this instance-day in it.
    invoices: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)

    def add_money(self, target: dict[str, Decimal], currency: str, value: Decimal) -> None:
        target[currency] = _WIDE.add(target.get(currency, Decimal(0)), value)


def _string(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])


def _float(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name).cast(pa.float64())
    return pa.chunked_array([pa.nulls(table.num_rows, pa.float64())])


def _map_unique(values: pa.ChunkedArray, fn: object) -> pa.Array:
    encoded = pc.dictionary_encode(values).combine_chunks()
    mapped = pa.array([fn(v) for v in encoded.dictionary.to_pylist()])  # type: ignore[operator]
    return pc.take(mapped, encoded.indices)


#: The columns `select_lines` reads (others are ignored; missing ones count as null).
LINE_COLUMNS = (
    "provider",
    "resource_id",
    "x_vm_name",
    "x_line_item_type",
    "charge_category",
    "x_purchase_option",
    "charge_class",
    "consumed_unit",
    "pricing_unit",
    "x_usage_type",
    "service_name",
    "consumed_quantity",
    "pricing_quantity",
    "charge_description",
    "billed_cost",
    "effective_cost",
    "list_unit_price",
    "contracted_unit_price",
    "charge_period_start",
    "charge_period_end",
    "billing_currency",
    "sub_account_id",
    "billing_account_id",
    "invoice_id",
)


def _key_of(text: str | None) -> str | None:
    slug, resource, vm_name = (text or "\x1f\x1f").split("\x1f")
    return billed_instance_key(slug, resource or None, vm_name or None)


def instance_keys(billing: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Per row: the provider slug, and the instance key (null for lines of no VM instance)."""
    provider = _map_unique(_string(billing, "provider"), provider_key)
    ident = pc.binary_join_element_wise(
        provider,
        pc.fill_null(_string(billing, "resource_id"), ""),
        pc.fill_null(_string(billing, "x_vm_name"), ""),
        "\x1f",
    )
    return provider, _map_unique(ident, _key_of)


def select_lines(billing: pa.Table) -> pa.Table:
    """The rows that count for instance-days, with `key`, `day` pieces not yet split."""
    n = billing.num_rows
    provider, key = instance_keys(billing)
    line_type = pc.fill_null(_string(billing, "x_line_item_type"), "")
    negation = pc.equal(line_type, NEGATION)
    usage = pc.equal(pc.fill_null(_string(billing, "charge_category"), ""), "Usage")
    option = _string(billing, "x_purchase_option")
    option_ok = pc.is_in(option, value_set=pa.array(sorted(PURCHASE_OPTIONS)))
    not_correction = pc.invert(pc.equal(pc.fill_null(_string(billing, "charge_class"), ""), "Correction"))
    unit = pc.coalesce(_string(billing, "consumed_unit"), _string(billing, "pricing_unit"))
    factor = _map_unique(unit, hours_per_unit)
    usage_type = pc.fill_null(_string(billing, "x_usage_type"), "")
    aws_ok = pc.or_(
        pc.not_equal(provider, "aws"),
        pc.or_(pc.equal(usage_type, ""), pc.match_substring_regex(usage_type, _AWS_INSTANCE_USAGE.pattern)),
    )
    service = pc.fill_null(_string(billing, "service_name"), "")
    not_licence = pc.invert(pc.match_substring_regex(service, _LICENCE.pattern))
    hour_line = pc.and_(
        pc.and_(pc.and_(usage, option_ok), pc.and_(pc.invert(negation), not_correction)),
        pc.and_(pc.and_(pc.greater(factor, 0.0), aws_ok), not_licence),
    )
    keep = pc.and_(pc.is_valid(key), pc.or_(hour_line, pc.and_(negation, usage)))
    keep = pc.fill_null(keep, False)
    quantity = pc.coalesce(_float(billing, "consumed_quantity"), _float(billing, "pricing_quantity"))
    hours = pc.if_else(hour_line, pc.multiply(pc.fill_null(quantity, 0.0), factor), 0.0)
    text = pc.binary_join_element_wise(
        pc.fill_null(_string(billing, "charge_description"), ""), usage_type, " "
    )
    per_vcpu = pc.and_(pc.equal(provider, "gcp"), pc.match_substring_regex(text, _PER_VCPU.pattern))
    billed = _float(billing, "billed_cost")
    effective = _float(billing, "effective_cost")
    pricing_qty = _float(billing, "pricing_quantity")
    list_price = _float(billing, "list_unit_price")
    price = pc.coalesce(_float(billing, "contracted_unit_price"), list_price)
    exact = pc.and_(hour_line, pc.is_in(option, value_set=pa.array(["on_demand", "dedicated"])))
    exact = pc.and_(exact, pc.and_(pc.is_valid(price), pc.is_valid(pricing_qty)))
    capped = pc.and_(hour_line, pc.is_in(option, value_set=pa.array(["spot", "reserved", "savings_plan"])))
    capped = pc.and_(capped, pc.and_(pc.is_valid(list_price), pc.is_valid(pricing_qty)))
    exact = pc.fill_null(exact, False)
    capped = pc.fill_null(capped, False)
    cap_value = pc.if_else(pc.equal(option, "spot"), billed, pc.coalesce(effective, billed))
    zero = pa.scalar(0.0)
    columns = {
        "provider": provider,
        "key": key,
        "start": pc.cast(billing.column("charge_period_start"), pa.timestamp("us", tz="UTC")).cast(
            pa.int64()
        ),
        "end": pc.cast(billing.column("charge_period_end"), pa.timestamp("us", tz="UTC")).cast(pa.int64()),
        "hours": pc.if_else(per_vcpu, zero, hours),
        "vcpu_hours": pc.if_else(per_vcpu, hours, zero),
        "billed_cost": billing.column("billed_cost"),
        "effective_cost": billing.column("effective_cost"),
        "currency": billing.column("billing_currency"),
        "exact_actual": pc.if_else(exact, pc.fill_null(billed, 0.0), zero),
        "exact_expected": pc.if_else(exact, pc.fill_null(pc.multiply(pricing_qty, price), 0.0), zero),
        "cap_actual": pc.if_else(capped, pc.fill_null(cap_value, 0.0), zero),
        "cap_limit": pc.if_else(capped, pc.fill_null(pc.multiply(pricing_qty, list_price), 0.0), zero),
        "account": pc.fill_null(
            pc.coalesce(_string(billing, "sub_account_id"), _string(billing, "billing_account_id")), ""
        ),
        "billing_account_id": pc.fill_null(_string(billing, "billing_account_id"), ""),
        "invoice_id": pc.fill_null(_string(billing, "invoice_id"), ""),
        "resource_id": pc.fill_null(_string(billing, "resource_id"), ""),
        "purchase_option": pc.if_else(hour_line, option, pa.scalar(None, pa.string())),
    }
    table = pa.table(
        {
            name: (c if isinstance(c, pa.ChunkedArray) else pa.chunked_array([c]))
            for name, c in columns.items()
        }
    )
    assert table.num_rows == n
    return table.filter(keep)


_GROUP_KEYS = [
    "provider",
    "key",
    "day",
    "currency",
    "account",
    "billing_account_id",
    "invoice_id",
    "resource_id",
]
_SUMS = [
    "hours",
    "vcpu_hours",
    "billed_cost",
    "effective_cost",
    "exact_actual",
    "exact_expected",
    "cap_actual",
    "cap_limit",
]


def billed_days(billing: pa.Table) -> dict[tuple[str, str, int], BilledDay]:
    """Aggregate the bill per (provider, instance key, day since epoch)."""
    return billed_days_of_lines(select_lines(billing))


def billed_days_of_lines(lines: pa.Table) -> dict[tuple[str, str, int], BilledDay]:
    """`billed_days` of lines already chosen by `select_lines`: every line of an instance must be
    among them (its sums run in line order, so a subset of instances gives the same numbers)."""
    out: dict[tuple[str, str, int], BilledDay] = {}
    if lines.num_rows == 0:
        return out
    start = np.asarray(lines.column("start").to_numpy(), np.int64)
    end = np.asarray(lines.column("end").to_numpy(), np.int64)
    first = np.floor_divide(start, US_PER_DAY)
    last = np.floor_divide(np.maximum(end - 1, start), US_PER_DAY)
    one_day = first == last
    single = lines.filter(pa.array(one_day)).append_column("day", pa.array(first[one_day], pa.int64()))
    if single.num_rows:
        grouped = single.group_by(_GROUP_KEYS, use_threads=False).aggregate(
            [(c, "sum") for c in _SUMS] + [("purchase_option", "distinct"), ("hours", "count")]
        )
        _merge(out, grouped.to_pylist(), fraction=None)
    multi_rows = np.nonzero(~one_day)[0]
    if len(multi_rows):
        multi = lines.take(pa.array(multi_rows)).to_pylist()
        pieces: list[dict[str, object]] = []
        for row, lo, hi, d0, d1 in zip(
            multi, start[multi_rows], end[multi_rows], first[multi_rows], last[multi_rows], strict=True
        ):
            total = max(int(hi) - int(lo), 1)
            for day in range(int(d0), int(d1) + 1):
                overlap = min(int(hi), (day + 1) * US_PER_DAY) - max(int(lo), day * US_PER_DAY)
                if overlap <= 0:
                    continue
                piece = dict(row)
                piece["day"] = day
                piece["_fraction"] = (overlap, total)
                pieces.append(piece)
        _merge(out, pieces, fraction="_fraction")
    return out


def _scaled(value: object, fraction: tuple[int, int] | None) -> Decimal:
    if value is None:
        return Decimal(0)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if fraction is None:
        return number
    share = _WIDE.divide(_WIDE.multiply(number, fraction[0]), fraction[1])
    return share.quantize(_QUANTUM, context=_WIDE)


def _merge(
    out: dict[tuple[str, str, int], BilledDay], rows: Iterable[dict[str, object]], fraction: str | None
) -> None:
    for row in rows:
        share = row.get(fraction) if fraction else None
        part: tuple[int, int] | None = share if isinstance(share, tuple) else None
        ratio = part[0] / part[1] if part else 1.0
        suffix = "" if fraction else "_sum"
        ident = (str(row["provider"]), str(row["key"]), int(row["day"]))  # type: ignore[call-overload]
        day = out.get(ident)
        if day is None:
            day = out[ident] = BilledDay(*ident)
        currency = str(row["currency"] or "")
        day.hours += float(row[f"hours{suffix}"] or 0.0) * ratio  # type: ignore[arg-type]
        day.vcpu_hours += float(row[f"vcpu_hours{suffix}"] or 0.0) * ratio  # type: ignore[arg-type]
        day.exact_actual += float(row[f"exact_actual{suffix}"] or 0.0) * ratio  # type: ignore[arg-type]
        day.exact_expected += float(row[f"exact_expected{suffix}"] or 0.0) * ratio  # type: ignore[arg-type]
        day.cap_actual += float(row[f"cap_actual{suffix}"] or 0.0) * ratio  # type: ignore[arg-type]
        day.cap_limit += float(row[f"cap_limit{suffix}"] or 0.0) * ratio  # type: ignore[arg-type]
        cost = _scaled(row[f"billed_cost{suffix}"], part)
        day.add_money(day.cost, currency, cost)
        day.add_money(day.effective_cost, currency, _scaled(row[f"effective_cost{suffix}"], part))
        day.lines += int(row["hours_count"]) if not fraction else 1  # type: ignore[call-overload]
        if row["account"]:
            day.accounts.add(str(row["account"]))
        if row["resource_id"]:
            day.resource_ids.add(str(row["resource_id"]))
        options = row.get("purchase_option_distinct") if not fraction else [row["purchase_option"]]
        day.purchase_options.update(str(o) for o in (options or []) if o)  # type: ignore[attr-defined]
        invoice = (str(row["billing_account_id"]), str(row["invoice_id"]), currency)
        day.invoices[invoice] = _WIDE.add(day.invoices.get(invoice, Decimal(0)), cost)
