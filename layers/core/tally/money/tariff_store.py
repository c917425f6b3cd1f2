"""The price list in the warehouse: `money/tariffs/tariffs.parquet`, read by the Athena table
`tariffs` (and the `usage_priced` view), rewritten whole on each change under a control-store lease
(`money/tariffs`), as the registry's files are: an edit re-reads the file under the lease, so none
is lost, and the write (S3 PUT, local rename) is atomic, so readers never see half a file."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from tally.domain.ports import KnownSites, Leases, Warehouse
from tally.money.leases import holding
from tally.money.tariffs import Tariff, TariffError, check_tariffs

TARIFFS_KEY = "money/tariffs/tariffs.parquet"


class TariffNotFoundError(TariffError):
    """No tariff with that id (or none the caller may see)."""


class TariffUnknownSiteError(TariffError):
    """A tariff for a site the control store does not hold (a typo would price nothing)."""


class TariffStore:
    def __init__(self, warehouse: Warehouse, leases: Leases, sites: KnownSites) -> None:
        self.warehouse = warehouse
        self.leases = leases
        self.sites = sites
        self._lock = threading.Lock()

    def list_tariffs(self, sites: frozenset[str] | None = None) -> list[Tariff]:
        """All tariffs, or those of `sites`, ordered by site, resource, unit and start."""
        if not self.warehouse.exists(TARIFFS_KEY):
            return []
        # One read of the whole file: a file replaced between two opens would read as garbage.
        rows = pq.read_table(pa.BufferReader(self.warehouse.get_bytes(TARIFFS_KEY))).to_pylist()
        tariffs = [Tariff.model_validate(row) for row in rows]
        return [t for t in tariffs if sites is None or t.site in sites]

    def get(self, tariff_id: str, sites: frozenset[str] | None = None) -> Tariff:
        for tariff in self.list_tariffs(sites):
            if tariff.tariff_id == tariff_id:
                return tariff
        raise TariffNotFoundError(f"no tariff {tariff_id!r}")

    def put(self, tariff: Tariff, now: datetime | None = None) -> tuple[Tariff, bool]:
        """Store the tariff under its id, replacing one of that id; True if it is new."""
        if self.sites.get_site(tariff.site) is None:
            raise TariffUnknownSiteError(
                f"site {tariff.site!r} is not known; add it first (`tally sites add`)"
            )
        stamped = tariff.model_copy(update={"updated_at": now or datetime.now(UTC)})
        with self._lock, holding(self.leases, "money/tariffs"):
            existing = self.list_tariffs()
            others = [t for t in existing if t.tariff_id != tariff.tariff_id]
            created = len(others) == len(existing)
            self._save([*others, stamped])
        return stamped, created

    def remove(self, tariff_id: str, sites: frozenset[str] | None = None) -> None:
        with self._lock, holding(self.leases, "money/tariffs"):
            self.get(tariff_id, sites)
            self._save([t for t in self.list_tariffs() if t.tariff_id != tariff_id])

    def _save(self, tariffs: list[Tariff]) -> None:
        check_tariffs(tariffs)
        ordered = sorted(tariffs, key=lambda t: (t.site, t.resource, t.unit, t.valid_from, t.tariff_id))
        table = pa.Table.from_pylist([t.row() for t in ordered], schema=Tariff.arrow_schema)
        self.warehouse.write_parquet(TARIFFS_KEY, table)
