"""Reading back what a test run wrote, independently of the code under test's readers."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tally.adapters.warehouse import FsWarehouse


def rows(wh: FsWarehouse, table: str) -> list[dict[str, object]]:
    keys = [k for k in wh.list_keys(table) if k.endswith(".parquet")]
    tables = [pq.read_table(f"{wh.base}/{k}", filesystem=wh.fs) for k in keys]
    return pa.concat_tables(tables).to_pylist() if tables else []


def quarantined(wh: FsWarehouse, kind: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for key in wh.list_keys(f"quarantine/{kind}"):
        out.extend(orjson.loads(line) for line in wh.get_bytes(key).splitlines() if line)
    return out
