"""The registry in the warehouse: one small Parquet file per kind, rewritten whole on each change.

Keys: `registry/<kind>/registry.parquet` (kind: resources, applications, vo_mapping), read by the
Athena tables registry_<kind> and by the DuckDB engine. The file is the store of record: an edit
reads it, validates the whole set, and writes it back (S3 PUT and the local rename are atomic,
so readers never see half a file). Two edits racing on the same kind can lose one; edits are rare
and made by people, and the second editor sees the result at once.
Given the control store's sites, the store refuses entries for a site it does not know (a typo in
a site name would otherwise be a benchmark no job ever joins).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

from tally.adapters.warehouse import Warehouse
from tally.registry.entries import (
    ENTRY_TYPES,
    ApplicationRule,
    Entry,
    RegistryError,
    RegistryKind,
    check_entries,
)


def registry_key(kind: RegistryKind) -> str:
    return f"registry/{kind}/registry.parquet"


class RegistryNotFoundError(RegistryError):
    """No entry with that id (or not one the caller may see)."""


class RegistryUnknownSiteError(RegistryError):
    """An entry for a site the control store does not hold."""


class KnownSites(Protocol):
    def get_site(self, name: str) -> object | None: ...


class RegistryStore:
    def __init__(self, warehouse: Warehouse, sites: KnownSites | None = None) -> None:
        """With `sites`, new and replaced entries must name a site it holds."""
        self.warehouse = warehouse
        self.sites = sites

    def _check_sites(self, entries: list[Entry]) -> None:
        if self.sites is None:
            return
        for site in sorted({e.site for e in entries}):
            if self.sites.get_site(site) is None:
                raise RegistryUnknownSiteError(
                    f"site {site!r} is not known; add it first (`tally sites add {site}`)"
                )

    def list_entries(self, kind: RegistryKind, site: str | None = None) -> list[Entry]:
        key = registry_key(kind)
        if not self.warehouse.exists(key):
            return []
        model = ENTRY_TYPES[kind]
        rows = self.warehouse.read_parquet(key).to_pylist()
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
        self._save(kind, [*self.list_entries(kind), stamped])
        return stamped

    def replace(self, kind: RegistryKind, entry_id: str, entry: Entry, site: str | None = None) -> Entry:
        self.get(kind, entry_id, site)
        if site is not None and entry.site != site:
            raise RegistryError(
                f"this key belongs to site {site!r} and cannot move an entry to {entry.site!r}"
            )
        self._check_sites([entry])
        stamped = _stamp(entry, entry_id, None)
        self._save(kind, [stamped if e.entry_id == entry_id else e for e in self.list_entries(kind)])
        return stamped

    def delete(self, kind: RegistryKind, entry_id: str, site: str | None = None) -> None:
        self.get(kind, entry_id, site)
        self._save(kind, [e for e in self.list_entries(kind) if e.entry_id != entry_id])

    def replace_all(
        self, kind: RegistryKind, entries: list[Entry], now: datetime | None = None
    ) -> list[Entry]:
        """Store exactly these entries (ids kept when given, minted otherwise)."""
        self._check_sites(entries)
        stamped = [_stamp(e, e.entry_id or uuid.uuid4().hex[:16], now) for e in entries]
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
