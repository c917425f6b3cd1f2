"""Registry entries and the rules a set of them must keep (pure domain: no storage here)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

from tally.domain.records import UtcTime
from tally.registry.patterns import glob_to_like

RegistryKind = Literal["resources", "applications", "vo_mapping", "carbon_intensity"]
REGISTRY_KINDS: tuple[RegistryKind, ...] = ("resources", "applications", "vo_mapping", "carbon_intensity")

Text = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S(.*\S)?$")]
OptText = Annotated[str | None, Field(default=None, min_length=1, max_length=256)]
Note = Annotated[str | None, Field(default=None, max_length=1024)]
TS = pa.timestamp("us", tz="UTC")


def _not_a_number(value: object) -> object:
    # Pydantic would read a number as Unix time; the contract says ISO 8601 text.
    if isinstance(value, int | float):
        raise ValueError("a time must be an ISO 8601 date-time string, not a number")
    return value


EntryTime = Annotated[UtcTime, BeforeValidator(_not_a_number)]


class RegistryError(ValueError):
    """An entry or a set of entries the registry cannot hold."""


class Entry(BaseModel):
    """Fields every entry has. `entry_id` and `updated_at` are set by the store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[RegistryKind]
    arrow_schema: ClassVar[pa.Schema]

    entry_id: str = ""
    site: Text
    note: Note = None
    updated_at: EntryTime | None = None

    def row(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.arrow_schema.names}

    def conflict_key(self) -> tuple[object, ...] | None:
        """Entries sharing this key clash (None: no uniqueness rule)."""
        return None


class ResourceBenchmark(Entry):
    """The benchmark per core of a resource during [valid_from, valid_to)."""

    kind = "resources"
    arrow_schema = pa.schema(
        [
            ("entry_id", pa.string()),
            ("site", pa.string()),
            ("resource", pa.string()),
            ("benchmark_type", pa.string()),
            ("benchmark_per_core", pa.float64()),
            ("valid_from", TS),
            ("valid_to", TS),
            ("cores", pa.int64()),
            ("note", pa.string()),
            ("updated_at", TS),
        ]
    )

    resource: Text
    benchmark_type: Literal["HEPscore23", "HS06"]
    benchmark_per_core: Annotated[float, Field(gt=0, le=10_000)]
    valid_from: EntryTime
    valid_to: EntryTime | None = None
    cores: Annotated[int | None, Field(default=None, ge=1, le=10**8)] = None

    @model_validator(mode="after")
    def _interval(self) -> ResourceBenchmark:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self

    def overlaps(self, other: ResourceBenchmark) -> bool:
        if (self.site, self.resource, self.benchmark_type) != (
            other.site,
            other.resource,
            other.benchmark_type,
        ):
            return False
        self_end = self.valid_to or datetime.max.replace(tzinfo=self.valid_from.tzinfo)
        other_end = other.valid_to or datetime.max.replace(tzinfo=other.valid_from.tzinfo)
        return self.valid_from < other_end and other.valid_from < self_end


class ApplicationRule(Entry):
    """Names the application of jobs that match every criterion the rule sets."""

    kind = "applications"
    arrow_schema = pa.schema(
        [
            ("entry_id", pa.string()),
            ("site", pa.string()),
            ("application", pa.string()),
            ("commercial", pa.bool_()),
            ("queue", pa.string()),
            ("project", pa.string()),
            ("job_name_pattern", pa.string()),
            ("like_pattern", pa.string()),
            ("priority", pa.int64()),
            ("note", pa.string()),
            ("updated_at", TS),
        ]
    )

    application: Text
    commercial: bool = False
    queue: OptText = None
    project: OptText = None
    job_name_pattern: Annotated[str | None, Field(default=None, min_length=1, max_length=512)] = None
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 100

    @model_validator(mode="after")
    def _has_criterion(self) -> ApplicationRule:
        if self.queue is None and self.project is None and self.job_name_pattern is None:
            raise ValueError("a rule needs at least one of queue, project or job_name_pattern")
        return self

    @property
    def like_pattern(self) -> str | None:
        return glob_to_like(self.job_name_pattern) if self.job_name_pattern is not None else None

    def conflict_key(self) -> tuple[object, ...]:
        return (self.site, self.queue, self.project, self.job_name_pattern, self.priority)


class VoMapping(Entry):
    """The VO of jobs that carry none, from their project (account) or local group."""

    kind = "vo_mapping"
    arrow_schema = pa.schema(
        [
            ("entry_id", pa.string()),
            ("site", pa.string()),
            ("match_field", pa.string()),
            ("match_value", pa.string()),
            ("vo", pa.string()),
            ("note", pa.string()),
            ("updated_at", TS),
        ]
    )

    match_field: Literal["project", "local_group"]
    match_value: Text
    vo: Text

    def conflict_key(self) -> tuple[object, ...]:
        return (self.site, self.match_field, self.match_value)


class CarbonIntensity(Entry):
    """The carbon intensity of a site's electricity during [valid_from, valid_to), in grams of CO2
    equivalent per kWh: the factor that turns a job's measured energy into estimated emissions."""

    kind = "carbon_intensity"
    arrow_schema = pa.schema(
        [
            ("entry_id", pa.string()),
            ("site", pa.string()),
            ("grams_co2e_per_kwh", pa.float64()),
            ("valid_from", TS),
            ("valid_to", TS),
            ("source", pa.string()),
            ("note", pa.string()),
            ("updated_at", TS),
        ]
    )

    # 0 is a real value (a site on its own renewable supply); no grid is near 2 kg/kWh. Strict: a
    # number only (true is not 1 g/kWh, nor "200" a number).
    grams_co2e_per_kwh: Annotated[float, Strict(), Field(ge=0, le=2_000, allow_inf_nan=False)]
    valid_from: EntryTime
    valid_to: EntryTime | None = None
    # Where the factor comes from (a grid operator's figure, a supplier's contract, ...).
    source: OptText = None

    @model_validator(mode="after")
    def _interval(self) -> CarbonIntensity:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self

    def overlaps(self, other: CarbonIntensity) -> bool:
        if self.site != other.site:
            return False
        return _intervals_meet(self.valid_from, self.valid_to, other.valid_from, other.valid_to)


def _intervals_meet(
    first_from: datetime, first_to: datetime | None, second_from: datetime, second_to: datetime | None
) -> bool:
    first_end = first_to or datetime.max.replace(tzinfo=first_from.tzinfo)
    second_end = second_to or datetime.max.replace(tzinfo=second_from.tzinfo)
    return first_from < second_end and second_from < first_end


ENTRY_TYPES: dict[RegistryKind, type[Entry]] = {
    "resources": ResourceBenchmark,
    "applications": ApplicationRule,
    "vo_mapping": VoMapping,
    "carbon_intensity": CarbonIntensity,
}


def check_entries(entries: list[Entry]) -> None:
    """Raise RegistryError when the entries of one kind cannot stand together."""
    seen: dict[tuple[object, ...], Entry] = {}
    ids: set[str] = set()
    for entry in entries:
        if entry.entry_id in ids:
            raise RegistryError(f"entry id {entry.entry_id!r} is used twice")
        ids.add(entry.entry_id)
        key = entry.conflict_key()
        if key is not None:
            if key in seen:
                raise RegistryError(
                    f"entry {entry.entry_id or '(new)'} clashes with {seen[key].entry_id}: same {key!r}"
                )
            seen[key] = entry
    benchmarks = [e for e in entries if isinstance(e, ResourceBenchmark)]
    for i, first in enumerate(benchmarks):
        for second in benchmarks[i + 1 :]:
            if first.overlaps(second):
                raise RegistryError(
                    f"{first.benchmark_type} intervals of {first.site}/{first.resource} overlap: entries "
                    f"{first.entry_id or '(new)'} and {second.entry_id or '(new)'}; end one before the "
                    "other starts"
                )
    intensities = [e for e in entries if isinstance(e, CarbonIntensity)]
    for i, earlier in enumerate(intensities):
        for later in intensities[i + 1 :]:
            if earlier.overlaps(later):
                raise RegistryError(
                    f"carbon intensity intervals of {earlier.site} overlap: entries "
                    f"{earlier.entry_id or '(new)'} and {later.entry_id or '(new)'}; end one before the "
                    "other starts"
                )
