"""The ports: what the services need from the world, as Protocols; `tally.adapters` implements them.

Warehouse      partitioned Parquet and small objects (a local folder | S3, `adapters.warehouse`)
ControlStore   sites, keys, sync state, counters, batch outcomes, owners, leases (SQLite | DynamoDB)
QueryEngine    Athena SQL in, Arrow out (DuckDB | Athena, `tally.query`)
Notifier       a message to people (SNS, `adapters.sns`)
BillingOwners, Leases, KnownSites, Documents: the parts of the control store one service needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from tally.domain.control import ApiKey, BatchOutcome, BillingAccount, IngestCount, Site, SyncState
from tally.domain.records import PartitionSpan

if TYPE_CHECKING:  # a run-time table definition (a custom kind) is the query layer's DDL model
    from tally.query.ddl import TableDef

Param = str | int | float | bool | date | datetime | None


class Warehouse(Protocol):
    uri: str

    def write_partitioned(
        self,
        table: str,
        rows: pa.Table,
        time_column: str,
        name: str,
        span: PartitionSpan = "day",
        order: Sequence[str] = (),
    ) -> list[str]: ...
    def write_parquet(self, key: str, rows: pa.Table) -> None: ...
    def read_parquet(self, key: str) -> pa.Table: ...
    def read_parquet_batches(
        self, key: str, columns: Sequence[str], batch_rows: int = 262_144
    ) -> Iterator[pa.Table]: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def object_sizes(self, keys: Sequence[str]) -> dict[str, int]:
        """The stored size of each of `keys` that exists (absent keys are left out)."""
        ...

    def delete(self, keys: list[str]) -> None: ...
    def remove_stale_temps(self, older_than_seconds: float = ...) -> list[str]: ...


class StagedSync(Protocol):
    """A batch's bookkeeping begun by `ControlStore.stage_sync`, not yet in effect."""

    def settle(self, outcome: BatchOutcome, count: IngestCount) -> bool:
        """Claim the batch; only if this call claimed it, count its new records, move sync state
        forward and add `count`. False (nothing changed) when the batch was claimed before."""

    def abandon(self) -> None:
        """Undo what staging wrote: the batch's data did not get stored."""


class ControlStore(Protocol):
    def add_site(self, site: Site) -> None:
        """Store a new site; raise ControlError if the name is taken."""

    def get_site(self, name: str) -> Site | None: ...
    def list_sites(self) -> list[Site]: ...

    def add_key(self, key: ApiKey) -> None: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def list_keys(self, site: str | None = None) -> list[ApiKey]: ...
    def revoke_key(self, key_id: str, at: datetime) -> bool:
        """Mark a key revoked; False if there is no such key."""

    def upgrade_key_hash(self, key_id: str, old_hash: str, new_hash: str) -> bool:
        """Replace a key's stored hash if it is still `old_hash`; True if this call replaced it."""

    def advance_sync(
        self, site: str, kind: str, resource: str, latest: datetime, identities: Sequence[bytes]
    ) -> None:
        """Count the records (by identity key) not counted before; move the latest time forward.

        Keys are unique across sites, kinds and resources (the ingest hashes those in with the
        record's identity), so a store may keep them in one set. A key is the record's partition
        day then its digest (`tally.domain.identity_keys`): a B-tree store keeps it whole, for
        locality; a hashed store may keep the digest alone.

        A record posted again, in any later batch, is not counted twice: `record_count` is the
        number of distinct records stored for the site, kind and resource.
        """

    def advance_sync_many(
        self, site: str, kind: str, updates: Sequence[tuple[str, datetime, Sequence[bytes]]]
    ) -> None:
        """`advance_sync` for each (resource, latest, identities) of one batch, as one write where
        the store can (SQLite: one transaction, so each index page is written once per batch)."""

    def stage_sync(
        self, site: str, kind: str, updates: Sequence[tuple[str, datetime, Sequence[bytes]]]
    ) -> StagedSync:
        """Begin a batch's bookkeeping while its data files are still being written: the store may
        write the records' keys now, unseen by anyone, and `settle` then claims the batch and moves
        sync state and counts forward. Every staged sync is settled or abandoned, once."""

    def get_sync(self, site: str, kind: str, resource: str) -> SyncState: ...

    def add_counts(self, count: IngestCount) -> None: ...
    def get_counts(self, site: str, since: date | None = None) -> list[IngestCount]: ...

    def claim_batch(self, outcome: BatchOutcome) -> bool:
        """Record a batch's outcome unless one is stored already; True if this call stored it."""

    def get_batch(self, batch_id: str) -> BatchOutcome | None: ...

    def claim_billing_account(self, account: BillingAccount) -> BillingAccount:
        """Record `account.owner` as the owner unless the account has one; return the stored owner."""

    def get_billing_account(self, provider: str, billing_account_id: str) -> BillingAccount | None: ...
    def list_billing_accounts(self, owner: str | None = None) -> list[BillingAccount]: ...

    def acquire_lock(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """Take the named lease unless another holder has it unexpired; True if `holder` has it now."""

    def release_lock(self, name: str, holder: str) -> None:
        """Give the lease back (only if `holder` still has it)."""

    # Documents of people (tally.people.store) and alerts (tally.alerts.store); `audit` is append-only.
    def put_doc(
        self,
        collection: str,
        doc_id: str,
        doc: dict[str, Any],
        create_only: bool = False,
        expires_at: datetime | None = None,
    ) -> bool:
        """Store the document; with `create_only`, only if there is none under that id (True if stored).

        A document given `expires_at` is gone from that (wall-clock) time on: never read or listed,
        no obstacle to a `create_only` put, and removed by the store (SQLite: purged by the next put
        into its collection; DynamoDB: its TTL attribute)."""

    def get_doc(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    def list_docs(self, collection: str) -> list[dict[str, Any]]:
        """All documents of a collection, in id order, each with its id as `_id`."""

    def delete_doc(self, collection: str, doc_id: str) -> bool: ...


class Documents(Protocol):
    """Small JSON documents by (collection, id): the control store's part that people and saved
    views use."""

    def put_doc(
        self,
        collection: str,
        doc_id: str,
        doc: dict[str, Any],
        create_only: bool = False,
        expires_at: datetime | None = None,
    ) -> bool: ...
    def get_doc(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    def list_docs(self, collection: str) -> list[dict[str, Any]]: ...
    def delete_doc(self, collection: str, doc_id: str) -> bool: ...


class BillingOwners(Protocol):
    """Where billing account owners are kept (the control store)."""

    def claim_billing_account(self, account: BillingAccount) -> BillingAccount: ...
    def get_billing_account(self, provider: str, billing_account_id: str) -> BillingAccount | None: ...


class KnownSites(Protocol):
    def get_site(self, name: str) -> object | None: ...


class Leases(Protocol):
    """Named, expiring mutual exclusion across processes (the control store)."""

    def acquire_lock(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool: ...
    def release_lock(self, name: str, holder: str) -> None: ...


class Notifier(Protocol):
    def __call__(self, subject: str, message: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    engine: str
    elapsed_seconds: float
    bytes_scanned: int | None = None
    query_id: str | None = None


class QueryEngine(Protocol):
    name: str

    def query(self, sql: str, params: Sequence[Param] = ()) -> QueryResult:
        """Run one Athena (Trino) SELECT with `?` placeholders bound, in order, to `params`."""
        ...

    def register_table(self, table: TableDef) -> None:
        """Make a table defined at run time (a custom kind's) queryable, or refresh its columns."""
        ...
