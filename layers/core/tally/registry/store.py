"""The registry in the warehouse: one small Parquet file per kind, rewritten whole on each change.

Keys: `registry/<kind>/registry.parquet` (kind: resources, applications, vo_mapping,
carbon_intensity), read by the Athena tables registry_<kind> and by the DuckDB engine. The file
is the store of record: an edit reads it, validates the whole set, and writes it back (S3 PUT
and the local rename are atomic, so readers never see half a file).

Edits are serialised per kind, so none is lost: within a process by a lock, across processes
(several `tally serve` workers on one TALLY_HOME, concurrent Lambdas) by a lease in the control
store (`registry/<kind>`: a SQLite row or a conditional DynamoDB put, expiring after
LEASE_SECONDS so a crashed holder cannot block edits for ever). An edit re-reads the file under
the lease and changes only its own site's entries; every other site's entries are written back
exactly as read. An edit that cannot get the lease within WAIT_SECONDS raises RegistryBusyError.
Given the control store's sites, the store refuses entries for a site it does not know (a typo in
a site name would otherwise be a benchmark no job ever joins).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tally.domain.leases import leased
from tally.domain.ports import KnownSites, Leases, Warehouse
from tally.registry.entries import (
    ENTRY_TYPES,
    ApplicationRule,
    Entry,
    RegistryError,
    RegistryKind,
    check_entries,
)

#: A lease outlives any edit (a read and a write of one small file) and the API's 30 s timeout.
LEASE_SECONDS = 30.0
#: How long an edit waits for another to finish before giving up.
WAIT_SECONDS = 10.0


def registry_key(kind: RegistryKind) -> str:
    return f"registry/{kind}/registry.parquet"


class RegistryNotFoundError(RegistryError):
    """No entry with that id (or not one the caller may see)."""


class RegistryUnknownSiteError(RegistryError):
    """An entry for a site the control store does not hold."""


class RegistryBusyError(RegistryError):
    """Another edit of the same kind held the lease for longer than an edit waits."""


class RegistryStore:
    def __init__(
        self, warehouse: Warehouse, leases: Leases | None = None, sites: KnownSites | None = None
    ) -> None:
        """Without `leases`, edits are serialised only within this store object (one process);
        with `sites`, new and replaced entries must name a site it holds."""
        self.warehouse = warehouse
        self.leases = leases
        self.sites = sites
        self._locks = {kind: threading.Lock() for kind in ENTRY_TYPES}

    def _check_sites(self, entries: list[Entry]) -> None:
        if self.sites is None:
            return
        for site in sorted({e.site for e in entries}):
            if self.sites.get_site(site) is None:
                raise RegistryUnknownSiteError(
                    f"site {site!r} is not known; add it first (`tally sites add {site}`)"
                )

    @contextmanager
    def _editing(self, kind: RegistryKind) -> Iterator[None]:
        with self._locks[kind]:
            if self.leases is None:
                yield
                return
            with leased(
                self.leases,
                f"registry/{kind}",
                LEASE_SECONDS,
                WAIT_SECONDS,
                busy=lambda: RegistryBusyError(f"another edit of the {kind} registry is under way: retry"),
            ):
                yield

    def list_entries(self, kind: RegistryKind, site: str | None = None) -> list[Entry]:
        key = registry_key(kind)
        if not self.warehouse.exists(key):
            return []
        model = ENTRY_TYPES[kind]
        # One read of the whole (small) file: Arrow's reader opens a path more than once, and a
        # file replaced between two opens by a concurrent edit would read as garbage.
        rows = pq.read_table(pa.BufferReader(self.warehouse.get_bytes(key))).to_pylist()
        entries = [
            model.model_validate({k: v for k, v in row.items() if k in model.model_fields}) for row in rows
        ]
        return [e for e in entries if site is None or e.site == site]

    def get(self, kind: RegistryKind, entry_id: str, site: str | None = None) -> Entry:
        for entry in self.list_entries(kind, site):
            if entry.entry_id == entry_id:
                return entry
        raise RegistryNotFoundError(f"no {kind} entry {entry_id!r}")

    def add(self, kind: RegistryKind, entry: Entry, now: datetime | None = None) -> Entry:
        self._check_sites([entry])
        stamped = _stamp(entry, uuid.uuid4().hex[:16], now)
        with self._editing(kind):
            self._save(kind, [*self.list_entries(kind), stamped])
        return stamped

    def replace(self, kind: RegistryKind, entry_id: str, entry: Entry, site: str | None = None) -> Entry:
        if site is not None and entry.site != site:
            raise RegistryError(
                f"this key belongs to site {site!r} and cannot move an entry to {entry.site!r}"
            )
        self._check_sites([entry])
        stamped = _stamp(entry, entry_id, None)
        with self._editing(kind):
            self.get(kind, entry_id, site)
            self._save(kind, [stamped if e.entry_id == entry_id else e for e in self.list_entries(kind)])
        return stamped

    def delete(self, kind: RegistryKind, entry_id: str, site: str | None = None) -> None:
        with self._editing(kind):
            self.get(kind, entry_id, site)
            self._save(kind, [e for e in self.list_entries(kind) if e.entry_id != entry_id])

    def replace_all(
        self, kind: RegistryKind, entries: list[Entry], now: datetime | None = None
    ) -> list[Entry]:
        """Store exactly these entries (ids kept when given, minted otherwise)."""
        self._check_sites(entries)
        stamped = [_stamp(e, e.entry_id or uuid.uuid4().hex[:16], now) for e in entries]
        with self._editing(kind):
            self._save(kind, stamped)
        return stamped

    def _save(self, kind: RegistryKind, entries: list[Entry]) -> None:
        model = ENTRY_TYPES[kind]
        if any(not isinstance(e, model) for e in entries):
            raise RegistryError(f"{kind} holds only {model.__name__} entries")
        check_entries(entries)
        rows: list[dict[str, Any]] = []
        for entry in sorted(entries, key=lambda e: (e.site, e.entry_id)):
            row = entry.row()
            if isinstance(entry, ApplicationRule):
                row["like_pattern"] = entry.like_pattern
            rows.append(row)
        self.warehouse.write_parquet(
            registry_key(kind), pa.Table.from_pylist(rows, schema=model.arrow_schema)
        )


def _stamp(entry: Entry, entry_id: str, now: datetime | None) -> Entry:
    return entry.model_copy(update={"entry_id": entry_id, "updated_at": now or datetime.now(UTC)})
