"""GCP Cloud Billing export (BigQuery), flattened to CSV (`service.description`) or read from Parquet.

Each export row gives one `billing` row with BilledCost = `cost` (before credits). Each entry of
its `credits` list becomes one more row (`source_subrow` 1, 2, ...) with ChargeCategory "Credit"
and the credit's (negative) amount, so Usage and Credit sum separately and the invoice total is
the sum of both. The billing period is `invoice.month` (YYYYMM); `cost_type` gives the category
(regular -> Usage, tax -> Tax, adjustment and rounding_error -> Adjustment). Labels, system labels
and project labels (prefixed "project/") are merged into Tags. The machine type comes from the
`compute.googleapis.com/machine_spec` system label.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tally.billing import tags as tagging
from tally.billing.frame import FileContext, Frame, Mapped
from tally.billing.tags import _loads_relaxed
from tally.billing.values import as_mask, lookup, map_unique, next_month_start, to_timestamp

CATEGORY_BY_COST_TYPE: dict[str, str] = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
}
SERVICE_CATEGORY: dict[str, str] = {
    "Compute Engine": "Compute",
    "Kubernetes Engine": "Compute",
    "Cloud Run": "Compute",
    "Cloud Functions": "Compute",
    "Cloud Storage": "Storage",
    "Filestore": "Storage",
    "BigQuery": "Analytics",
    "Cloud SQL": "Databases",
    "Cloud Spanner": "Databases",
    "Networking": "Networking",
    "Cloud DNS": "Networking",
    "Stackdriver Logging": "Management and Governance",
    "Cloud Logging": "Management and Governance",
    "Cloud Monitoring": "Management and Governance",
    "Security Command Center": "Security",
    "Vertex AI": "AI and Machine Learning",
}
_NULL = pa.scalar(None, pa.string())
_MACHINE_SPEC = "compute.googleapis.com/machine_spec"


def _credits(text: str) -> list[dict[str, Any]]:
    try:
        value = _loads_relaxed(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return [{"_unparsed": text}]
    if not isinstance(value, list):
        return [{"_unparsed": text}]
    return [c if isinstance(c, dict) else {"_unparsed": repr(c)} for c in value]


def _amount_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return repr(value)
    return str(value)


def _machine_spec(text: str) -> str | None:
    parsed = tagging.parse_tag_text(text)
    if parsed is None:
        return None
    value = orjson.loads(parsed).get(_MACHINE_SPEC)
    return None if value is None else str(value)


def map_gcp(frame: Frame, context: FileContext) -> Mapped:
    n = frame.num_rows
    violations: list[tuple[str, str, pa.Array]] = []
    cost_type = frame.get("cost_type")
    category = (
        pa.repeat(pa.scalar("Usage"), n)
        if cost_type is None
        else pc.coalesce(lookup(cost_type, CATEGORY_BY_COST_TYPE), cost_type)
    )
    usage = as_mask(pc.equal(category, "Usage"))
    tax = as_mask(pc.equal(category, "Tax"))
    sku_description = frame.get("sku.description")
    spot = (
        as_mask(pc.match_substring_regex(sku_description, "(?i)preemptible|spot"))
        if sku_description is not None
        else pa.repeat(pa.scalar(False), n)
    )
    month = frame.get("invoice.month")
    if month is not None:
        bp_start, bad_month = to_timestamp(
            pc.replace_substring_regex(month, pattern=r"^(\d{4})(\d\d)$", replacement=r"\1-\2-01")
        )
        violations.append(("BillingPeriodStart-C-002-M", "invoice.month is not YYYYMM", bad_month))
        bp_end = next_month_start(bp_start)
    else:
        bp_start = bp_end = None
    service = frame.get("service.description")
    system_labels = frame.get("system_labels")
    label_parts = []
    for name, prefix in (("labels", ""), ("system_labels", ""), ("project.labels", "project/")):
        text = frame.get(name)
        if text is None:
            continue
        parsed, _ = tagging.from_text(text)
        label_parts.append(tagging.prefix_keys(parsed, prefix) if prefix else parsed)
    label_parts = [p for p in label_parts if p.null_count < len(p)]
    cols: dict[str, pa.Array | None] = {
        "billing_account_id": frame.get("billing_account_id"),
        "billing_account_name": None,
        "sub_account_id": frame.get("project.id"),
        "sub_account_name": frame.get("project.name"),
        "billing_period_start": bp_start,
        "billing_period_end": bp_end,
        "charge_period_start": frame.get("usage_start_time"),
        "charge_period_end": frame.get("usage_end_time"),
        "charge_category": category,
        "charge_class": None,
        "charge_description": sku_description,
        "charge_frequency": pc.if_else(usage, pa.scalar("Usage-Based"), pa.scalar("One-Time")),
        "pricing_category": pc.if_else(
            usage, pc.if_else(spot, pa.scalar("Dynamic"), pa.scalar("Standard")), _NULL
        ),
        "billed_cost": frame.get("cost"),
        "effective_cost": frame.get("cost"),
        "list_cost": frame.get("cost_at_list"),
        "billing_currency": frame.get("currency"),
        "consumed_quantity": pc.if_else(usage, frame.get("usage.amount") or pa.nulls(n, pa.string()), _NULL),
        "consumed_unit": pc.if_else(usage, frame.get("usage.unit") or pa.nulls(n, pa.string()), _NULL),
        "pricing_quantity": pc.if_else(
            tax, _NULL, frame.get("usage.amount_in_pricing_units") or pa.nulls(n, pa.string())
        ),
        "pricing_unit": pc.if_else(tax, _NULL, frame.get("usage.pricing_unit") or pa.nulls(n, pa.string())),
        "resource_id": frame.coalesce("resource.global_name", "resource.name"),
        "resource_name": frame.get("resource.name"),
        "service_name": service,
        "service_category": None
        if service is None
        else pc.coalesce(lookup(service, SERVICE_CATEGORY), pa.scalar("Other")),
        "provider_name": pa.repeat(pa.scalar("Google Cloud"), n),
        "publisher_name": pa.repeat(pa.scalar("Google Cloud"), n),
        "invoice_issuer_name": pa.repeat(pa.scalar("Google Cloud"), n),
        "region_id": frame.coalesce("location.region", "location.location"),
        "availability_zone": frame.get("location.zone"),
        "sku_id": frame.get("sku.id"),
        "tags": tagging.merge(*label_parts) if label_parts else None,
        "x_instance_type": None if system_labels is None else map_unique(system_labels, _machine_spec),
        "x_usage_type": sku_description,
        "x_line_item_type": cost_type,
        "x_purchase_option": pc.if_else(
            usage, pc.if_else(spot, pa.scalar("spot"), pa.scalar("on_demand")), _NULL
        ),
    }
    mapped = Mapped(columns=cols, provider=pa.repeat(pa.scalar("gcp"), n), violations=violations)
    credits_text = frame.get("credits")
    if credits_text is not None:
        _expand_credits(mapped, credits_text, n)
    return mapped


def _expand_credits(mapped: Mapped, credits_text: pa.Array, n: int) -> None:
    encoded = pc.dictionary_encode(credits_text)
    parsed = [_credits(t) for t in encoded.dictionary.to_pylist()]
    if not any(parsed):
        return
    rows: list[int] = []
    subrows: list[int] = []
    amounts: list[str | None] = []
    descriptions: list[str | None] = []
    kinds: list[str | None] = []
    for i, code in enumerate(encoded.indices.to_pylist()):
        if code is None:
            continue
        for j, credit in enumerate(parsed[code], start=1):
            rows.append(i)
            subrows.append(j)
            amounts.append(
                _amount_text(credit.get("amount")) if "_unparsed" not in credit else credit["_unparsed"]
            )
            descriptions.append(
                str(credit.get("full_name") or credit.get("name") or credit.get("id") or "credit")
            )
            kinds.append(f"credit:{credit.get('type') or 'unknown'}")
    if not rows:
        return
    k = len(rows)
    index = pa.concat_arrays([pa.array(range(n), pa.int64()), pa.array(rows, pa.int64())])
    is_credit = pa.concat_arrays([pa.repeat(pa.scalar(False), n), pa.repeat(pa.scalar(True), k)])

    def credit_value(values: list[str | None] | str | None) -> pa.Array:
        tail = (
            pa.array(values, pa.string())
            if isinstance(values, list)
            else pa.repeat(pa.scalar(values, pa.string()), k)
        )
        return pa.concat_arrays([pa.nulls(n, pa.string()), tail])

    overrides: dict[str, pa.Array] = {
        "charge_category": credit_value("Credit"),
        "charge_description": credit_value(descriptions),
        "charge_frequency": credit_value("Usage-Based"),
        "billed_cost": credit_value(amounts),
        "effective_cost": credit_value(amounts),
        "list_cost": credit_value(amounts),
        "x_line_item_type": credit_value(kinds),
    }
    cleared = (
        "pricing_category",
        "consumed_quantity",
        "consumed_unit",
        "pricing_quantity",
        "pricing_unit",
        "x_purchase_option",
    )
    columns: dict[str, pa.Array | None] = {}
    for name, col in mapped.columns.items():
        if name in overrides:
            base = pc.take(col, index) if col is not None else pa.nulls(n + k, pa.string())
            columns[name] = pc.if_else(is_credit, overrides[name], base)
        elif col is None:
            columns[name] = None
        else:
            taken = pc.take(col, index)
            columns[name] = (
                pc.if_else(is_credit, pa.scalar(None, taken.type), taken) if name in cleared else taken
            )
    for name, values in overrides.items():
        if name not in columns:
            columns[name] = pc.if_else(is_credit, values, pa.scalar(None, pa.string()))
    mapped.columns = columns
    mapped.provider = pc.take(mapped.provider, index)
    mapped.row_index = index
    mapped.subrow = pa.concat_arrays([pa.repeat(pa.scalar(0, pa.int16()), n), pa.array(subrows, pa.int16())])
    mapped.violations = [(r, d, pc.take(m, index)) for r, d, m in mapped.violations]
    mapped.quirks = [(pc.take(m, index), note) for m, note in mapped.quirks]
