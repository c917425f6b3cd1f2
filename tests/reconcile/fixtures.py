"""Builders for reconciliation fixtures: bill lines with BILLING_SCHEMA, agent samples with the vms schema."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from tally.billing.focus_schema import BILLING_SCHEMA
from tally.domain.schema import stored_schema

HOUR = timedelta(hours=1)
INTERVAL = timedelta(minutes=15)


def at(day: date, hour: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)


def line(
    *,
    provider: str,
    account: str,
    resource_id: str | None,
    start: datetime,
    end: datetime,
    cost: str,
    currency: str = "USD",
    hours: str | None = None,
    category: str = "Usage",
    option: str | None = "on_demand",
    line_type: str | None = None,
    unit: str | None = "Hrs",
    list_price: str | None = None,
    contracted_price: str | None = None,
    effective: str | None = None,
    invoice: str = "INV-1",
    usage_type: str | None = None,
    vm_name: str | None = None,
    service: str | None = None,
    description: str | None = None,
    row: int = 0,
) -> dict[str, Any]:
    period = f"{start.year:04d}-{start.month:02d}"
    first = datetime(start.year, start.month, 1, tzinfo=UTC)
    following = datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)
    is_usage = category == "Usage"
    return {
        "billing_period_start": first,
        "billing_period_end": following,
        "charge_period_start": start,
        "charge_period_end": end,
        "billing_account_id": f"payer-{account}",
        "sub_account_id": account,
        "charge_category": category,
        "charge_description": description,
        "billing_currency": currency,
        "consumed_unit": unit if is_usage else None,
        "pricing_unit": unit if is_usage else None,
        "resource_id": resource_id,
        "service_name": service,
        "provider_name": {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}.get(provider, provider),
        "invoice_id": invoice,
        "billed_cost": Decimal(cost),
        "effective_cost": Decimal(effective if effective is not None else cost),
        "list_unit_price": Decimal(list_price) if list_price else None,
        "contracted_unit_price": Decimal(contracted_price) if contracted_price else None,
        "consumed_quantity": Decimal(hours) if hours is not None and is_usage else None,
        "pricing_quantity": Decimal(hours) if hours is not None else None,
        "x_usage_type": usage_type,
        "x_line_item_type": line_type,
        "x_purchase_option": option if is_usage else None,
        "x_vm_name": vm_name,
        "provider": provider,
        "source_file": "fixture.csv",
        "source_row": row,
        "source_subrow": 0,
        "source_format": "fixture",
        "billing_period": period,
    }


def hourly(
    *,
    provider: str,
    account: str,
    resource_id: str,
    first: datetime,
    hours: int,
    rate: str,
    list_price: str | None = None,
    **kw: Any,
) -> list[dict[str, Any]]:
    """One line per hour, each for one instance-hour at `rate`."""
    return [
        line(
            provider=provider,
            account=account,
            resource_id=resource_id,
            start=first + k * HOUR,
            end=first + (k + 1) * HOUR,
            cost=rate,
            hours="1",
            list_price=list_price if list_price is not None else rate,
            **kw,
        )
        for k in range(hours)
    ]


def billing_table(lines: list[dict[str, Any]]) -> pa.Table:
    for index, item in enumerate(lines):
        item["source_row"] = index + 1
    return pa.Table.from_pylist(lines, schema=BILLING_SCHEMA)


def samples(
    *,
    provider: str,
    account: str,
    instance_id: str,
    start: datetime,
    end: datetime,
    vcpus: int = 4,
    busy_fraction: float = 0.5,
    skew: timedelta = timedelta(0),
    boot: datetime | None = None,
    vm_name: str | None = None,
    ingested_at: datetime | None = None,
    batch: str = "b1",
) -> list[dict[str, Any]]:
    """The agent's 15-minute samples while the VM runs in [start, end), on a clock off by `skew`."""
    rows: list[dict[str, Any]] = []
    boot_time = boot or start
    t = start
    while t < end:
        stop = min(t + INTERVAL, end)
        seconds = (stop - t).total_seconds()
        rows.append(
            {
                "site": "cloud",
                "resource": f"{provider}-vms",
                "provider": provider,
                "account": account,
                "instance_id": instance_id,
                "vm_name": vm_name,
                "interval_start": t + skew,
                "interval_end": stop + skew,
                "boot_time": boot_time + skew,
                "uptime_seconds": int((stop - boot_time).total_seconds()),
                "cpu_busy_seconds": seconds * vcpus * busy_fraction,
                "cpu_idle_seconds": seconds * vcpus * (1 - busy_fraction),
                "vcpus": vcpus,
                "benchmark_type": "HEPscore23",
                "benchmark_per_core": 10.0,
                "ingested_at": ingested_at or end + timedelta(hours=1),
                "batch_id": batch,
            }
        )
        t = stop
    return rows


def vms_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=stored_schema("vms"))
