"""The control store interface: sites, keys, sync state, counters, batch outcomes, billing owners, locks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from tally.domain.control import ApiKey, BatchOutcome, BillingAccount, IngestCount, Site, SyncState
from tally.settings import Settings


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
        """Count the records (by identity digest) not counted before; move the latest time forward.

        Digests are unique across sites, kinds and resources (the ingest hashes those in with the
        record's identity), so a store may keep them in one set.

        A record posted again, in any later batch, is not counted twice: `record_count` is the
        number of distinct records stored for the site, kind and resource.
        """

    def advance_sync_many(
        self, site: str, kind: str, updates: Sequence[tuple[str, datetime, Sequence[bytes]]]
    ) -> None:
        """`advance_sync` for each (resource, latest, identities) of one batch, as one write where
        the store can (SQLite: one transaction, so each index page is written once per batch)."""

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

    # People documents (tally.people.store.Documents); the `audit` collection is append-only.
    def put_doc(self, collection: str, doc_id: str, doc: dict[str, Any], create_only: bool = False) -> bool:
        """Store the document; with `create_only`, only if there is none under that id (True if stored)."""

    def get_doc(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    def list_docs(self, collection: str) -> list[dict[str, Any]]:
        """All documents of a collection, in id order, each with its id as `_id`."""

    def delete_doc(self, collection: str, doc_id: str) -> bool: ...


def open_control_store(settings: Settings) -> ControlStore:
    """The store for the configured mode (imports here keep boto3 out of local start-up)."""
    if settings.mode == "local":
        from tally.adapters.control_sqlite import SqliteControlStore

        return SqliteControlStore(settings.local_control_db)
    from tally.adapters.control_dynamodb import DynamoControlStore

    if not settings.control_table:
        raise ValueError("TALLY_CONTROL_TABLE is required in AWS mode")
    return DynamoControlStore(settings.control_table, settings.aws_region, settings.dynamodb_endpoint_url)
