"""AWS Cost and Usage Reports: legacy CUR (`lineItem/UsageStartDate`), CUR 2.0 and Athena-style snake_case.

All three are read through canonical column names, so one mapping serves them. The provider's
LineItemType decides the FOCUS charge category, frequency, pricing category and purchase option:

- Usage, DiscountedUsage (reserved), SavingsPlanCoveredUsage, SavingsPlanNegation -> Usage
  (the negation offsets covered usage, so Usage sums to what is billed; `x_line_item_type` keeps
  the distinction for the verifier);
- Fee, RIFee, SavingsPlanUpfrontFee, SavingsPlanRecurringFee -> Purchase; Tax -> Tax;
- Credit, Refund and the discount types -> Credit. Any other type is rejected (ChargeCategory-C-003-M).

BilledCost is the unblended cost; EffectiveCost follows AWS's amortisation columns
(SavingsPlanEffectiveCost, reservation EffectiveCost, unused fees); ListCost is the public
on-demand cost; ContractedCost the net unblended cost when the report has it (else null).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tally.billing import tags as tagging
from tally.billing.frame import FileContext, Frame, Mapped
from tally.billing.values import as_mask, dec_add, dec_sub, lookup, to_decimal, to_wide

CATEGORY_BY_LINE_TYPE: dict[str, str] = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "EdpDiscount": "Credit",
    "BundledDiscount": "Credit",
    "PrivateRateDiscount": "Credit",
    "SppDiscount": "Credit",
    "DistributorDiscount": "Credit",
    "RiVolumeDiscount": "Credit",
}
FREQUENCY_BY_LINE_TYPE: dict[str, str] = {
    "Usage": "Usage-Based",
    "DiscountedUsage": "Usage-Based",
    "SavingsPlanCoveredUsage": "Usage-Based",
    "SavingsPlanNegation": "Usage-Based",
    "RIFee": "Recurring",
    "SavingsPlanRecurringFee": "Recurring",
    "Fee": "One-Time",
    "SavingsPlanUpfrontFee": "One-Time",
    "Tax": "One-Time",
    "Credit": "One-Time",
    "Refund": "One-Time",
    "EdpDiscount": "Usage-Based",
    "BundledDiscount": "Usage-Based",
    "PrivateRateDiscount": "Usage-Based",
    "SppDiscount": "Usage-Based",
    "DistributorDiscount": "Usage-Based",
    "RiVolumeDiscount": "Usage-Based",
}
SERVICE_CATEGORY: dict[str, str] = {
    "AmazonEC2": "Compute",
    "AWSLambda": "Compute",
    "AmazonECS": "Compute",
    "AmazonEKS": "Compute",
    "AWSBatch": "Compute",
    "AmazonS3": "Storage",
    "AmazonEFS": "Storage",
    "AmazonFSx": "Storage",
    "AmazonGlacier": "Storage",
    "AWSBackup": "Storage",
    "AmazonRDS": "Databases",
    "AmazonDynamoDB": "Databases",
    "AmazonRedshift": "Databases",
    "AmazonElastiCache": "Databases",
    "AWSDataTransfer": "Networking",
    "AmazonVPC": "Networking",
    "AmazonCloudFront": "Networking",
    "AmazonRoute53": "Networking",
    "AWSELB": "Networking",
    "AmazonCloudWatch": "Management and Governance",
    "AWSCloudTrail": "Management and Governance",
    "AWSConfig": "Management and Governance",
    "AmazonSageMaker": "AI and Machine Learning",
    "AmazonBedrock": "AI and Machine Learning",
    "AWSSecretsManager": "Security",
    "awskms": "Security",
    "AmazonGuardDuty": "Security",
    "AWSSupportBusiness": "Other",
}
_USAGE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")
_NULL = pa.scalar(None, pa.string())


def _is(line_type: pa.Array, *values: str) -> pa.Array:
    return as_mask(pc.is_in(line_type, value_set=pa.array(values)))


def map_aws(frame: Frame, context: FileContext) -> Mapped:
    n = frame.num_rows
    line_type = frame.get("lineItem/LineItemType")
    if line_type is None:
        line_type = pa.repeat(pa.scalar("Usage"), n)
    category = pc.coalesce(lookup(line_type, CATEGORY_BY_LINE_TYPE), line_type)
    usage = _is(line_type, *_USAGE_TYPES)
    tax = _is(line_type, "Tax")
    purchase = as_mask(pc.equal(category, "Purchase"))
    usage_type = frame.get("lineItem/UsageType")
    term = frame.get("pricing/term")
    spot = pc.or_(
        as_mask(pc.equal(pc.utf8_lower(term), "spot"))
        if term is not None
        else pa.repeat(pa.scalar(False), n),
        as_mask(pc.match_substring(usage_type, "SpotUsage"))
        if usage_type is not None
        else pa.repeat(pa.scalar(False), n),
    )
    committed = _is(line_type, "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")
    pricing_category = pc.if_else(
        usage,
        pc.if_else(
            committed, pa.scalar("Committed"), pc.if_else(spot, pa.scalar("Dynamic"), pa.scalar("Standard"))
        ),
        pc.if_else(purchase, pa.scalar("Standard"), _NULL),
    )
    tenancy = frame.get("product/tenancy")
    dedicated = (
        as_mask(pc.match_substring_regex(usage_type, "DedicatedUsage|HostUsage|DedicatedRes"))
        if (usage_type is not None)
        else pa.repeat(pa.scalar(False), n)
    )
    if tenancy is not None:
        dedicated = pc.or_(dedicated, as_mask(pc.equal(pc.utf8_lower(tenancy), "dedicated")))
    purchase_option = pc.if_else(
        _is(line_type, "SavingsPlanCoveredUsage", "SavingsPlanNegation"),
        pa.scalar("savings_plan"),
        pc.if_else(
            _is(line_type, "DiscountedUsage"),
            pa.scalar("reserved"),
            pc.if_else(
                spot, pa.scalar("spot"), pc.if_else(dedicated, pa.scalar("dedicated"), pa.scalar("on_demand"))
            ),
        ),
    )
    purchase_option = pc.if_else(usage, purchase_option, _NULL)

    unit = frame.get("pricing/unit")
    amount = frame.get("lineItem/UsageAmount")
    sp_lines = _is(
        line_type,
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "SavingsPlanUpfrontFee",
        "SavingsPlanRecurringFee",
    )
    ri_lines = _is(line_type, "DiscountedUsage", "RIFee")
    sp_arn = frame.get("savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanArn")
    ri_arn = frame.get("reservation/ReservationARN", "reservation/ReservationArn")
    commitment_id = None
    if sp_arn is not None or ri_arn is not None:
        commitment_id = pc.coalesce(
            pc.if_else(sp_lines, sp_arn, _NULL) if sp_arn is not None else pa.nulls(n, pa.string()),
            pc.if_else(ri_lines, ri_arn, _NULL) if ri_arn is not None else pa.nulls(n, pa.string()),
        )
    commitment_type = pc.if_else(
        sp_lines, pa.scalar("Savings Plan"), pc.if_else(ri_lines, pa.scalar("Reservation"), _NULL)
    )
    commitment_status = pc.if_else(
        _is(line_type, "SavingsPlanCoveredUsage", "DiscountedUsage"), pa.scalar("Used"), _NULL
    )
    if commitment_id is None:
        commitment_type = commitment_status = pa.nulls(n, pa.string())
    else:
        has_id = pc.is_valid(commitment_id)
        commitment_type = pc.if_else(has_id, commitment_type, _NULL)
        commitment_status = pc.if_else(has_id, commitment_status, _NULL)

    billed_text = frame.get("lineItem/UnblendedCost")
    effective, effective_violation, effective_quirk = _effective_cost(frame, line_type, billed_text, n)
    product_code = frame.coalesce("lineItem/ProductCode", "product/servicecode")
    cols: dict[str, pa.Array | None] = {
        "billing_account_id": frame.get("bill/PayerAccountId"),
        "billing_account_name": frame.get("bill/PayerAccountName"),
        "sub_account_id": frame.get("lineItem/UsageAccountId"),
        "sub_account_name": frame.get("lineItem/UsageAccountName"),
        "billing_period_start": frame.get("bill/BillingPeriodStartDate"),
        "billing_period_end": frame.get("bill/BillingPeriodEndDate"),
        "charge_period_start": frame.get("lineItem/UsageStartDate"),
        "charge_period_end": frame.get("lineItem/UsageEndDate"),
        "charge_category": category,
        "charge_class": None,
        "charge_description": frame.get("lineItem/LineItemDescription"),
        "charge_frequency": pc.coalesce(lookup(line_type, FREQUENCY_BY_LINE_TYPE), _NULL),
        "pricing_category": pricing_category,
        "billed_cost": billed_text,
        "effective_cost": effective,
        "list_cost": frame.get("pricing/publicOnDemandCost"),
        "list_unit_price": frame.get("pricing/publicOnDemandRate"),
        "contracted_cost": frame.get("lineItem/NetUnblendedCost"),
        "contracted_unit_price": frame.get("lineItem/NetUnblendedRate"),
        "billing_currency": frame.coalesce("lineItem/CurrencyCode", "pricing/currency"),
        "consumed_quantity": None if amount is None else pc.if_else(usage, amount, _NULL),
        "consumed_unit": None if unit is None or amount is None else pc.if_else(usage, unit, _NULL),
        "pricing_quantity": None if amount is None else pc.if_else(tax, _NULL, amount),
        "pricing_unit": None if unit is None else pc.if_else(tax, _NULL, unit),
        "resource_id": frame.get("lineItem/ResourceId"),
        "resource_name": None,
        "resource_type": None,
        "service_name": frame.coalesce("product/ProductName", "product_product_name", "lineItem/ProductCode"),
        "service_category": None
        if product_code is None
        else pc.if_else(
            pc.is_valid(product_code),
            pc.coalesce(lookup(product_code, SERVICE_CATEGORY), pa.scalar("Other")),
            _NULL,
        ),
        "provider_name": pa.repeat(pa.scalar("AWS"), n),
        "publisher_name": frame.get("lineItem/LegalEntity"),
        "invoice_issuer_name": frame.coalesce("bill/InvoicingEntity", "bill/BillingEntity"),
        "region_id": frame.coalesce("product/regionCode", "product/region", "product_region_code"),
        "availability_zone": frame.get("lineItem/AvailabilityZone"),
        "sku_id": frame.get("product/sku"),
        "sku_price_id": frame.get("pricing/RateCode"),
        "commitment_discount_id": commitment_id,
        "commitment_discount_type": commitment_type,
        "commitment_discount_status": commitment_status,
        "capacity_reservation_id": frame.get(
            "capacityReservation/CapacityReservationARN", "capacityReservation/CapacityReservationArn"
        ),
        "invoice_id": frame.get("bill/InvoiceId"),
        "tags": _tags(frame),
        "x_instance_type": frame.get("product/instanceType"),
        "x_usage_type": usage_type,
        "x_operation": frame.get("lineItem/Operation"),
        "x_line_item_type": frame.get("lineItem/LineItemType"),
        "x_purchase_option": purchase_option,
        "x_vm_name": None,
        "x_line_item_id": frame.get("identity/LineItemId"),
    }
    quirks = [(effective_quirk, "EffectiveCost not derivable from the amortisation columns; BilledCost used")]
    violations = [
        ("EffectiveCost-C-004-M", "an amortisation column is not a decimal number", effective_violation)
    ]
    return Mapped(
        columns=cols,
        provider=pa.repeat(pa.scalar("aws"), n),
        quirks=quirks,
        violations=violations,
    )


def _effective_cost(
    frame: Frame, line_type: pa.Array, billed_text: pa.Array | None, n: int
) -> tuple[pa.Array | None, pa.Array, pa.Array]:
    """EffectiveCost per AWS's amortisation columns; (decimal text, bad-input mask, fell-back mask).

    The result is the chosen column's own text (or an exact sum of two), so the conformer types it
    like any written amount and keeps digits beyond 18 places in x_exact_amounts.
    """
    no = pa.repeat(pa.scalar(False), n)
    if billed_text is None:
        return None, no, no
    bad = no

    def dec(*names: str) -> pa.Array | None:
        nonlocal bad
        text = frame.get(*names)
        if text is None:
            return None
        parsed = to_decimal(text)
        bad = pc.or_(bad, parsed.bad)
        return pc.if_else(parsed.bad, _NULL, text)

    zero = pa.repeat(pa.scalar("0"), n)
    effective = billed_text
    fallback = no
    rules: list[tuple[pa.Array, pa.Array | None]] = []
    sp_effective = dec("savingsPlan/SavingsPlanEffectiveCost")
    rules.append((_is(line_type, "SavingsPlanCoveredUsage"), sp_effective))
    rules.append((_is(line_type, "SavingsPlanNegation", "SavingsPlanUpfrontFee"), zero))
    total = dec("savingsPlan/TotalCommitmentToDate")
    used = dec("savingsPlan/UsedCommitment")
    unused_sp = None if total is None or used is None else _text_sum(total, used, subtract=True)
    rules.append((_is(line_type, "SavingsPlanRecurringFee"), unused_sp))
    rules.append((_is(line_type, "DiscountedUsage"), dec("reservation/EffectiveCost")))
    unused_upfront = dec("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")
    unused_recurring = dec("reservation/UnusedRecurringFee")
    unused_ri = (
        None
        if unused_upfront is None or unused_recurring is None
        else _text_sum(pc.fill_null(unused_upfront, "0"), pc.fill_null(unused_recurring, "0"))
    )
    rules.append((_is(line_type, "RIFee"), unused_ri))
    ri_arn = frame.get("reservation/ReservationARN", "reservation/ReservationArn")
    if ri_arn is not None:
        rules.append((pc.and_(_is(line_type, "Fee"), pc.is_valid(ri_arn)), zero))
    for mask, values in rules:
        if not pc.any(mask).as_py():
            continue
        if values is None:
            fallback = pc.or_(fallback, mask)
            continue
        usable = pc.and_(mask, pc.is_valid(values))
        fallback = pc.or_(fallback, pc.and_(mask, pc.is_null(values)))
        effective = pc.if_else(usable, values, effective)
    return effective, as_mask(bad), as_mask(fallback)


def _text_sum(a: pa.Array, b: pa.Array, *, subtract: bool = False) -> pa.Array:
    """a + b (or a - b) of decimal texts, exact, as text; null where either is null or unreadable."""
    total = (dec_sub if subtract else dec_add)(to_wide(a), to_wide(b))
    return pc.cast(total, pa.string())


def _tags(frame: Frame) -> pa.Array | None:
    n = frame.num_rows
    columns: list[tuple[str, pa.Array]] = []
    for name, col in frame.columns_with_prefix("resourceTags/"):
        columns.append((name.split("/", 1)[1], col))
    for name, col in frame.columns_with_prefix("costCategory/"):
        columns.append((name, col))
    for name, col in frame.columns_with_prefix("resource_tags_"):
        columns.append((name[len("resource_tags_") :], col))
    for name, col in frame.columns_with_prefix("cost_category_"):
        columns.append(("costCategory/" + name[len("cost_category_") :], col))
    flat = tagging.from_columns(columns, n) if columns else None
    parts: list[pa.Array | None] = [flat]
    tag_map = frame.get("resource_tags")
    if tag_map is not None:
        parts.append(tagging.from_text(tag_map)[0])
    cost_map = frame.get("cost_category")
    if cost_map is not None:
        parts.append(tagging.prefix_keys(tagging.from_text(cost_map)[0], "costCategory/"))
    return tagging.merge(*parts)
