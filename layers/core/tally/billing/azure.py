"""Azure cost exports: EA (PascalCase), MCA (camelCase) and the legacy pay-as-you-go usage export.

Column names are matched ignoring case (`CostInBillingCurrency` = `costInBillingCurrency`), a
UTF-8 BOM is dropped by the reader, and dates are read month-first unless a value proves them
day-first. Conversions:

- ChargePeriod = the usage `Date` (a day) to the next day; BillingPeriodEnd is written inclusive
  by Azure (09/30/2023) and becomes the exclusive next day. When a file has no billing period
  (legacy export, MCA rows with empty columns) it is the calendar month of the usage date, noted in
  `x_quirks`; the legacy export has no billing account, so the subscription is used.
- Quantity and unit prices are per pricing block ("100 Hours"); ConsumedQuantity and
  PricingQuantity are converted to distinct units (x block size) and unit prices to per-unit
  (/ block size), using the FinOps toolkit's PricingUnits table.
- Actual-cost exports: BilledCost = Cost; EffectiveCost = Cost, except commitment purchases (0).
  Amortized exports (detected by name or by commitment-covered usage with a non-zero cost):
  EffectiveCost = Cost; BilledCost = Cost, except commitment-covered and unused-commitment rows
  (0, the purchase is what was billed). Import one of the two per billing period, not both:
  both have the same restatement key, so the later one replaces the earlier.
- The scale-set instance (`AdditionalInfo.VMName`) goes to `x_vm_name`, the VM size to
  `x_instance_type`, a capacity reservation to `capacity_reservation_id`. AdditionalInfo written
  without its braces (a known export defect) is read as the object it means.
- A row with a reservation or savings-plan id (`ReservationId`, `benefitId`) is committed use:
  PricingCategory "Committed", the commitment discount id/type/status and purchase option
  `reserved`/`savings_plan`, whatever the PricingModel column says or whether it exists.
- Localised exports (German `Maßeinheit (UnitOfMeasure)`, bilingual variants) are read by the
  English name in parentheses (`tally.billing.frame`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tally.billing import tags as tagging
from tally.billing.focus_schema import MONEY
from tally.billing.frame import FileContext, Frame, Mapped
from tally.billing.pricing_units import parse_unit
from tally.billing.values import (
    Decimals,
    add_days,
    as_mask,
    exact_or_rounded,
    lookup,
    map_unique,
    month_start,
    next_month_start,
    to_decimal,
    to_timestamp,
)

CATEGORY_BY_CHARGE_TYPE: dict[str, str] = {
    "Usage": "Usage",
    "Purchase": "Purchase",
    "Refund": "Purchase",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "RoundingAdjustment": "Adjustment",
    "Tax": "Tax",
    "Credit": "Credit",
}
FREQUENCY: dict[str, str] = {"UsageBased": "Usage-Based", "Recurring": "Recurring", "OneTime": "One-Time"}
PURCHASE_OPTION: dict[str, str] = {
    "OnDemand": "on_demand",
    "Spot": "spot",
    "Reservation": "reserved",
    "SavingsPlan": "savings_plan",
}
SERVICE_CATEGORY_WORDS: tuple[tuple[str, str], ...] = (
    ("virtual machines", "Compute"),
    ("container", "Compute"),
    ("functions", "Compute"),
    ("kubernetes", "Compute"),
    ("storage", "Storage"),
    ("backup", "Storage"),
    ("bandwidth", "Networking"),
    ("network", "Networking"),
    ("load balancer", "Networking"),
    ("dns", "Networking"),
    ("sql", "Databases"),
    ("database", "Databases"),
    ("cosmos", "Databases"),
    ("cache", "Databases"),
    ("threat", "Security"),
    ("security", "Security"),
    ("key vault", "Security"),
    ("machine learning", "AI and Machine Learning"),
    ("cognitive", "AI and Machine Learning"),
    ("log analytics", "Management and Governance"),
    ("monitor", "Management and Governance"),
)
_NULL = pa.scalar(None, pa.string())
#: Products and quotients of two 18-place decimals before they are fitted to MONEY.
_EXACT = Context(prec=120, rounding=ROUND_HALF_EVEN)
_COMMITTED_MODELS = ("Reservation", "SavingsPlan")
_DECIMAL_RULES: dict[str, str] = {
    "Quantity": "PricingQuantity-C-008-M",
    "Cost": "BilledCost-C-004-M",
    "UnitPrice": "ContractedUnitPrice-C-003-M",
    "PayGPrice": "ListUnitPrice-C-002-M",
    "paygCostInBillingCurrency": "ListCost-C-004-M",
}


@lru_cache(maxsize=65_536)
def _additional_info(text: str) -> dict[str, Any]:
    """The AdditionalInfo object; some exports write it without its braces (`"VMName": "x", ...`)."""
    stripped = text.strip()
    candidates = [stripped] if stripped.startswith("{") else [stripped, "{" + stripped + "}"]
    for candidate in candidates:
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _info_field(arr: pa.Array | None, key: str, n: int) -> pa.Array:
    if arr is None:
        return pa.nulls(n, pa.string())

    def one(text: str) -> str | None:
        value = _additional_info(text).get(key)
        return None if value is None or value == "" else str(value)

    return map_unique(arr, one)


def _service_category(text: str) -> str:
    lowered = text.lower()
    for word, category in SERVICE_CATEGORY_WORDS:
        if word in lowered:
            return category
    return "Other"


def _is(arr: pa.Array | None, values: tuple[str, ...], n: int) -> pa.Array:
    if arr is None:
        return pa.repeat(pa.scalar(False), n)
    return as_mask(pc.is_in(pc.utf8_lower(arr), value_set=pa.array([v.lower() for v in values])))


def _scale(
    values: pa.Array, exact: pa.Array, factors: list[Decimal | None], *, divide: bool
) -> tuple[pa.Array, pa.Array]:
    """Multiply or divide decimals by per-row factors (block sizes, quantities): (MONEY, exact text).

    Computed from the exact text where the provider wrote more than 18 places; a result that does
    not fit 18 places is rounded half-even there and its exact text returned beside it.
    """
    out: list[Decimal | None] = []
    for value, text, factor in zip(values.to_pylist(), exact.to_pylist(), factors, strict=True):
        if value is None or factor is None:
            out.append(value if text is None else Decimal(text))
            continue
        base = value if text is None else Decimal(text)
        out.append(_EXACT.divide(base, factor) if divide else _EXACT.multiply(base, factor))
    return exact_or_rounded(out)


def map_azure(frame: Frame, context: FileContext) -> Mapped:
    n = frame.num_rows
    quirks: list[tuple[pa.Array, str]] = []
    violations: list[tuple[str, str, pa.Array]] = []
    warnings: list[str] = []

    charge_type = frame.get("ChargeType")
    category = (
        pa.repeat(pa.scalar("Usage"), n)
        if charge_type is None
        else pc.coalesce(lookup(charge_type, CATEGORY_BY_CHARGE_TYPE), charge_type)
    )
    usage = as_mask(pc.equal(category, "Usage"))
    purchase = as_mask(pc.equal(category, "Purchase"))
    tax = as_mask(pc.equal(category, "Tax"))
    unused = _is(charge_type, ("UnusedReservation", "UnusedSavingsPlan"), n)
    pricing_model = frame.get("PricingModel")
    commitment_id = frame.coalesce("benefitId", "ReservationId")
    has_commitment = pa.repeat(pa.scalar(False), n) if commitment_id is None else pc.is_valid(commitment_id)
    # A reservation or savings-plan id says a commitment applies, whether or not the export has a
    # PricingModel column (EA v2 and legacy exports have none; some rows say OnDemand beside an id).
    committed_model = pc.or_(_is(pricing_model, _COMMITTED_MODELS, n), has_commitment)
    covered = pc.and_(usage, committed_model)

    # Dates.
    date_start, bad_date = to_timestamp(frame.coalesce("Date", "UsageDateTime") or pa.nulls(n, pa.string()))
    violations.append(("ChargePeriodStart-C-002-M", "usage Date is not a date", bad_date))
    charge_end = add_days(date_start, 1)
    bp_start_text = frame.get("BillingPeriodStartDate")
    bp_end_text = frame.get("BillingPeriodEndDate")
    bp_start, bad_bps = (
        to_timestamp(bp_start_text) if bp_start_text is not None else (pa.nulls(n, date_start.type), None)
    )
    bp_end, bad_bpe = (
        to_timestamp(bp_end_text) if bp_end_text is not None else (pa.nulls(n, date_start.type), None)
    )
    if bad_bps is not None:
        violations.append(("BillingPeriodStart-C-002-M", "BillingPeriodStartDate is not a date", bad_bps))
    if bad_bpe is not None:
        violations.append(("BillingPeriodEnd-C-002-M", "BillingPeriodEndDate is not a date", bad_bpe))
    inclusive_end = (
        bp_end_text is not None and not pc.any(as_mask(pc.match_substring(bp_end_text, ":"))).as_py()
    )
    if inclusive_end:
        bp_end = add_days(bp_end, 1)
    derived = pc.and_(pc.is_null(bp_start), pc.is_valid(date_start))
    bp_start = pc.coalesce(bp_start, month_start(date_start))
    bp_end = pc.coalesce(bp_end, next_month_start(date_start))
    quirks.append((derived, "BillingPeriod not in the export; calendar month of the usage date used"))

    # Quantities and prices per pricing block.
    unit_text = frame.get("UnitOfMeasure")
    factors: list[Decimal | None]
    units: pa.Array | None
    if unit_text is not None:
        parsed = {u: parse_unit(u) for u in pc.unique(unit_text).to_pylist() if u is not None}
        factors = [None if u is None or parsed[u] is None else parsed[u][0] for u in unit_text.to_pylist()]  # type: ignore[index]
        units = map_unique(unit_text, lambda u: (parsed[u] or (Decimal(1), u))[1])
    else:
        factors, units = [None] * n, None
    any_block = any(f is not None and f != 1 for f in factors)

    reads: dict[str, Decimals] = {}
    for label, names in (
        ("Quantity", ("Quantity", "UsageQuantity")),
        ("Cost", ("CostInBillingCurrency", "Cost", "PreTaxCost")),
        ("UnitPrice", ("UnitPrice",)),
        ("PayGPrice", ("PayGPrice",)),
        ("paygCostInBillingCurrency", ("paygCostInBillingCurrency",)),
    ):
        text = frame.coalesce(*names)
        if text is not None:
            reads[label] = to_decimal(text)
    for label, rule in _DECIMAL_RULES.items():
        read = reads.get(label)
        if read is not None:
            violations.append((rule, f"{label} is not a decimal number", read.bad))

    def values(label: str) -> pa.Array | None:
        read = reads.get(label)
        return None if read is None else read.values

    def scaled(label: str, by: list[Decimal | None], *, divide: bool, target: str) -> pa.Array | None:
        read = reads.get(label)
        if read is None:
            return None
        result, exact_text = _scale(read.values, read.exact, by, divide=divide)
        exact[target] = exact_text
        return result

    def as_read(label: str, target: str) -> pa.Array | None:
        read = reads.get(label)
        if read is None:
            return None
        exact[target] = read.exact
        return read.values

    exact: dict[str, pa.Array] = {}
    quantity, cost = values("Quantity"), values("Cost")
    if any_block:
        consumed = scaled("Quantity", factors, divide=False, target="consumed_quantity")
        list_unit = scaled("PayGPrice", factors, divide=True, target="list_unit_price")
        contracted_unit = scaled("UnitPrice", factors, divide=True, target="contracted_unit_price")
    else:
        consumed = as_read("Quantity", "consumed_quantity")
        list_unit = as_read("PayGPrice", "list_unit_price")
        contracted_unit = as_read("UnitPrice", "contracted_unit_price")
    if "consumed_quantity" in exact:
        exact["pricing_quantity"] = exact["consumed_quantity"]
    blocks: list[Decimal | None] = []
    if "Quantity" in reads:
        read = reads["Quantity"]
        blocks = [
            v if t is None else Decimal(t)
            for v, t in zip(read.values.to_pylist(), read.exact.to_pylist(), strict=True)
        ]
    list_cost = as_read("paygCostInBillingCurrency", "list_cost")
    if list_cost is None and quantity is not None:
        list_cost = scaled("PayGPrice", blocks, divide=False, target="list_cost")
    contracted_cost = (
        None if quantity is None else scaled("UnitPrice", blocks, divide=False, target="contracted_cost")
    )

    # Actual or amortized cost.
    amortized = context.state.get("amortized")
    if amortized is None and cost is not None:
        by_name = "amortized" in context.source_file.lower()
        by_data = bool(pc.any(pc.and_(covered, as_mask(pc.not_equal(cost, pa.scalar(0, MONEY))))).as_py())
        amortized = by_name or by_data
        context.state["amortized"] = amortized
        if amortized:
            warnings.append(
                "amortized-cost export: EffectiveCost = Cost; BilledCost is 0 for commitment-covered and "
                "unused-commitment rows. Do not also import the actual-cost export of the same period."
            )
    billed = effective = cost
    if cost is not None:
        zero = pa.scalar(0, MONEY)
        cost_exact = reads["Cost"].exact
        billed_zero = effective_zero = pa.repeat(pa.scalar(False), n)
        if amortized:
            billed_zero = pc.or_(covered, unused)
            billed = pc.if_else(billed_zero, zero, cost)
        else:
            effective_zero = pc.and_(purchase, committed_model)
            effective = pc.if_else(effective_zero, zero, cost)
        exact["billed_cost"] = pc.if_else(billed_zero, _NULL, cost_exact)
        exact["effective_cost"] = pc.if_else(effective_zero, _NULL, cost_exact)

    frequency = frame.get("Frequency")
    freq = (
        pc.if_else(usage, pa.scalar("Usage-Based"), pc.if_else(purchase, pa.scalar("One-Time"), _NULL))
        if frequency is None
        else pc.coalesce(lookup(frequency, FREQUENCY), frequency)
    )
    pricing_category = pc.if_else(
        tax,
        _NULL,
        pc.if_else(
            purchase,
            pa.scalar("Standard"),
            pc.if_else(
                committed_model,
                pa.scalar("Committed"),
                pc.if_else(
                    _is(pricing_model, ("Spot",), n),
                    pa.scalar("Dynamic"),
                    pc.if_else(usage, pa.scalar("Standard"), _NULL),
                ),
            ),
        ),
    )
    commitment_type = None
    commitment_status = None
    is_sp = pa.repeat(pa.scalar(False), n)
    if commitment_id is not None:
        is_sp = as_mask(pc.match_substring_regex(commitment_id, "(?i)savingsplan"))
        if pricing_model is not None:
            is_sp = pc.or_(is_sp, _is(pricing_model, ("SavingsPlan",), n))
        commitment_type = pc.if_else(
            pc.is_valid(commitment_id),
            pc.if_else(is_sp, pa.scalar("Savings Plan"), pa.scalar("Reservation")),
            _NULL,
        )
        commitment_status = pc.if_else(
            pc.and_(pc.is_valid(commitment_id), usage),
            pc.if_else(unused, pa.scalar("Unused"), pa.scalar("Used")),
            _NULL,
        )
    stated_option = (
        pa.repeat(pa.scalar("on_demand"), n)
        if pricing_model is None
        else pc.coalesce(lookup(pricing_model, PURCHASE_OPTION), pa.scalar("on_demand"))
    )
    commitment_option = pc.if_else(is_sp, pa.scalar("savings_plan"), pa.scalar("reserved"))
    purchase_option = pc.if_else(
        usage,
        pc.if_else(
            pc.and_(has_commitment, pc.equal(stated_option, "on_demand")), commitment_option, stated_option
        ),
        _NULL,
    )

    resource_id = frame.coalesce("ResourceId", "InstanceId", "InstanceName")
    resource_name = frame.get("ResourceName")
    resource_type = frame.get("ResourceType")
    if resource_id is not None:
        last = pc.replace_substring_regex(resource_id, pattern=r"^.*/", replacement="")
        last = pc.if_else(pc.equal(last, ""), _NULL, last)
        resource_name = last if resource_name is None else pc.coalesce(resource_name, last)
        has_type = as_mask(pc.match_substring_regex(resource_id, r"(?i)/providers/[^/]+/[^/]+"))
        derived_type = pc.if_else(
            has_type,
            pc.replace_substring_regex(
                resource_id, pattern=r"(?i)^.*/providers/([^/]+/[^/]+).*$", replacement=r"\1"
            ),
            _NULL,
        )
        resource_type = derived_type if resource_type is None else pc.coalesce(resource_type, derived_type)

    info = frame.get("AdditionalInfo")
    service = frame.coalesce("MeterCategory", "ServiceName")
    location = frame.get("ResourceLocation")
    tags_text = frame.get("Tags")
    tags = None
    if tags_text is not None:
        tags, unparsed = tagging.from_text(tags_text)
        quirks.append((unparsed, "Tags not parsable; kept as x_unparsed"))
    is_correction = _is(charge_type, ("Refund",), n)
    subscription = frame.coalesce("SubscriptionId", "SubscriptionGuid")
    cols: dict[str, pa.Array | None] = {
        "billing_account_id": pc.coalesce(
            frame.get("BillingAccountId") or pa.nulls(n, pa.string()),
            subscription or pa.nulls(n, pa.string()),
        ),
        "billing_account_name": frame.get("BillingAccountName"),
        "sub_account_id": subscription,
        "sub_account_name": frame.get("SubscriptionName"),
        "billing_period_start": bp_start,
        "billing_period_end": bp_end,
        "charge_period_start": date_start,
        "charge_period_end": charge_end,
        "charge_category": category,
        "charge_class": pc.if_else(is_correction, pa.scalar("Correction"), _NULL),
        "charge_description": frame.coalesce("ProductName", "Product"),
        "charge_frequency": freq,
        "pricing_category": pricing_category,
        "billed_cost": billed,
        "effective_cost": effective,
        "list_cost": list_cost,
        "contracted_cost": contracted_cost,
        "list_unit_price": list_unit,
        "contracted_unit_price": contracted_unit,
        "billing_currency": frame.coalesce("BillingCurrency", "BillingCurrencyCode", "Currency"),
        "consumed_quantity": None
        if consumed is None
        else pc.if_else(usage, consumed, pa.scalar(None, MONEY)),
        "consumed_unit": None if units is None else pc.if_else(usage, units, _NULL),
        "pricing_quantity": None if consumed is None else pc.if_else(tax, pa.scalar(None, MONEY), consumed),
        "pricing_unit": None if units is None else pc.if_else(tax, _NULL, units),
        "resource_id": resource_id,
        "resource_name": resource_name,
        "resource_type": resource_type,
        "service_name": service,
        "service_category": None if service is None else map_unique(service, _service_category),
        "provider_name": pa.repeat(pa.scalar("Microsoft"), n),
        "publisher_name": pc.coalesce(
            frame.get("PublisherName") or pa.nulls(n, pa.string()), pa.scalar("Microsoft")
        ),
        "invoice_issuer_name": pc.coalesce(
            frame.get("resellerName") or pa.nulls(n, pa.string()), pa.scalar("Microsoft")
        ),
        "region_id": None
        if location is None
        else pc.utf8_lower(pc.replace_substring(location, pattern=" ", replacement="")),
        "availability_zone": frame.get("AvailabilityZone"),
        "sku_id": frame.coalesce("ProductId", "MeterId"),
        "sku_price_id": frame.get("PartNumber"),
        "commitment_discount_id": commitment_id,
        "commitment_discount_type": commitment_type,
        "commitment_discount_status": commitment_status,
        "capacity_reservation_id": _info_field(info, "VMCapacityReservationId", n),
        "invoice_id": frame.get("InvoiceId"),
        "tags": tags,
        "x_instance_type": _info_field(info, "ServiceType", n),
        "x_usage_type": pc.coalesce(
            _info_field(info, "UsageType", n), frame.get("MeterSubCategory") or pa.nulls(n, pa.string())
        ),
        "x_operation": frame.get("MeterName"),
        "x_line_item_type": charge_type,
        "x_purchase_option": purchase_option,
        "x_vm_name": _info_field(info, "VMName", n),
        "x_line_item_id": None,
    }
    return Mapped(
        columns=cols,
        provider=pa.repeat(pa.scalar("azure"), n),
        quirks=quirks,
        violations=violations,
        warnings=warnings,
        exact=exact,
    )
