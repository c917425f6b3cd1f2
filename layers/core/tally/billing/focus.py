"""FOCUS 1.0-1.3 files: PascalCase columns to the snake_case `billing` columns.

Quirks handled (seen in the FinOps Foundation's FOCUS 1.0 sample and the 1.2 spec examples):
literal "NULL"/"null" strings are nulls; timestamps without "T"/"Z" are UTC; the non-FOCUS `Id`
column becomes `x_line_item_id`; enumerations with the wrong letter case ("Usage-based") are
fixed; money written as "$10,000.00 " is normalised; an EffectiveCost (or ContractedCost) that was
truncated to an integer in the source is detected (integral, different from BilledCost and equal to
BilledCost rounded to an integer) and repaired from BilledCost when no commitment discount applies
(FOCUS: EffectiveCost equals BilledCost for charges not amortising a commitment), otherwise the row
is quarantined. Every repair is written into the row's `x_quirks`.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.focus_schema import MAPPED_COLUMNS
from tally.billing.frame import FileContext, Frame, Mapped
from tally.billing.rules import Checked
from tally.billing.tags import from_text
from tally.billing.values import as_mask, lookup, map_unique

PROVIDER_SLUGS: dict[str, str] = {
    "aws": "aws",
    "amazon web services": "aws",
    "amazon": "aws",
    "microsoft": "azure",
    "microsoft azure": "azure",
    "azure": "azure",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "google": "gcp",
    "gcp": "gcp",
    "oracle": "oci",
    "oracle cloud infrastructure": "oci",
    "oci": "oci",
    "alibaba cloud": "alibaba",
    "ibm cloud": "ibm",
}

_EXTRA_SOURCES: dict[str, tuple[str, ...]] = {
    "x_instance_type": ("x_InstanceType", "x_SkuInstanceType"),
    "x_usage_type": ("x_UsageType", "x_SkuMeterSubcategory"),
    "x_operation": ("x_Operation",),
    "x_line_item_type": ("x_ChargeType", "x_LineItemType"),
    "x_vm_name": ("x_VMName",),
    "x_line_item_id": ("Id", "x_LineItemId", "x_Id"),
}


def provider_slug(name: str) -> str:
    """Provider display name -> lowercase key ("Microsoft" -> "azure", "ACME Corp" -> "acme-corp")."""
    key = name.strip().lower()
    return PROVIDER_SLUGS.get(key) or re.sub(r"[^a-z0-9]+", "-", key).strip("-") or "unknown"


def map_focus(frame: Frame, context: FileContext) -> Mapped:
    n = frame.num_rows
    cols: dict[str, pa.Array | None] = {}
    for name in MAPPED_COLUMNS:
        if name.startswith("x_"):
            continue
        cols[name] = frame.get(name)
    cols["provider_name"] = frame.coalesce("ProviderName", "ServiceProviderName")
    for name, sources in _EXTRA_SOURCES.items():
        cols[name] = frame.coalesce(*sources)

    quirks: list[tuple[pa.Array, str]] = []
    tags = cols.get("tags")
    if tags is not None:
        parsed, unparsed = from_text(tags)
        cols["tags"] = parsed
        quirks.append((unparsed, "Tags not a JSON object; kept as x_unparsed"))

    provider_name = cols["provider_name"]
    provider = (
        pa.repeat(pa.scalar("unknown"), n)
        if provider_name is None
        else pc.fill_null(map_unique(provider_name, provider_slug), "unknown")
    )
    cols["x_purchase_option"] = _purchase_option(cols)
    return Mapped(
        columns=cols, provider=provider, quirks=quirks, repair=repair_truncated_costs, provider_from_name=True
    )


def _purchase_option(cols: dict[str, pa.Array | None]) -> pa.Array | None:
    category, pricing = cols.get("charge_category"), cols.get("pricing_category")
    if category is None or pricing is None:
        return None
    cd_type = cols.get("commitment_discount_type")
    option = lookup(pricing, {"Standard": "on_demand", "Dynamic": "spot", "Committed": "reserved"})
    if cd_type is not None:
        is_sp = as_mask(pc.match_substring_regex(cd_type, "(?i)savings"))
        option = pc.if_else(pc.and_(is_sp, pc.equal(option, "reserved")), pa.scalar("savings_plan"), option)
    usage = as_mask(pc.equal(pc.utf8_lower(category), "usage"))
    return pc.if_else(usage, option, pa.scalar(None, pa.string()))


def _truncated(value: pa.Array, billed: pa.Array) -> pa.Array:
    """Integral, different from billed, and equal to billed rounded to an integer."""
    integral = pc.equal(value, pc.round(value, ndigits=0))
    differs = pc.not_equal(value, billed)
    rounded = pc.or_(
        pc.equal(value, pc.round(billed, ndigits=0, round_mode="half_to_even")),
        pc.equal(value, pc.round(billed, ndigits=0, round_mode="half_up")),
    )
    return as_mask(pc.and_(pc.and_(integral, differs), rounded))


def repair_truncated_costs(checked: Checked) -> None:
    cols = checked.columns
    billed, effective = cols.get("billed_cost"), cols.get("effective_cost")
    if billed is None or effective is None:
        return
    suspect = _truncated(effective, billed)
    if not pc.any(suspect).as_py():
        return
    cd_id = cols.get("commitment_discount_id")
    no_commitment = pa.repeat(pa.scalar(True), len(billed)) if cd_id is None else pc.is_null(cd_id)
    fixable = pc.and_(suspect, no_commitment)
    cols["effective_cost"] = pc.if_else(fixable, billed, effective)
    checked.quirks.append(
        (
            fixable,
            "EffectiveCost truncated to an integer in the source; set to BilledCost (no commitment discount)",
        )
    )
    checked.violations.append(
        (
            "EffectiveCost-C-004-M",
            "EffectiveCost is truncated to an integer in the source and a commitment discount applies",
            pc.and_(suspect, pc.invert(no_commitment)),
        )
    )
    contracted = cols.get("contracted_cost")
    if contracted is not None:
        bad = _truncated(contracted, billed)
        cols["contracted_cost"] = pc.if_else(bad, pa.scalar(None, contracted.type), contracted)
        checked.quirks.append((bad, "ContractedCost truncated to an integer in the source; set to null"))
        price = cols.get("contracted_unit_price")
        if price is not None:
            integral_price = as_mask(pc.equal(price, pc.round(price, ndigits=0)))
            drop = pc.and_(bad, integral_price)
            cols["contracted_unit_price"] = pc.if_else(drop, pa.scalar(None, price.type), price)
            checked.quirks.append((drop, "ContractedUnitPrice truncated with ContractedCost; set to null"))
