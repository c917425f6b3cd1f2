"""Helpers for the billing-store tests: the project's own exports, a recording warehouse, row readers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tally.adapters.warehouse import FsWarehouse
from tally.domain.records import PartitionSpan
from tests.support.paths import FIXTURES
from tests.support.warehouse import rows

# Hand-written exports (tests/fixtures/billing/): three rows each for the June 2023 CUR deliveries.
BILLING = FIXTURES / "billing"
CUR_FINAL = BILLING / "aws_cur" / "cur-legacy-2023-06-final.csv"
CUR_NOT_FINAL = BILLING / "aws_cur" / "cur-legacy-2023-06-not-final.csv"
CUR2 = BILLING / "aws_cur" / "cur2-2026-01.csv"
FOCUS_SAMPLE = BILLING / "focus" / "focus-1.0-three-providers.csv"
GCP_EXPORT = BILLING / "gcp" / "gcp-2026-02.csv"
FINAL_ACCOUNT = "0099999999999"
NOT_FINAL_ACCOUNT = "9999999999999"


def not_final_of_final_account() -> bytes:
    """The not-final June 2023 CUR, as if delivered for the final file's payer account.

    The not-final and final files name different payer accounts; restating one account
    needs both deliveries for the same account, so the not-final file's account is rewritten.
    """
    text = CUR_NOT_FINAL.read_text()
    assert NOT_FINAL_ACCOUNT in text
    return text.replace(NOT_FINAL_ACCOUNT, FINAL_ACCOUNT).encode()


def billing_rows(wh: FsWarehouse) -> list[dict[str, object]]:
    """Every row in every Parquet file under billing/ (what a file-listing reader sees)."""
    return rows(wh, "billing")


@dataclass
class RecordingWarehouse:
    """Wraps a warehouse: records every mutating call, and runs `before` ahead of each one."""

    inner: FsWarehouse
    ops: list[tuple[str, str]] = field(default_factory=list)
    before: Callable[[str, str], None] | None = None
    # A plain attribute, as the Warehouse protocol declares it (a read-only property does not satisfy it).
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.uri = self.inner.uri

    def _record(self, op: str, key: str) -> None:
        if self.before is not None:
            self.before(op, key)
        self.ops.append((op, key))

    def write_partitioned(
        self,
        table: str,
        rows: pa.Table,
        time_column: str,
        name: str,
        span: PartitionSpan = "day",
        order: Sequence[str] = (),
    ) -> list[str]:
        raise AssertionError("billing storage must not use date partitioning")

    def write_parquet(self, key: str, rows: pa.Table) -> None:
        self._record("write_parquet", key)
        self.inner.write_parquet(key, rows)

    def read_parquet(self, key: str) -> pa.Table:
        return self.inner.read_parquet(key)

    def read_parquet_batches(
        self, key: str, columns: Sequence[str], batch_rows: int = 262_144
    ) -> Iterator[pa.Table]:
        return self.inner.read_parquet_batches(key, columns, batch_rows)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._record("put_bytes", key)
        self.inner.put_bytes(key, data)

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def remove_stale_temps(self, older_than_seconds: float = 900) -> list[str]:
        return self.inner.remove_stale_temps(older_than_seconds)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list_keys(self, prefix: str) -> list[str]:
        return self.inner.list_keys(prefix)

    def object_sizes(self, keys: Sequence[str]) -> dict[str, int]:
        return self.inner.object_sizes(keys)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._record("delete", key)
        self.inner.delete(keys)


def parquet_keys(wh: FsWarehouse) -> list[str]:
    return [k for k in wh.list_keys("billing/") if k.endswith(".parquet")]


def local_path(wh: FsWarehouse, key: str) -> Path:
    return Path(wh.base) / key
