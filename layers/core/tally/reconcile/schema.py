"""The `reconciliation` table: one row per instance-day verdict, and one per invoice and currency."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

MONEY = pa.decimal128(38, 18)  # as tally.billing.focus_schema.MONEY

Verdict = Literal["ok", "billed_not_measured", "measured_not_billed", "over_billed", "rate_anomaly", "idle"]
VERDICTS: tuple[Verdict, ...] = (
    "ok",
    "billed_not_measured",
    "measured_not_billed",
    "over_billed",
    "rate_anomaly",
    "idle",
)
InvoiceVerdict = Literal["ok", "needs_review", "total_mismatch"]
INVOICE_VERDICTS: tuple[InvoiceVerdict, ...] = ("ok", "needs_review", "total_mismatch")

RECONCILIATION_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # instance_day | invoice
        pa.field("provider", pa.string(), nullable=False),
        pa.field("account", pa.string()),
        pa.field("resource_id", pa.string(), nullable=False),  # the bill's id, else the agent's; invoice id
        pa.field("instance_id", pa.string()),  # the agent's instance id when matched
        pa.field("day", pa.date32(), nullable=False),  # invoice rows: first day of the billing period
        pa.field("billing_period", pa.string(), nullable=False),
        pa.field("billed_hours", pa.float64()),
        pa.field("measured_hours", pa.float64()),
        pa.field("cpu_hours", pa.float64()),
        pa.field("vcpus", pa.int64()),
        pa.field("cost", MONEY),  # billed cost (net of savings-plan negation); invoice rows: total
        pa.field("effective_cost", MONEY),
        pa.field("flagged_cost", MONEY),  # invoice rows: cost of instance-days that need a look
        pa.field("currency", pa.string()),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("judged_at", pa.timestamp("us", tz="UTC"), nullable=False),
        # What runs are matched by (tally.reconcile.ids.verdict_instance_key): the instance of an
        # instance-day, the invoice id of an invoice row. Null in files written before it was stored.
        pa.field("instance_key", pa.string()),
    ]
)
