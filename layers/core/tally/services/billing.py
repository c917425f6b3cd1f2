"""Store billing imports in the warehouse: content-named deliveries, restatement, manifests, quarantine.

Every way in (POST /v1/billing, the S3-event Lambda, `tally billing import`) calls
`BillingService.import_files`; the pure importer (`tally.billing.import_billing`) does the reading.

Key layout (the Glue table `billing` is partitioned by provider and billing_period):

    billing/provider=<p>/billing_period=<YYYY-MM>/<delivery-id>-<account-hash>.parquet
    billing/_manifests/provider=<p>/billing_period=<YYYY-MM>/<account-hash>.json
    quarantine/billing/dt=<UTC date>/<delivery-id>.ndjson

* The delivery id is derived from the bytes of the delivered file(s) and the defaults applied, so
  a retried delivery writes exactly the same keys and cannot double count.
* A restatement partition is (provider, billing_account_id, billing_period); each gets its own file
  (`account-hash` = the first 12 hex digits of sha256(billing_account_id)), so one account's
  restatement never touches another account's rows in the same provider and period.
* Restatement: a delivery replaces everything stored for each partition it holds. Order of effects:
  new Parquet files first, then the partition manifests, then the superseded files are deleted. A
  reader therefore never finds a period missing; a reader that lists files may briefly see old and
  new side by side, a reader that goes through the manifest (`current_keys`) always sees one
  complete delivery. Superseded files are found by listing the partition folder for the account
  hash, so a crash between write and delete heals on the retry.
* Stale deliveries: a partition remembers which deliveries it held before (manifest `history`). A
  delivery that was already superseded there (e.g. a late duplicate S3 event of the not-final
  month after the final month arrived) is skipped for that partition unless `force=True`.
* Files starting with `_` are hidden from Athena/Hive and the DuckDB glob reads only `*.parquet`
  under `provider=*/billing_period=*/`, so the manifests are never read as data.

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

import hashlib
import io
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tally.adapters.warehouse import partition_key
from tally.billing import BILLING_SCHEMA, BillingImport, BillingImportError, Reject, import_billing
from tally.billing.focus_schema import STRING_COLUMNS
from tally.billing.upgrade import upgraded
from tally.domain.control import OPERATOR_OWNER, BillingAccount
from tally.domain.ports import BillingOwners, Warehouse

BILLING_TABLE = "billing"
MANIFEST_PREFIX = f"{BILLING_TABLE}/_manifests"
QUARANTINE_PREFIX = "quarantine/billing"
#: Per-row errors listed in an answer; the quarantine file keeps every one.
MAX_ERRORS_IN_RESPONSE = 1000
#: Earlier deliveries a manifest remembers (to recognise stale re-deliveries).
MANIFEST_HISTORY = 50
#: Columns a caller may give defaults for (strings the file may lack; never provenance).
DEFAULTABLE_COLUMNS: frozenset[str] = frozenset(STRING_COLUMNS) - {
    "source_file",
    "source_format",
    "billing_period",
}

_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_HASH_CHUNK = 1 << 20
_store_lock = threading.Lock()

Action = Literal["stored", "replaced", "unchanged", "stale"]
Part = tuple[str | os.PathLike[str] | bytes, str]


class BillingStoreError(ValueError):
    """A delivery that cannot be stored as a whole (bad defaults, a partition value unfit for a key)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BillingOwnershipError(BillingStoreError):
    """The delivery holds billing accounts that belong to another owner: nothing was written."""

    def __init__(self, owner: str, foreign: list[BillingAccount]) -> None:
        names = ", ".join(f"{a.provider}/{a.billing_account_id}" for a in foreign)
        super().__init__(
            "not-owner",
            f"billing account(s) {names} belong to another owner than {owner!r}: a billing account "
            "can be restated only by the site that first stored it",
        )
        self.owner = owner
        self.foreign = foreign


@dataclass(frozen=True)
class PartitionOutcome:
    """What happened to one restatement partition (provider, billing_account_id, billing_period)."""

    provider: str
    billing_account_id: str
    billing_period: str
    rows: int
    action: Action
    keys: list[str]
    replaced_deliveries: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)


@dataclass
class BillingStoreResult:
    """The outcome of one delivery (one file, or the parts of one export stored together)."""

    delivery_id: str
    source_files: list[str]
    source_format: str
    provider: str
    billing_periods: list[str]
    source_rows: int
    accepted: int
    rejected: int
    partitions: list[PartitionOutcome]
    rejects: list[Reject]
    warnings: list[str]
    quarantine_key: str | None

    @property
    def periods_replaced(self) -> list[PartitionOutcome]:
        """Partitions whose previous data this delivery replaced."""
        return [p for p in self.partitions if p.action == "replaced"]

    @property
    def replayed(self) -> bool:
        """True when every partition already held this very delivery (a retry)."""
        return bool(self.partitions) and all(p.action == "unchanged" for p in self.partitions)

    def errors(self, limit: int = MAX_ERRORS_IN_RESPONSE) -> list[dict[str, object]]:
        """Rejected rows, one entry per row with every rule it broke (at most `limit`)."""
        return [
            {
                "source_file": r.source_file,
                "source_row": r.source_row,
                "violations": [{"rule_id": v.rule_id, "description": v.description} for v in r.violations],
            }
            for r in self.rejects[:limit]
        ]


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


def file_digest(source: str | os.PathLike[str] | bytes) -> str:
    """sha256 of a file's bytes (streamed for a path)."""
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
    else:
        with Path(source).open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def delivery_id_for(digests: Iterable[str], defaults: Mapping[str, str]) -> str:
    """The id of a delivery: its files' content digests (in any order) and the defaults applied."""
    digest = hashlib.sha256(b"tally-billing-delivery\0")
    for part in sorted(digests):
        digest.update(part.encode() + b"\0")
    digest.update(orjson.dumps(dict(sorted(defaults.items()))))
    return digest.hexdigest()[:32]


def check_defaults(defaults: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (defaults or {}).items():
        if name not in DEFAULTABLE_COLUMNS:
            raise BillingStoreError(
                "bad-default", f"no default can be given for {name!r}: use one of the billing string columns"
            )
        if not value.strip():
            raise BillingStoreError("bad-default", f"the default for {name!r} is empty")
        out[name] = value.strip()
    return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class BillingService:
    """Import billing files and keep the `billing` table's partitions current."""

    def __init__(self, warehouse: Warehouse, owners: BillingOwners | None = None) -> None:
        """`owners` enforces and records account ownership; every way in passes the control store
        (through `Services.billing`). Without it nothing is fenced: storage-layer tests only."""
        self.warehouse = warehouse
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
        now = now or datetime.now(UTC)
        fill = check_defaults(defaults)
        imports: list[BillingImport] = []
        digests: list[str] = []
        for source, name in parts:
            imports.append(import_billing(source, name, defaults=fill))
            digests.append(file_digest(source))
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

    def _claim(self, groups: Mapping[tuple[str, str, str], pa.Table], owner: str, now: datetime) -> None:
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
        groups: dict[tuple[str, str, str], pa.Table],
        imports: Sequence[BillingImport],
        delivery_id: str,
        force: bool,
        now: datetime,
    ) -> list[PartitionOutcome]:
        plans: list[tuple[tuple[str, str, str], pa.Table, dict[str, object] | None, str]] = []
        skipped: list[PartitionOutcome] = []
        for key, rows in sorted(groups.items()):
            previous = self.read_manifest(*key)
            current = previous.get("delivery_id") if previous else None
            history = _history_ids(previous)
            if previous and current != delivery_id and delivery_id in history and not force:
                skipped.append(
                    PartitionOutcome(*key, rows=rows.num_rows, action="stale", keys=_keys(previous))
                )
                continue
            plans.append((key, rows, previous, data_key(*key, delivery_id)))

        # 1. the new data, complete, before anything else changes
        for _, rows, _, new_key in plans:
            self.warehouse.write_parquet(new_key, rows)
        # 2. the manifests: from here on, the partition's current data is the new delivery
        for key, rows, previous, new_key in plans:
            self._write_manifest(key, rows, previous, delivery_id, new_key, imports, now)
        # 3. only then the superseded files
        outcomes: list[PartitionOutcome] = []
        for key, rows, previous, new_key in plans:
            stale = self._superseded(key, new_key)
            if stale:
                self.warehouse.delete(stale)
            current = previous.get("delivery_id") if previous else None
            if previous is None and not stale:
                action: Action = "stored"
            elif current == delivery_id:
                action = "unchanged"
            else:
                action = "replaced"
            replaced = [str(current)] if current and current != delivery_id else []
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

    def _superseded(self, key: tuple[str, str, str], new_key: str) -> list[str]:
        provider, account, period = key
        suffix = f"-{account_hash(account)}.parquet"
        return [
            k
            for k in self.warehouse.list_keys(partition_folder(provider, period) + "/")
            if k.endswith(suffix) and k != new_key
        ]

    def _write_manifest(
        self,
        key: tuple[str, str, str],
        rows: pa.Table,
        previous: dict[str, object] | None,
        delivery_id: str,
        new_key: str,
        imports: Sequence[BillingImport],
        now: datetime,
    ) -> None:
        provider, account, period = key
        history = list(_history(previous))
        if previous and previous.get("delivery_id") != delivery_id:
            entry = {k: previous.get(k) for k in ("delivery_id", "stored_at", "source_files", "rows")}
            history = [entry, *history][:MANIFEST_HISTORY]
        source_files = sorted(set(pc.unique(rows["source_file"]).to_pylist()))
        formats = sorted(set(pc.unique(rows["source_format"]).to_pylist()))
        manifest: dict[str, object] = {
            "provider": provider,
            "billing_account_id": account,
            "billing_period": period,
            "delivery_id": delivery_id,
            "keys": [new_key],
            "rows": rows.num_rows,
            "billed_cost": _totals(rows, "billed_cost"),
            "effective_cost": _totals(rows, "effective_cost"),
            "source_files": source_files,
            "source_formats": formats,
            "stored_at": _iso(now),
            "history": history,
        }
        if len(imports) > 1:
            manifest["delivery_files"] = [i.source_file for i in imports]
        self.warehouse.put_bytes(
            manifest_key(provider, account, period), orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
        )

    # -- readers ----------------------------------------------------------------------------------

    def read_manifest(
        self, provider: str, billing_account_id: str, billing_period: str
    ) -> dict[str, object] | None:
        key = manifest_key(provider, billing_account_id, billing_period)
        if not self.warehouse.exists(key):
            return None
        value = orjson.loads(self.warehouse.get_bytes(key))
        return value if isinstance(value, dict) else None

    def manifests(self) -> list[dict[str, object]]:
        """Every partition's manifest: what the `billing` table currently holds."""
        out: list[dict[str, object]] = []
        for key in self.warehouse.list_keys(MANIFEST_PREFIX + "/"):
            if key.endswith(".json"):
                value = orjson.loads(self.warehouse.get_bytes(key))
                if isinstance(value, dict):
                    out.append(value)
        return out

    def manifests_of(self, accounts: set[tuple[str, str]]) -> list[dict[str, object]]:
        """The manifests of these (provider, billing account) pairs only (reads no other file)."""
        wanted = {f"provider={p}/{account_hash(a)}" for p, a in accounts}
        out: list[dict[str, object]] = []
        for key in self.warehouse.list_keys(MANIFEST_PREFIX + "/"):
            parts = key.removeprefix(MANIFEST_PREFIX + "/").split("/")
            if len(parts) != 3 or f"{parts[0]}/{parts[2].removesuffix('.json')}" not in wanted:
                continue
            value = orjson.loads(self.warehouse.get_bytes(key))
            if (
                isinstance(value, dict)
                and (value.get("provider"), value.get("billing_account_id")) in accounts
            ):
                out.append(value)
        return out

    def current_keys(self, provider: str, billing_account_id: str, billing_period: str) -> list[str]:
        """The files holding a partition's current data, as its manifest says."""
        return _keys(self.read_manifest(provider, billing_account_id, billing_period))

    def read_partition(self, provider: str, billing_account_id: str, billing_period: str) -> pa.Table:
        """A partition's current rows, read through its manifest (never old and new mixed)."""
        keys = self.current_keys(provider, billing_account_id, billing_period)
        if not keys:
            return BILLING_SCHEMA.empty_table()
        tables = [self.warehouse.read_parquet(k) for k in keys]
        # Files stored before money became decimal(38, 18) are widened exactly on the way out.
        return pa.concat_tables([upgraded(t, BILLING_SCHEMA) or t for t in tables])

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
        out = io.BytesIO()
        received = _iso(now)
        for reject in rejects:
            entry = {
                "batch_id": delivery_id,
                "site": site,
                "kind": "billing",
                "index": reject.source_row,
                "received_at": received,
                "errors": [{"field": v.rule_id, "message": v.description} for v in reject.violations],
                # The row exactly as read (header -> raw text), so it can be fixed and re-delivered.
                "record": orjson.dumps(reject.raw).decode(),
                "origin": origin,
                "source_file": reject.source_file,
                "source_format": formats.get(reject.source_file),
                "rule_id": reject.rule_id,
            }
            out.write(orjson.dumps(entry) + b"\n")
        key = partition_key(QUARANTINE_PREFIX, now.date(), f"{delivery_id}.ndjson")
        self.warehouse.put_bytes(key, out.getvalue())
        return key

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
        entry = {
            "batch_id": delivery_id,
            "site": None,
            "kind": "billing",
            "index": None,
            "received_at": _iso(now),
            "errors": [{"field": code, "message": str(error)}],
            "record": None,
            "origin": origin,
            "source_file": source_file,
            "source_format": None,
            "rule_id": code,
        }
        key = partition_key(QUARANTINE_PREFIX, now.date(), f"{delivery_id}.error.ndjson")
        self.warehouse.put_bytes(key, orjson.dumps(entry) + b"\n")
        return key


def _split(table: pa.Table) -> dict[tuple[str, str, str], pa.Table]:
    """The accepted rows per restatement partition, each sorted for stable files and good pruning."""
    if table.num_rows == 0:
        return {}
    keys = ["provider", "billing_account_id", "billing_period"]
    order = [*keys, "charge_period_start", "source_file", "source_row", "source_subrow"]
    rows = table.sort_by([(name, "ascending") for name in order])
    out: dict[tuple[str, str, str], pa.Table] = {}
    counts = rows.select(keys).group_by(keys, use_threads=False).aggregate([([], "count_all")])
    # The rows are sorted by the key, so each key is one contiguous run.
    offset = 0
    ordered = sorted(
        zip(
            counts["provider"].to_pylist(),
            counts["billing_account_id"].to_pylist(),
            counts["billing_period"].to_pylist(),
            counts["count_all"].to_pylist(),
            strict=True,
        )
    )
    for provider, account, period, count in ordered:
        out[(str(provider), str(account), str(period))] = rows.slice(offset, count)
        offset += count
    return out


def _totals(rows: pa.Table, column: str) -> dict[str, str]:
    grouped = rows.group_by("billing_currency", use_threads=False).aggregate([(column, "sum")])
    totals: dict[str, str] = {}
    for currency, total in zip(
        grouped["billing_currency"].to_pylist(), grouped[f"{column}_sum"].to_pylist(), strict=True
    ):
        value = total if isinstance(total, Decimal) else Decimal(0)
        totals[str(currency)] = format(value.normalize(), "f") if value else "0"
    return totals


def _keys(manifest: Mapping[str, object] | None) -> list[str]:
    keys = manifest.get("keys") if manifest else None
    return [str(k) for k in keys] if isinstance(keys, list) else []


def _history(manifest: Mapping[str, object] | None) -> list[dict[str, object]]:
    history = manifest.get("history") if manifest else None
    return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []


def _history_ids(manifest: Mapping[str, object] | None) -> set[str]:
    return {str(h.get("delivery_id")) for h in _history(manifest)}
