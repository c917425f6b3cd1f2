"""Rewrite stored billing and reconciliation files written before money became decimal(38, 18).

Why: a reader that unifies Parquet schemas by name (DuckDB's `union_by_name`) gives a column the
widest *integer* part of its files, so one old decimal(38, 10) file next to new decimal(38, 18)
files makes DuckDB truncate every amount to 10 places, without an error. Widening the old files
once keeps every file on the schema the DDL declares. Values are cast exactly (no old value has
more than 10 places, and every real amount has at most 20 integer digits); a value that does not
fit is an error and the file is left as it was. Each file keeps its key, so manifests still hold.

    python -m tally.billing.upgrade            # the warehouse of the current settings
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pyarrow as pa

from tally.billing.focus_schema import BILLING_SCHEMA
from tally.domain.ports import Warehouse


def tables() -> tuple[tuple[str, pa.Schema], ...]:
    """(key prefix, schema its files must have). The reconciliation schema imports on use: the
    ingest and billing functions load this module (for `upgraded`) and carry no numpy, which the
    verifier's package needs."""
    from tally.reconcile.schema import RECONCILIATION_SCHEMA

    return (("billing/", BILLING_SCHEMA), ("reconciliation/", RECONCILIATION_SCHEMA))


@dataclass(frozen=True)
class UpgradeResult:
    checked: int
    rewritten: list[str]
    failed: dict[str, str]


def upgraded(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """`table` on `schema` (decimals widened, missing nullable columns added), None if already so."""
    if table.schema.equals(schema, check_metadata=False):
        return None
    names = set(table.schema.names)
    wanted = set(schema.names)
    if not names <= wanted:
        return None  # a file with columns the schema does not know is not ours to rewrite
    arrays: list[pa.ChunkedArray | pa.Array] = []
    for field in schema:
        if field.name in names:
            arrays.append(table[field.name].cast(field.type))
        else:
            arrays.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def upgrade(warehouse: Warehouse) -> UpgradeResult:
    checked = 0
    rewritten: list[str] = []
    failed: dict[str, str] = {}
    for prefix, schema in tables():
        for key in warehouse.list_keys(prefix):
            if not key.endswith(".parquet") or "/_" in key:
                continue
            checked += 1
            try:
                table = upgraded(warehouse.read_parquet(key), schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                failed[key] = str(exc)
                continue
            if table is not None:
                warehouse.write_parquet(key, table)
                rewritten.append(key)
    return UpgradeResult(checked, rewritten, failed)


def main() -> int:
    from tally.services.container import Services  # the billing service imports this module

    result = upgrade(Services.from_env().warehouse)
    print(f"checked {result.checked} files, rewrote {len(result.rewritten)}")
    for key, reason in sorted(result.failed.items()):
        print(f"not rewritten: {key}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
