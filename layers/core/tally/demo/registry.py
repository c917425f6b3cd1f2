"""Demo registry entries for the clusters of tally.demo.generator: benchmarks (with one hardware
upgrade in the middle of a month), application rules (some commercial), VO mappings and the sites'
carbon intensities (one changing mid-month with a new supply contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tally.registry.entries import (
    ApplicationRule,
    CarbonIntensity,
    Entry,
    RegistryKind,
    ResourceBenchmark,
    VoMapping,
)
from tally.registry.store import RegistryStore

SINCE = datetime(2020, 1, 1, tzinfo=UTC)


def upgrade_time(start: datetime, end: datetime) -> datetime:
    """The middle of the demo window, moved to noon on the 15th of its month (a mid-month change)."""
    middle = start + (end - start) / 2
    return middle.replace(day=15, hour=12, minute=0, second=0, microsecond=0)


def demo_entries(start: datetime, end: datetime) -> dict[RegistryKind, list[Entry]]:
    upgrade = upgrade_time(start, end)
    resources: list[Entry] = [
        ResourceBenchmark(
            site="NORTH-HPC",
            resource="hex",
            benchmark_type="HEPscore23",
            benchmark_per_core=14.0,
            valid_from=SINCE,
            valid_to=upgrade,
            note="before the CPU upgrade",
        ),
        ResourceBenchmark(
            site="NORTH-HPC",
            resource="hex",
            benchmark_type="HEPscore23",
            benchmark_per_core=17.5,
            valid_from=upgrade,
            note="after the CPU upgrade",
        ),
        ResourceBenchmark(
            site="NORTH-HPC",
            resource="hex",
            benchmark_type="HS06",
            benchmark_per_core=13.2,
            valid_from=SINCE,
            valid_to=upgrade,
        ),
        ResourceBenchmark(
            site="NORTH-HPC",
            resource="hex-gpu",
            benchmark_type="HEPscore23",
            benchmark_per_core=18.0,
            valid_from=SINCE,
        ),
        ResourceBenchmark(
            site="RIVERSIDE-UNI",
            resource="bluebear",
            benchmark_type="HS06",
            benchmark_per_core=10.5,
            valid_from=SINCE,
        ),
        ResourceBenchmark(
            site="RIVERSIDE-UNI",
            resource="oak",
            benchmark_type="HS06",
            benchmark_per_core=9.8,
            valid_from=SINCE,
        ),
        ResourceBenchmark(
            site="RIVERSIDE-UNI",
            resource="oak",
            benchmark_type="HEPscore23",
            benchmark_per_core=10.1,
            valid_from=start + timedelta(days=20),
            note="measured after the first weeks",
        ),
    ]
    applications: list[Entry] = [
        ApplicationRule(
            site="NORTH-HPC",
            application="ansys-fluent",
            commercial=True,
            project="cfd-turbine",
            job_name_pattern="fluent*",
            priority=10,
        ),
        ApplicationRule(site="NORTH-HPC", application="gpu-batch", queue="gpu", priority=500),
        ApplicationRule(
            site="RIVERSIDE-UNI", application="vasp", commercial=True, job_name_pattern="vasp*", priority=10
        ),
        ApplicationRule(
            site="RIVERSIDE-UNI",
            application="ansys-fluent",
            commercial=True,
            job_name_pattern="*fluent*",
            priority=20,
        ),
    ]
    vo_mapping: list[Entry] = [
        VoMapping(site="NORTH-HPC", match_field="project", match_value="lattice-qcd", vo="lattice"),
        VoMapping(site="NORTH-HPC", match_field="project", match_value="climate-ensemble", vo="climate"),
        VoMapping(
            site="RIVERSIDE-UNI", match_field="project", match_value="genomics-pipeline", vo="life-sci"
        ),
        VoMapping(site="RIVERSIDE-UNI", match_field="local_group", match_value="physics", vo="physics"),
    ]
    carbon_intensity: list[Entry] = [
        CarbonIntensity(
            site="NORTH-HPC",
            grams_co2e_per_kwh=210.0,
            valid_from=SINCE,
            valid_to=upgrade,
            source="national grid average",
        ),
        CarbonIntensity(
            site="NORTH-HPC",
            grams_co2e_per_kwh=45.0,
            valid_from=upgrade,
            source="renewable supply contract",
        ),
        CarbonIntensity(
            site="RIVERSIDE-UNI", grams_co2e_per_kwh=180.0, valid_from=SINCE, source="campus supplier"
        ),
    ]
    return {
        "resources": resources,
        "applications": applications,
        "vo_mapping": vo_mapping,
        "carbon_intensity": carbon_intensity,
    }


def seed_demo_registry(store: RegistryStore, start: datetime, end: datetime) -> dict[RegistryKind, int]:
    """Replace the registry with the demo entries; return how many of each kind were stored."""
    return {kind: len(store.replace_all(kind, entries)) for kind, entries in demo_entries(start, end).items()}
