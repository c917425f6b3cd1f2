"""The `billing` table in the warehouse: its key layout, account hashing and partition manifests.

    billing/provider=<p>/billing_period=<YYYY-MM>/<delivery-id>-<account-hash>.parquet
    billing/_manifests/provider=<p>/billing_period=<YYYY-MM>/<account-hash>.json

* A restatement partition is (provider, billing_account_id, billing_period); each gets its own file
  (`account-hash` = the first 12 hex digits of sha256(billing_account_id)), so one account's
  restatement never touches another account's rows in the same provider and period.
* A partition's manifest names the file(s) holding its current delivery and remembers the
  deliveries it held before (`history`). A reader that goes through the manifest (`current_keys`)
  always sees one complete delivery, even while a restatement is between writing the new file and
  deleting the old one.
* Files starting with `_` are hidden from Athena/Hive and the DuckDB glob reads only `*.parquet`
  under `provider=*/billing_period=*/`, so the manifests are never read as data.

The restatement itself (what replaces what, in which order) is `tally.services.billing`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError

from tally.adapters.quarantine import quarantine_prefix
from tally.billing import BILLING_SCHEMA
from tally.billing.upgrade import upgraded
from tally.domain.ports import Warehouse

BILLING_TABLE = "billing"
MANIFEST_PREFIX = f"{BILLING_TABLE}/_manifests"
#: Where the rows (and files) a billing delivery could not store are kept, with their reasons.
QUARANTINE_PREFIX = quarantine_prefix(BILLING_TABLE)
#: Earlier deliveries a manifest remembers (to recognise stale re-deliveries).
MANIFEST_HISTORY = 50

#: (provider, billing_account_id, billing_period)
PartitionId = tuple[str, str, str]


class ManifestEntry(BaseModel):
    """A delivery a partition held before its current one."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str | None = None
    stored_at: str | None = None
    source_files: list[str] | None = None
    rows: int | None = None


class Manifest(BaseModel):
    """What one restatement partition currently holds, and which deliveries it held before."""

    model_config = ConfigDict(frozen=True)

    provider: str
    billing_account_id: str
    billing_period: str
    delivery_id: str
    keys: list[str]
    rows: int
    #: Totals per currency, as decimal text.
    billed_cost: dict[str, str]
    effective_cost: dict[str, str]
    source_files: list[str]
    source_formats: list[str]
    stored_at: str
    history: list[ManifestEntry]
    #: Every file of a delivery stored in several parts (absent for a one-file delivery).
    delivery_files: list[str] | None = None

    @classmethod
    def of_delivery(
        cls,
        partition: PartitionId,
        rows: pa.Table,
        previous: Manifest | None,
        delivery_id: str,
        key: str,
        delivery_files: list[str],
        stored_at: str,
    ) -> Manifest:
        """The manifest of a partition now holding `rows` of one delivery, stored at `key`."""
        provider, account, period = partition
        history = list(previous.history) if previous else []
        if previous and previous.delivery_id != delivery_id:
            history = [previous.as_entry(), *history][:MANIFEST_HISTORY]
        return cls(
            provider=provider,
            billing_account_id=account,
            billing_period=period,
            delivery_id=delivery_id,
            keys=[key],
            rows=rows.num_rows,
            billed_cost=_totals(rows, "billed_cost"),
            effective_cost=_totals(rows, "effective_cost"),
            source_files=sorted(set(pc.unique(rows["source_file"]).to_pylist())),
            source_formats=sorted(set(pc.unique(rows["source_format"]).to_pylist())),
            stored_at=stored_at,
            history=history,
            delivery_files=delivery_files if len(delivery_files) > 1 else None,
        )

    @property
    def partition(self) -> PartitionId:
        return (self.provider, self.billing_account_id, self.billing_period)

    def as_entry(self) -> ManifestEntry:
        return ManifestEntry(
            delivery_id=self.delivery_id,
            stored_at=self.stored_at,
            source_files=self.source_files,
            rows=self.rows,
        )

    def delivery_ids(self) -> set[str]:
        """The deliveries this partition held before the current one."""
        return {str(h.delivery_id) for h in self.history}

    def as_dict(self) -> dict[str, object]:
        """The manifest as stored (`delivery_files` only for a delivery of several files)."""
        absent = {"delivery_files"} if self.delivery_files is None else None
        return self.model_dump(mode="json", exclude=absent)

    def as_json(self) -> bytes:
        return orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2)


def _totals(rows: pa.Table, column: str) -> dict[str, str]:
    grouped = rows.group_by("billing_currency", use_threads=False).aggregate([(column, "sum")])
    totals: dict[str, str] = {}
    for currency, total in zip(
        grouped["billing_currency"].to_pylist(), grouped[f"{column}_sum"].to_pylist(), strict=True
    ):
        value = total if isinstance(total, Decimal) else Decimal(0)
        totals[str(currency)] = format(value.normalize(), "f") if value else "0"
    return totals


def account_hash(billing_account_id: str) -> str:
    return hashlib.sha256(billing_account_id.encode()).hexdigest()[:12]


def partition_folder(provider: str, billing_period: str) -> str:
    return f"{BILLING_TABLE}/provider={provider}/billing_period={billing_period}"


def data_key(provider: str, billing_account_id: str, billing_period: str, delivery_id: str) -> str:
    name = f"{delivery_id}-{account_hash(billing_account_id)}.parquet"
    return f"{partition_folder(provider, billing_period)}/{name}"


def manifest_key(provider: str, billing_account_id: str, billing_period: str) -> str:
    folder = f"{MANIFEST_PREFIX}/provider={provider}/billing_period={billing_period}"
    return f"{folder}/{account_hash(billing_account_id)}.json"


def _parse(data: bytes) -> Manifest | None:
    try:
        return Manifest.model_validate_json(data)
    except ValidationError:
        return None


def _named_keys(data: bytes) -> set[str]:
    """The data files a manifest names; only `keys` is read (a manifest without a readable list
    names nothing: its partition is left out, not guessed)."""
    value = orjson.loads(data)
    keys = value.get("keys") if isinstance(value, dict) else None
    return {str(k) for k in keys} if isinstance(keys, list) else set()


def _path_value(key: str, name: str) -> str | None:
    marker = f"/{name}="
    if marker not in f"/{key}":
        return None
    return f"/{key}".split(marker, 1)[1].split("/", 1)[0]


def partition_values(key: str) -> dict[str, str]:
    """The partition columns (provider, billing_period) a data file's key names."""
    found = {name: _path_value(key, name) for name in ("provider", "billing_period")}
    return {name: value for name, value in found.items() if value is not None}


class BillingTable:
    """The billing table's files and manifests in one warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    # -- manifests --------------------------------------------------------------------------------

    def read_manifest(self, provider: str, billing_account_id: str, billing_period: str) -> Manifest | None:
        key = manifest_key(provider, billing_account_id, billing_period)
        if not self.warehouse.exists(key):
            return None
        return _parse(self.warehouse.get_bytes(key))

    def write_manifest(self, manifest: Manifest) -> None:
        self.warehouse.put_bytes(manifest_key(*manifest.partition), manifest.as_json())

    def manifests(self) -> list[Manifest]:
        """Every partition's manifest: what the `billing` table currently holds."""
        found = (
            _parse(self.warehouse.get_bytes(key))
            for key in self.warehouse.list_keys(MANIFEST_PREFIX + "/")
            if key.endswith(".json")
        )
        return [m for m in found if m is not None]

    def manifests_of(self, accounts: set[tuple[str, str]]) -> list[Manifest]:
        """The manifests of these (provider, billing account) pairs only (reads no other file)."""
        wanted = {f"provider={p}/{account_hash(a)}" for p, a in accounts}
        out: list[Manifest] = []
        for key in self.warehouse.list_keys(MANIFEST_PREFIX + "/"):
            parts = key.removeprefix(MANIFEST_PREFIX + "/").split("/")
            if len(parts) != 3 or f"{parts[0]}/{parts[2].removesuffix('.json')}" not in wanted:
                continue
            manifest = _parse(self.warehouse.get_bytes(key))
            if manifest is not None and (manifest.provider, manifest.billing_account_id) in accounts:
                out.append(manifest)
        return out

    # -- data files -------------------------------------------------------------------------------

    def current_keys(self, provider: str, billing_account_id: str, billing_period: str) -> list[str]:
        """The files holding a partition's current data, as its manifest says."""
        manifest = self.read_manifest(provider, billing_account_id, billing_period)
        return list(manifest.keys) if manifest else []

    def current_keys_of_periods(self, periods: Iterable[str]) -> list[str]:
        """The data files of these billing periods a reader should take: where a partition has a
        manifest, only the files it names (so a restatement caught between writing the new delivery
        and deleting the old never counts twice); files of partitions without one, all."""
        wanted = set(periods)
        listed = self.warehouse.list_keys(BILLING_TABLE)
        named: dict[tuple[str, str, str], set[str]] = {}
        for key in listed:
            if key.startswith(MANIFEST_PREFIX + "/") and key.endswith(".json"):
                provider, period = _path_value(key, "provider"), _path_value(key, "billing_period")
                if provider is None or period not in wanted:
                    continue
                hashed = key.rsplit("/", 1)[1].removesuffix(".json")
                named[(provider, str(period), hashed)] = _named_keys(self.warehouse.get_bytes(key))
        out: list[str] = []
        for key in listed:
            if key.startswith(BILLING_TABLE + "/_") or not key.endswith(".parquet"):
                continue
            provider, period = _path_value(key, "provider"), _path_value(key, "billing_period")
            if provider is None or period not in wanted:
                continue
            hashed = key.rsplit("/", 1)[1].removesuffix(".parquet").rsplit("-", 1)[-1]
            current = named.get((provider, period, hashed))
            if current is None or key in current:
                out.append(key)
        return out

    def files_of(self, partition: PartitionId) -> list[str]:
        """Every data file stored for a partition, current or superseded (found by listing)."""
        provider, account, period = partition
        suffix = f"-{account_hash(account)}.parquet"
        return [
            k
            for k in self.warehouse.list_keys(partition_folder(provider, period) + "/")
            if k.endswith(suffix)
        ]

    def write_delivery(self, partition: PartitionId, delivery_id: str, rows: pa.Table) -> str:
        key = data_key(*partition, delivery_id)
        self.warehouse.write_parquet(key, rows)
        return key

    def delete(self, keys: list[str]) -> None:
        self.warehouse.delete(keys)

    def read_partition(self, provider: str, billing_account_id: str, billing_period: str) -> pa.Table:
        """A partition's current rows, read through its manifest (never old and new mixed)."""
        keys = self.current_keys(provider, billing_account_id, billing_period)
        if not keys:
            return BILLING_SCHEMA.empty_table()
        tables = [self.warehouse.read_parquet(k) for k in keys]
        # Files stored before money became decimal(38, 18) are widened exactly on the way out.
        return pa.concat_tables([upgraded(t, BILLING_SCHEMA) or t for t in tables])
