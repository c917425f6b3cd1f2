"""Store billing imports in the warehouse: content-named deliveries, restatement, manifests, quarantine.

Every way in (POST /v1/billing, the S3-event Lambda, `tally billing import`) calls
`BillingService.import_files`; the pure importer (`tally.billing.import_billing`) does the reading.

The table's key layout, account hashing and manifests are `tally.adapters.billing_table`'s;
quarantine entries are `tally.adapters.quarantine`'s (quarantine/billing/dt=<UTC date>/<delivery-id>.ndjson).

* The delivery id is derived from the bytes of the delivered file(s) and the defaults applied, so
  a retried delivery writes exactly the same keys and cannot double count. Each file is opened
  once (mapped): its format is sniffed, its rows read and its digest taken from that one mapping.
* Restatement: a delivery replaces everything stored for each partition it holds. Order of effects:
  new Parquet files first, then the partition manifests, then the superseded files are deleted. A
  reader therefore never finds a period missing; a reader that lists files may briefly see old and
  new side by side, a reader that goes through the manifest (`current_keys`) always sees one
  complete delivery. Superseded files are found by listing the partition folder for the account
  hash, so a crash between write and delete heals on the retry.
* Stale deliveries: a partition remembers which deliveries it held before (manifest `history`). A
  delivery that was already superseded there (e.g. a late duplicate S3 event of the not-final
  month after the final month arrived) is skipped for that partition unless `force=True`.

Ownership (the billing fence): a billing account (provider, billing_account_id) belongs to one
owner, the first that stores it, recorded in the control store. A delivery is attributed to the
posting site (POST /v1/billing: the key's site; `tally billing import --site S`: S) or, from an
operator path without a site (`tally billing import` without --site, the S3 landing importer, the
demo), to the operator (`@operator`). A delivery holding any account another owner has is refused
as a whole (BillingOwnershipError, nothing written), so one site's key can never restate another's
bills; reads (GET /v1/billing) list only the caller's accounts. An operator restates a site's
account by importing it with `--site <owner>`.

Concurrency: within one process stores are serialised. Two processes restating the same partition
at the same moment are not coordinated (S3 offers no compare-and-swap through pyarrow): run the
landing Lambda with reserved concurrency 1, or deliver each partition through one way in.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import orjson
import pyarrow as pa

from tally.adapters.billing_table import (
    BILLING_TABLE,
    BillingTable,
    Manifest,
    PartitionId,
)
from tally.adapters.quarantine import FileProvenance, QuarantineEntry, write_quarantine
from tally.adapters.warehouse import partition_runs
from tally.billing import BILLING_SCHEMA, BillingImport, BillingImportError, Reject
from tally.billing.delivery import (
    Action,
    BillingOwnershipError,
    BillingStoreError,
    BillingStoreResult,
    PartitionOutcome,
    check_defaults,
    delivery_id_for,
    file_digest,
)
from tally.billing.readers import mapped
from tally.domain.control import OPERATOR_OWNER, BillingAccount
from tally.domain.ports import BillingOwners, Warehouse

# What callers of the service take from it (the delivery's types live in tally.billing.delivery).
__all__ = [
    "BillingOwnershipError",
    "BillingService",
    "BillingStoreError",
    "BillingStoreResult",
    "PartitionOutcome",
    "check_defaults",
]

#: The rows of one partition are stored in this order (stable files, good pruning).
_ROW_ORDER = ("charge_period_start", "source_file", "source_row", "source_subrow")
_PARTITION_COLUMNS = ("provider", "billing_account_id", "billing_period")

_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_store_lock = threading.Lock()

Part = tuple[str | os.PathLike[str] | bytes, str]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class BillingService:
    """Import billing files and keep the `billing` table's partitions current."""

    def __init__(self, warehouse: Warehouse, owners: BillingOwners | None = None) -> None:
        """`owners` enforces and records account ownership; every way in passes the control store
        (through `Services.billing`). Without it nothing is fenced: storage-layer tests only."""
        self.warehouse = warehouse
        self.table = BillingTable(warehouse)
        self.owners = owners

    # -- the one code path ------------------------------------------------------------------------

    def import_files(
        self,
        parts: Sequence[Part],
        *,
        defaults: Mapping[str, str] | None = None,
        origin: str,
        site: str | None = None,
        force: bool = False,
        now: datetime | None = None,
        on_part: Callable[[str], None] | None = None,
    ) -> BillingStoreResult:
        """Import and store one delivery: `parts` are (source, name) pairs stored together.

        `source` is a path or the file's bytes, `name` the provenance name (`source_file`).
        `origin` says how the delivery came in ("api", "cli", "s3://bucket/key"), `site` the
        posting site, if any; both are written to quarantine entries. Raises BillingImportError
        when a file as a whole is unusable (nothing is written then) and BillingStoreError for
        bad defaults.
        """
        if not parts:
            raise BillingStoreError("empty", "a delivery needs at least one file")
        from tally.billing.importer import import_billing  # pyarrow.compute: loaded on first import

        now = now or datetime.now(UTC)
        fill = check_defaults(defaults)
        imports: list[BillingImport] = []
        digests: list[str] = []
        for source, name in parts:
            # One opening per file: the importer and the digest read the same mapping.
            with mapped(source, name) as data:
                imports.append(import_billing(data, name, defaults=fill))
                digests.append(file_digest(data))
            if on_part is not None:
                on_part(name)
        delivery_id = delivery_id_for(digests, fill)
        return self.store(imports, delivery_id, origin=origin, site=site, force=force, now=now)

    def store(
        self,
        imports: Sequence[BillingImport],
        delivery_id: str,
        *,
        origin: str,
        site: str | None = None,
        force: bool = False,
        now: datetime | None = None,
    ) -> BillingStoreResult:
        """Write the accepted rows of `imports` as one delivery, replacing what their partitions held."""
        now = now or datetime.now(UTC)
        tables = [i.table for i in imports if i.table.num_rows]
        table = pa.concat_tables(tables) if tables else BILLING_SCHEMA.empty_table()
        rejects = [r for i in imports for r in i.rejects]
        groups = _split(table)
        for provider, _, period in groups:
            if not _PROVIDER.match(provider) or not _PERIOD.match(period):
                raise BillingStoreError(
                    "bad-partition", f"cannot store provider {provider!r} / billing period {period!r}"
                )

        if self.owners is not None:
            self._claim(groups, site or OPERATOR_OWNER, now)
        quarantine_key = None
        if rejects:
            quarantine_key = self._quarantine(rejects, imports, delivery_id, origin, site, now)
        with _store_lock:
            outcomes = self._replace(groups, imports, delivery_id, force, now)

        formats = sorted({i.source_format for i in imports})
        providers = sorted({i.provider for i in imports})
        return BillingStoreResult(
            delivery_id=delivery_id,
            source_files=[i.source_file for i in imports],
            source_format=", ".join(formats),
            provider=providers[0] if len(providers) == 1 else "mixed",
            billing_periods=sorted({p for i in imports for p in i.billing_periods}),
            source_rows=sum(i.source_rows for i in imports),
            accepted=sum(i.accepted_rows for i in imports),
            rejected=len(rejects),
            partitions=outcomes,
            rejects=rejects,
            warnings=[f"{i.source_file}: {w}" for i in imports for w in i.warnings],
            quarantine_key=quarantine_key,
        )

    def _claim(self, groups: Mapping[PartitionId, pa.Table], owner: str, now: datetime) -> None:
        """Refuse the delivery if any of its accounts has another owner; else record `owner` for the
        new ones (a claim lost to a concurrent delivery refuses too)."""
        assert self.owners is not None
        accounts = sorted({(provider, account) for provider, account, _ in groups})
        foreign = [
            stored
            for provider, account in accounts
            if (stored := self.owners.get_billing_account(provider, account)) and stored.owner != owner
        ]
        if foreign:
            raise BillingOwnershipError(owner, foreign)
        for provider, account in accounts:
            stored = self.owners.claim_billing_account(BillingAccount(provider, account, owner, now))
            if stored.owner != owner:
                raise BillingOwnershipError(owner, [stored])

    # -- restatement ------------------------------------------------------------------------------

    def _replace(
        self,
        groups: dict[PartitionId, pa.Table],
        imports: Sequence[BillingImport],
        delivery_id: str,
        force: bool,
        now: datetime,
    ) -> list[PartitionOutcome]:
        plans: list[tuple[PartitionId, pa.Table, Manifest | None]] = []
        skipped: list[PartitionOutcome] = []
        for key, rows in sorted(groups.items()):
            previous = self.table.read_manifest(*key)
            superseded = (
                previous and previous.delivery_id != delivery_id and delivery_id in previous.delivery_ids()
            )
            if previous and superseded and not force:
                skipped.append(
                    PartitionOutcome(*key, rows=rows.num_rows, action="stale", keys=list(previous.keys))
                )
                continue
            plans.append((key, rows, previous))

        # 1. the new data, complete, before anything else changes
        new_keys = [self.table.write_delivery(key, delivery_id, rows) for key, rows, _ in plans]
        # 2. the manifests: from here on, the partition's current data is the new delivery
        for (key, rows, previous), new_key in zip(plans, new_keys, strict=True):
            self.table.write_manifest(
                Manifest.of_delivery(
                    key, rows, previous, delivery_id, new_key, [i.source_file for i in imports], _iso(now)
                )
            )
        # 3. only then the superseded files
        outcomes: list[PartitionOutcome] = []
        for (key, rows, previous), new_key in zip(plans, new_keys, strict=True):
            stale = [k for k in self.table.files_of(key) if k != new_key]
            if stale:
                self.table.delete(stale)
            current = previous.delivery_id if previous else None
            if previous is None and not stale:
                action: Action = "stored"
            elif current == delivery_id:
                action = "unchanged"
            else:
                action = "replaced"
            replaced = [current] if current and current != delivery_id else []
            outcomes.append(
                PartitionOutcome(
                    *key,
                    rows=rows.num_rows,
                    action=action,
                    keys=[new_key],
                    replaced_deliveries=replaced,
                    deleted_keys=stale,
                )
            )
        return sorted(outcomes + skipped, key=lambda o: (o.provider, o.billing_period, o.billing_account_id))

    # -- readers (the billing table's own) ---------------------------------------------------------

    def read_manifest(self, provider: str, billing_account_id: str, billing_period: str) -> Manifest | None:
        return self.table.read_manifest(provider, billing_account_id, billing_period)

    def manifests(self) -> list[Manifest]:
        """Every partition's manifest: what the `billing` table currently holds."""
        return self.table.manifests()

    def manifests_of(self, accounts: set[tuple[str, str]]) -> list[Manifest]:
        """The manifests of these (provider, billing account) pairs only (reads no other file)."""
        return self.table.manifests_of(accounts)

    def current_keys(self, provider: str, billing_account_id: str, billing_period: str) -> list[str]:
        """The files holding a partition's current data, as its manifest says."""
        return self.table.current_keys(provider, billing_account_id, billing_period)

    def read_partition(self, provider: str, billing_account_id: str, billing_period: str) -> pa.Table:
        """A partition's current rows, read through its manifest (never old and new mixed)."""
        return self.table.read_partition(provider, billing_account_id, billing_period)

    # -- quarantine -------------------------------------------------------------------------------

    def _quarantine(
        self,
        rejects: list[Reject],
        imports: Sequence[BillingImport],
        delivery_id: str,
        origin: str,
        site: str | None,
        now: datetime,
    ) -> str:
        formats = {i.source_file: i.source_format for i in imports}
        entries = (
            QuarantineEntry(
                batch_id=delivery_id,
                site=site,
                kind="billing",
                index=reject.source_row,
                received_at=now,
                errors=[(v.rule_id, v.description) for v in reject.violations],
                # The row exactly as read (header -> raw text), so it can be fixed and re-delivered.
                record=orjson.dumps(reject.raw).decode(),
                file=FileProvenance(
                    origin, reject.source_file, formats.get(reject.source_file), reject.rule_id
                ),
            )
            for reject in rejects
        )
        return write_quarantine(self.warehouse, BILLING_TABLE, now, f"{delivery_id}.ndjson", entries)

    def record_failure(
        self,
        delivery_id: str,
        source_file: str,
        error: BaseException,
        *,
        origin: str,
        now: datetime | None = None,
    ) -> str:
        """Keep a whole-file failure in quarantine (one entry, `index` null); return its key."""
        now = now or datetime.now(UTC)
        code = (
            error.code if isinstance(error, BillingImportError | BillingStoreError) else type(error).__name__
        )
        entry = QuarantineEntry(
            batch_id=delivery_id,
            site=None,
            kind="billing",
            index=None,
            received_at=now,
            errors=[(code, str(error))],
            record=None,
            file=FileProvenance(origin, source_file, None, code),
        )
        return write_quarantine(self.warehouse, BILLING_TABLE, now, f"{delivery_id}.error.ndjson", [entry])


def _split(table: pa.Table) -> dict[PartitionId, pa.Table]:
    """The accepted rows per restatement partition, each sorted for stable files and good pruning."""
    return {
        (str(provider), str(account), str(period)): rows
        for (provider, account, period), rows in partition_runs(table, _PARTITION_COLUMNS, _ROW_ORDER)
    }
