"""Writing reconciliation fixtures into a warehouse at the billing and vms key layouts."""

from __future__ import annotations

from typing import Any

from tally.domain.ports import Warehouse
from tests.reconcile.fixtures import billing_table, vms_table


def billing_key(provider: str, period: str, delivery: str) -> str:
    return f"billing/provider={provider}/billing_period={period}/{delivery}.parquet"


def store_bill(warehouse: Warehouse, lines: list[dict[str, Any]], delivery: str) -> list[str]:
    """One delivery file per (provider, billing period), as the billing writer lays them out."""
    keys = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in lines:
        groups.setdefault((item["provider"], item["billing_period"]), []).append(item)
    for (provider, period), items in sorted(groups.items()):
        key = billing_key(provider, period, delivery)
        warehouse.write_parquet(key, billing_table(items))
        keys.append(key)
    return keys


def store_vms(warehouse: Warehouse, rows: list[dict[str, Any]], batch: str = "batch-1") -> None:
    warehouse.write_partitioned("vms", vms_table(rows), "interval_start", batch)
