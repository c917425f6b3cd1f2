"""The registry store refuses entries for sites the control store does not know."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tally.registry.entries import ResourceBenchmark, VoMapping
from tally.registry.store import RegistryStore, RegistryUnknownSiteError
from tally.services.container import Services
from tally.settings import Settings


def benchmark(site: str) -> ResourceBenchmark:
    return ResourceBenchmark(
        site=site,
        resource="hex",
        benchmark_type="HS06",
        benchmark_per_core=10.0,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_entries_for_unknown_sites_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    svc = Services(Settings(mode="local", home=tmp_path))
    svc.add_site("NORTH-HPC")
    store = RegistryStore(svc.warehouse, sites=svc.control)
    kept = store.add("resources", benchmark("NORTH-HPC"))
    with pytest.raises(RegistryUnknownSiteError, match="site 'SOUTH' is not known"):
        store.add("resources", benchmark("SOUTH"))
    with pytest.raises(RegistryUnknownSiteError):
        store.replace("resources", kept.entry_id, benchmark("SOUTH"))
    with pytest.raises(RegistryUnknownSiteError):
        store.replace_all(
            "vo_mapping", [VoMapping(site="SOUTH", match_field="project", match_value="p", vo="v")]
        )
    assert [(e.site, e.entry_id) for e in store.list_entries("resources")] == [("NORTH-HPC", kept.entry_id)]
    assert store.list_entries("vo_mapping") == []
