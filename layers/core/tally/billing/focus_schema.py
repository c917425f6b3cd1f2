"""The one Arrow schema of the `billing` table: FOCUS 1.2 columns in snake_case, Tally extras, provenance.

Money and quantities are decimal128(38, 18), never float, exactly as the provider wrote them
(FOCUS and Azure write up to 18 decimal places; 20 integer digits hold any real amount, and
DuckDB and Trino sum decimal(38, 18) as decimal(38, 18)); every money value comes with
`billing_currency`. Timestamps are UTC microseconds. `x_` columns are Tally extensions (FOCUS
allows provider/consumer-specific columns with an `x_` prefix).
"""

from __future__ import annotations

import pyarrow as pa

#: Decimal places of every money and quantity column: a value written with more is rejected.
MONEY_SCALE = 18
MONEY = pa.decimal128(38, MONEY_SCALE)
#: Largest magnitude a MONEY value can hold (20 integer digits).
MONEY_LIMIT_DIGITS = 38 - MONEY_SCALE
TIMESTAMP = pa.timestamp("us", tz="UTC")

#: Columns holding money (denominated in billing_currency).
MONEY_COLUMNS: tuple[str, ...] = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
    "list_unit_price",
    "contracted_unit_price",
)
#: Decimal columns that are not money.
QUANTITY_COLUMNS: tuple[str, ...] = ("consumed_quantity", "pricing_quantity")
TIMESTAMP_COLUMNS: tuple[str, ...] = (
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
)

_STRING_FOCUS: tuple[str, ...] = (
    "billing_account_id",
    "billing_account_name",
    "sub_account_id",
    "sub_account_name",
    "charge_category",
    "charge_class",
    "charge_description",
    "charge_frequency",
    "pricing_category",
    "billing_currency",
    "consumed_unit",
    "pricing_unit",
    "resource_id",
    "resource_name",
    "resource_type",
    "service_name",
    "service_category",
    "provider_name",
    "publisher_name",
    "invoice_issuer_name",
    "region_id",
    "availability_zone",
    "sku_id",
    "sku_price_id",
    "commitment_discount_id",
    "commitment_discount_type",
    "commitment_discount_status",
    "capacity_reservation_id",
    "invoice_id",
    "tags",
)

#: Tally extensions needed for reconciliation and audit.
EXTRA_STRING_COLUMNS: tuple[str, ...] = (
    "x_instance_type",  # e.g. m5.large, Standard_D2s_v3
    "x_usage_type",  # provider usage type (AWS UsageType, Azure AdditionalInfo.UsageType)
    "x_operation",  # AWS Operation, Azure meter name
    "x_line_item_type",  # provider's own line type (AWS LineItemType, Azure ChargeType, GCP cost_type)
    "x_purchase_option",  # on_demand | spot | reserved | savings_plan | dedicated
    "x_vm_name",  # Azure scale-set instance name from AdditionalInfo.VMName
    "x_line_item_id",  # provider's line id when it has one (AWS identity/LineItemId, FOCUS sample Id)
    "x_quirks",  # "; "-separated notes of repairs applied to this row (null when none)
    # JSON object column -> exact decimal text, for amounts written with more than MONEY_SCALE
    # places (the decimal column holds them rounded half-even); null when every amount is exact.
    "x_exact_amounts",
)

PURCHASE_OPTIONS: frozenset[str] = frozenset({"on_demand", "spot", "reserved", "savings_plan", "dedicated"})


def _build() -> pa.Schema:
    fields: list[pa.Field] = []
    for name in TIMESTAMP_COLUMNS:
        fields.append(pa.field(name, TIMESTAMP, nullable=False))
    for name in _STRING_FOCUS:
        required = name in {"billing_account_id", "charge_category", "billing_currency", "provider_name"}
        fields.append(pa.field(name, pa.string(), nullable=not required))
    for name in MONEY_COLUMNS:
        fields.append(pa.field(name, MONEY, nullable=name not in {"billed_cost", "effective_cost"}))
    for name in QUANTITY_COLUMNS:
        fields.append(pa.field(name, MONEY, nullable=True))
    for name in EXTRA_STRING_COLUMNS:
        fields.append(pa.field(name, pa.string(), nullable=True))
    fields += [
        pa.field("provider", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        # 0 for the row itself; k >= 1 for the k-th line derived from it (a GCP credit).
        pa.field("source_subrow", pa.int16(), nullable=False),
        pa.field("source_format", pa.string(), nullable=False),
        pa.field("billing_period", pa.string(), nullable=False),
    ]
    return pa.schema(fields)


BILLING_SCHEMA: pa.Schema = _build()
STRING_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in BILLING_SCHEMA if pa.types.is_string(f.type) and f.name not in {"provider"}
)
#: Columns a provider mapper fills (everything but provenance, which the importer adds).
MAPPED_COLUMNS: tuple[str, ...] = (
    *TIMESTAMP_COLUMNS,
    *_STRING_FOCUS,
    *MONEY_COLUMNS,
    *QUANTITY_COLUMNS,
    *EXTRA_STRING_COLUMNS,
)
#: What identifies the rows a delivered file replaces (restatement); see tally.billing.
RESTATEMENT_KEY: tuple[str, str, str] = ("provider", "billing_account_id", "billing_period")
