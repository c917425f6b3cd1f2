"""The FOCUS rules Tally enforces on every imported row, named as in the FOCUS 1.2 validator model.

A row that breaks any of these is rejected (quarantined with the rule and its raw values), never
dropped or silently fixed. Rules that only describe intent, or that would quarantine real money for
missing metadata (e.g. PricingCategory nullability, ContractedCost presence), are not enforced.
`Tally-*` ids are structural rules that the FOCUS model does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.focus_schema import (
    MONEY_COLUMNS,
    MONEY_LIMIT_DIGITS,
    QUANTITY_COLUMNS,
    TIMESTAMP_COLUMNS,
)
from tally.billing.values import as_mask, to_decimal, to_timestamp

#: Rule id -> the FOCUS 1.2 validator model's "MustSatisfy" text (checked against the model in tests).
RULES: dict[str, str] = {
    "BilledCost-C-003-M": "BilledCost MUST NOT be null.",
    "BilledCost-C-004-M": "BilledCost MUST be a valid decimal value.",
    "EffectiveCost-C-003-M": "EffectiveCost MUST NOT be null.",
    "EffectiveCost-C-004-M": "EffectiveCost MUST be a valid decimal value.",
    "ListCost-C-004-M": "ListCost MUST be a valid decimal value.",
    "ContractedCost-C-004-M": "ContractedCost MUST be a valid decimal value.",
    "ListUnitPrice-C-002-M": "ListUnitPrice MUST conform to NumericFormat requirements.",
    "ContractedUnitPrice-C-003-M": "ContractedUnitPrice MUST conform to NumericFormat requirements.",
    "PricingQuantity-C-008-M": "PricingQuantity MUST be a valid decimal value.",
    "ConsumedQuantity-C-008-C": "ConsumedQuantity MUST be a valid decimal value when not null.",
    "BillingCurrency-C-003-M": "BillingCurrency MUST conform to CurrencyFormat requirements.",
    "BillingCurrency-C-004-M": "BillingCurrency MUST NOT be null.",
    "BillingAccountId-C-001-M": "BillingAccountId MUST NOT be null.",
    "ProviderName-C-003-M": "ProviderName MUST NOT be null.",
    "ChargeCategory-C-002-M": "ChargeCategory MUST NOT be null.",
    "ChargeCategory-C-003-M": "ChargeCategory MUST be one of the allowed values.",
    "ChargeClass-C-005-C": 'ChargeClass MUST be "Correction" when ChargeClass is not null.',
    "ChargeFrequency-C-003-M": "ChargeFrequency MUST be one of the allowed values.",
    "PricingCategory-C-007-M": "PricingCategory MUST be one of the allowed values.",
    "CommitmentDiscountStatus-C-005-M": "CommitmentDiscountStatus MUST be one of the allowed values.",
    "ChargePeriodStart-C-002-M": "ChargePeriodStart MUST conform to DateTimeFormat requirements.",
    "ChargePeriodStart-C-003-M": "ChargePeriodStart MUST NOT be null.",
    "ChargePeriodEnd-C-002-M": "ChargePeriodEnd MUST conform to DateTimeFormat requirements.",
    "ChargePeriodEnd-C-003-M": "ChargePeriodEnd MUST NOT be null.",
    "ChargePeriodEnd-C-004-M": (
        "ChargePeriodEnd MUST be the exclusive end bound of the effective period of the charge."
    ),
    "BillingPeriodStart-C-002-M": "BillingPeriodStart MUST conform to DateTimeFormat requirements.",
    "BillingPeriodStart-C-003-M": "BillingPeriodStart MUST NOT be null.",
    "BillingPeriodEnd-C-002-M": "BillingPeriodEnd MUST conform to DateTimeFormat requirements.",
    "BillingPeriodEnd-C-003-M": "BillingPeriodEnd MUST NOT be null.",
    "BillingPeriodEnd-C-004-M": "BillingPeriodEnd MUST be the exclusive end bound of the billing period.",
    "EffectiveCost-C-010-C": (
        'EffectiveCost of a charge unrelated to other charges (e.g., when the ChargeCategory is "Credit")'
        " MUST match the BilledCost."
    ),
    "Tally-ROW-001": "A CSV record MUST have as many fields as the header.",
}

CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
COMMITMENT_STATUSES = ("Used", "Unused")
CHARGE_CLASSES = ("Correction",)

_FOCUS_NAME = {
    "billed_cost": "BilledCost",
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
    "list_unit_price": "ListUnitPrice",
    "contracted_unit_price": "ContractedUnitPrice",
    "consumed_quantity": "ConsumedQuantity",
    "pricing_quantity": "PricingQuantity",
}
_DECIMAL_RULE = {
    "billed_cost": "BilledCost-C-004-M",
    "effective_cost": "EffectiveCost-C-004-M",
    "list_cost": "ListCost-C-004-M",
    "contracted_cost": "ContractedCost-C-004-M",
    "list_unit_price": "ListUnitPrice-C-002-M",
    "contracted_unit_price": "ContractedUnitPrice-C-003-M",
    "consumed_quantity": "ConsumedQuantity-C-008-C",
    "pricing_quantity": "PricingQuantity-C-008-M",
}
_TS_FOCUS = {
    "billing_period_start": "BillingPeriodStart",
    "billing_period_end": "BillingPeriodEnd",
    "charge_period_start": "ChargePeriodStart",
    "charge_period_end": "ChargePeriodEnd",
}
_ENUMS: dict[str, tuple[tuple[str, ...], str]] = {
    "charge_category": (CHARGE_CATEGORIES, "ChargeCategory-C-003-M"),
    "charge_frequency": (CHARGE_FREQUENCIES, "ChargeFrequency-C-003-M"),
    "pricing_category": (PRICING_CATEGORIES, "PricingCategory-C-007-M"),
    "commitment_discount_status": (COMMITMENT_STATUSES, "CommitmentDiscountStatus-C-005-M"),
    "charge_class": (CHARGE_CLASSES, "ChargeClass-C-005-C"),
}
_NOT_NULL = {
    "billed_cost": "BilledCost-C-003-M",
    "effective_cost": "EffectiveCost-C-003-M",
    "billing_currency": "BillingCurrency-C-004-M",
    "billing_account_id": "BillingAccountId-C-001-M",
    "provider_name": "ProviderName-C-003-M",
    "charge_category": "ChargeCategory-C-002-M",
    "charge_period_start": "ChargePeriodStart-C-003-M",
    "charge_period_end": "ChargePeriodEnd-C-003-M",
    "billing_period_start": "BillingPeriodStart-C-003-M",
    "billing_period_end": "BillingPeriodEnd-C-003-M",
}


@dataclass
class Checked:
    """Typed columns plus the rule breaches and repairs found while typing and checking them."""

    columns: dict[str, pa.Array]
    violations: list[tuple[str, str, pa.Array]]
    quirks: list[tuple[pa.Array, str]]
    #: Exact text of decimals written with more than MONEY_SCALE places (null where exact).
    exact: dict[str, pa.Array] = field(default_factory=dict)


def _canonical_enum(arr: pa.Array, allowed: tuple[str, ...]) -> tuple[pa.Array, pa.Array]:
    """Fix letter case of allowed values ("Usage-based" -> "Usage-Based"); report what changed."""
    lowered = pc.utf8_lower(arr)
    fixed = arr
    for value in allowed:
        fixed = pc.if_else(pc.equal(lowered, value.lower()), pa.scalar(value), fixed)
    changed = as_mask(pc.not_equal(fixed, arr))
    return fixed, changed


def check(columns: dict[str, pa.Array | None], n: int, defaults: dict[str, str]) -> Checked:
    """Type every mapped column and evaluate the enforced rules."""
    out: dict[str, pa.Array] = {}
    violations: list[tuple[str, str, pa.Array]] = []
    quirks: list[tuple[pa.Array, str]] = []
    exact: dict[str, pa.Array] = {}

    def column(name: str) -> pa.Array | None:
        value = columns.get(name)
        if name in defaults:
            fill = pa.scalar(defaults[name], pa.string())
            value = pa.repeat(fill, n) if value is None else pc.coalesce(value, fill)
        return value

    for name in (*MONEY_COLUMNS, *QUANTITY_COLUMNS):
        raw = column(name)
        if raw is None:
            continue
        parsed = to_decimal(raw)
        out[name] = parsed.values
        focus = _FOCUS_NAME[name]
        violations.append(
            (
                _DECIMAL_RULE[name],
                f"{focus} is not a decimal number (or beyond {MONEY_LIMIT_DIGITS} integer digits)",
                parsed.bad,
            )
        )
        exact[name] = parsed.exact
        quirks.append((parsed.reformatted, f"{focus} written as formatted text ($, thousands separators)"))
    for name in TIMESTAMP_COLUMNS:
        raw = column(name)
        if raw is None:
            continue
        values, bad = to_timestamp(raw)
        out[name] = values
        focus = _TS_FOCUS[name]
        violations.append((f"{focus}-C-002-M", f"{focus} is not a date/time", bad))
    for name, value in columns.items():
        if name not in out and value is not None:
            out[name] = value
    for name in defaults:
        if name not in out:
            filled = column(name)
            if filled is not None:
                out[name] = filled

    currency = out.get("billing_currency")
    if currency is not None:
        upper = pc.utf8_upper(currency)
        quirks.append((as_mask(pc.not_equal(upper, currency)), "BillingCurrency in lower case"))
        out["billing_currency"] = upper
        bad_currency = pc.invert(as_mask(pc.match_substring_regex(upper, r"^[A-Z]{3}$")))
        violations.append(
            (
                "BillingCurrency-C-003-M",
                "BillingCurrency is not an ISO 4217 code",
                pc.and_(bad_currency, pc.is_valid(upper)),
            )
        )

    for name, (allowed, rule) in _ENUMS.items():
        value = out.get(name)
        if value is None:
            continue
        fixed, changed = _canonical_enum(value, allowed)
        out[name] = fixed
        quirks.append((changed, f"{name} letter case normalised"))
        unknown = pc.and_(pc.is_valid(fixed), pc.invert(pc.is_in(fixed, value_set=pa.array(allowed))))
        violations.append((rule, f"{name} is not one of {', '.join(allowed)}", unknown))

    for name, rule in _NOT_NULL.items():
        value = out.get(name)
        missing = pa.repeat(pa.scalar(True), n) if value is None else pc.is_null(value)
        violations.append((rule, f"{name} is missing", missing))

    start, end = out.get("charge_period_start"), out.get("charge_period_end")
    if start is not None and end is not None:
        violations.append(
            (
                "ChargePeriodEnd-C-004-M",
                "ChargePeriodEnd is before ChargePeriodStart",
                as_mask(pc.less(end, start)),
            )
        )
    bstart, bend = out.get("billing_period_start"), out.get("billing_period_end")
    if bstart is not None and bend is not None:
        violations.append(
            (
                "BillingPeriodEnd-C-004-M",
                "BillingPeriodEnd is not after BillingPeriodStart",
                as_mask(pc.less_equal(bend, bstart)),
            )
        )
    return Checked(out, violations, quirks, exact)
